package headless

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/usage"
)

func planned(rep Report) map[string]ImageReport {
	out := map[string]ImageReport{}
	for _, p := range rep.Registry.Plan {
		for _, t := range p.Tags {
			out[p.Repository+":"+t] = p
		}
	}
	return out
}

func withoutUsage(c *config.Config) {
	c.Registry.Policy.Usage, c.Registry.Policy.KeepLaunchedWithin = nil, config.Age{}
}

// TestUsageHoldsWhatPeopleLaunch: on the embedded registry with an events
// file, old images launched inside the window are held (launched), the
// same kind of images launched only before the window are planned, and a
// running pod's old image is held (in-use). Without the usage sources
// every one of them would be deleted for its age.
func TestUsageHoldsWhatPeopleLaunch(t *testing.T) {
	env := startDemo(t)
	u := env.Usage
	if len(u.OldLaunched) == 0 || len(u.BeforeWindow) == 0 || len(u.Running) < 2 {
		t.Fatalf("the demo's usage is too thin: %+v", u)
	}
	raw, rep, code := runJSON(t, env, false)
	if code != ExitOK {
		t.Errorf("exit %d", code)
	}
	plan := planned(rep)
	for _, name := range u.OldLaunched {
		if _, ok := plan[name]; ok {
			t.Errorf("%s was launched in the window but is planned", name)
		}
	}
	for _, name := range u.BeforeWindow {
		p, ok := plan[name]
		if !ok {
			t.Errorf("%s was launched only before the window but is not planned", name)
			continue
		}
		if p.Reason != "age" || p.Launches == nil || *p.Launches != 0 || p.LastLaunch == nil || !p.LastLaunch.Before(now.Add(-demo.KeepLaunchedWithin)) {
			t.Errorf("%s: reason %s launches %v last launch %v", name, p.Reason, p.Launches, p.LastLaunch)
		}
	}
	for _, name := range u.Running {
		if _, ok := plan[name]; ok {
			t.Errorf("%s runs in a pod but is planned", name)
		}
	}
	held := rep.Registry.Held
	if held["launched"] < len(u.Launched)-1 || held["in_use"] != len(u.Running) {
		t.Errorf("held %v", held)
	}
	us := rep.Registry.Usage
	if us == nil || us.EventsRead != 7000 || us.Matched == 0 || us.Matched != us.EventsInWindow || us.Pods != len(u.Running) ||
		us.HeldBytes <= 0 || len(us.Errors) != 0 || us.KeepLaunchedWithin != "30d" || len(us.Sources) != 2 {
		t.Errorf("usage %+v", us)
	}
	// the field names are the interface
	reg := raw["registry"].(map[string]any)
	usage := reg["usage"].(map[string]any)
	for _, k := range []string{"sources", "events_read", "matched", "unmatched", "errors", "held_bytes"} {
		if _, ok := usage[k]; !ok {
			t.Errorf("usage lacks %q", k)
		}
	}
	for _, k := range []string{"launched", "in_use"} {
		if _, ok := reg["held"].(map[string]any)[k]; !ok {
			t.Errorf("held lacks %q", k)
		}
	}
	if _, ok := reg["plan"].([]any)[0].(map[string]any)["launches"]; !ok {
		t.Error("plan entries lack launches")
	}

	// the same registry without usage: all of them go for their age
	bare := startDemo(t, demo.WithConfigure(withoutUsage))
	_, rep, _ = runJSON(t, bare, false)
	plan = planned(rep)
	for _, name := range append(slices.Clone(u.OldLaunched), u.Running[1]) {
		if p, ok := plan[name]; !ok || p.Reason != "age" {
			t.Errorf("without usage %s is not planned for age (%+v)", name, p)
		}
	}
}

// TestUnreadableUsageSourceDeletesNothing: a usage source that cannot be
// read is an error in the report; the run plans and deletes nothing it
// could have protected (nothing at all) and exits 3.
func TestUnreadableUsageSourceDeletesNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opt   demo.Option
		after func(*demo.Env)
		want  string
	}{
		{"missing events file", demo.WithConfigure(func(c *config.Config) {
			c.Registry.Policy.Usage = append(c.Registry.Policy.Usage, config.UsageSource{Events: "/nonexistent/binderhub/events-*.jsonl"})
		}), nil, "no file matches"},
		{"pods forbidden", nil, func(e *demo.Env) { e.Usage.Kube.Forbid(demo.KubeNamespace) }, "403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []demo.Option
			if tc.opt != nil {
				opts = append(opts, tc.opt)
			}
			env := startDemo(t, opts...)
			if tc.after != nil {
				tc.after(env)
			}
			deletesNothing(t, env, tc.want)
		})
	}
}

// deletesNothing runs env with --apply and checks that, one usage source
// having failed with want, nothing was planned or deleted, the source is
// in usage.errors and errors, every deletable image is held usage-unknown,
// the notes say why and the run exits 3.
func deletesNothing(t *testing.T, env *demo.Env, want string) Report {
	t.Helper()
	before := len(env.Seeded.Images)
	_, rep, code := runJSON(t, env, true)
	r := rep.Registry
	if code != ExitPartial {
		t.Errorf("exit %d, want %d", code, ExitPartial)
	}
	if len(r.Plan) != 0 || len(r.Deleted) != 0 || r.Applied {
		t.Errorf("planned %d, deleted %d", len(r.Plan), len(r.Deleted))
	}
	if r.Usage == nil || len(r.Usage.Errors) != 1 || !strings.Contains(r.Usage.Errors[0].Error, want) {
		t.Fatalf("usage errors %+v", r.Usage)
	}
	found := false
	for _, e := range r.Errors {
		found = found || (e.Reference == r.Usage.Errors[0].Source && strings.Contains(e.Error, want))
	}
	if !found {
		t.Errorf("errors %+v lack the source", r.Errors)
	}
	if r.Held["usage-unknown"] == 0 || !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, "nothing is deleted") }) {
		t.Errorf("held %v notes %q", r.Held, r.Notes)
	}
	inv, err := env.Registry.Scan(context.Background(), nil)
	if err != nil || len(inv.Images) != before {
		t.Errorf("after the run: %v, %d images of %d", err, len(inv.Images), before)
	}
	var out bytes.Buffer
	Run(context.Background(), Options{Registry: env.Registry, Stdout: &out})
	if !strings.Contains(out.String(), "usage source failed, nothing is deleted: ") {
		t.Errorf("summary:\n%s", out.String())
	}
	return rep
}

// TestEmptyEventsFileDeletesNothing: the single events file the README
// suggests, emptied by logrotate, does not mean that nobody launched
// anything: the usage is unknown, the report names the file, and nothing
// is deleted (allow_empty: true would trust it).
func TestEmptyEventsFileDeletesNothing(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := startDemo(t, demo.WithConfigure(func(c *config.Config) {
		c.Registry.Policy.Usage = append(c.Registry.Policy.Usage, config.UsageSource{Events: empty})
	}))
	rep := deletesNothing(t, env, "no launch event since")
	var src *usage.SourceReport
	for i, s := range rep.Registry.Usage.Sources {
		if s.Source == "events: "+empty {
			src = &rep.Registry.Usage.Sources[i]
		}
	}
	if src == nil || src.Files != 1 || src.Lines != 0 || src.InWindow != 0 || !strings.Contains(src.Error, "allow_empty") {
		t.Errorf("the empty source: %+v", src)
	}
	if rep.Registry.Usage.Errors[0].Source != "events: "+empty {
		t.Errorf("usage errors %+v do not name the file", rep.Registry.Usage.Errors)
	}
}

// TestSignedEventsURLNeverShown: an events URL signed in its query string
// (an Azure SAS) or carrying a password appears redacted in the JSON
// report, the summary and the logs, never whole.
func TestSignedEventsURLNeverShown(t *testing.T) {
	const secret = "QXp1cmVTQVNzaWduYXR1cmU"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "AuthenticationFailed: Signature did not match", http.StatusForbidden)
	}))
	defer srv.Close()
	for _, url := range []string{
		srv.URL + "/binderhub/events-{date}.jsonl?sv=2022-11-02&ss=b&sp=r&se=2027-01-01&sig=" + secret,
		"http://bot:" + secret + "@" + strings.TrimPrefix(srv.URL, "http://") + "/events-{date}.jsonl",
	} {
		env := startDemo(t, demo.WithConfigure(func(c *config.Config) {
			c.Registry.Policy.Usage = append(c.Registry.Policy.Usage, config.UsageSource{Events: url})
		}), demo.WithEngineOptions(engine.WithUsageOptions(usage.WithCacheDir(""))))
		var out, logs bytes.Buffer
		code := Run(context.Background(), Options{JSON: true, Registry: env.Registry, Stdout: &out, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		var rep Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		if code != ExitPartial || rep.Registry.Usage == nil || len(rep.Registry.Usage.Errors) != 1 ||
			!strings.Contains(rep.Registry.Usage.Errors[0].Source, "REDACTED") || !strings.Contains(rep.Registry.Usage.Errors[0].Error, "403") {
			t.Errorf("exit %d, usage %+v", code, rep.Registry.Usage)
		}
		if !strings.Contains(logs.String(), "REDACTED") {
			t.Errorf("the logs do not name the source:\n%s", logs.String())
		}
		var summary bytes.Buffer
		Run(context.Background(), Options{Registry: env.Registry, Stdout: &summary})
		for what, text := range map[string]string{"report": out.String(), "logs": logs.String(), "summary": summary.String()} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s shows the signature:\n%s", what, text)
			}
		}
	}
}
