package deploy

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	yamlv3 "gopkg.in/yaml.v3"
	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartv2util "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
)

// The chart is rendered here as `helm template` renders it, with Helm's own
// chart loader and template engine as a library: the chart's values merged
// with a variant's and checked against values.schema.json, the templates
// executed in strict mode (a reference to a value that is not there is an
// error, as in `helm lint --strict`), partials and NOTES.txt set apart.
// Each document is then decoded strictly (an unknown or duplicate field is
// an error) into its Kubernetes API type.

const chartDir = "helm/helmupgradebot"

// kubeVersion is the cluster the chart is rendered for: the oldest its
// Chart.yaml accepts (CronJob's timeZone is GA from 1.27).
const kubeVersion = "v1.27.0"

// chartOutput is one rendering of the chart, decoded.
type chartOutput struct {
	cronJobs        map[string]*batchv1.CronJob // by chore (app.kubernetes.io/component)
	configMaps      map[string]*corev1.ConfigMap
	serviceAccounts map[string]*corev1.ServiceAccount
	claims          map[string]*corev1.PersistentVolumeClaim
	roles           map[string]*rbacv1.Role        // by namespace/name
	roleBindings    map[string]*rbacv1.RoleBinding // by namespace/name
	notes           string
}

// renderChart renders the chart for a release with the given values (YAML,
// merged over the chart's values.yaml as `helm template -f` does).
func renderChart(t *testing.T, release, namespace, values string) (chartOutput, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load the chart: %v", err)
	}
	if err := ch.Validate(); err != nil {
		t.Fatalf("Chart.yaml: %v", err)
	}
	kv, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	if !chartv2util.IsCompatibleRange(ch.Metadata.KubeVersion, kv.String()) {
		t.Fatalf("Chart.yaml: kubeVersion %q does not accept %s", ch.Metadata.KubeVersion, kv)
	}
	vals, err := loader.LoadValues(strings.NewReader(values))
	if err != nil {
		t.Fatalf("the variant's values: %v", err)
	}
	caps := common.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	top, err := chartutil.ToRenderValuesWithSchemaValidation(ch, vals,
		common.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}, caps, false)
	if err != nil {
		return chartOutput{}, err
	}
	files, err := engine.Engine{Strict: true}.RenderWithContext(context.Background(), ch, top)
	if err != nil {
		return chartOutput{}, err
	}
	return decodeChartOutput(t, ch, files), nil
}

// decodeChartOutput decodes every document the templates rendered.
func decodeChartOutput(t *testing.T, ch *chartv2.Chart, files map[string]string) chartOutput {
	t.Helper()
	out := chartOutput{
		cronJobs:        map[string]*batchv1.CronJob{},
		configMaps:      map[string]*corev1.ConfigMap{},
		serviceAccounts: map[string]*corev1.ServiceAccount{},
		claims:          map[string]*corev1.PersistentVolumeClaim{},
		roles:           map[string]*rbacv1.Role{},
		roleBindings:    map[string]*rbacv1.RoleBinding{},
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	prefix := ch.Name() + "/templates/"
	for _, name := range names {
		if !strings.HasPrefix(name, prefix) {
			t.Errorf("%s: a template outside %s", name, prefix)
			continue
		}
		base := path.Base(name)
		switch {
		case strings.HasPrefix(base, "_"): // partials render nothing
			if strings.TrimSpace(files[name]) != "" {
				t.Errorf("%s: a partial rendered text", name)
			}
			continue
		case base == "NOTES.txt":
			out.notes = files[name]
			continue
		}
		for i, doc := range docSeparator.Split(files[name], -1) {
			where := fmt.Sprintf("%s, document %d", name, i+1)
			obj := decodeDocument(t, where, doc)
			switch o := obj.(type) {
			case *batchv1.CronJob:
				checkObjectMeta(t, where, &o.ObjectMeta, 52) // the Job controller appends 11 characters
				checkLabels(t, where+" pod template", o.Spec.JobTemplate.Spec.Template.Labels)
				chore := o.Labels["app.kubernetes.io/component"]
				if out.cronJobs[chore] != nil {
					t.Errorf("%s: a second CronJob for %q", where, chore)
				}
				out.cronJobs[chore] = o
			case *corev1.ConfigMap:
				checkObjectMeta(t, where, &o.ObjectMeta, 253)
				out.configMaps[o.Name] = o
			case *corev1.ServiceAccount:
				checkObjectMeta(t, where, &o.ObjectMeta, 253)
				out.serviceAccounts[o.Name] = o
			case *corev1.PersistentVolumeClaim:
				checkObjectMeta(t, where, &o.ObjectMeta, 253)
				out.claims[o.Name] = o
			case *rbacv1.Role:
				checkObjectMeta(t, where, &o.ObjectMeta, 253)
				out.roles[o.Namespace+"/"+o.Name] = o
			case *rbacv1.RoleBinding:
				checkObjectMeta(t, where, &o.ObjectMeta, 253)
				out.roleBindings[o.Namespace+"/"+o.Name] = o
			case nil: // comments only, or not decoded (reported)
			default:
				t.Errorf("%s: a %T has no check here; add one", where, o)
			}
		}
	}
	return out
}

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

// mustRender renders the chart as renderChart does, failing t if it
// cannot.
func mustRender(t *testing.T, release, namespace, values string) chartOutput {
	t.Helper()
	out, err := renderChart(t, release, namespace, values)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return out
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

// chartValues reads a key of the chart's values.yaml, as YAML.
func chartValues(t *testing.T, key string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var vals map[string]any
	if err := yamlv3.Unmarshal(data, &vals); err != nil {
		t.Fatal(err)
	}
	out, err := yamlv3.Marshal(vals[key])
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// The chart's defaults: the plain manifests' CronJobs, configuration and
// ServiceAccount, on a claim of the chart's own.
func TestHelmChartDefaults(t *testing.T) {
	out := mustRender(t, "helmupgradebot", "binderhub", "")
	want := defaultWant("helmupgradebot")
	want.config = chartValues(t, "config")
	want.secretEnv = map[string]string{"GITHUB_TOKEN": "helmupgradebot/github-token"}
	checkChart(t, out, want)

	// The defaults run as the plain manifests do: the same schedules,
	// arguments (which deploy_args_test.go parses with the program's
	// flags), resources, security settings and configuration.
	plain := loadManifests(t)
	for _, p := range plain.cronJobs {
		chore := p.Labels["app.kubernetes.io/component"]
		c := out.cronJobs[chore]
		if c == nil {
			t.Errorf("the chart has no CronJob for %s", chore)
			continue
		}
		pp, cp := p.Spec.JobTemplate.Spec.Template.Spec, c.Spec.JobTemplate.Spec.Template.Spec
		for what, pair := range map[string][2]any{
			"schedule":                {p.Spec.Schedule, c.Spec.Schedule},
			"timeZone":                {p.Spec.TimeZone, c.Spec.TimeZone},
			"startingDeadlineSeconds": {p.Spec.StartingDeadlineSeconds, c.Spec.StartingDeadlineSeconds},
			"activeDeadlineSeconds":   {p.Spec.JobTemplate.Spec.ActiveDeadlineSeconds, c.Spec.JobTemplate.Spec.ActiveDeadlineSeconds},
			"args":                    {pp.Containers[0].Args, cp.Containers[0].Args},
			"resources":               {pp.Containers[0].Resources, cp.Containers[0].Resources},
			"pod securityContext":     {pp.SecurityContext, cp.SecurityContext},
			"securityContext":         {pp.Containers[0].SecurityContext, cp.Containers[0].SecurityContext},
		} {
			if !reflect.DeepEqual(pair[0], pair[1]) {
				t.Errorf("%s: %s %+v in the chart, %+v in kubernetes/cronjob.yaml", chore, what, pair[1], pair[0])
			}
		}
	}
	plainCM := plain.configMaps["helmupgradebot"]
	if plainCM == nil {
		t.Fatal("kubernetes/configmap.yaml: no ConfigMap helmupgradebot")
	}
	var plainCfg, chartCfg any
	_ = yamlv3.Unmarshal([]byte(plainCM.Data["config.yaml"]), &plainCfg)
	_ = yamlv3.Unmarshal([]byte(out.configMaps["helmupgradebot"].Data["config.yaml"]), &chartCfg)
	if !reflect.DeepEqual(plainCfg, chartCfg) {
		t.Errorf("the chart's default configuration differs from kubernetes/configmap.yaml's")
	}
}

// AKS: workload identity (the ServiceAccount's client ID, the pods' label),
// secrets in Key Vault (a GitHub App's key), and a usage source that reads
// the hub's pods.
func TestHelmChartAKSWorkloadIdentity(t *testing.T) {
	const clientID = "0d2ffb1c-5c2a-4f5e-9a53-3bd0ab2c11aa"
	const tenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	out := mustRender(t, "hub23", "binderhub", `
workloadIdentity:
  azure:
    clientId: `+clientID+`
    tenantId: `+tenantID+`
persistence:
  storageClassName: managed-csi
secretEnv:
  GITHUB_TOKEN: null
config:
  registry:
    url: hub23registry.azurecr.io
    auth:
      type: azure
    policy:
      max_age: 60d
      cap: null
      aggressive: null
      keep_launched_within: 30d
      usage:
        - events: https://archive.analytics.mybinder.org/events-{date}.jsonl
        - kubernetes: {}
        - kubernetes:
            namespace: binderhub-staging
  github:
    token: null
    app_id: 1234567
    installation_id: 87654321
    private_key: keyvault://hub23-vault/helmupgradebot-app-key
  charts:
    - repository: alan-turing-institute/hub23-deploy
      file: hub23-chart/Chart.yaml
      labels: [dependencies, automerge]
`)
	want := defaultWant("hub23-helmupgradebot")
	want.saAnnotations = map[string]string{
		"azure.workload.identity/client-id": clientID,
		"azure.workload.identity/tenant-id": tenantID,
	}
	want.azureLabel = true
	want.config = `
registry:
  url: hub23registry.azurecr.io
  auth:
    type: azure
  policy:
    max_age: 60d
    protect: ["^jupyterhub/"]
    keep_launched_within: 30d
    usage:
      - events: https://archive.analytics.mybinder.org/events-{date}.jsonl
      - kubernetes: {}
      - kubernetes:
          namespace: binderhub-staging
github:
  app_id: 1234567
  installation_id: 87654321
  private_key: keyvault://hub23-vault/helmupgradebot-app-key
charts:
  - repository: alan-turing-institute/hub23-deploy
    file: hub23-chart/Chart.yaml
    labels: [dependencies, automerge]
`
	want.secretEnv = map[string]string{}
	want.podReaderIn = []string{"binderhub", "binderhub-staging"}
	want.storageClass = ptr("managed-csi")
	want.checkConfigText = func(t *testing.T, c *config.Config) {
		// Key Vault references pass through as written; the App's IDs
		// stay whole numbers.
		if c.GitHub.PrivateKey != "keyvault://hub23-vault/helmupgradebot-app-key" || c.GitHub.Token != "" {
			t.Errorf("github: private_key %q, token %q", c.GitHub.PrivateKey, c.GitHub.Token)
		}
		if c.GitHub.AppID != 1234567 || c.GitHub.InstallationID != 87654321 {
			t.Errorf("github: app_id %d, installation_id %d", c.GitHub.AppID, c.GitHub.InstallationID)
		}
		if c.Registry.Auth.Type != config.AuthAzure {
			t.Errorf("registry auth %q, want azure", c.Registry.Auth.Type)
		}
	}
	checkChart(t, out, want)
}

// EKS: IAM roles for service accounts, an existing claim, other schedules
// in another time zone, the configuration file as given, a token from
// another Secret, registry credentials from a dockerconfigjson Secret, and
// dry runs.
func TestHelmChartEKSIRSA(t *testing.T) {
	const roleARN = "arn:aws:iam::123456789012:role/helmupgradebot"
	configFile := `# written by helmupgradebot init
registry:
  url: 123456789012.dkr.ecr.us-east-1.amazonaws.com
  auth:
    type: docker   # $DOCKER_CONFIG/config.json
  policy:
    max_age: 30d
    keep_latest: 2
    max_delete_fraction: 0.25
github:
  token: env:HELMUPGRADEBOT_GITHUB_TOKEN
  # A GitHub App instead (the key's variable is not set: this line is a
  # comment):
  # private_key: env:HELMUPGRADEBOT_APP_KEY
charts:
  - repository: example-org/hub-deploy
    file: deploy/chart/Chart.yaml
`
	values, err := yaml.Marshal(map[string]any{
		"workloadIdentity":        map[string]any{"aws": map[string]any{"roleArn": roleARN}},
		"persistence":             map[string]any{"existingClaim": "bot-state-on-efs"},
		"timeZone":                "America/New_York",
		"ttlSecondsAfterFinished": 1000000,
		"apply":                   false,
		"configFile":              configFile,
		"dockerConfigSecret":      "ecr-pull-push",
		"secretEnv": map[string]any{
			"GITHUB_TOKEN":                nil,
			"HELMUPGRADEBOT_GITHUB_TOKEN": map[string]any{"secretName": "bot-github", "key": "token"},
		},
		"chores": map[string]any{
			"charts": map[string]any{"schedule": "0 */6 * * *"},
			"registry": map[string]any{
				"schedule":  "45 2 * * 0",
				"resources": map[string]any{"requests": map[string]any{"cpu": "250m", "memory": "512Mi"}, "limits": map[string]any{"memory": "2Gi"}},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := mustRender(t, "bot", "tools", string(values))
	want := defaultWant("bot-helmupgradebot")
	want.schedules = map[string]string{"charts": "0 */6 * * *", "registry": "45 2 * * 0"}
	want.timeZone = "America/New_York"
	want.apply = false
	want.saAnnotations = map[string]string{"eks.amazonaws.com/role-arn": roleARN}
	want.claim, want.makesClaim = "bot-state-on-efs", false
	want.config, want.configVerbatim = configFile, true
	want.secretEnv = map[string]string{"HELMUPGRADEBOT_GITHUB_TOKEN": "bot-github/token"}
	want.dockerConfig = "ecr-pull-push"
	want.memoryLimits["registry"] = "2Gi"
	checkChart(t, out, want)
	if ttl := out.cronJobs["registry"].Spec.JobTemplate.Spec.TTLSecondsAfterFinished; ttl == nil || *ttl != 1000000 {
		t.Errorf("ttlSecondsAfterFinished %v, want 1000000", ttl)
	}
}

// persistence.storageClassName "-" asks for no class (a volume bound by
// hand), which is not the same as leaving it out (the default class).
func TestHelmChartNoStorageClass(t *testing.T) {
	out := mustRender(t, "helmupgradebot", "binderhub", "persistence:\n  storageClassName: \"-\"\n")
	pvc := out.claims["helmupgradebot-state"]
	if pvc == nil || pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "" {
		t.Errorf("storageClassName %v, want \"\"", pvc)
	}
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return "(none)"
	}
	return fmt.Sprintf("%q", *s)
}

// Values the chart refuses, each with a message that names the fix.
func TestHelmChartRefuses(t *testing.T) {
	for name, tc := range map[string]struct{ values, want string }{
		"an env reference nothing sets": {
			values: "config:\n  github:\n    token: env:MY_TOKEN\n",
			want:   "the configuration reads env:MY_TOKEN",
		},
		"an existing ServiceAccount without its name": {
			values: "serviceAccount:\n  create: false\n",
			want:   "serviceAccount.name",
		},
		"a misspelt key": {
			values: "schedule: \"0 3 * * *\"\n",
			want:   "schedule",
		},
		"a schedule of six fields": {
			values: "chores:\n  charts:\n    schedule: \"0 0 3 * * *\"\n",
			want:   "schedule",
		},
		"a configuration file that is not a mapping": {
			values: "configFile: \"- registry\"\n",
			want:   "configFile is not a YAML mapping",
		},
		"an env reference in a configuration file nothing sets": {
			values: "configFile: \"github:\\n  token: env:MY_TOKEN\\n\"\n",
			want:   "the configuration reads env:MY_TOKEN",
		},
		"no configuration": {
			values: "config: null\n",
			want:   "the helmupgradebot configuration is empty",
		},
		"a Pushgateway URL without a scheme": {
			values: "metrics:\n  pushgateway: pushgateway:9091\n",
			want:   "pushgateway",
		},
		"a Pushgateway URL with a password": {
			values: "metrics:\n  pushgateway: http://bot:pw@pushgateway:9091\n",
			want:   "pushgateway",
		},
		"a Secret without its key": {
			values: "secretEnv:\n  GITHUB_TOKEN:\n    secretName: x\n    key: null\n",
			want:   "key",
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := renderChart(t, "helmupgradebot", "binderhub", tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render: %v, want an error about %q", err, tc.want)
			}
		})
	}
}

// TestHelmChartMetrics: each CronJob pushes its metrics to the
// Pushgateway of metrics.pushgateway (by default the prometheus-community
// charts' in the namespace monitoring, as kubernetes/cronjob.yaml does),
// and to none when it is empty.
func TestHelmChartMetrics(t *testing.T) {
	for _, tc := range []struct{ values, want string }{
		{"", "http://prometheus-pushgateway.monitoring:9091"},
		{"metrics:\n  pushgateway: https://pushgateway.example.org/\n", "https://pushgateway.example.org/"},
		{"metrics:\n  pushgateway: \"\"\n", ""},
	} {
		out, err := renderChart(t, "helmupgradebot", "binderhub", tc.values)
		if err != nil {
			t.Fatalf("%q: render: %v", tc.values, err)
		}
		if len(out.cronJobs) != 2 {
			t.Fatalf("%q: %d CronJobs", tc.values, len(out.cronJobs))
		}
		for chore, cj := range out.cronJobs {
			args := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
			if got := flagValue(args, "--metrics-push"); got != tc.want || slices.Contains(args, "--metrics-push") != (tc.want != "") {
				t.Errorf("%q: %s: args %q, want --metrics-push %q", tc.values, chore, args, tc.want)
			}
		}
	}
}
