package deploy

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	yamlv3 "gopkg.in/yaml.v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
)

// What a rendering of the Helm chart must hold (chartWant), and the checks
// of each rendered object against it.

// checkObjectMeta checks what the API server would of a name, labels and
// annotations.
func checkObjectMeta(t *testing.T, where string, m metaLike, maxName int) {
	t.Helper()
	name := m.GetName()
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		t.Errorf("%s: name %q: %s", where, name, strings.Join(msgs, "; "))
	}
	if len(name) > maxName {
		t.Errorf("%s: name %q is longer than %d characters", where, name, maxName)
	}
	checkLabels(t, where, m.GetLabels())
	for k := range m.GetAnnotations() {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			t.Errorf("%s: annotation %q: %s", where, k, strings.Join(msgs, "; "))
		}
	}
}

type metaLike interface {
	GetName() string
	GetLabels() map[string]string
	GetAnnotations() map[string]string
}

func checkLabels(t *testing.T, where string, labels map[string]string) {
	t.Helper()
	for k, v := range labels {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			t.Errorf("%s: label %q: %s", where, k, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			t.Errorf("%s: label %s=%q: %s", where, k, v, strings.Join(msgs, "; "))
		}
	}
}

// chartWant is what a rendering must hold.
type chartWant struct {
	names           map[string]string // chore: CronJob name
	schedules       map[string]string // chore: schedule
	timeZone        string
	apply           bool
	serviceAccount  string
	saAnnotations   map[string]string // exactly these
	azureLabel      bool              // azure.workload.identity/use on the pods
	claim           string
	makesClaim      bool
	config          string            // the configuration the ConfigMap must hold (as YAML data)
	secretEnv       map[string]string // env name: "secret/key"
	podReaderIn     []string          // namespaces whose pods the registry chore reads
	dockerConfig    string            // the dockerconfigjson Secret mounted, if any
	memoryLimits    map[string]string // chore: the memory limit
	storageClass    *string           // the claim's storageClassName, when the chart makes it
	configVerbatim  bool              // the ConfigMap holds config's text as it is
	checkConfigText func(t *testing.T, c *config.Config)
}

// checkChart checks a rendering against want, and the security settings
// every rendering must have.
func checkChart(t *testing.T, out chartOutput, want chartWant) {
	t.Helper()
	if len(out.cronJobs) != len(want.schedules) {
		t.Errorf("CronJobs for %v, want %v", slices.Sorted(maps.Keys(out.cronJobs)), slices.Sorted(maps.Keys(want.schedules)))
	}
	if strings.TrimSpace(out.notes) == "" {
		t.Error("NOTES.txt rendered nothing")
	}

	// The ServiceAccount, with the cloud identity's annotations.
	sa := out.serviceAccounts[want.serviceAccount]
	if sa == nil {
		t.Fatalf("no ServiceAccount %s (have %v)", want.serviceAccount, slices.Sorted(maps.Keys(out.serviceAccounts)))
	}
	if !reflect.DeepEqual(sa.Annotations, want.saAnnotations) && !(len(sa.Annotations) == 0 && len(want.saAnnotations) == 0) {
		t.Errorf("ServiceAccount %s: annotations %v, want %v", sa.Name, sa.Annotations, want.saAnnotations)
	}
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("ServiceAccount %s: want automountServiceAccountToken: false", sa.Name)
	}

	// The claim: the chart's own, or an existing one.
	if want.makesClaim {
		pvc := out.claims[want.claim]
		if pvc == nil {
			t.Errorf("no PersistentVolumeClaim %s (have %v)", want.claim, slices.Sorted(maps.Keys(out.claims)))
		} else {
			if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || q.IsZero() {
				t.Errorf("PersistentVolumeClaim %s requests no storage", pvc.Name)
			}
			if len(pvc.Spec.AccessModes) == 0 {
				t.Errorf("PersistentVolumeClaim %s has no access mode", pvc.Name)
			}
			if !reflect.DeepEqual(pvc.Spec.StorageClassName, want.storageClass) {
				t.Errorf("PersistentVolumeClaim %s: storageClassName %v, want %v", pvc.Name, deref(pvc.Spec.StorageClassName), deref(want.storageClass))
			}
		}
	} else if len(out.claims) != 0 {
		t.Errorf("PersistentVolumeClaims %v beside the existing claim %s", slices.Sorted(maps.Keys(out.claims)), want.claim)
	}

	// The pod readers: a Role and a RoleBinding to the ServiceAccount in
	// each namespace whose pods the registry chore reads.
	if len(out.roles) != len(want.podReaderIn) || len(out.roleBindings) != len(want.podReaderIn) {
		t.Errorf("%d Roles and %d RoleBindings, want one of each in %v", len(out.roles), len(out.roleBindings), want.podReaderIn)
	}
	for _, rb := range out.roleBindings {
		role := out.roles[rb.Namespace+"/"+rb.RoleRef.Name]
		if !slices.Contains(want.podReaderIn, rb.Namespace) || role == nil || rb.RoleRef.Kind != "Role" {
			t.Errorf("RoleBinding %s/%s: to %s %s in an unexpected namespace", rb.Namespace, rb.Name, rb.RoleRef.Kind, rb.RoleRef.Name)
			continue
		}
		if len(rb.Subjects) != 1 || rb.Subjects[0].Kind != "ServiceAccount" || rb.Subjects[0].Name != sa.Name {
			t.Errorf("RoleBinding %s/%s: subjects %+v, want the ServiceAccount %s", rb.Namespace, rb.Name, rb.Subjects, sa.Name)
		}
		if len(role.Rules) != 1 || !reflect.DeepEqual(role.Rules[0].Resources, []string{"pods"}) || !reflect.DeepEqual(role.Rules[0].Verbs, []string{"get", "list"}) {
			t.Errorf("Role %s/%s: rules %+v, want get and list on pods only", role.Namespace, role.Name, role.Rules)
		}
	}

	for chore, sched := range want.schedules {
		cj := out.cronJobs[chore]
		if cj == nil {
			t.Errorf("no CronJob for %s", chore)
			continue
		}
		t.Run(cj.Name, func(t *testing.T) {
			if cj.Name != want.names[chore] {
				t.Errorf("name %q, want %q", cj.Name, want.names[chore])
			}
			s := cj.Spec
			if s.Schedule != sched {
				t.Errorf("schedule %q, want %q", s.Schedule, sched)
			}
			if err := checkCronSchedule(s.Schedule); err != "" {
				t.Errorf("schedule %q: %s", s.Schedule, err)
			}
			if s.TimeZone == nil || *s.TimeZone != want.timeZone {
				t.Errorf("timeZone %v, want %q", s.TimeZone, want.timeZone)
			}
			if s.ConcurrencyPolicy != batchv1.ForbidConcurrent {
				t.Errorf("concurrencyPolicy %q, want Forbid", s.ConcurrencyPolicy)
			}
			if s.StartingDeadlineSeconds == nil || *s.StartingDeadlineSeconds <= 0 {
				t.Error("no startingDeadlineSeconds")
			}
			job := s.JobTemplate.Spec
			if job.BackoffLimit == nil || *job.BackoffLimit != 0 {
				t.Errorf("backoffLimit %v, want 0: the next scheduled run tries again", job.BackoffLimit)
			}
			if job.ActiveDeadlineSeconds == nil || *job.ActiveDeadlineSeconds <= 0 {
				t.Error("no activeDeadlineSeconds")
			}
			pod := job.Template.Spec
			if pod.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("restartPolicy %q, want Never", pod.RestartPolicy)
			}
			if pod.ServiceAccountName != sa.Name {
				t.Errorf("serviceAccountName %q, want %q", pod.ServiceAccountName, sa.Name)
			}
			readsPods := chore == "registry" && len(want.podReaderIn) > 0
			if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken != readsPods {
				t.Errorf("automountServiceAccountToken %v, want %v (the token only where a usage source reads pods)", pod.AutomountServiceAccountToken, readsPods)
			}
			if got := job.Template.Labels["azure.workload.identity/use"]; (got == "true") != want.azureLabel {
				t.Errorf("pod label azure.workload.identity/use %q, want it %v", got, want.azureLabel)
			}

			// Non-root, read-only, no privileges; resources and GOMEMLIMIT.
			c := checkPodSecurity(t, pod)
			if q := c.Resources.Limits[corev1.ResourceMemory]; q.String() != want.memoryLimits[chore] {
				t.Errorf("memory limit %s, want %s", q.String(), want.memoryLimits[chore])
			}
			env := map[string]corev1.EnvVar{}
			for _, e := range c.Env {
				if _, dup := env[e.Name]; dup {
					t.Errorf("env %s set twice", e.Name)
				}
				env[e.Name] = e
			}

			// The arguments: a headless run of this chore, of the mounted
			// configuration.
			args := strings.Join(c.Args, " ")
			for _, a := range []string{"--headless", "--json", "--log-format json", "--only " + chore} {
				if !strings.Contains(args, a) {
					t.Errorf("args %q lack %s", args, a)
				}
			}
			if slices.Contains(c.Args, "--apply") != want.apply {
				t.Errorf("args %q: --apply %v, want %v", args, slices.Contains(c.Args, "--apply"), want.apply)
			}
			if push := flagValue(c.Args, "--metrics-push"); slices.Contains(c.Args, "--metrics-push") {
				if err := config.CheckPushURL(push); err != nil || push == "" {
					t.Errorf("--metrics-push %q: %v", push, err)
				}
			}
			cfgText, _ := mountedConfig(t, c, pod, out.configMaps)
			checkConfigRoundTrip(t, cfgText, want)

			// Secrets by reference: every env:NAME of the configuration is
			// set, each secretEnv entry from its Secret's key.
			for _, name := range envReferences(t, cfgText) {
				if _, ok := env[name]; !ok {
					t.Errorf("the configuration reads env:%s, which the container does not set", name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					got := e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
					if want.secretEnv[e.Name] != got {
						t.Errorf("env %s from Secret %s, want %q", e.Name, got, want.secretEnv[e.Name])
					}
				} else if e.Value != "" && regexp.MustCompile(`(?i)token|password|secret|key`).MatchString(e.Name) {
					t.Errorf("env %s is a value, not a reference to a Secret", e.Name)
				}
			}
			for name := range want.secretEnv {
				if _, ok := env[name]; !ok {
					t.Errorf("env %s is not set", name)
				}
			}

			// The state and the digest cache: on the claim, kept.
			for _, name := range []string{"XDG_STATE_HOME", "XDG_CACHE_HOME"} {
				if claim := checkPersistentDir(t, c, pod, env, name); claim != "" && claim != want.claim {
					t.Errorf("%s on claim %s, want %s", name, claim, want.claim)
				}
			}
			if mount, vol := mountOf(c, pod, "/tmp"); mount == nil || vol.EmptyDir == nil {
				t.Error("no writable /tmp")
			}

			// Registry auth type docker: the dockerconfigjson Secret as
			// $DOCKER_CONFIG/config.json.
			if want.dockerConfig == "" {
				if _, ok := env["DOCKER_CONFIG"]; ok {
					t.Error("DOCKER_CONFIG set without a dockerConfigSecret")
				}
			} else {
				mount, vol := mountOf(c, pod, env["DOCKER_CONFIG"].Value)
				if mount == nil || !mount.ReadOnly || vol.Secret == nil || vol.Secret.SecretName != want.dockerConfig ||
					len(vol.Secret.Items) != 1 || vol.Secret.Items[0].Key != corev1.DockerConfigJsonKey || vol.Secret.Items[0].Path != "config.json" {
					t.Errorf("DOCKER_CONFIG %q: want the Secret %s's %s mounted there read-only as config.json", env["DOCKER_CONFIG"].Value, want.dockerConfig, corev1.DockerConfigJsonKey)
				}
			}
		})
	}
}

// envReferences returns the variables of the configuration's env:NAME
// values (whole values, as the program reads secret references; comments
// are not read).
func envReferences(t *testing.T, text string) []string {
	t.Helper()
	var doc any
	if err := yamlv3.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	ref := regexp.MustCompile(`^env:([A-Za-z_][A-Za-z0-9_]*)$`)
	var names []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case string:
			if m := ref.FindStringSubmatch(v); m != nil {
				names = append(names, m[1])
			}
		}
	}
	walk(doc)
	return names
}

// checkConfigRoundTrip checks that the configuration the ConfigMap holds is
// the one the values gave, key for key, and that the program's own loader
// accepts it.
func checkConfigRoundTrip(t *testing.T, got string, want chartWant) {
	t.Helper()
	if want.configVerbatim && got != want.config {
		t.Errorf("the ConfigMap's configuration is not configFile as given:\n%s\nwant:\n%s", got, want.config)
	}
	var gotDoc, wantDoc any
	if err := yamlv3.Unmarshal([]byte(got), &gotDoc); err != nil {
		t.Fatalf("the ConfigMap's configuration is not YAML: %v\n%s", err, got)
	}
	if err := yamlv3.Unmarshal([]byte(want.config), &wantDoc); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotDoc, wantDoc) {
		t.Errorf("the ConfigMap's configuration:\n%s\nwant (as YAML):\n%s", got, want.config)
	}
	c, err := config.Parse([]byte(got))
	if err != nil {
		t.Fatalf("the ConfigMap's configuration does not load: %v\n%s", err, got)
	}
	if want.checkConfigText != nil {
		want.checkConfigText(t, c)
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// defaultWant is what a rendering whose resources are named full holds
// with the chart's defaults; each test sets what its values change.
func defaultWant(full string) chartWant {
	return chartWant{
		names:          map[string]string{"charts": full + "-charts", "registry": full + "-registry"},
		schedules:      map[string]string{"charts": "15 3 * * *", "registry": "30 4 1 * *"},
		timeZone:       "Etc/UTC",
		apply:          true,
		serviceAccount: full,
		claim:          full + "-state",
		makesClaim:     true,
		memoryLimits:   map[string]string{"charts": "256Mi", "registry": "1Gi"},
	}
}

func deref(s *string) string {
	if s == nil {
		return "(none)"
	}
	return fmt.Sprintf("%q", *s)
}
