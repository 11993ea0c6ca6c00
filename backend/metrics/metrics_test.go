package metrics

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/helmupgradebot/helmupgradebot/backend/pushgatewaytest"
)

var (
	start = time.Date(2026, 3, 1, 3, 15, 0, 0, time.UTC)
	end   = start.Add(90 * time.Second)
)

func ptr[T any](v T) *T { return &v }

// fullRun is a run of both parts with every optional number known.
func fullRun() Run {
	return Run{Start: start, End: end, ExitCode: 3, Applied: true, LastSuccess: start.Add(-24 * time.Hour),
		Registry: &Registry{Scanned: true, TotalBytes: 900, CapBytes: 1000, ReclaimBytes: 100, Images: 40, Untagged: 4,
			Held: map[string]int{"protected": 3, "keep-latest": 0}, TimeToCap: ptr(10 * 24 * time.Hour), GrowthBytesPerDay: ptr(86400.0),
			Deleted: 5, FailedDeletions: 1, FreedBytes: 50, Requests: map[string]int64{"catalog": 2, "manifests": 40},
			ScanDuration: 1500 * time.Millisecond,
			Usage:        &Usage{EventsRead: 12, Sources: []Source{{Kind: "events", Name: "events: /var/log/e-*.jsonl", OK: true}, {Kind: "kubernetes", Name: "kubernetes: binderhub (component=singleuser-server)"}}}},
		Charts: &Charts{ByStatus: map[string]int{"up-to-date": 2, "pr-open": 1}, OpenPRs: 1, FailingPRs: 1,
			OldestPROpened: end.Add(-3 * time.Hour), OldestFailingPROpened: end.Add(-2 * time.Hour)}}
}

// series is every sample of a registry: "name{l=v,…}" to value.
func series(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return samples(mfs)
}

func samples(mfs []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			var ls []string
			for _, l := range m.Label {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			k := strings.TrimPrefix(mf.GetName(), Namespace+"_")
			if len(ls) > 0 {
				k += "{" + strings.Join(ls, ",") + "}"
			}
			out[k] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return out
}

func TestBuild(t *testing.T) {
	scanFailed := fullRun()
	scanFailed.ExitCode, scanFailed.Charts = 1, nil
	scanFailed.Registry = &Registry{Requests: map[string]int64{"catalog": 5}, ScanDuration: time.Second}
	noTrend := fullRun()
	noTrend.ExitCode, noTrend.LastSuccess = 0, time.Time{}
	noTrend.Registry.TimeToCap, noTrend.Registry.GrowthBytesPerDay, noTrend.Registry.CapBytes, noTrend.Registry.Usage = nil, nil, 0, nil
	noTrend.Charts = &Charts{ByStatus: map[string]int{"up-to-date": 3}}
	overCap := fullRun()
	overCap.Registry.TimeToCap = ptr(-time.Hour)
	chartsOnly := fullRun()
	chartsOnly.Registry = nil
	for _, tc := range []struct {
		name   string
		run    Run
		want   map[string]float64
		absent []string
	}{
		{"both parts", fullRun(), map[string]float64{
			NameRunStart: float64(start.Unix()), NameRunEnd: float64(end.Unix()), NameRunDuration: 90,
			NameRunSuccess: 0, NameRunExitCode: 3, NameRunApplied: 1, NameLastSuccess: float64(start.Add(-24 * time.Hour).Unix()),
			NameStored: 900, NameCap: 1000, NameReclaimable: 100, NameImages: 40, NameUntagged: 4,
			NameHeld + "{reason=protected}": 3, NameHeld + "{reason=keep-latest}": 0,
			NameTimeToCap: 10 * 24 * 3600, NameGrowth: 1,
			NameDeleted: 5, NameFailed: 1, NameFreed: 50,
			NameRequests + "{api=catalog}": 2, NameRequests + "{api=manifests}": 40, NameScanDuration: 1.5,
			NameSourceUp + "{kind=events,source=events: /var/log/e-*.jsonl}": 1, NameSourceUp + "{kind=kubernetes,source=kubernetes: binderhub (component=singleuser-server)}": 0,
			NameEventsRead:                           12,
			NameDependencies + "{status=up-to-date}": 2, NameDependencies + "{status=pr-open}": 1,
			NameOpenPRs: 1, NameFailingPRs: 1, NameOldestPRAge: 3 * 3600, NameOldestFailingPR: 2 * 3600,
		}, nil},
		{"scan failed: the run's numbers only", scanFailed, map[string]float64{NameRunSuccess: 0, NameRunExitCode: 1,
			NameRequests + "{api=catalog}": 5, NameScanDuration: 1},
			[]string{NameStored, NameCap, NameImages, NameHeld, NameDeleted, NameFreed, NameTimeToCap, NameSourceUp, NameDependencies, NameOpenPRs}},
		{"no trend, no cap, no usage, no PRs", noTrend, map[string]float64{NameRunSuccess: 1, NameOpenPRs: 0, NameFailingPRs: 0, NameStored: 900},
			[]string{NameTimeToCap, NameGrowth, NameCap, NameLastSuccess, NameSourceUp, NameEventsRead, NameOldestPRAge, NameOldestFailingPR}},
		{"over the cap", overCap, map[string]float64{NameTimeToCap: 0}, nil},
		{"--only charts", chartsOnly, map[string]float64{NameOpenPRs: 1},
			[]string{NameStored, NameCap, NameRequests, NameScanDuration, NameDeleted, NameFreed, NameSourceUp, NameEventsRead}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := series(t, Build(tc.run, nil))
			for k, v := range tc.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v (present: %v), want %v", k, g, ok, v)
				}
			}
			for _, name := range tc.absent {
				for k := range got {
					if k == name || strings.HasPrefix(k, name+"{") {
						t.Errorf("%s is present, want it absent", k)
					}
				}
			}
			mfs, _ := Build(tc.run, nil).Gather()
			if problems := Lint(mfs); len(problems) > 0 {
				t.Errorf("conventions: %s", strings.Join(problems, "; "))
			}
		})
	}
}

// TestHelpAndLabels: every name has HELP text and is emitted by a full
// run, and the labels a metric carries are those Labels lists.
func TestHelpAndLabels(t *testing.T) {
	mfs, err := Build(fullRun(), nil).Gather()
	if err != nil {
		t.Fatal(err)
	}
	emitted := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		emitted[strings.TrimPrefix(mf.GetName(), Namespace+"_")] = mf
	}
	for name, help := range Help {
		mf := emitted[name]
		if mf == nil {
			t.Errorf("%s: has HELP but a full run does not emit it", name)
			continue
		}
		if mf.GetHelp() != help {
			t.Errorf("%s: HELP %q, want %q", name, mf.GetHelp(), help)
		}
		for _, m := range mf.Metric {
			var names []string
			for _, l := range m.Label {
				names = append(names, l.GetName())
			}
			want := slices.Clone(Labels[name])
			slices.Sort(want)
			if !slices.Equal(names, want) {
				t.Errorf("%s: labels %v, want %v", name, names, want)
			}
		}
	}
	if len(emitted) != len(Help) {
		t.Errorf("a full run emits %d metrics, HELP has %d", len(emitted), len(Help))
	}
}

// TestLint: each convention the linter checks is caught on a family that
// breaks it, and a good family passes.
func TestLint(t *testing.T) {
	gauge, counter, untyped := dto.MetricType_GAUGE, dto.MetricType_COUNTER, dto.MetricType_UNTYPED
	fam := func(name, help string, typ dto.MetricType, labels ...[2]string) *dto.MetricFamily {
		mf := &dto.MetricFamily{Name: &name, Help: &help, Type: &typ}
		for _, l := range labels {
			n, v := l[0], l[1]
			mf.Metric = append(mf.Metric, &dto.Metric{Label: []*dto.LabelPair{{Name: &n, Value: &v}}, Gauge: &dto.Gauge{}})
		}
		if len(labels) == 0 {
			mf.Metric = []*dto.Metric{{Gauge: &dto.Gauge{}}}
		}
		return mf
	}
	many := make([][2]string, MaxLabelValues+1)
	for i := range many {
		many[i] = [2]string{"api", strings.Repeat("x", i+1)}
	}
	for _, tc := range []struct {
		name string
		mf   *dto.MetricFamily
		want string // "" passes
	}{
		{"good gauge", fam("helmupgradebot_registry_stored_bytes", "Bytes the registry stores.", gauge), ""},
		{"good counter", fam("helmupgradebot_requests_total", "Requests sent in all.", counter), ""},
		{"good rate", fam("helmupgradebot_registry_growth_bytes_per_second", "How fast it grows.", gauge), ""},
		{"good labels", fam("helmupgradebot_registry_held_images", "Images held by reason.", gauge, [2]string{"reason", "protected"}), ""},
		{"camel case", fam("helmupgradebot_storedBytes", "Bytes the registry stores.", gauge), "snake_case"},
		{"no namespace", fam("registry_stored_bytes", "Bytes the registry stores.", gauge), "namespace"},
		{"no help", fam("helmupgradebot_registry_stored_bytes", "", gauge), "HELP"},
		{"counter without _total", fam("helmupgradebot_requests", "Requests sent in all.", counter), "ends in _total"},
		{"gauge with _total", fam("helmupgradebot_requests_total", "Requests sent in all.", gauge), "for counters"},
		{"untyped", fam("helmupgradebot_requests", "Requests sent in all.", untyped), "untyped"},
		{"days", fam("helmupgradebot_registry_days_to_cap", "Days until the cap.", gauge), "base units"},
		{"milliseconds", fam("helmupgradebot_scan_milliseconds", "How long the scan took.", gauge), "base units"},
		{"unit not last", fam("helmupgradebot_seconds_scan", "How long the scan took.", gauge), "last word"},
		{"unit inside", fam("helmupgradebot_scan_seconds_max", "How long the scan took.", gauge), "last word"},
		{"timestamp unit", fam("helmupgradebot_last_run_timestamp", "When the run ended.", gauge), "_timestamp_seconds"},
		{"digest label", fam("helmupgradebot_image_bytes", "Bytes of one image.", gauge, [2]string{"digest", "x"}), "names an image"},
		{"digest value", fam("helmupgradebot_image_bytes", "Bytes of one image.", gauge, [2]string{"api", "sha256:0123456789abcdef0123"}), "holds a digest"},
		{"unbounded", fam("helmupgradebot_last_run_registry_requests", "Requests by API.", gauge, many...), "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(Lint([]*dto.MetricFamily{tc.mf}), "; ")
			switch {
			case tc.want == "" && got != "":
				t.Errorf("problems %q, want none", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("problems %q, want one saying %q", got, tc.want)
			}
		})
	}
}

// TestWriteFile: the file is the text format, parses back to the same
// samples, carries the constant labels, replaces the old file whole and
// leaves no temporary file; a name without .prom is refused.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "helmupgradebot.prom")
	if err := os.WriteFile(path, []byte("old 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	targets := Targets{File: path, Group: Group{Job: DefaultJob, Labels: []Label{{"instance", "demo"}, {"part", "all"}}}}
	if err := targets.Write(context.Background(), fullRun(), nil); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fams["old"]; ok {
		t.Error("the old file's metric is still there")
	}
	var mfs []*dto.MetricFamily
	for _, mf := range fams {
		mfs = append(mfs, mf)
	}
	got := samples(mfs)
	if v, ok := got[NameStored+"{part=all}"]; !ok || v != 900 {
		t.Errorf("stored bytes with part=all: %v %v; samples %v", v, ok, got)
	}
	for k := range got {
		if strings.Contains(k, "instance=") {
			t.Errorf("%s: the file carries instance, which node_exporter's target sets", k)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the directory holds %d files, want the metrics file alone", len(entries))
	}
	if err := WriteFile(filepath.Join(dir, "metrics.txt"), Build(fullRun(), nil)); err == nil || !strings.Contains(err.Error(), ".prom") {
		t.Errorf("a .txt file: err %v, want one naming .prom", err)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "m.prom"), Build(fullRun(), nil)); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing directory: err %v, want one naming the path", err)
	}
}

// TestPush: Targets.Write pushes to the group of the job and the grouping
// labels, each metric carrying them; a second push replaces the group,
// so a metric of the first run only is gone.
func TestPush(t *testing.T) {
	gw := pushgatewaytest.Serve(t)
	targets := Targets{Push: gw.URL(), Group: Group{Job: DefaultJob, Labels: []Label{{"instance", "demo"}, {"part", "all"}}}}
	if err := targets.Write(context.Background(), fullRun(), nil); err != nil {
		t.Fatal(err)
	}
	second := fullRun()
	second.Charts = nil
	second.Registry.Deleted = 7
	if err := targets.Write(context.Background(), second, nil); err != nil {
		t.Fatal(err)
	}
	groups := gw.Groups()
	if len(groups) != 1 {
		t.Fatalf("%d groups, want 1", len(groups))
	}
	g := groups[0]
	if g.Labels["job"] != DefaultJob || g.Labels["instance"] != "demo" || g.Labels["part"] != "all" {
		t.Errorf("group %v", g.Labels)
	}
	var mfs []*dto.MetricFamily
	for _, mf := range g.Families {
		mfs = append(mfs, mf)
	}
	got := samples(mfs)
	if v := got[NameDeleted+"{instance=demo,job=helmupgradebot,part=all}"]; v != 7 {
		t.Errorf("deleted %v, want the second run's 7; samples %v", v, got)
	}
	for k := range got {
		if strings.HasPrefix(k, "chart_") {
			t.Errorf("%s: the first run's metric survived the second push", k)
		}
	}
	for _, p := range gw.Pushes() {
		if p.Method != "PUT" || p.Format != "protobuf" {
			t.Errorf("push %+v, want PUT in protobuf", p)
		}
	}

	for _, bad := range []string{"pushgateway:9091", "ftp://x", "http://user:s3cret@127.0.0.1:1"} {
		err := Targets{Push: bad, Group: targets.Group}.Write(context.Background(), fullRun(), nil)
		if err == nil {
			t.Errorf("%s: no error", bad)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", bad, err)
		}
	}
	if err := (Targets{}).Write(context.Background(), fullRun(), nil); err != ErrNoTarget {
		t.Errorf("no target: %v", err)
	}
}
