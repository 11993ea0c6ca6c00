package ui

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/internal/uitest"
)

// startDemo runs the real embedded demo (registry, chart repository,
// GitHub stand-in) for one test.
func startDemo(t *testing.T, opts ...demo.Option) *demo.Env {
	t.Helper()
	return uitest.StartDemo(t, opts...)
}

// demoConsole is the console over a running demo, settled after its first
// check and scan.
func demoConsole(t *testing.T, env *demo.Env, w, h int) *driver {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d := newDriver(t, New(env.Registry, env.Charts, WithNoColor(), WithSize(w, h), WithContext(ctx), WithHistory(env.History)))
	d.settle()
	return d
}

// failDeletesAfter lets the first n manifest DELETEs through and refuses
// every later one (403 DENIED, which the client does not retry), as a
// registry whose retention lock starts mid-run.
func failDeletesAfter(n int) func(http.Handler) http.Handler {
	var seen atomic.Int32
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/manifests/") && int(seen.Add(1)) > n {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"manifest is locked by a retention rule"}]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

var deletedRe = regexp.MustCompile(`deleted (\d+) of (\d+) images`)

func TestDemoDeleteFailsHalfway(t *testing.T) {
	env := startDemo(t, demo.WithRegistryHandler(failDeletesAfter(5)))
	d := demoConsole(t, env, 160, 48)
	before := len(d.m.registry.Inventory().Images)
	d.press("2", "a")
	planned := len(d.m.registry.Selection())
	if planned <= 5 {
		t.Fatalf("the demo's policy plan has %d images; the test needs more than 5", planned)
	}
	d.press("d", "enter")
	s := d.screen()
	mustContain(t, joined(s), "error: deleted ", "failed, first: ", "e: full error")
	d.press("e") // the whole error: every failure
	mustContain(t, joined(d.screen()), "403 Forbidden", "locked by a retention rule")
	d.press("esc")
	mustContain(t, d.m.c.Status.Text, "locked by a retention rule", "; rescanned: ")
	m := deletedRe.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no delete report:\n%s", s)
	}
	deleted, _ := strconv.Atoi(m[1])
	if m[2] != strconv.Itoa(planned) || deleted < 1 || deleted >= planned {
		t.Errorf("report %q: want some but not all of %d deleted", m[0], planned)
	}
	// The rescan shows exactly the survivors.
	if after := len(d.m.registry.Inventory().Images); after != before-deleted {
		t.Errorf("%d images after deleting %d of %d", after, deleted, before)
	}
	// The console still works: the rest can be selected again.
	d.press("a")
	if len(d.m.registry.Selection()) == 0 {
		t.Error("after a failed delete the policy plan selects nothing")
	}
}

func TestDemoPRRefusedByStandIn(t *testing.T) {
	env := startDemo(t)
	d := demoConsole(t, env, 120, 36)
	env.GitHub.FailNext("POST", "/repos/*/pulls", http.StatusUnprocessableEntity, "Validation Failed: base branch is protected")
	d.press("p", "enter")
	s := d.screen()
	mustContain(t, joined(s), "error: bump binderhub: open pull request")
	d.press("e")
	mustContain(t, joined(d.screen()), "base branch is protected")
	d.press("esc")
	mustContain(t, d.m.c.Status.Text, "422: Validation Failed: base branch is protected")
	if l := line(s, "›binderhub"); !strings.Contains(l, "outdated") {
		t.Errorf("the row changed after a refused PR: %q", l)
	}
	if prs := env.GitHub.PullRequests(demo.Owner, demo.Repo); len(prs) != 0 {
		t.Errorf("the stand-in holds %d PRs after refusing", len(prs))
	}
	// Trying again works.
	d.press("p", "enter")
	if l := line(d.screen(), "›binderhub"); !strings.Contains(l, "PR open #") {
		t.Errorf("retry: %q\n%s", l, d.screen())
	}
	if prs := env.GitHub.PullRequests(demo.Owner, demo.Repo); len(prs) != 1 {
		t.Errorf("the stand-in holds %d PRs after the retry", len(prs))
	}
}

func TestDemoGroupedPR(t *testing.T) {
	env := startDemo(t)
	d := demoConsole(t, env, 120, 36)
	d.press("P")
	mustContain(t, d.screen(), "Open pull request?", "binderhub", "ingress-nginx", "/all → main", "hub/Chart.yaml, hub/values.yaml")
	d.press("enter")
	prs := env.GitHub.PullRequests(demo.Owner, demo.Repo)
	if len(prs) != 1 {
		t.Fatalf("the stand-in holds %d PRs, want one grouped PR", len(prs))
	}
	want := "PR open #" + strconv.Itoa(prs[0].Number)
	s := d.screen()
	for _, dep := range []string{"binderhub", "ingress-nginx", "image repo2docker"} { // the entry's charts and image
		if l := line(s, dep+" "); !strings.Contains(l, want) {
			t.Errorf("%s row: %q, want %q", dep, l, want)
		}
	}
}

func TestDemoDeleteUpdatesGauge(t *testing.T) {
	env := startDemo(t)
	d := demoConsole(t, env, 120, 36)
	d.press("2", "a")
	r := d.m.registry
	old := r.Inventory()
	plan := env.Registry.Plan(old, nil, false)
	d.press("d", "enter")
	// Table and gauge show the registry as the plan said it would be.
	if got := r.TotalBytes(); got != plan.TotalAfterBytes {
		t.Errorf("registry is %d bytes after the delete; the plan said %d", got, plan.TotalAfterBytes)
	}
	mustContain(t, d.screen(), model.FormatBytes(plan.TotalAfterBytes)+" of "+model.FormatBytes(plan.CapBytes)+" cap",
		"deleted "+strconv.Itoa(len(plan.Deletions))+" of "+strconv.Itoa(len(plan.Deletions))+" images")
	left := map[string]bool{}
	for _, im := range r.Inventory().Images {
		left[im.Ref()] = true
	}
	for _, del := range plan.Deletions {
		if ref := old.Images[del.Image].Ref(); left[ref] {
			t.Errorf("%s is still listed after its delete", ref)
		}
	}
	if len(r.Inventory().Images) != len(old.Images)-len(plan.Deletions) {
		t.Errorf("%d images left of %d after deleting %d", len(r.Inventory().Images), len(old.Images), len(plan.Deletions))
	}
}
