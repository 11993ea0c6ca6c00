package ui

import (
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/history"
	"github.com/helmupgradebot/helmupgradebot/model"
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

// visibleImages reads the image indexes of the table rows on screen in
// order, through the model (the screen truncates names).
func visibleImages(m *Model) []int {
	r := m.registry
	end := min(r.Offset+r.Page, len(r.idx.view))
	return r.idx.view[r.Offset:end]
}

func TestRegistrySort(t *testing.T) {
	d, _, _ := fakeEnv(t, 80, 24)
	d.press("2")
	x := d.m.registry.idx
	cases := []struct {
		key, header, column string
		ok                  func(a, b int) bool
	}{
		{"s", "sort: size (largest first)", "SIZE▼", func(a, b int) bool { return x.size[a] >= x.size[b] }},
		{"s", "sort: reclaimable (most reclaimable first)", "RECLAIM▼", func(a, b int) bool { return x.sizes.Exclusive[a] >= x.sizes.Exclusive[b] }},
		{"S", "sort: reclaimable (reversed)", "RECLAIM▲", func(a, b int) bool { return x.sizes.Exclusive[a] <= x.sizes.Exclusive[b] }},
		{"s", "sort: name (A→Z)", "REPOSITORY▼", func(a, b int) bool {
			return x.inv.Images[a].Repository <= x.inv.Images[b].Repository
		}},
		{"s", "sort: age (oldest first)", "AGE▼", func(a, b int) bool { return x.created[a] <= x.created[b] }},
		{"S", "sort: age (reversed)", "AGE▲", func(a, b int) bool { return x.created[a] >= x.created[b] }},
	}
	for _, c := range cases {
		d.press(c.key)
		s := d.screen()
		mustContain(t, s, c.header, c.column)
		for k := 1; k < len(x.order); k++ {
			if !c.ok(x.order[k-1], x.order[k]) {
				t.Fatalf("%s: images %d and %d out of order", c.header, x.order[k-1], x.order[k])
			}
		}
	}
}

func TestRegistrySortKeepsCursor(t *testing.T) {
	d, _, _ := fakeEnv(t, 80, 24)
	d.press("2", "down", "down", "down")
	cur := d.m.registry.current()
	d.press("s")
	if got := d.m.registry.current(); got != cur {
		t.Errorf("cursor moved from image %d to %d on re-sort", cur, got)
	}
	if !strings.HasPrefix(line(d.screen(), "›"), "›") {
		t.Error("cursor row is off screen after re-sort")
	}
}

func TestRegistryFilter(t *testing.T) {
	d, _, _ := fakeEnv(t, 80, 24)
	d.press("2", "/")
	d.typeText("numpy")
	s := d.screen()
	mustContain(t, s, "/numpy")
	x := d.m.registry.idx
	if len(x.view) == 0 || len(x.view) == len(x.inv.Images) {
		t.Fatalf("filter numpy kept %d of %d images", len(x.view), len(x.inv.Images))
	}
	for _, i := range x.view {
		if !strings.Contains(x.inv.Images[i].Repository, "numpy") {
			t.Errorf("filter numpy kept %s", x.inv.Images[i].Repository)
		}
	}
	for _, l := range strings.Split(s, "\n")[4:] {
		if strings.HasPrefix(l, " [") || strings.HasPrefix(l, "›[") {
			if !strings.Contains(l, "numpy") {
				t.Errorf("row without numpy: %q", l)
			}
		}
	}
	d.press("enter")
	mustContain(t, d.screen(), `filter "numpy": `+strconv.Itoa(len(x.view))+" of 120")
	// Keys act on the table again; esc drops the filter.
	d.press("s")
	mustContain(t, d.screen(), "sort: size", `filter "numpy"`)
	d.press("esc")
	mustNotContain(t, d.screen(), `filter "numpy"`)
	if len(d.m.registry.idx.view) != 120 {
		t.Errorf("after esc %d images in view", len(d.m.registry.idx.view))
	}
	// A tag matches too, and esc in the input drops it.
	tag := x.inv.Images[5].Tags[0][:10]
	d.press("/")
	d.typeText(tag)
	if v := d.m.registry.idx.view; len(v) != 1 || v[0] != 5 {
		t.Errorf("filter by tag %s: %v", tag, v)
	}
	d.press("esc")
	if len(d.m.registry.idx.view) != 120 || d.m.registry.filtering {
		t.Error("esc in the filter input did not drop the filter")
	}
}

func TestRegistryHeldCannotBeSelected(t *testing.T) {
	d, _, _ := fakeEnv(t, 80, 24)
	d.press("2", "S", "g") // newest first: the kept-latest images come first
	r := d.m.registry
	if h := r.idx.holds[r.current()]; h != model.HoldKeep {
		t.Fatalf("newest image has hold %q", h)
	}
	mustContain(t, line(d.screen(), "›"), "[K]")
	d.press("space")
	if r.nsel != 0 {
		t.Errorf("a held image was selected")
	}
	mustContain(t, d.m.c.Status.Text, "is held (keep-latest) and cannot be deleted")
}

func TestRegistryProtectedMark(t *testing.T) {
	reg := newFakeRegistry(genInventory(60, 7, fixedNow), model.Policy{Protect: []*regexp.Regexp{regexp.MustCompile(`numpy`)}})
	d := newDriver(t, New(reg, nil, WithNoColor(), WithSize(120, 70)))
	d.settle()
	x := d.m.registry.idx
	for _, l := range strings.Split(d.screen(), "\n") {
		if !strings.HasPrefix(l, " [") && !strings.HasPrefix(l, "›[") {
			continue
		}
		if strings.Contains(l, "numpy") != strings.Contains(l, "[P]") {
			t.Errorf("protected mark wrong: %q", l)
		}
	}
	// a (the policy plan: nothing, no age or cap) selects nothing; space on a
	// protected row refuses.
	for p, i := range x.view {
		if x.holds[i] == model.HoldProtected {
			d.m.registry.Cursor = p
			break
		}
	}
	d.press("space")
	if d.m.registry.nsel != 0 {
		t.Error("protected image selected")
	}
	mustContain(t, d.screen(), "is held (protected)")
}

func TestRegistrySelectAndGauge(t *testing.T) {
	d, reg, _ := fakeEnv(t, 80, 24)
	d.press("2")
	r := d.m.registry
	total := r.idx.sizes.Total
	mustContain(t, d.screen(), model.FormatBytes(total)+" of 15.0 GiB cap (120%, over cap)")
	d.press("space", "space")
	if r.nsel != 2 {
		t.Fatalf("%d selected after two spaces", r.nsel)
	}
	want := reg.Plan(r.idx.inv, r.selection(), false)
	s := d.screen()
	mustContain(t, s, model.FormatBytes(total)+" → "+model.FormatBytes(want.TotalAfterBytes)+" of 15.0 GiB cap",
		"· frees "+model.FormatBytes(want.ReclaimBytes), "2 selected")
	bar := strings.Split(s, "\n")[1]
	if !strings.Contains(bar, "▒") || !strings.Contains(bar, "┃") {
		t.Errorf("gauge does not mark the freed part and the cap: %q", bar)
	}
	// Policy plan.
	d.press("a")
	pol := reg.Plan(r.idx.inv, nil, false)
	if r.nsel != len(pol.Deletions) || !r.planPolicy {
		t.Fatalf("a selected %d, the policy plan has %d", r.nsel, len(pol.Deletions))
	}
	for _, del := range pol.Deletions {
		if !r.selected[del.Image] {
			t.Errorf("policy deletion %d not selected", del.Image)
		}
	}
	s = d.screen()
	mustContain(t, s, strconv.Itoa(len(pol.Deletions))+" selected", "frees "+model.FormatBytes(pol.ReclaimBytes))
	// esc clears.
	d.press("esc")
	if r.nsel != 0 {
		t.Error("esc left a selection")
	}
	mustNotContain(t, d.screen(), "frees")
}

func TestRegistryDelete(t *testing.T) {
	d, reg, _ := fakeEnv(t, 80, 24)
	d.press("2", "a")
	r := d.m.registry
	plan := reg.Plan(r.idx.inv, nil, false)
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
	if r.nsel != 0 || len(r.idx.inv.Images) != 120-n {
		t.Errorf("after delete: %d selected, %d images", r.nsel, len(r.idx.inv.Images))
	}
	// The gauge shows the new size.
	after := model.ComputeSizes(r.idx.inv).Total
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
	plan := reg.Plan(r.idx.inv, nil, false)
	n := len(plan.Deletions)
	moved := r.idx.inv.Images[plan.Deletions[1].Image]
	reg.Moved = map[string]bool{moved.Ref(): true}
	d.press("d")
	s := joined(d.screen())
	mustContain(t, s, "1 image changed since the scan and will be skipped", shortDigest(moved.Digest), "now points at it")
	d.press("enter")
	s = joined(d.screen())
	mustContain(t, s, "deleted "+strconv.Itoa(n-1)+" of "+strconv.Itoa(n)+" images", "1 skipped (changed since the scan")
	if reg.Deleted[moved.Ref()] {
		t.Errorf("%s was deleted although it changed since the scan", moved.Ref())
	}

	// A plan whose every image moved cannot be confirmed.
	d.press("space")
	i := d.m.registry.current()
	if i < 0 {
		t.Fatal("no current row")
	}
	reg.Moved = map[string]bool{}
	for k := range d.m.registry.selected {
		reg.Moved[d.m.registry.idx.inv.Images[k].Ref()] = true
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
	n := d.m.registry.nsel
	d.press("d", "enter")
	s := d.screen()
	mustContain(t, s, "error: deleted 3 of "+strconv.Itoa(n)+" images", strconv.Itoa(n-3)+" failed, first: ",
		"500 Internal Server Error")
	if got := len(d.m.registry.idx.inv.Images); got != 117 {
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
	d, reg, _ := fakeEnv(t, 120, 30)
	gate := make(chan struct{})
	reg.ApplyGate = gate
	d.press("2", "a")
	n := d.m.registry.nsel
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

// TestRegistryOpensOnSnapshot: with a snapshot of the last scan the table
// shows at once, marked as of its time, while the fresh scan runs; no
// delete is confirmed on it; the fresh scan keeps the cursor and the
// selection on the same images.
func TestRegistryOpensOnSnapshot(t *testing.T) {
	inv := genInventory(60, 7, fixedNow)
	reg := newFakeRegistry(inv, demoPolicy(15<<30))
	snap := genInventory(60, 7, fixedNow.Add(-48*time.Hour))
	snap.ScannedAt = fixedNow.Add(-2 * time.Hour)
	reg.Snap, reg.Gate = snap, make(chan struct{})
	d := newDriver(t, New(reg, nil, WithNoColor(), WithSize(120, 40)))
	d.waitFor("refreshing…")
	s := joined(d.screen())
	mustContain(t, s, "as of "+snap.ScannedAt.Local().Format(time.DateTime)+", refreshing…", "REPOSITORY", "60 images")
	for _, k := range []string{"j", "j", "space"} { // keys while the scan still runs
		d.deliver(keyMsg(k))
	}
	for d.m.registry.nsel == 0 || !d.m.registry.planReady {
		if !d.step(5 * time.Second) {
			t.Fatal("the selection's plan never came")
		}
	}
	sel := d.m.registry.idx.inv.Images[d.m.registry.selection()[0]].Ref()
	cur := d.m.registry.idx.inv.Images[d.m.registry.current()].Ref()
	d.deliver(keyMsg("d"))
	mustContain(t, joined(d.screen()), "deletes wait for the fresh scan")
	if d.m.confirm != nil {
		t.Fatal("a delete box opened on the snapshot")
	}
	close(reg.Gate)
	d.settle()
	r := d.m.registry
	if r.stale || r.nsel != 1 {
		t.Fatalf("after the fresh scan: stale %v, %d selected", r.stale, r.nsel)
	}
	if got := r.idx.inv.Images[r.selection()[0]].Ref(); got != sel {
		t.Errorf("selection moved to %s, want %s", got, sel)
	}
	if got := r.idx.inv.Images[r.current()].Ref(); got != cur {
		t.Errorf("cursor moved to %s, want %s", got, cur)
	}
	d.press("r") // the error about the snapshot stays until a key; a rescan now is fresh
	mustNotContain(t, joined(d.screen()), "refreshing")
}

// TestRegistryLocks: a locked image says which lock holds it, on the info
// line and when it is picked; a repository whose deletes only are
// disabled holds nothing but is named on the info line.
func TestRegistryLocks(t *testing.T) {
	inv := genInventory(60, 7, fixedNow)
	byRepo := map[string][]int{}
	for i := range inv.Images {
		byRepo[inv.Images[i].Repository] = append(byRepo[inv.Images[i].Repository], i)
	}
	var repos []string
	for repo := range byRepo {
		repos = append(repos, repo)
	}
	slices.Sort(repos)
	tagged, platform, written, deletable := byRepo[repos[0]][0], byRepo[repos[1]][0], repos[2], repos[3]
	inv.Images[tagged].Locked, inv.Images[tagged].Lock = true, "tag "+repos[0]+":stable"
	inv.Images[platform].Locked, inv.Images[platform].Lock = true, "platform linux/arm64"
	for _, i := range byRepo[written] {
		inv.Images[i].Locked, inv.Images[i].Lock = true, "repository"
	}
	inv.RepositoryLocks = []model.RepositoryLock{{Repository: written, WriteDisabled: true}, {Repository: deletable, DeleteDisabled: true}}
	d := newDriver(t, New(newFakeRegistry(inv, model.Policy{}), nil, WithNoColor(), WithSize(240, 60)))
	d.settle()
	d.press("2")
	r := d.m.registry
	at := func(i int) string {
		t.Helper()
		r.Cursor = r.idx.position(i)
		r.scroll()
		return line(d.screen(), "sort: ")
	}
	mustContain(t, at(tagged), "locked (tag "+repos[0]+":stable)")
	mustContain(t, line(d.screen(), "›"), "[L]")
	d.press("space")
	if r.nsel != 0 {
		t.Error("a locked image was selected")
	}
	mustContain(t, d.m.c.Status.Text, "is locked (tag "+repos[0]+":stable) and cannot be deleted")
	mustContain(t, at(platform), "locked (platform linux/arm64)")
	mustContain(t, at(byRepo[written][0]), "locked (repository)")
	info := at(byRepo[deletable][0])
	mustContain(t, info, "repository "+deletable+": deletes disabled, its images can be deleted")
	if strings.Contains(info, "locked (") || r.idx.holds[byRepo[deletable][0]] == model.HoldLocked {
		t.Errorf("an image of a delete-disabled repository is held: %s", info)
	}
}
