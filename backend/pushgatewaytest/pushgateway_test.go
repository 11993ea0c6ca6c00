package pushgatewaytest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// gauges is a registry of gauges by name, each with its value and help
// "help of NAME".
func gauges(values map[string]float64) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	for n, v := range values {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: n, Help: "help of " + n})
		g.Set(v)
		reg.MustRegister(g)
	}
	return reg
}

// value is the gauge's value in the group, and whether it is there.
func value(g Group, name string) (float64, bool) {
	mf, ok := g.Families[name]
	if !ok || len(mf.Metric) != 1 {
		return 0, false
	}
	return mf.Metric[0].GetGauge().GetValue(), true
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.Label {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// TestPushClient drives the stand-in with client_golang's own push
// client: PUT replaces a group, POST only the names it pushes, DELETE
// drops the group, in both body formats, with grouping values that need
// base64 (a slash) and that are empty.
func TestPushClient(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	text := expfmt.NewFormat(expfmt.TypeTextPlain)
	proto := expfmt.NewFormat(expfmt.TypeProtoDelim)
	type step struct {
		method string // PUT, POST, DELETE
		format expfmt.Format
		values map[string]float64
	}
	for _, tc := range []struct {
		name     string
		grouping [][2]string
		steps    []step
		want     map[string]float64 // in the group at the end; nil: no group
	}{
		{"put protobuf", [][2]string{{"instance", "demo"}}, []step{{"PUT", proto, map[string]float64{"a": 1, "b": 2}}}, map[string]float64{"a": 1, "b": 2}},
		{"put text", [][2]string{{"instance", "demo"}}, []step{{"PUT", text, map[string]float64{"a": 1}}}, map[string]float64{"a": 1}},
		{"put replaces the group", [][2]string{{"instance", "demo"}, {"part", "all"}}, []step{
			{"PUT", proto, map[string]float64{"a": 1, "b": 2}},
			{"PUT", proto, map[string]float64{"a": 3}},
		}, map[string]float64{"a": 3}},
		{"post replaces its names only", [][2]string{{"instance", "demo"}}, []step{
			{"PUT", text, map[string]float64{"a": 1, "b": 2}},
			{"POST", text, map[string]float64{"a": 5}},
		}, map[string]float64{"a": 5, "b": 2}},
		{"delete", [][2]string{{"instance", "demo"}}, []step{
			{"PUT", proto, map[string]float64{"a": 1}},
			{"DELETE", proto, nil},
		}, nil},
		{"a value with a slash", [][2]string{{"instance", "alan-turing-institute/hub23-deploy"}}, []step{{"PUT", proto, map[string]float64{"a": 1}}}, map[string]float64{"a": 1}},
		{"an empty value", [][2]string{{"instance", ""}}, []step{{"PUT", text, map[string]float64{"a": 1}}}, map[string]float64{"a": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Serve(t, WithClock(func() time.Time { return at }))
			for i, st := range tc.steps {
				p := push.New(s.URL(), "helmupgradebot").Format(st.format).Gatherer(gauges(st.values))
				for _, g := range tc.grouping {
					p = p.Grouping(g[0], g[1])
				}
				var err error
				switch st.method {
				case "PUT":
					err = p.Push()
				case "POST":
					err = p.Add()
				case "DELETE":
					err = p.Delete()
				}
				if err != nil {
					t.Fatalf("step %d %s: %v", i, st.method, err)
				}
			}
			groups := s.Groups()
			if tc.want == nil {
				if len(groups) != 0 {
					t.Fatalf("groups %v, want none", groups)
				}
				return
			}
			if len(groups) != 1 {
				t.Fatalf("%d groups, want 1", len(groups))
			}
			g := groups[0]
			wantLabels := map[string]string{"job": "helmupgradebot"}
			for _, l := range tc.grouping {
				wantLabels[l[0]] = l[1]
			}
			if len(g.Labels) != len(wantLabels) {
				t.Errorf("group labels %v, want %v", g.Labels, wantLabels)
			}
			for n, v := range wantLabels {
				if g.Labels[n] != v {
					t.Errorf("group label %s = %q, want %q", n, g.Labels[n], v)
				}
			}
			for n, v := range tc.want {
				got, ok := value(g, n)
				if !ok || got != v {
					t.Errorf("%s = %v (there: %v), want %v", n, got, ok, v)
				}
			}
			for n, mf := range g.Families {
				if _, ok := tc.want[n]; !ok && !strings.HasPrefix(n, "push_") {
					t.Errorf("%s is in the group, want only %v", n, tc.want)
				}
				for _, m := range mf.Metric {
					ls := labelsOf(m)
					for k, v := range wantLabels {
						if ls[k] != v {
							t.Errorf("%s: label %s = %q, want the grouping's %q", n, k, ls[k], v)
						}
					}
				}
			}
			if pt, ok := value(g, "push_time_seconds"); !ok || pt != float64(at.Unix()) {
				t.Errorf("push_time_seconds %v (%v), want %d", pt, ok, at.Unix())
			}
		})
	}
}

// TestPushRefused: the stand-in answers 400, as the Pushgateway does, to a
// body that does not parse, a metric whose grouping label differs from
// the URL's, and a name pushed with another help than another group has;
// and to a path without a job. The push client reports the status.
func TestPushRefused(t *testing.T) {
	s := Serve(t)
	if err := push.New(s.URL(), "j").Grouping("instance", "one").Gatherer(gauges(map[string]float64{"a": 1})).Push(); err != nil {
		t.Fatal(err)
	}
	other := prometheus.NewRegistry()
	other.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "a", Help: "another help"}))
	if err := push.New(s.URL(), "j").Grouping("instance", "two").Gatherer(other).Push(); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("inconsistent help: err %v, want a 400", err)
	}
	for _, tc := range []struct{ name, path, body string }{
		{"bad text", "/metrics/job/j", "a{ 1\n"},
		{"grouping label differs", "/metrics/job/j/instance/one", "a{instance=\"other\"} 1\n"},
		{"no job", "/metrics/instance/one", "a 1\n"},
		{"odd path", "/metrics/job", "a 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPut, s.URL()+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
		})
	}
	if got := len(s.Groups()); got != 1 {
		t.Errorf("%d groups after refused pushes, want the first one only", got)
	}
}

// TestServeMetrics: GET /metrics shows every group's series with their
// grouping labels, in the text format Prometheus scrapes.
func TestServeMetrics(t *testing.T) {
	s := Serve(t)
	for _, inst := range []string{"a", "b"} {
		if err := push.New(s.URL(), "j").Grouping("instance", inst).Gatherer(gauges(map[string]float64{"x": 1})).Push(); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(s.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	x := fams["x"]
	if x == nil || len(x.Metric) != 2 {
		t.Fatalf("x: %v, want two series", x)
	}
	seen := map[string]bool{}
	for _, m := range x.Metric {
		ls := labelsOf(m)
		if ls["job"] != "j" {
			t.Errorf("series %v lacks job j", ls)
		}
		seen[ls["instance"]] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Errorf("instances %v, want a and b", seen)
	}
	if fams["push_time_seconds"] == nil || len(fams["push_time_seconds"].Metric) != 2 {
		t.Errorf("push_time_seconds: %v, want one per group", fams["push_time_seconds"])
	}
}
