package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	pmodel "github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/helmupgradebot/helmupgradebot/backend/metrics"
	"github.com/helmupgradebot/helmupgradebot/backend/metrics/metricstest"
)

// ruleGroups mirrors a Prometheus rules file (rulefmt.RuleGroups), alerts
// only: a key it does not know is an error.
type ruleGroups struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval,omitempty"`
	Rules    []rule `yaml:"rules"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// prometheusRule mirrors the Prometheus Operator's PrometheusRule.
type prometheusRule struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec ruleGroups `yaml:"spec"`
}

func decodeStrict(t *testing.T, path string, v any) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return data
}

// metricName finds the metric names in a PromQL expression.
var metricName = regexp.MustCompile(`\bhelmupgradebot_[a-z0-9_]+\b`)

// TestAlertingRules: rules.yml and alerts.yaml (a PrometheusRule) hold the
// same groups: the six alerts, each with a severity, a summary and a
// runbook line naming the helmupgradebot command to run, over metrics the
// program emits. promtool (when here) checks the rules and runs their
// unit tests (rules.test.yml): each alert fires when it should, and only
// then.
func TestAlertingRules(t *testing.T) {
	var plain ruleGroups
	decodeStrict(t, filepath.Join("prometheus", "rules.yml"), &plain)
	var pr prometheusRule
	decodeStrict(t, filepath.Join("prometheus", "alerts.yaml"), &pr)
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" || pr.Metadata.Name == "" {
		t.Errorf("alerts.yaml: %s %s %q, want a named monitoring.coreos.com/v1 PrometheusRule", pr.APIVersion, pr.Kind, pr.Metadata.Name)
	}
	if !reflect.DeepEqual(plain, pr.Spec) {
		t.Error("alerts.yaml's spec.groups differ from rules.yml's groups")
	}

	emitted := map[string]bool{}
	for name := range metrics.Help {
		emitted[metrics.FullName(name)] = true
	}
	var alerts []string
	for _, g := range plain.Groups {
		if g.Name == "" {
			t.Error("a group without a name")
		}
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("rule %+v: want alert and expr", r)
				continue
			}
			if r.For != "" {
				if _, err := pmodel.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
			if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
				t.Errorf("%s: severity %q", r.Alert, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", r.Alert)
			}
			if rb := r.Annotations["runbook"]; !strings.Contains(rb, "helmupgradebot ") {
				t.Errorf("%s: runbook %q names no helmupgradebot command", r.Alert, rb)
			}
			names := metricName.FindAllString(r.Expr, -1)
			if len(names) == 0 {
				t.Errorf("%s: expr %q reads no helmupgradebot metric", r.Alert, r.Expr)
			}
			for _, n := range names {
				if !emitted[n] {
					t.Errorf("%s: %s is not a metric the program emits", r.Alert, n)
				}
			}
			if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") {
				t.Errorf("%s: unbalanced parentheses in %q", r.Alert, r.Expr)
			}
		}
	}
	want := []string{"HelmUpgradeBotChartPRFailingChecks", "HelmUpgradeBotNoSuccessfulRun", "HelmUpgradeBotRegistryCapSoon",
		"HelmUpgradeBotRegistryOverCap", "HelmUpgradeBotRunFailed", "HelmUpgradeBotUsageSourceFailing"}
	slices.Sort(alerts)
	if !slices.Equal(alerts, want) {
		t.Errorf("alerts %v, want %v", alerts, want)
	}

	tool := metricstest.Promtool(t)
	if tool == "" {
		return // the checks above are the ones Go can make
	}
	// The PrometheusRule's groups as a rules file, for promtool.
	spec, err := yaml.Marshal(pr.Spec)
	if err != nil {
		t.Fatal(err)
	}
	specFile := filepath.Join(t.TempDir(), "alerts-spec.yml")
	if err := os.WriteFile(specFile, spec, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"check", "rules", filepath.Join("prometheus", "rules.yml")},
		{"check", "rules", specFile},
		{"test", "rules", filepath.Join("prometheus", "rules.test.yml")},
	} {
		out, err := exec.Command(tool, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
