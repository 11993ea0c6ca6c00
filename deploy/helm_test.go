package deploy

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
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

// persistence.storageClassName "-" asks for no class (a volume bound by
// hand), which is not the same as leaving it out (the default class).
func TestHelmChartNoStorageClass(t *testing.T) {
	out := mustRender(t, "helmupgradebot", "binderhub", "persistence:\n  storageClassName: \"-\"\n")
	pvc := out.claims["helmupgradebot-state"]
	if pvc == nil || pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "" {
		t.Errorf("storageClassName %v, want \"\"", pvc)
	}
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
