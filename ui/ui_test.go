package ui

import (
	"errors"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/history"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
	"github.com/helmupgradebot/helmupgradebot/ui/internal/uitest"
)

// fakeEnv is a console over deterministic in-memory services.
func fakeEnv(t *testing.T, w, h int, opts ...Option) (*driver, *fakeRegistry, *fakeCharts) {
	t.Helper()
	reg := newFakeRegistry(genInventory(120, 7, fixedNow), demoPolicy(15<<30))
	ch := newFakeCharts()
	d := newDriver(t, New(reg, ch, append([]Option{WithNoColor(), WithSize(w, h)}, opts...)...))
	d.settle()
	return d, reg, ch
}

func mustContain(t *testing.T, screen string, wants ...string) {
	t.Helper()
	uitest.MustContain(t, screen, wants...)
}

func mustNotContain(t *testing.T, screen string, wants ...string) {
	t.Helper()
	uitest.MustNotContain(t, screen, wants...)
}

// joined is the screen as one line, so a wrapped status line reads whole.
func joined(screen string) string { return uitest.Joined(screen) }

// line returns the first screen line containing s.
func line(screen, s string) string { return uitest.Line(screen, s) }

func TestTabs(t *testing.T) {
	d, _, _ := fakeEnv(t, 80, 24)
	on := func() string {
		s := d.screen()
		switch {
		case strings.Contains(s, "DEPENDENCY"):
			return "charts"
		case strings.Contains(s, "REPOSITORY"):
			return "registry"
		case strings.Contains(s, "no run history"):
			return "history"
		}
		return "?"
	}
	steps := []struct{ key, want string }{
		{"", "charts"}, {"tab", "registry"}, {"tab", "history"}, {"tab", "charts"}, {"shift+tab", "history"},
		{"shift+tab", "registry"}, {"2", "registry"}, {"3", "history"}, {"1", "charts"},
	}
	for i, s := range steps {
		if s.key != "" {
			d.press(s.key)
		}
		if got := on(); got != s.want {
			t.Fatalf("step %d (%q): on %s, want %s; screen:\n%s", i, s.key, got, s.want, d.screen())
		}
	}
	d.press("q")
	if !d.quit {
		t.Error("q did not quit")
	}
}

func TestChartsRows(t *testing.T) {
	d, _, _ := fakeEnv(t, 160, 48)
	s := d.screen()
	for _, want := range []struct{ dep, status string }{
		{"binderhub", "outdated"}, {"jupyterhub", "outdated"}, {"ingress-nginx", "up to date"},
		{"traefik", "PR open #77"}, {"grafana", "error"},
	} {
		l := line(s, want.dep+" ")
		if l == "" || !strings.HasSuffix(strings.TrimRight(l, " "), want.status) {
			t.Errorf("row %s: want status %q, got %q", want.dep, want.status, l)
		}
	}
	binder := line(s, "binderhub ")
	mustContain(t, binder, "mybinder/Chart.yaml", "1.0.0-0.dev.git.3440.h1e0b0d0", "1.0.0-0.dev.git.3506.hba24eb2a", " 3d ")
	mustContain(t, s, "error: grafana could not be checked: fetch https://grafana.github.io/helm-charts/index.yaml: 503")
	mustContain(t, d.m.c.Status.Text, "checked 5 chart dependencies: 2 outdated, 1 with a PR open, 1 error")
	mustContain(t, d.m.charts.Counts(), "5 deps · 2 outdated · 1 error")
	mustNotContain(t, d.m.charts.Counts(), "1 errors")
	// The error row's details show the error.
	d.press("G")
	mustContain(t, d.screen(), "error: fetch https://grafana.github.io/helm-charts/index.yaml: 503 Service Unavailable")
}

func TestChartsOpenPR(t *testing.T) {
	d, _, ch := fakeEnv(t, 80, 24)
	d.press("p")
	s := d.screen()
	mustContain(t, s, "Open pull request?", "jupyterhub/mybinder.org-deploy", "title      Bump binderhub",
		"-10:     version: 1.0.0-0.dev.git.3440.h1e0b0d0", "+10:     version: 1.0.0-0.dev.git.3506.hba24eb2a")
	d.press("enter")
	s = d.screen()
	if l := line(s, "›binderhub"); !strings.Contains(l, "PR open #101") {
		t.Errorf("binderhub row after opening: %q\n%s", l, s)
	}
	mustContain(t, s, "opened PR #101", "PR #101 https://github.com/jupyterhub/mybinder.org-deploy/pull/101")
	if len(ch.opened) != 1 || strings.Join(ch.opened[0], ",") != "binderhub" {
		t.Errorf("opened %v, want [[binderhub]]", ch.opened)
	}
	// Opening again says the PR is open already: news, not an error.
	d.press("p")
	mustContain(t, d.screen(), "binderhub already has PR #101 open with the newest version")
	mustNotContain(t, d.screen(), "Open pull request?", "error:")
}

func TestChartsCancelPR(t *testing.T) {
	d, _, ch := fakeEnv(t, 80, 24)
	d.press("p", "esc")
	mustNotContain(t, d.screen(), "Open pull request?")
	if len(ch.opened) != 0 {
		t.Errorf("cancelled box opened %v", ch.opened)
	}
	if l := line(d.screen(), "›binderhub"); !strings.Contains(l, "outdated") {
		t.Errorf("row changed: %q", l)
	}
}

func TestChartsGroupPR(t *testing.T) {
	d, _, ch := fakeEnv(t, 80, 24)
	d.press("P")
	s := d.screen()
	mustContain(t, s, "Open pull request?", "Bump binderhub to 1.0.0-0.dev.git.3506.hba24eb2a,", "3.3.8 in mybinder/Chart.yaml", "3.3.7",
		"branch     helmupgradebot/mybinder-chart-yaml/all → main")
	d.press("enter")
	if len(ch.opened) != 1 || strings.Join(ch.opened[0], ",") != "binderhub,jupyterhub" {
		t.Fatalf("opened %v, want one PR for binderhub and jupyterhub", ch.opened)
	}
	s = d.screen()
	for _, dep := range []string{"binderhub", "jupyterhub"} {
		if l := line(s, dep+" "); !strings.Contains(l, "PR open #101") {
			t.Errorf("%s row: %q", dep, l)
		}
	}
	// No outdated dependency is left in that file.
	d.press("P")
	mustContain(t, d.screen(), "error: nothing outdated in mybinder/Chart.yaml")
}

func TestChartsPRRefused(t *testing.T) {
	d, _, ch := fakeEnv(t, 80, 24)
	ch.failErr = errors.New("open pull request for binderhub in jupyterhub/mybinder.org-deploy: 422 Validation Failed")
	d.press("p", "enter")
	s := d.screen()
	mustContain(t, s, "error: open pull request for binderhub")
	if l := line(s, "›binderhub"); !strings.Contains(l, "outdated") {
		t.Errorf("refused PR changed the row: %q", l)
	}
	// It can be tried again.
	d.press("p", "enter")
	if l := line(d.screen(), "›binderhub"); !strings.Contains(l, "PR open #101") {
		t.Errorf("retry: %q", l)
	}
}

func TestChartsNotOutdated(t *testing.T) {
	d, _, _ := fakeEnv(t, 80, 24)
	d.press("down", "down", "p")
	mustContain(t, d.screen(), "error: ingress-nginx is up to date")
	mustNotContain(t, d.screen(), "Open pull request?")
}

func TestChartsRefresh(t *testing.T) {
	d, _, ch := fakeEnv(t, 80, 24)
	ch.mu.Lock()
	ch.rows[2].State, ch.rows[2].Latest.Version = model.StateOutdated, "4.12.0"
	ch.mu.Unlock()
	d.press("r")
	if l := line(d.screen(), "ingress-ng"); !strings.Contains(l, "outdated") || !strings.Contains(l, "4.12.0") {
		t.Errorf("after refresh: %q", l)
	}
}

func TestRegistryScanProgress(t *testing.T) {
	reg := newFakeRegistry(genInventory(120, 7, fixedNow), demoPolicy(15<<30))
	gate := make(chan struct{})
	reg.Gate = gate
	d := newDriver(t, New(reg, nil, WithNoColor(), WithSize(80, 24)))
	d.waitFor("repositories 3/10")
	s := d.screen()
	mustContain(t, s, "images 30/120", "scanning registry.example.org: 3/10 repositories, 30/120 images")
	bar := line(s, "images 30/120")
	if full, empty := strings.Count(bar, "█"), strings.Count(bar, "░"); full == 0 || empty == 0 || full > empty {
		t.Errorf("a quarter-done bar has %d full and %d empty cells: %q", full, empty, bar)
	}
	close(gate)
	d.settle()
	mustContain(t, d.screen(), "REPOSITORY", "120 images", "scanned registry.example.org: 10 repositories, 120 images")
}

func TestRegistryScanError(t *testing.T) {
	reg := newFakeRegistry(genInventory(10, 7, fixedNow), demoPolicy(0))
	reg.ScanErr = errors.New("scan registry.example.org: list repositories: 401 Unauthorized")
	d := newDriver(t, New(reg, nil, WithNoColor(), WithSize(80, 24)))
	d.settle()
	mustContain(t, d.screen(), "scan failed: scan registry.example.org: list repositories: 401 Unauthorized",
		"error: scan registry.example.org")
	reg.ScanErr = nil
	d.press("r")
	mustContain(t, d.screen(), "REPOSITORY", "10 images")
}

func TestRegistryDelete(t *testing.T) {
	d, reg, _ := fakeEnv(t, 80, 24)
	d.press("2", "a")
	r := d.m.registry
	plan := reg.Plan(r.Inventory(), nil, false)
	n := len(plan.Deletions)
	d.press("d")
	s := d.screen()
	mustContain(t, s, "Delete "+strconv.Itoa(n)+" images from registry.example.org?",
		"frees "+model.FormatBytes(plan.ReclaimBytes)+": "+model.FormatBytes(plan.TotalBytes)+" → "+model.FormatBytes(plan.TotalAfterBytes),
		"largest:", "… and "+strconv.Itoa(n-3)+" more")
	big := plan.Deletions[0]
	for _, del := range plan.Deletions {
		if del.Reclaim > big.Reclaim {
			big = del
		}
	}
	mustContain(t, s, model.FormatBytes(big.Reclaim))
	d.press("enter")
	s = d.screen()
	mustContain(t, s, "deleted "+strconv.Itoa(n)+" of "+strconv.Itoa(n)+" images", strconv.Itoa(120-n)+" images")
	if reg.Scans != 2 {
		t.Errorf("%d scans, want a rescan after the delete", reg.Scans)
	}
	if len(r.Selection()) != 0 || len(r.Inventory().Images) != 120-n {
		t.Errorf("after delete: %d selected, %d images", len(r.Selection()), len(r.Inventory().Images))
	}
	// The gauge shows the new size.
	after := model.ComputeSizes(r.Inventory()).Total
	if after != plan.TotalAfterBytes {
		t.Errorf("registry is %d bytes after the delete, the plan said %d", after, plan.TotalAfterBytes)
	}
	mustContain(t, s, model.FormatBytes(after)+" of 15.0 GiB cap")
}

// TestRegistryDeleteRechecks: the confirm box re-reads the registry before
// enter is taken, however old the scan, and shows what changed since it;
// the delete then skips those images and says so.
func TestRegistryDeleteRechecks(t *testing.T) {
	d, reg, _ := fakeEnv(t, 120, 40)
	d.press("2", "a")
	r := d.m.registry
	plan := reg.Plan(r.Inventory(), nil, false)
	n := len(plan.Deletions)
	moved := r.Inventory().Images[plan.Deletions[1].Image]
	reg.Moved = map[string]bool{moved.Ref(): true}
	d.press("d")
	s := joined(d.screen())
	mustContain(t, s, "1 image changed since the scan and will be skipped", common.ShortDigests(moved.Digest), "now points at it")
	d.press("enter")
	s = joined(d.screen())
	mustContain(t, s, "deleted "+strconv.Itoa(n-1)+" of "+strconv.Itoa(n)+" images", "1 skipped (changed since the scan")
	if reg.Deleted[moved.Ref()] {
		t.Errorf("%s was deleted although it changed since the scan", moved.Ref())
	}

	// A plan whose every image moved cannot be confirmed.
	d.press("space")
	i := d.m.registry.Current()
	if i < 0 {
		t.Fatal("no current row")
	}
	reg.Moved = map[string]bool{}
	for _, im := range d.m.registry.Inventory().Images {
		reg.Moved[im.Ref()] = true
	}
	d.press("d")
	mustContain(t, joined(d.screen()), "nothing left to delete")
	before := len(reg.Deleted)
	d.press("enter")
	if len(reg.Deleted) != before || d.m.confirm == nil {
		t.Errorf("enter deleted although every planned image changed")
	}
}

func TestRegistryDeleteShowsProgress(t *testing.T) {
	d, reg, _ := fakeEnv(t, 80, 24)
	gate := make(chan struct{})
	reg.ApplyGate = gate
	d.press("2", "space", "space", "space", "d")
	// Deliver the delete's messages one by one and watch the bar.
	d.deliver(keyMsg("enter"))
	go func() { gate <- struct{}{} }() // the first deletion finishes; the second waits
	d.waitFor("deleting 1/3 images")
	bar := line(d.screen(), "deleting 1/3 images")
	if full, empty := strings.Count(bar, "█"), strings.Count(bar, "░"); full == 0 || empty == 0 || full > empty {
		t.Errorf("a third-done bar has %d full and %d empty cells: %q", full, empty, bar)
	}
	close(gate)
	d.settle()
	mustContain(t, d.screen(), "deleted 3 of 3 images")
}

func TestRegistryDeleteFailsHalfway(t *testing.T) {
	d, reg, _ := fakeEnv(t, 160, 48)
	reg.FailAfter = 3
	d.press("2", "a")
	n := len(d.m.registry.Selection())
	d.press("d", "enter")
	s := d.screen()
	mustContain(t, s, "error: deleted 3 of "+strconv.Itoa(n)+" images", strconv.Itoa(n-3)+" failed, first: ",
		"500 Internal Server Error")
	if got := len(d.m.registry.Inventory().Images); got != 117 {
		t.Errorf("rescan shows %d images, want 117", got)
	}
	mustContain(t, s, "117 images")
}

func TestRegistryNothingSelected(t *testing.T) {
	d, _, _ := fakeEnv(t, 80, 24)
	d.press("2", "d")
	mustContain(t, d.screen(), "error: nothing selected")
	mustNotContain(t, d.screen(), "Delete ")
}

func TestRegistryRefusedPlanNeedsForce(t *testing.T) {
	pol := demoPolicy(15 << 30)
	pol.MaxDeleteFraction = 0.1
	reg := newFakeRegistry(genInventory(120, 7, fixedNow), pol)
	d := newDriver(t, New(reg, nil, WithNoColor(), WithSize(100, 30)))
	d.settle()
	d.press("a", "d")
	s := d.screen()
	mustContain(t, s, "over max_delete_fraction", "f force")
	d.press("enter")
	if reg.Scans != 1 || !strings.Contains(d.screen(), "over max_delete_fraction") {
		t.Fatal("enter applied a refused plan")
	}
	d.press("f")
	mustNotContain(t, d.screen(), "over max_delete_fraction")
	d.press("enter")
	mustContain(t, d.screen(), "deleted ")
}

func TestNotConfigured(t *testing.T) {
	var reg *engine.Registry
	var ch *engine.Charts
	for _, m := range []*Model{New(nil, nil, WithNoColor()), New(reg, ch, WithNoColor())} {
		d := newDriver(t, m)
		d.settle()
		mustContain(t, d.screen(), "charts not configured")
		d.press("2")
		mustContain(t, d.screen(), "registry not configured: add registry.url to the config")
		d.press("r", "a", "d", "space", "/", "esc", "s")
		mustContain(t, d.screen(), "registry not configured")
	}
}

func TestNoColor(t *testing.T) {
	sgrColor := regexp.MustCompile(`\x1b\[[0-9;]*(3[0-9]|4[0-9]|9[0-7]|10[0-7])[;m]`)
	render := func(opts ...Option) string {
		reg := newFakeRegistry(genInventory(50, 7, fixedNow), demoPolicy(5<<30))
		d := newDriver(t, New(reg, newFakeCharts(), append(opts, WithSize(100, 30))...))
		d.settle()
		var b strings.Builder
		b.WriteString(d.m.Render())
		d.press("?")
		b.WriteString(d.m.Render())
		d.press("p")
		b.WriteString(d.m.Render())
		d.press("esc", "?", "2", "a")
		b.WriteString(d.m.Render())
		d.press("d")
		b.WriteString(d.m.Render())
		return b.String()
	}
	if c := render(); !sgrColor.MatchString(c) {
		t.Error("the colour screens have no colour")
	}
	if p := render(WithNoColor()); sgrColor.MatchString(p) {
		t.Errorf("NO_COLOR screens have colour: %q", sgrColor.FindString(p))
	}
}

func TestEveryScreenFits(t *testing.T) {
	d, _, _ := fakeEnv(t, 80, 24, WithHistory(history.Open(filepath.Join(t.TempDir(), "history.jsonl"))))
	check := func(what string) {
		t.Helper()
		s := d.m.Render()
		w, h := d.m.c.Width, d.m.c.Height
		ls := strings.Split(s, "\n")
		if len(ls) != h {
			t.Errorf("%s at %dx%d: %d lines", what, w, h, len(ls))
		}
		for i, l := range ls {
			if got := ansi.StringWidth(l); got != w {
				t.Errorf("%s at %dx%d: line %d is %d wide: %q", what, w, h, i, got, ansi.Strip(l))
			}
		}
	}
	sizes := [][2]int{{80, 24}, {160, 48}, {100, 30}, {60, 20}, {40, 10}, {20, 5}, {250, 70}}
	for _, sz := range sizes {
		d.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		check("charts")
		d.press("p")
		check("PR box")
		d.press("esc", "?")
		check("charts help")
		d.press("?", "2")
		check("registry")
		d.press("a", "?")
		check("registry help")
		d.press("?", "d")
		check("delete box")
		d.press("esc", "/")
		check("filter")
		d.press("esc", "esc", "e") // the fake chart check has an error
		check("errors view")
		d.press("esc", "3")
		check("history")
		d.press("enter")
		check("run details")
		d.press("esc", "1")
	}
}

func TestResizeKeepsCursorVisible(t *testing.T) {
	d, _, _ := fakeEnv(t, 80, 24)
	d.press("2", "G")
	mustContain(t, d.screen(), "›[")
	d.send(tea.WindowSizeMsg{Width: 100, Height: 14})
	mustContain(t, d.screen(), "›[")
	d.send(tea.WindowSizeMsg{Width: 160, Height: 48})
	mustContain(t, d.screen(), "›[")
	if got := strings.Count(d.screen(), "\n ["); got < 30 {
		t.Errorf("at 160x48 only %d rows shown", got+1)
	}
}

func TestHelpToggle(t *testing.T) {
	d, _, _ := fakeEnv(t, 160, 48)
	d.press("2")
	short := d.screen()
	mustNotContain(t, short, "reverse sort", "clear selection/filter")
	d.press("?")
	full := d.screen()
	mustContain(t, full, "reverse sort", "clear selection/filter", "select policy plan", "delete selected", "page down", "previous tab")
	d.press("?")
	mustNotContain(t, d.screen(), "reverse sort")
}

func TestQuitWhileDeleting(t *testing.T) {
	store := history.Open(filepath.Join(t.TempDir(), "history.jsonl"))
	d, reg, _ := fakeEnv(t, 120, 30, WithHistory(store))
	gate := make(chan struct{})
	reg.ApplyGate = gate
	d.press("2", "a")
	n := len(d.m.registry.Selection())
	d.press("d")
	d.deliver(keyMsg("enter"))
	go func() { gate <- struct{}{} }() // one deletion done
	d.waitFor("deleting 1/")
	d.deliver(keyMsg("q"))
	if d.quit {
		t.Fatal("q quit in the middle of a delete")
	}
	mustContain(t, d.m.c.Status.Text, "a delete is running: q again stops it")
	d.deliver(keyMsg("q"))
	mustContain(t, d.m.c.Status.Text, "stopping the delete")
	close(gate) // the deletion under way finishes; no further one starts
	d.settle()
	if !d.quit {
		t.Fatal("the console did not quit once the delete stopped")
	}
	if got := len(reg.Deleted); got < 1 || got >= n {
		t.Errorf("%d of %d deleted; want the delete stopped part way", got, n)
	}
	// The stopped delete is in the history, deletions and all.
	runs, _, err := store.Read(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var applied *history.RegistryRun
	for _, r := range runs {
		if r.Applied && r.Registry != nil {
			applied = r.Registry
		}
	}
	if applied == nil {
		t.Fatalf("the history has no record of the stopped delete: %+v", runs)
	}
	if len(applied.Deletions) != len(reg.Deleted) {
		t.Errorf("the history records %d deletions, the registry lost %d", len(applied.Deletions), len(reg.Deleted))
	}
}

// TestRegistryUntagged: untagged manifests show as <untagged>, u hides and
// shows them, and the filter finds them.
func TestRegistryUntagged(t *testing.T) {
	inv := genInventory(60, 7, fixedNow)
	for i := 0; i < 60; i += 6 {
		inv.Images[i].Tags = nil
	}
	reg := newFakeRegistry(inv, demoPolicy(15<<30))
	d := newDriver(t, New(reg, newFakeCharts(), WithNoColor(), WithSize(120, 40)))
	d.settle()
	d.press("2")
	mustContain(t, d.screen(), "<untagged>", "60 images")
	d.press("u")
	s := d.screen()
	mustNotContain(t, s, "<untagged>")
	mustContain(t, s, "50 of 60 images, untagged hidden", "untagged manifests hidden (10)")
	d.press("u", "/")
	d.press(strings.Split("untagged", "")...)
	d.press("enter")
	s = d.screen()
	mustContain(t, s, `filter "untagged": 10 of 60`, "<untagged>")
}
