package headless

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"

	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/history"
	"github.com/helmupgradebot/helmupgradebot/backend/metrics"
	"github.com/helmupgradebot/helmupgradebot/backend/pushgatewaytest"
)

// readProm parses a metrics file: name without the namespace, then the
// series' labels ("k=v,…", the part label left out) to value.
func readProm(t *testing.T, path string) map[string]map[string]float64 {
	t.Helper()
	return byName(parseProm(t, path), "part")
}

// parseProm parses a metrics file in the text format.
func parseProm(t *testing.T, path string) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(pmodel.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func byName(fams map[string]*dto.MetricFamily, skip ...string) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for n, mf := range fams {
		s := map[string]float64{}
		for _, m := range mf.Metric {
			var ls []string
		labels:
			for _, l := range m.Label {
				for _, k := range skip {
					if l.GetName() == k {
						continue labels
					}
				}
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			s[strings.Join(ls, ",")] = m.GetGauge().GetValue()
		}
		out[strings.TrimPrefix(n, metrics.Namespace+"_")] = s
	}
	return out
}

// TestRunWritesMetrics: a demo run writes its metrics to the file and the
// Pushgateway, with the report's numbers; a second run, which applies,
// replaces the group; a run of the charts alone has no registry metric.
func TestRunWritesMetrics(t *testing.T) {
	env := startDemo(t)
	gw := pushgatewaytest.Serve(t)
	dir := t.TempDir()
	group := metrics.Group{Job: metrics.DefaultJob, Labels: []metrics.Label{{Name: "instance", Value: "demo"}, {Name: "part", Value: "all"}}}
	run := func(apply bool, charts *engine.Charts, reg *engine.Registry, file string) (Report, int) {
		var out bytes.Buffer
		code := Run(context.Background(), Options{Apply: apply, JSON: true, Registry: reg, Charts: charts, Stdout: &out, History: env.History,
			Metrics: metrics.Targets{File: filepath.Join(dir, file), Push: gw.URL(), Group: group}})
		var rep Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		return rep, code
	}

	rep, code := run(false, env.Charts, env.Registry, "dry.prom")
	m := readProm(t, filepath.Join(dir, "dry.prom"))
	rr := rep.Registry
	for name, want := range map[string]float64{
		metrics.NameRunExitCode: float64(code), metrics.NameRunApplied: 0,
		metrics.NameStored: float64(rr.TotalBytes), metrics.NameCap: float64(rr.CapBytes), metrics.NameReclaimable: float64(rr.ReclaimBytes),
		metrics.NameImages: float64(rr.Images), metrics.NameUntagged: float64(rr.UntaggedImages),
		metrics.NameDeleted: 0, metrics.NameFreed: 0, metrics.NameFailed: 0,
		metrics.NameOpenPRs: 0,
	} {
		if got, ok := m[name][""]; !ok || got != want {
			t.Errorf("%s = %v (there: %v), want %v", name, got, ok, want)
		}
	}
	if code == ExitOK && m[metrics.NameRunSuccess][""] != 1 {
		t.Errorf("a run exiting 0 has success %v", m[metrics.NameRunSuccess])
	}
	for h, n := range rr.Held {
		if got := m[metrics.NameHeld]["reason="+h]; got != float64(n) {
			t.Errorf("held %s = %v, want %d", h, got, n)
		}
	}
	if rr.Forecast == nil || rr.Forecast.GrowthBytesPerWeek == nil {
		t.Fatalf("the demo's history gives no forecast: %+v", rr.Forecast)
	}
	if got, want := m[metrics.NameGrowth][""], float64(*rr.Forecast.GrowthBytesPerWeek)/7/86400; got < want*0.999 || got > want*1.001 {
		t.Errorf("growth %v bytes/s, want %v", got, want)
	}
	if _, ok := m[metrics.NameTimeToCap][""]; ok != (rr.Forecast.CapReachedAt != nil || rr.Forecast.OverCap) {
		t.Errorf("time to cap present %v, forecast %+v", ok, rr.Forecast)
	}
	req := m[metrics.NameRequests] // the demo is an ACR: its listing API, then the manifests
	if req["api=catalog"]+req["api=acr_catalog"] < 1 || req["api=manifests"] < float64(rr.Repositories) || req["api=other"] != 0 {
		t.Errorf("requests by API: %v", m[metrics.NameRequests])
	}
	if m[metrics.NameScanDuration][""] <= 0 {
		t.Errorf("scan duration %v", m[metrics.NameScanDuration])
	}
	statuses := 0.0
	for _, v := range m[metrics.NameDependencies] {
		statuses += v
	}
	if statuses != float64(len(rep.Charts)) {
		t.Errorf("dependencies by status add up to %v, the report has %d rows", statuses, len(rep.Charts))
	}
	if problems := metrics.Lint(gather(t, filepath.Join(dir, "dry.prom"))); len(problems) > 0 {
		t.Errorf("conventions: %s", strings.Join(problems, "; "))
	}

	rep2, code2 := run(true, env.Charts, env.Registry, "apply.prom")
	if len(rep2.Registry.Deleted) == 0 {
		t.Fatal("the demo's apply deleted nothing")
	}
	groups := gw.Groups()
	if len(groups) != 1 {
		t.Fatalf("%d Pushgateway groups after two runs, want 1", len(groups))
	}
	pushed := byName(groups[0].Families, "instance", "job", "part")
	if got := pushed[metrics.NameDeleted][""]; got != float64(len(rep2.Registry.Deleted)) {
		t.Errorf("pushed deleted %v, want the second run's %d", got, len(rep2.Registry.Deleted))
	}
	if got := pushed[metrics.NameRunApplied][""]; got != 1 {
		t.Errorf("pushed applied %v, want the second run's 1", got)
	}
	// The second run's requests alone, not the engine's since the first.
	firstCatalog := m[metrics.NameRequests]["api=acr_catalog"]
	if got := pushed[metrics.NameRequests]["api=acr_catalog"]; got <= 0 || got > firstCatalog+1 {
		t.Errorf("the second run's catalog requests %v, the first's %v: want about as many, not their sum", got, firstCatalog)
	}
	if got := pushed[metrics.NameRunExitCode][""]; got != float64(code2) {
		t.Errorf("pushed exit code %v, want %d", got, code2)
	}

	run(false, env.Charts, nil, "charts.prom")
	m = readProm(t, filepath.Join(dir, "charts.prom"))
	for name := range m {
		if strings.HasPrefix(name, "registry_") || strings.HasPrefix(name, "usage_") || name == metrics.NameRequests || name == metrics.NameScanDuration || name == metrics.NameDeleted {
			t.Errorf("a charts run has %s", name)
		}
	}
	if _, ok := m[metrics.NameOpenPRs]; !ok {
		t.Error("a charts run lacks the open pull requests")
	}
}

func gather(t *testing.T, path string) []*dto.MetricFamily {
	t.Helper()
	var out []*dto.MetricFamily
	for _, mf := range parseProm(t, path) {
		out = append(out, mf)
	}
	return out
}

// TestMetricsNotWritten: metrics that cannot be written are an error in
// the log, and the run exits 3 (partly done) instead of 0.
func TestMetricsNotWritten(t *testing.T) {
	env := startDemo(t)
	var out, logs bytes.Buffer
	path := filepath.Join(t.TempDir(), "missing", "m.prom")
	code := Run(context.Background(), Options{Charts: env.Charts, Stdout: &out, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Metrics: metrics.Targets{File: path}})
	if code != ExitPartial {
		t.Errorf("exit %d, want %d", code, ExitPartial)
	}
	if !strings.Contains(logs.String(), "metrics not written") || !strings.Contains(logs.String(), path) {
		t.Errorf("the log does not say so:\n%s", logs.String())
	}
}

// TestLastSuccess: a failed run's metrics carry the end of the newest
// successful headless run of the same parts (and registry) from the
// history; a console run, a demo seed, a failed run, a run of other
// parts or another registry do not count.
func TestLastSuccess(t *testing.T) {
	env := startDemo(t)
	store := history.Open(filepath.Join(t.TempDir(), "history.jsonl"))
	at := func(d int) time.Time { return now.Add(-time.Duration(d) * time.Hour) }
	code := func(c int) *int { return &c }
	reg := &history.RegistryRun{URL: env.Registry.URL()}
	charts := []history.ChartRun{{Repository: "o/r"}}
	for _, r := range []history.Run{
		{Time: at(50), Face: history.FaceHeadless, ExitCode: code(0), Registry: reg, Charts: charts}, // the newest that counts
		{Time: at(40), Face: history.FaceHeadless, ExitCode: code(1), Registry: reg, Charts: charts},
		{Time: at(30), Face: history.FaceConsole, Registry: reg, Charts: charts},
		{Time: at(20), Face: history.FaceHeadless, Demo: true, ExitCode: code(0), Registry: reg, Charts: charts},
		{Time: at(10), Face: history.FaceHeadless, ExitCode: code(0), Charts: charts},                                                          // charts only
		{Time: at(5), Face: history.FaceHeadless, ExitCode: code(0), Registry: &history.RegistryRun{URL: "other.example.org"}, Charts: charts}, // another registry
		{Time: at(-1), Face: history.FaceHeadless, ExitCode: code(0), Registry: reg, Charts: charts},                                           // after the run's start
	} {
		if err := store.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		o    Options
		code int
		want time.Time
	}{
		{"both parts", Options{Registry: env.Registry, Charts: env.Charts, History: store}, ExitFailure, at(50)},
		{"charts alone", Options{Charts: env.Charts, History: store}, ExitPartial, at(5)},
		{"this run succeeded", Options{Registry: env.Registry, History: store}, ExitOK, now},
		{"no history", Options{Registry: env.Registry}, ExitFailure, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := runMetrics(tc.o, &Report{}, &runStats{}, now.Add(-time.Minute), now, tc.code).LastSuccess
			if !got.Equal(tc.want) {
				t.Errorf("last success %v, want %v", got, tc.want)
			}
		})
	}
}

// TestChartMetrics: pull requests are counted once however many rows
// share them; the oldest open one and the oldest failing one are found;
// closed ones do not count.
func TestChartMetrics(t *testing.T) {
	day := func(d int) *time.Time { t := now.AddDate(0, 0, -d); return &t }
	rows := []ChartReport{
		{Status: "pr-open", PullRequest: "u/1", PullRequestState: "open", PullRequestCreatedAt: day(3), Checks: "failing"},
		{Status: "pr-open", PullRequest: "u/1", PullRequestState: "open", PullRequestCreatedAt: day(3), Checks: "failing"}, // grouped: the same PR
		{Status: "pr-open", PullRequest: "u/2", PullRequestState: "open", PullRequestCreatedAt: day(9), Checks: "passing"},
		{Status: "pr-opened", PullRequest: "u/3", PullRequestState: "open"},
		{Status: "outdated", PullRequest: "u/4", PullRequestState: "closed", PullRequestCreatedAt: day(30), Checks: "failing"},
		{Status: "up-to-date"},
	}
	c := chartMetrics(rows)
	if c.OpenPRs != 3 || c.FailingPRs != 1 {
		t.Errorf("open %d failing %d, want 3 and 1", c.OpenPRs, c.FailingPRs)
	}
	if !c.OldestPROpened.Equal(*day(9)) || !c.OldestFailingPROpened.Equal(*day(3)) {
		t.Errorf("oldest %v, oldest failing %v", c.OldestPROpened, c.OldestFailingPROpened)
	}
	if c.ByStatus["pr-open"] != 3 || c.ByStatus["pr-opened"] != 1 || c.ByStatus["outdated"] != 1 || c.ByStatus["up-to-date"] != 1 {
		t.Errorf("by status %v", c.ByStatus)
	}
}
