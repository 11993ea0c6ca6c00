package deploy

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
)

// The manifests in kubernetes/: their CronJobs, and the checks of a
// CronJob's pod (security, config, persistent directories) that the Helm
// chart's test uses too.

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
