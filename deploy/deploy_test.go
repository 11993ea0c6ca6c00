package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
)

// manifests decodes every document of every file in kubernetes/ strictly
// (unknown or duplicate fields are errors) into its Kubernetes API type.
type manifests struct {
	cronJobs        []*batchv1.CronJob
	configMaps      map[string]*corev1.ConfigMap
	serviceAccounts map[string]*corev1.ServiceAccount
	claims          map[string]*corev1.PersistentVolumeClaim
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

func loadManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in kubernetes/: %v", err)
	}
	m := manifests{configMaps: map[string]*corev1.ConfigMap{}, serviceAccounts: map[string]*corev1.ServiceAccount{},
		claims: map[string]*corev1.PersistentVolumeClaim{}}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSeparator.Split(string(data), -1) {
			where := fmt.Sprintf("%s, document %d", file, i+1)
			obj := decodeDocument(t, where, doc)
			switch o := obj.(type) {
			case *batchv1.CronJob:
				m.cronJobs = append(m.cronJobs, o)
			case *corev1.ConfigMap:
				m.configMaps[o.Name] = o
			case *corev1.ServiceAccount:
				m.serviceAccounts[o.Name] = o
			case *corev1.PersistentVolumeClaim:
				m.claims[o.Name] = o
			case nil: // comments only, or not decoded (reported)
			default:
				t.Errorf("%s: a %T has no check in kubernetes/; add one", where, o)
			}
		}
	}
	return m
}

// decodeDocument decodes one YAML document strictly (an unknown or
// duplicate field is an error) into its Kubernetes API type, by apiVersion
// and kind. It returns nil for a document of comments only, and for one it
// could not decode (reported).
func decodeDocument(t *testing.T, where, doc string) any {
	t.Helper()
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
		t.Fatalf("%s: %v\n%s", where, err, doc)
	}
	if meta.Kind == "" {
		if strings.TrimSpace(stripComments(doc)) != "" {
			t.Errorf("%s: no kind", where)
		}
		return nil
	}
	var obj any
	switch meta.APIVersion + " " + meta.Kind {
	case "batch/v1 CronJob":
		obj = &batchv1.CronJob{}
	case "v1 ConfigMap":
		obj = &corev1.ConfigMap{}
	case "v1 ServiceAccount":
		obj = &corev1.ServiceAccount{}
	case "v1 PersistentVolumeClaim":
		obj = &corev1.PersistentVolumeClaim{}
	case "rbac.authorization.k8s.io/v1 Role":
		obj = &rbacv1.Role{}
	case "rbac.authorization.k8s.io/v1 RoleBinding":
		obj = &rbacv1.RoleBinding{}
	default:
		t.Fatalf("%s: %s %s has no check here; add one", where, meta.APIVersion, meta.Kind)
	}
	if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
		t.Errorf("%s (%s): %v\n%s", where, meta.Kind, err, doc)
		return nil
	}
	return obj
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func TestKubernetesCronJobs(t *testing.T) {
	m := loadManifests(t)
	chores := map[string]string{} // --only value: schedule
	claims := map[string]bool{}   // the state's claims
	for _, cj := range m.cronJobs {
		t.Run(cj.Name, func(t *testing.T) {
			s := cj.Spec
			if s.ConcurrencyPolicy != batchv1.ForbidConcurrent {
				t.Errorf("concurrencyPolicy %q, want Forbid", s.ConcurrencyPolicy)
			}
			if s.StartingDeadlineSeconds == nil || *s.StartingDeadlineSeconds <= 0 {
				t.Error("no startingDeadlineSeconds")
			}
			if err := checkCronSchedule(s.Schedule); err != "" {
				t.Errorf("schedule %q: %s", s.Schedule, err)
			}
			pod := s.JobTemplate.Spec.Template.Spec
			if pod.RestartPolicy != corev1.RestartPolicyNever && pod.RestartPolicy != corev1.RestartPolicyOnFailure {
				t.Errorf("restartPolicy %q", pod.RestartPolicy)
			}
			c := checkPodSecurity(t, pod)
			if c.Image == "" {
				t.Error("no image")
			}

			args := strings.Join(c.Args, " ")
			for _, want := range []string{"--headless", "--apply", "--log-format json"} {
				if !strings.Contains(args, want) {
					t.Errorf("args %q lack %s", args, want)
				}
			}
			only := flagValue(c.Args, "--only")
			if only == "" {
				t.Errorf("args %q: no --only", args)
			}
			// The metrics go to a Pushgateway (each chore's own group).
			if push := flagValue(c.Args, "--metrics-push"); push == "" || config.CheckPushURL(push) != nil {
				t.Errorf("args %q: want --metrics-push with the Pushgateway's URL", args)
			}
			chores[only] = s.Schedule

			// The configuration comes from the ConfigMap, mounted read-only.
			cfgText, cm := mountedConfig(t, c, pod, m.configMaps)
			if _, err := config.Parse([]byte(cfgText)); err != nil {
				t.Errorf("ConfigMap %s: the configuration does not load: %v", cm.Name, err)
			}
			// Every env:NAME it references is set, the token from a Secret.
			env := map[string]corev1.EnvVar{}
			for _, e := range c.Env {
				env[e.Name] = e
			}
			for _, ref := range regexp.MustCompile(`env:([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(cfgText, -1) {
				if _, ok := env[ref[1]]; !ok {
					t.Errorf("the configuration reads env:%s, which the container does not set", ref[1])
				}
			}
			if tok := env["GITHUB_TOKEN"]; tok.ValueFrom == nil || tok.ValueFrom.SecretKeyRef == nil {
				t.Error("GITHUB_TOKEN does not come from a Secret")
			}
			// The run lock, audit log and history (XDG_STATE_HOME) and the
			// digest cache (XDG_CACHE_HOME) are kept from run to run, on a
			// claim in kubernetes/.
			for _, name := range []string{"XDG_STATE_HOME", "XDG_CACHE_HOME"} {
				claim := checkPersistentDir(t, c, pod, env, name)
				if claim != "" && m.claims[claim] == nil {
					t.Errorf("%s: claim %s is not in kubernetes/", name, claim)
				}
				claims[claim] = true
			}
			if mount, _ := mountOf(c, pod, "/tmp"); mount == nil {
				t.Error("no writable /tmp")
			}

			// Azure workload identity: the pod asks for it, and its service
			// account names the identity.
			if pl := s.JobTemplate.Spec.Template.Labels["azure.workload.identity/use"]; pl != "true" {
				t.Error(`pod template lacks the label azure.workload.identity/use: "true"`)
			}
			sa := m.serviceAccounts[pod.ServiceAccountName]
			if sa == nil {
				t.Fatalf("serviceAccountName %q is not in kubernetes/", pod.ServiceAccountName)
			}
			if sa.Annotations["azure.workload.identity/client-id"] == "" {
				t.Errorf("ServiceAccount %s lacks the azure.workload.identity/client-id annotation", sa.Name)
			}
		})
	}
	// The chores run as in the crontab: charts daily, the registry monthly.
	for chore, sched := range cronLines(t) {
		if chores[chore] != sched {
			t.Errorf("--only %s: CronJob schedule %q, crontab %q", chore, chores[chore], sched)
		}
	}
	if len(chores) != 2 {
		t.Errorf("CronJobs for %v, want charts and registry", chores)
	}
	// One claim for both: the run lock holds across the chores.
	if len(claims) != 1 {
		t.Errorf("the CronJobs keep their state on claims %v, want one shared claim", claims)
	}
	for name, pvc := range m.claims {
		if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || q.IsZero() {
			t.Errorf("PersistentVolumeClaim %s requests no storage", name)
		}
		if len(pvc.Spec.AccessModes) == 0 {
			t.Errorf("PersistentVolumeClaim %s has no access mode", name)
		}
	}
}

// checkPersistentDir checks that the directory in the environment variable
// name is absolute and on a writable mount of a PersistentVolumeClaim (not
// an emptyDir, which a pod's end deletes, nor the read-only root); it
// returns the claim's name.
func checkPersistentDir(t *testing.T, c corev1.Container, pod corev1.PodSpec, env map[string]corev1.EnvVar, name string) string {
	t.Helper()
	dir := env[name].Value
	if !path.IsAbs(dir) {
		t.Errorf("%s %q: want an absolute directory (a relative one is ignored)", name, dir)
		return ""
	}
	mount, vol := mountUnder(c, pod, dir)
	switch {
	case mount == nil:
		t.Errorf("%s %q is on no volume: the root file system is read-only", name, dir)
	case mount.ReadOnly:
		t.Errorf("%s %q is on a read-only mount", name, dir)
	case mount.SubPath != "" || mount.SubPathExpr != "":
		t.Errorf("%s %q: a subPath mount (kubelet makes its folder as root)", name, dir)
	case vol.PersistentVolumeClaim == nil:
		t.Errorf("%s %q is on volume %s, not a PersistentVolumeClaim: it is lost with the pod", name, dir, vol.Name)
	default:
		return vol.PersistentVolumeClaim.ClaimName
	}
	return ""
}

// mountUnder finds the container's mount holding dir (the deepest) and its
// volume.
func mountUnder(c corev1.Container, pod corev1.PodSpec, dir string) (*corev1.VolumeMount, *corev1.Volume) {
	best := ""
	for _, m := range c.VolumeMounts {
		mp := path.Clean(m.MountPath)
		if (path.Clean(dir) == mp || strings.HasPrefix(path.Clean(dir), mp+"/")) && len(mp) > len(best) {
			best = mp
		}
	}
	if best == "" {
		return nil, nil
	}
	return mountOf(c, pod, best)
}

// checkPodSecurity checks the settings every CronJob's pod must have: a
// non-root user with a group for the claim, RuntimeDefault seccomp, and one
// container on a read-only root without privileges or capabilities, with
// CPU and memory requests, a memory limit and GOMEMLIMIT from it. It
// returns the container.
func checkPodSecurity(t *testing.T, pod corev1.PodSpec) corev1.Container {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 || psc.FSGroup == nil {
		t.Errorf("pod securityContext %+v: want runAsNonRoot, a non-zero runAsUser and an fsGroup (for the claim)", psc)
	}
	if psc != nil && (psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
		t.Error("pod securityContext: want seccompProfile RuntimeDefault")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("container has no securityContext")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("container: want readOnlyRootFilesystem: true")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("container: want allowPrivilegeEscalation: false")
	case sc.Privileged != nil && *sc.Privileged:
		t.Error("container: privileged")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0:
		t.Error("container: want capabilities drop ALL, add none")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("container: want runAsNonRoot")
	}
	if len(c.Command) != 0 {
		t.Errorf("command %q overrides the image's entrypoint", c.Command)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Requests[r]; !ok || q.IsZero() {
			t.Errorf("no %s request", r)
		}
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || q.IsZero() {
		t.Error("no memory limit")
	}
	// Go's garbage collector works to stay under the limit.
	found := 0
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			found++
			if e.ValueFrom == nil || e.ValueFrom.ResourceFieldRef == nil || e.ValueFrom.ResourceFieldRef.Resource != "limits.memory" ||
				(e.ValueFrom.ResourceFieldRef.ContainerName != "" && e.ValueFrom.ResourceFieldRef.ContainerName != c.Name) {
				t.Errorf("GOMEMLIMIT %+v: want it from the container's limits.memory", e)
			}
		}
	}
	if found != 1 {
		t.Errorf("GOMEMLIMIT set %d times, want once", found)
	}
	return c
}

// mountedConfig returns the text of the --config file, which must be in a
// ConfigMap of configMaps mounted read-only, and that ConfigMap.
func mountedConfig(t *testing.T, c corev1.Container, pod corev1.PodSpec, configMaps map[string]*corev1.ConfigMap) (string, *corev1.ConfigMap) {
	t.Helper()
	cfgPath := flagValue(c.Args, "--config")
	mount, vol := mountOf(c, pod, path.Dir(cfgPath))
	if mount == nil || vol.ConfigMap == nil || !mount.ReadOnly {
		t.Fatalf("--config %s: its folder is not a read-only ConfigMap mount", cfgPath)
	}
	cm := configMaps[vol.ConfigMap.Name]
	if cm == nil {
		t.Fatalf("ConfigMap %s is not there", vol.ConfigMap.Name)
	}
	cfgText, ok := cm.Data[path.Base(cfgPath)]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s", cm.Name, path.Base(cfgPath))
	}
	return cfgText, cm
}

// mountOf finds the container's mount at dir and its volume.
func mountOf(c corev1.Container, pod corev1.PodSpec, dir string) (*corev1.VolumeMount, *corev1.Volume) {
	for i := range c.VolumeMounts {
		if path.Clean(c.VolumeMounts[i].MountPath) != path.Clean(dir) {
			continue
		}
		for j := range pod.Volumes {
			if pod.Volumes[j].Name == c.VolumeMounts[i].Name {
				return &c.VolumeMounts[i], &pod.Volumes[j]
			}
		}
	}
	return nil, nil
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// cronLines reads crontab: the schedule of each chore, after checking every
// line's schedule and command.
func cronLines(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("crontab")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 6 {
			t.Errorf("crontab:%d: want five schedule fields and a command: %q", n, line)
			continue
		}
		sched := strings.Join(fields[:5], " ")
		if err := checkCronSchedule(sched); err != "" {
			t.Errorf("crontab:%d: %s", n, err)
		}
		cmd := fields[5:]
		if !filepath.IsAbs(cmd[0]) || filepath.Base(cmd[0]) != "helmupgradebot" {
			t.Errorf("crontab:%d: command %q: want helmupgradebot by its full path (cron's PATH is short)", n, cmd[0])
		}
		if strings.Contains(line, "%") {
			t.Errorf("crontab:%d: an unescaped %% ends a cron command", n)
		}
		if !slices.Contains(cmd, "--headless") || !slices.Contains(cmd, "--apply") {
			t.Errorf("crontab:%d: want --headless --apply", n)
		}
		out[flagValue(cmd, "--only")] = sched
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCrontab(t *testing.T) {
	lines := cronLines(t)
	if !regexp.MustCompile(`^\d+ \d+ \* \* \*$`).MatchString(lines["charts"]) {
		t.Errorf("charts: schedule %q, want daily", lines["charts"])
	}
	if !regexp.MustCompile(`^\d+ \d+ \d+ \* \*$`).MatchString(lines["registry"]) {
		t.Errorf("registry: schedule %q, want monthly", lines["registry"])
	}
}

// checkCronSchedule checks five cron fields (numbers, *, ranges, lists and
// steps within each field's bounds); it returns what is wrong, or "".
func checkCronSchedule(s string) string {
	fields := strings.Fields(s)
	if len(fields) != 5 {
		return "want 5 fields"
	}
	bounds := [5][2]int{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}
	for i, f := range fields {
		for _, part := range strings.Split(f, ",") {
			base, step, hasStep := strings.Cut(part, "/")
			if hasStep {
				if n, err := strconv.Atoi(step); err != nil || n < 1 {
					return "bad step in " + f
				}
			}
			if base == "*" {
				continue
			}
			lo, hi, isRange := strings.Cut(base, "-")
			if !isRange {
				hi = lo
			}
			a, errA := strconv.Atoi(lo)
			b, errB := strconv.Atoi(hi)
			if errA != nil || errB != nil || a > b || a < bounds[i][0] || b > bounds[i][1] {
				return "field " + strconv.Itoa(i+1) + " " + f + " is out of bounds or not a number"
			}
		}
	}
	return ""
}

// unit is a systemd unit file: section, key, values in order.
type unit map[string]map[string][]string

// parseUnit reads a unit file as systemd does: [Section] headers, Key=Value
// lines, # and ; comments, backslash continuations. Anything else is an
// error.
func parseUnit(t *testing.T, file string) unit {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	section := ""
	lines := strings.Split(strings.ReplaceAll(string(data), "\\\n", " "), "\n")
	for n, line := range lines {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			if u[section] != nil {
				t.Errorf("%s:%d: section [%s] twice", file, n+1, section)
			}
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.TrimSpace(k) == "" {
				t.Errorf("%s:%d: not a Key=Value line in a section: %q", file, n+1, line)
				continue
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u
}

func (u unit) get(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

const serviceFile = "systemd/helmupgradebot@.service"

var timerFiles = map[string]string{ // chore: timer
	"charts":   "systemd/helmupgradebot-charts.timer",
	"registry": "systemd/helmupgradebot-registry.timer",
}

func TestSystemdUnits(t *testing.T) {
	svc := parseUnit(t, serviceFile)
	for key, want := range map[string]string{
		"Type":            "oneshot",
		"DynamicUser":     "yes",
		"ProtectSystem":   "strict",
		"ProtectHome":     "yes",
		"NoNewPrivileges": "yes",
		"PrivateTmp":      "yes",
		"StateDirectory":  "helmupgradebot",
		"CacheDirectory":  "helmupgradebot",
	} {
		if got := svc.get("Service", key); got != want {
			t.Errorf("%s: %s=%q, want %q", serviceFile, key, got, want)
		}
	}
	// The state (run lock, audit log, history) and the digest cache go to
	// the directories systemd makes writable, not under the read-only
	// system or the dynamic user's home.
	for _, want := range []string{"XDG_STATE_HOME=%S", "XDG_CACHE_HOME=%C"} {
		if !slices.Contains(svc["Service"]["Environment"], want) {
			t.Errorf("%s: no Environment=%s (has %q)", serviceFile, want, svc["Service"]["Environment"])
		}
	}
	if svc.get("Service", "CapabilityBoundingSet") != "" || svc["Service"]["CapabilityBoundingSet"] == nil {
		t.Errorf("%s: want an empty CapabilityBoundingSet=", serviceFile)
	}
	execStart := strings.Fields(svc.get("Service", "ExecStart"))
	if len(execStart) == 0 || execStart[0] != "/usr/local/bin/helmupgradebot" || flagValue(execStart, "--only") != "%i" ||
		!slices.Contains(execStart, "--headless") || !slices.Contains(execStart, "--apply") || flagValue(execStart, "--config") == "" {
		t.Errorf("%s: ExecStart %q: want /usr/local/bin/helmupgradebot --headless --apply --only %%i --config PATH", serviceFile, execStart)
	}

	// The metrics go to node_exporter's textfile collector, a file per
	// chore, in a directory the hardened service may write.
	file := flagValue(execStart, "--metrics-file")
	if filepath.Ext(file) != ".prom" || !strings.Contains(file, "%i") {
		t.Errorf("%s: --metrics-file %q: want a .prom file per chore (%%i)", serviceFile, file)
	}
	if rw := strings.TrimPrefix(svc.get("Service", "ReadWritePaths"), "-"); rw == "" || filepath.Dir(file) != rw {
		t.Errorf("%s: ReadWritePaths=%q, want the metrics file's directory %s (ProtectSystem=strict makes the rest read-only)", serviceFile, rw, filepath.Dir(file))
	}

	crontab := cronLines(t)
	for chore, file := range timerFiles {
		tm := parseUnit(t, file)
		if got := tm.get("Timer", "Persistent"); got != "true" {
			t.Errorf("%s: Persistent=%q, want true", file, got)
		}
		if got, want := tm.get("Timer", "Unit"), "helmupgradebot@"+chore+".service"; got != want {
			t.Errorf("%s: Unit=%q, want %q", file, got, want)
		}
		if got := tm.get("Install", "WantedBy"); got != "timers.target" {
			t.Errorf("%s: WantedBy=%q, want timers.target", file, got)
		}
		// The same times as the crontab's lines.
		cal := tm.get("Timer", "OnCalendar")
		f := strings.Fields(crontab[chore])
		if len(f) != 5 {
			t.Errorf("crontab has no %s line", chore)
			continue
		}
		dom := "*"
		if f[2] != "*" {
			dom = "01"
		}
		if want := "*-*-" + dom + " " + twoDigits(f[1]) + ":" + twoDigits(f[0]) + ":00"; cal != want {
			t.Errorf("%s: OnCalendar=%q; the crontab runs it at %q", file, cal, want)
		}
	}
}

// dependencyKeys are the [Unit] keys that name other units: requirements
// and orderings.
var dependencyKeys = []string{"Requires", "Requisite", "Wants", "BindsTo", "PartOf", "Upholds", "Conflicts", "Before", "After", "OnFailure", "OnSuccess", "PropagatesReloadTo", "ReloadPropagatedFrom"}

// instanceUnit is helmupgradebot@chore.service as systemd loads it: the
// template, then its drop-ins (helmupgradebot@.service.d/*.conf, then
// helmupgradebot@chore.service.d/*.conf), with %i, %I, %n, %N, %p and %P
// resolved.
func instanceUnit(t *testing.T, chore string) unit {
	t.Helper()
	name := "helmupgradebot@" + chore + ".service"
	files := []string{serviceFile}
	for _, dir := range []string{"helmupgradebot@.service.d", name + ".d"} {
		dropIns, err := filepath.Glob(filepath.Join("systemd", dir, "*.conf"))
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(dropIns)
		files = append(files, dropIns...)
	}
	spec := strings.NewReplacer("%i", chore, "%I", chore, "%n", name, "%N", strings.TrimSuffix(name, ".service"), "%p", "helmupgradebot", "%P", "helmupgradebot", "%%", "%")
	u := unit{}
	for _, f := range files {
		for section, keys := range parseUnit(t, f) {
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			for k, vs := range keys {
				for _, v := range vs {
					if v == "" { // an empty assignment resets the list
						u[section][k] = nil
						continue
					}
					u[section][k] = append(u[section][k], spec.Replace(v))
				}
			}
		}
	}
	return u
}

// checkUnitDependencies checks the units' dependencies as systemd would
// load them, without systemd: no instance names itself (systemd drops such
// a dependency with a warning), no orderings form a cycle, each timer
// starts its own instance, and a registry run waits for a chart run.
func checkUnitDependencies(t *testing.T) {
	t.Helper()
	after := map[string][]string{} // unit: the units it starts after
	for chore := range timerFiles {
		name := "helmupgradebot@" + chore + ".service"
		u := instanceUnit(t, chore)
		for _, key := range dependencyKeys {
			for _, v := range u["Unit"][key] {
				for _, dep := range strings.Fields(v) {
					if dep == name {
						t.Errorf("%s: %s=%s: the unit depends on itself", name, key, dep)
						continue
					}
					switch key {
					case "After":
						after[name] = append(after[name], dep)
					case "Before":
						after[dep] = append(after[dep], name)
					}
				}
			}
		}
	}
	// A cycle of orderings: systemd breaks it by dropping a job.
	var visit func(unit string, path []string) bool
	visit = func(unit string, path []string) bool {
		if slices.Contains(path, unit) {
			t.Errorf("ordering cycle: %s", strings.Join(append(path, unit), " after "))
			return false
		}
		for _, dep := range after[unit] {
			if !visit(dep, append(slices.Clone(path), unit)) {
				return false
			}
		}
		return true
	}
	for unit := range after {
		if !visit(unit, nil) {
			break
		}
	}
	if !slices.Contains(after["helmupgradebot@registry.service"], "helmupgradebot@charts.service") {
		t.Error("helmupgradebot@registry.service is not ordered after helmupgradebot@charts.service: when both timers fire at boot, the registry run meets the chart run's lock")
	}
	if slices.Contains(after["helmupgradebot@charts.service"], "helmupgradebot@registry.service") {
		t.Error("helmupgradebot@charts.service waits for the registry run")
	}
}

func TestSystemdDependencies(t *testing.T) {
	checkUnitDependencies(t)
}

func twoDigits(s string) string {
	if len(s) == 1 {
		return "0" + s
	}
	return s
}

// systemd-analyze verify checks the units as systemd loads them: every key
// known, each instance with its drop-ins, each timer's unit found, no
// dependency dropped. The binary the service starts is replaced by a
// stand-in, since it is not installed here. Where systemd-analyze is not
// installed (apt-get install systemd brings it), the units' dependencies
// are checked by parsing instead (TestSystemdDependencies does too), and
// the keys only as TestSystemdUnits does.
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the units' dependencies are checked by parsing them")
		checkUnitDependencies(t)
		return
	}
	dir := t.TempDir()
	stand := filepath.Join(dir, "helmupgradebot")
	if err := os.WriteFile(stand, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Every unit file and drop-in, the binary's path replaced.
	err = filepath.WalkDir("systemd", func(p string, d os.DirEntry, err error) error {
		if err != nil || p == "systemd" {
			return err
		}
		rel, _ := filepath.Rel("systemd", p)
		if d.IsDir() {
			return os.Mkdir(filepath.Join(dir, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		data = bytes.ReplaceAll(data, []byte("/usr/local/bin/helmupgradebot"), []byte(stand))
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The instances by name, so that systemd reads their drop-ins.
	var names []string
	for chore, f := range timerFiles {
		names = append(names, "helmupgradebot@"+chore+".service", filepath.Base(f))
	}
	slices.Sort(names)
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no"}, names...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// verify exits 0 on warnings (an unknown key, a bad value ignored, a
	// dependency dropped): any line of output fails the test.
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var from, user, entrypoint string
	var build []string
	for _, line := range strings.Split(string(data), "\n") {
		instr, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			from, user, entrypoint = rest, "", ""
		case "USER":
			user = rest
		case "ENTRYPOINT":
			entrypoint = rest
		case "RUN":
			build = append(build, rest)
		}
	}
	if !strings.HasPrefix(from, "gcr.io/distroless/static") && from != "scratch" {
		t.Errorf("final stage FROM %s: want distroless static or scratch", from)
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "0" || u == "root" {
		t.Errorf("final stage USER %q: want a non-root user", user)
	}
	if entrypoint != `["/usr/local/bin/helmupgradebot"]` {
		t.Errorf("ENTRYPOINT %s, want the binary in exec form", entrypoint)
	}
	if b := strings.Join(build, "\n"); !strings.Contains(b, "CGO_ENABLED=0 go build") || !strings.Contains(b, "-X main.version=") {
		t.Errorf("the build %q: want a static build (CGO_ENABLED=0) that sets main.version", b)
	}
	// The CronJobs run this image's binary by its arguments, as a user the
	// image has.
	for _, cj := range loadManifests(t).cronJobs {
		pod := cj.Spec.JobTemplate.Spec.Template.Spec
		if len(pod.Containers[0].Command) != 0 {
			t.Errorf("%s: command %q overrides the image's entrypoint", cj.Name, pod.Containers[0].Command)
		}
		if u, _, _ := strings.Cut(user, ":"); pod.SecurityContext.RunAsUser == nil || strconv.FormatInt(*pod.SecurityContext.RunAsUser, 10) != u {
			t.Errorf("%s: runAsUser is not the image's user %s", cj.Name, user)
		}
	}
}
