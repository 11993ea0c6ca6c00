package ui

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/history"
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
