package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/metrics"
	"github.com/helmupgradebot/helmupgradebot/backend/metrics/metricstest"
	"github.com/helmupgradebot/helmupgradebot/backend/pushgatewaytest"
	"github.com/helmupgradebot/helmupgradebot/headless"
)

// runDemoHeadless runs `helmupgradebot --demo --headless ARGS` in-process,
// as `go run . --demo` does, with its state under a temporary home.
func runDemoHeadless(t *testing.T, args ...string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{"HOME": dir, "XDG_STATE_HOME": filepath.Join(dir, "state"), "XDG_CACHE_HOME": filepath.Join(dir, "cache")}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"--demo", "--headless"}, args...), &stdout, &stderr, func(k string) string { return vars[k] })
	return code, stdout.String() + stderr.String()
}

// TestDemoMetricsFile: `--demo --headless --metrics-file m.prom` writes a
// file that `promtool check metrics` accepts (when promtool is here) and
// that parses with client_golang's own parser into families that follow
// the naming conventions (metrics.Lint), every name the program defines
// among them.
func TestDemoMetricsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.prom")
	code, out := runDemoHeadless(t, "--metrics-file", path)
	if code != headless.ExitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if tool := metricstest.Promtool(t); tool != "" {
		cmd := exec.Command(tool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(data)
		report, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(report)) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, report)
		}
	}
	p := expfmt.NewTextParser(pmodel.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the file does not parse: %v\n%s", err, data)
	}
	var list []*dto.MetricFamily
	for _, mf := range fams {
		list = append(list, mf)
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "part" && l.GetValue() != "all" {
					t.Errorf("%s: part %q, want all (both parts ran)", mf.GetName(), l.GetValue())
				}
			}
		}
	}
	if problems := metrics.Lint(list); len(problems) > 0 {
		t.Errorf("conventions:\n%s", strings.Join(problems, "\n"))
	}
	// The demo has an open PR without failing checks, no usage source
	// failing: every name but the failing PR's age is there.
	for name := range metrics.Help {
		if _, ok := fams[metrics.FullName(name)]; !ok && name != metrics.NameOldestFailingPR && name != metrics.NameOldestPRAge {
			t.Errorf("the demo's file lacks %s", metrics.FullName(name))
		}
	}
}

// TestDemoMetricsPush: two `--demo --headless --metrics-push URL` runs
// push to the Pushgateway stand-in's group job helmupgradebot, instance
// demo (whatever port the demo's registry got), part all; the second run
// replaces the first's metrics.
func TestDemoMetricsPush(t *testing.T) {
	gw := pushgatewaytest.Serve(t)
	var starts []float64
	for i := range 2 {
		code, out := runDemoHeadless(t, "--metrics-push", gw.URL())
		if code != headless.ExitOK {
			t.Fatalf("run %d: exit %d:\n%s", i+1, code, out)
		}
		groups := gw.Groups()
		if len(groups) != 1 {
			t.Fatalf("run %d: %d groups, want 1: %v", i+1, len(groups), groups)
		}
		g := groups[0]
		want := map[string]string{"job": "helmupgradebot", "instance": "demo", "part": "all"}
		if len(g.Labels) != len(want) {
			t.Errorf("group %v, want %v", g.Labels, want)
		}
		for k, v := range want {
			if g.Labels[k] != v {
				t.Errorf("group label %s = %q, want %q", k, g.Labels[k], v)
			}
		}
		mf := g.Families[metrics.FullName(metrics.NameRunStart)]
		if mf == nil || len(mf.Metric) != 1 {
			t.Fatalf("run %d: no start time in the group: %v", i+1, mf)
		}
		starts = append(starts, mf.Metric[0].GetGauge().GetValue())
		if g.Families[metrics.FullName(metrics.NameStored)] == nil || g.Families[metrics.FullName(metrics.NameDependencies)] == nil {
			t.Errorf("run %d: the group lacks the registry's or the charts' metrics", i+1)
		}
	}
	if !(starts[1] > starts[0]) {
		t.Errorf("the second run's start %v did not replace the first's %v", starts[1], starts[0])
	}
	pushes := gw.Pushes()
	if len(pushes) != 2 || pushes[0].Method != "PUT" || pushes[1].Method != "PUT" {
		t.Errorf("pushes %+v, want two PUTs", pushes)
	}
}

// TestMetricsFlags: the metrics flags go with --headless, the file ends in
// .prom and the Pushgateway's URL is http(s) without a password.
func TestMetricsFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" accepted
	}{
		{[]string{"--headless", "--metrics-file", "/var/lib/node_exporter/textfile_collector/h.prom", "--metrics-push", "http://pushgateway:9091"}, ""},
		{[]string{"--metrics-file", "m.prom"}, "go with --headless"},
		{[]string{"--metrics-push", "http://pushgateway:9091"}, "go with --headless"},
		{[]string{"--headless", "--metrics-file", "m.txt"}, "*.prom"},
		{[]string{"--headless", "--metrics-push", "pushgateway:9091"}, "http(s)"},
		{[]string{"--headless", "--metrics-push", "http://bot:s3cret@pushgateway:9091"}, "no user or password"},
	} {
		_, err := parseFlags(tc.args, &bytes.Buffer{})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: err %v, want one saying %q", tc.args, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "s3cret"):
			t.Errorf("%v: the error shows the password: %v", tc.args, err)
		}
	}
}

// TestMetricsTargets: the flags win over the configuration's keys; the
// group is the job, the instance and the part run.
func TestMetricsTargets(t *testing.T) {
	cfgKeys := config.Metrics{File: "/cfg.prom", Push: "http://cfg:9091", Instance: "hub23", Job: "bots"}
	for _, tc := range []struct {
		name string
		f    flags
		file string
		push string
		part string
	}{
		{"keys", flags{}, "/cfg.prom", "http://cfg:9091", "all"},
		{"flags win", flags{metricsFile: "/flag.prom", metricsPush: "http://flag:9091", only: "registry"}, "/flag.prom", "http://flag:9091", "registry"},
		{"charts", flags{only: "charts"}, "/cfg.prom", "http://cfg:9091", "charts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := metricsTargets(tc.f, cfgKeys)
			if got.File != tc.file || got.Push != tc.push || got.Group.Job != "bots" {
				t.Errorf("targets %+v", got)
			}
			want := []metrics.Label{{Name: "instance", Value: "hub23"}, {Name: "part", Value: tc.part}}
			if len(got.Group.Labels) != 2 || got.Group.Labels[0] != want[0] || got.Group.Labels[1] != want[1] {
				t.Errorf("group labels %v, want %v", got.Group.Labels, want)
			}
		})
	}
}
