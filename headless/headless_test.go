package headless

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/audit"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/demo/demotest"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/model"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// startDemo starts the demo at now for the test.
func startDemo(t *testing.T, opts ...demo.Option) *demo.Env {
	t.Helper()
	return demotest.Serve(t, append([]demo.Option{demo.WithNow(now)}, opts...)...)
}

func runJSON(t *testing.T, env *demo.Env, apply bool) (map[string]any, Report, int) {
	t.Helper()
	var out bytes.Buffer
	code := Run(context.Background(), Options{Apply: apply, JSON: true, Registry: env.Registry, Charts: env.Charts, Stdout: &out})
	var raw map[string]any
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	return raw, rep, code
}

func TestDryRunThenApply(t *testing.T) {
	env := startDemo(t)
	raw, rep, code := runJSON(t, env, false)
	if code != ExitOK {
		t.Errorf("dry run exit %d", code)
	}
	// The field names are the interface.
	reg := raw["registry"].(map[string]any)
	for _, k := range []string{"url", "scanned_at", "repositories", "images", "tags", "total_bytes", "cap_bytes",
		"reclaim_bytes", "total_after_bytes", "applied", "plan", "deleted", "failed", "errors"} {
		if _, ok := reg[k]; !ok {
			t.Errorf("registry report lacks %q", k)
		}
	}
	plan := reg["plan"].([]any)
	if len(plan) == 0 {
		t.Fatal("demo plan is empty")
	}
	for _, k := range []string{"repository", "digest", "tags", "created", "size_bytes", "reclaim_bytes", "reason"} {
		if _, ok := plan[0].(map[string]any)[k]; !ok {
			t.Errorf("plan entry lacks %q", k)
		}
	}
	charts := raw["charts"].([]any)
	for _, k := range []string{"repository", "file", "dependency", "chart_repository", "current", "latest", "status"} {
		if _, ok := charts[0].(map[string]any)[k]; !ok {
			t.Errorf("chart entry lacks %q", k)
		}
	}
	if rep.Registry.Applied || len(rep.Registry.Deleted) != 0 {
		t.Error("a dry run deleted")
	}
	if prs := env.GitHub.PullRequests(demo.Owner, demo.Repo); len(prs) != 0 {
		t.Errorf("a dry run opened %d PRs", len(prs))
	}
	statuses := map[string]string{}
	for _, c := range rep.Charts {
		statuses[c.Dependency] = c.Status
	}
	if statuses["binderhub"] != "outdated" || statuses["jupyterhub"] != "up-to-date" {
		t.Errorf("dry run statuses %v", statuses)
	}

	_, rep2, code := runJSON(t, env, true)
	if code != ExitOK {
		t.Fatalf("apply exit %d: %+v", code, rep2.Registry.Failed)
	}
	r := rep2.Registry
	if !r.Applied || len(r.Deleted) != len(rep.Registry.Plan) {
		t.Errorf("applied %v, deleted %d of %d", r.Applied, len(r.Deleted), len(rep.Registry.Plan))
	}
	// Every deletion has an attempt and an outcome in the audit log.
	f, err := os.Open(r.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	outcomes := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if e["outcome"] == "deleted" {
			outcomes++
		}
	}
	if outcomes != len(r.Deleted) {
		t.Errorf("audit log has %d deleted outcomes, report %d", outcomes, len(r.Deleted))
	}
	opened := 0
	for _, c := range rep2.Charts {
		if c.Status == string(model.StatePROpened) {
			opened++
			if !strings.Contains(c.PullRequest, "/pull/") {
				t.Errorf("%s: pull request URL %q", c.Dependency, c.PullRequest)
			}
		}
	}
	if opened != 4 {
		t.Errorf("opened %d PRs, want 4 (binderhub, ingress-nginx, traefik, the repo2docker image): %+v", opened, rep2.Charts)
	}

	// A third run: nothing to do, no duplicate PRs.
	_, rep3, code := runJSON(t, env, true)
	if code != ExitOK {
		t.Errorf("third run exit %d", code)
	}
	if len(rep3.Registry.Plan) != 0 {
		t.Errorf("third run plans %d deletions", len(rep3.Registry.Plan))
	}
	for _, c := range rep3.Charts {
		if c.Status == string(model.StatePROpened) || c.Status == string(model.StateOutdated) {
			t.Errorf("third run: %s is %s", c.Dependency, c.Status)
		}
	}
	if prs := env.GitHub.PullRequests(demo.Owner, demo.Repo); len(prs) != 4 {
		t.Errorf("stand-in holds %d PRs, want 4", len(prs))
	}
}

func TestRefusedPlanFails(t *testing.T) {
	env := startDemo(t, demo.WithConfigure(func(c *config.Config) {
		f := 0.01
		c.Registry.Policy.MaxDeleteFraction = &f
		c.Charts = nil
	}))
	var out bytes.Buffer
	code := Run(context.Background(), Options{Apply: true, Registry: env.Registry, Stdout: &out})
	if code != ExitFailure {
		t.Errorf("exit %d, want %d", code, ExitFailure)
	}
	if !strings.Contains(out.String(), "max_delete_fraction") {
		t.Errorf("summary does not say why:\n%s", out.String())
	}
	inv, err := env.Registry.Scan(context.Background(), nil)
	if err != nil || len(inv.Images) != len(env.Seeded.Images) {
		t.Errorf("a refused plan deleted something: %v", err)
	}
}

func TestPartialDeletionExit3(t *testing.T) {
	// Every delete in the first repository a delete reaches fails (retries
	// included); the others succeed.
	var failing atomic.Value
	env := startDemo(t, demo.WithRegistryHandler(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			repo, _, _ := strings.Cut(r.URL.Path, "/manifests/")
			if r.Method == http.MethodDelete && (failing.CompareAndSwap(nil, repo) || failing.Load() == repo) {
				http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}`, http.StatusInternalServerError)
				return
			}
			h.ServeHTTP(w, r)
		})
	}), noCharts())
	_, rep, code := runJSON(t, env, true)
	if code != ExitPartial {
		t.Errorf("exit %d, want %d", code, ExitPartial)
	}
	r := rep.Registry
	if len(r.Failed) == 0 || len(r.Deleted) == 0 {
		t.Fatalf("deleted %d, failed %d", len(r.Deleted), len(r.Failed))
	}
	if len(r.Deleted)+len(r.Failed)+r.NotStarted != len(r.Plan) {
		t.Errorf("deleted %d + failed %d + not started %d != planned %d", len(r.Deleted), len(r.Failed), r.NotStarted, len(r.Plan))
	}
	if !strings.Contains(r.Failed[0].Error, "500") && !strings.Contains(r.Failed[0].Error, "disk on fire") {
		t.Errorf("failure does not say why: %q", r.Failed[0].Error)
	}
}

func TestSummary(t *testing.T) {
	env := startDemo(t)
	var out bytes.Buffer
	if code := Run(context.Background(), Options{Registry: env.Registry, Charts: env.Charts, Stdout: &out}); code != ExitOK {
		t.Errorf("exit %d", code)
	}
	s := out.String()
	for _, want := range []string{"outdated", "binderhub", "registry 127.0.0.1:", "would delete", "dry run: rerun with --apply"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}

// TestInterruptedApply is Ctrl-C during deletions: the deletions in flight
// finish, no new one starts, and the report and audit log say exactly what
// was done.
func TestInterruptedApply(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var deletes atomic.Int32
	env := startDemo(t, demo.WithRegistryHandler(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodDelete && deletes.Add(1) == 3 {
				cancel() // the operator presses Ctrl-C while this one runs
			}
			h.ServeHTTP(w, r)
		})
	}), noCharts())
	var out bytes.Buffer
	code := Run(ctx, Options{Apply: true, JSON: true, Registry: env.Registry, Stdout: &out})
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	r := rep.Registry
	if code != ExitPartial || !r.Interrupted {
		t.Errorf("exit %d, interrupted %v", code, r.Interrupted)
	}
	if len(r.Deleted) == 0 || r.NotStarted == 0 || len(r.Deleted)+len(r.Failed)+r.NotStarted != len(r.Plan) {
		t.Errorf("deleted %d + failed %d + not started %d, planned %d", len(r.Deleted), len(r.Failed), r.NotStarted, len(r.Plan))
	}
	// What the report says was deleted is exactly what is gone.
	inv, err := env.Registry.Scan(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(env.Seeded.Images)-len(inv.Images), len(r.Deleted); got != want {
		t.Errorf("%d images are gone, the report says %d", got, want)
	}
	data, err := os.ReadFile(r.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"outcome":"deleted"`); n != len(r.Deleted) {
		t.Errorf("audit log records %d deletions, report %d", n, len(r.Deleted))
	}
}

// TestIncompleteRepositorySkipped: a repository whose scan fails half-way
// (one manifest cannot be read) gets no deletions in an apply; it is
// reported with the reason, the other repositories are cleaned, exit 3.
func TestIncompleteRepositorySkipped(t *testing.T) {
	repo, digest := firstPlannedTagged(t)
	env := startDemo(t, noCharts(), demo.WithRegistryHandler(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Path == "/v2/"+repo+"/manifests/"+digest {
				http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"backend timeout"}]}`, http.StatusInternalServerError)
				return
			}
			h.ServeHTTP(w, r)
		})
	}))
	raw, r := applySkipping(t, env, repo)
	reg := raw["registry"].(map[string]any)
	for _, k := range []string{"held", "skipped_repositories", "skipped"} {
		if _, ok := reg[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	if r.Held["incomplete"] == 0 {
		t.Errorf("held %v, want the repository's images counted as incomplete", r.Held)
	}
}

// noCharts makes a demo without charts.
func noCharts() demo.Option { return demo.WithConfigure(func(c *config.Config) { c.Charts = nil }) }

// firstPlannedTagged is the repository and digest of the first tagged
// image a dry run of the demo without charts plans.
func firstPlannedTagged(t *testing.T) (repo, digest string) {
	t.Helper()
	_, clean, _ := runJSON(t, startDemo(t, noCharts()), false)
	for _, p := range clean.Registry.Plan {
		if len(p.Tags) > 0 {
			return p.Repository, p.Digest.String()
		}
	}
	t.Fatal("the demo plans no tagged image")
	return "", ""
}

// applySkipping applies on env and checks that it exits 3 with repo
// skipped, and nothing else, nothing planned or deleted in repo, and
// something deleted in the other repositories; it returns the report.
func applySkipping(t *testing.T, env *demo.Env, repo string) (map[string]any, *RegistryReport) {
	t.Helper()
	raw, rep, code := runJSON(t, env, true)
	if code != ExitPartial {
		t.Errorf("exit %d, want %d", code, ExitPartial)
	}
	r := rep.Registry
	if len(r.SkippedRepositories) != 1 || r.SkippedRepositories[0].Repository != repo {
		t.Fatalf("skipped repositories %+v, want %s", r.SkippedRepositories, repo)
	}
	for _, d := range append(r.Plan, r.Deleted...) {
		if d.Repository == repo {
			t.Errorf("%s@%s planned or deleted in the skipped repository", d.Repository, d.Digest)
		}
	}
	if len(r.Deleted) == 0 {
		t.Error("nothing deleted in the other repositories")
	}
	return raw, r
}

// TestRecoversUnrecordedDeletions: a killed run left two attempts without
// an outcome; one reached the registry, one did not. The next run reports
// both under recovered and writes their outcome lines, also when the killed
// run's configuration spelled the registry otherwise (one run lock per
// registry, one recovery).
func TestRecoversUnrecordedDeletions(t *testing.T) {
	for _, spell := range []struct {
		name string
		of   func(string) string
	}{
		{"same spelling", func(u string) string { return u }},
		{"another spelling", func(u string) string { return strings.ToUpper(u) + "/" }},
	} {
		t.Run(spell.name, func(t *testing.T) { recoversUnrecorded(t, spell.of) })
	}
}

func recoversUnrecorded(t *testing.T, spell func(string) string) {
	env := startDemo(t, noCharts())
	ctx := context.Background()
	inv, err := env.Registry.Scan(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	gone, kept := inv.Images[0], inv.Images[1]
	log, err := audit.Open(env.Config.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range []model.Image{gone, kept} {
		if err := log.Write(audit.Entry{Action: audit.ActionDelete, Registry: spell(env.Registry.URL()), Repository: im.Repository,
			Digest: im.Digest.String(), Tags: im.Tags, Outcome: audit.OutcomeAttempt}); err != nil {
			t.Fatal(err)
		}
	}
	log.Close()
	client, err := registry.New(env.RegistryServer.Host()) // behind the ACR stand-in
	if err != nil {
		t.Fatal(err)
	}
	if err := client.DeleteManifest(ctx, gone.Repository, gone.Digest.String()); err != nil {
		t.Fatal(err)
	}

	_, rep, _ := runJSON(t, env, false)
	want := []RecoveredReport{
		{Repository: gone.Repository, Digest: gone.Digest.String(), Outcome: audit.OutcomeDeleted},
		{Repository: kept.Repository, Digest: kept.Digest.String(), Outcome: audit.OutcomePresent},
	}
	if got := rep.Registry.Recovered; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("recovered %+v, want %+v", got, want)
	}
	pending, _, err := audit.Pending(env.Config.AuditLog, spell(env.Registry.URL()))
	if err != nil || len(pending) != 0 {
		t.Errorf("still pending after recovery: %v, %v", pending, err)
	}
	_, rep, _ = runJSON(t, env, false)
	if len(rep.Registry.Recovered) != 0 {
		t.Errorf("recovered again: %+v", rep.Registry.Recovered)
	}
}
