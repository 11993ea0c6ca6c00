package ui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// The Registry table at 80 and 60 columns: repository names keep their
// room, the launch columns shrink and then go, SIZE goes at 60.
func TestRegistryColumns(t *testing.T) {
	env := startDemo(t)
	d := demoConsole(t, env, 80, 24)
	d.press("2")
	for _, c := range []struct {
		w, h       int
		head, gone []string
		repo       string // what must show of a long repository name
	}{
		{160, 48, []string{"SIZE", "RECLAIM", "LAUNCHES", "LAST LAUNCH"}, nil, "binder-voila-dashboards-voila-gallery-68d4d3"},
		{80, 24, []string{"SIZE", "RECLAIM", "LAUNCH", "LAST"}, []string{"LAUNCHES", "LAST LAUNCH"}, "binder-fastai-fastbo"}, // its room: 20
		{60, 20, []string{"RECLAIM"}, []string{"SIZE", "LAUNCH", "LAST"}, "binder-fastai-fastbook-"},
	} {
		d.send(tea.WindowSizeMsg{Width: c.w, Height: c.h})
		s := d.screen()
		head := line(s, "REPOSITORY")
		mustContain(t, head, c.head...)
		mustNotContain(t, head, c.gone...)
		mustContain(t, s, c.repo)
		if t.Failed() {
			t.Fatalf("at %dx%d:\n%s", c.w, c.h, s)
		}
	}
	// A filter to images nobody launched empties the launch columns: they
	// go before SIZE does.
	d.send(tea.WindowSizeMsg{Width: 60, Height: 20})
	d.press("/")
	d.typeText("base")
	d.press("enter")
	head := line(d.screen(), "REPOSITORY")
	mustContain(t, head, "SIZE")
	mustNotContain(t, head, "LAUNCH")
}

// On the Charts tab at 60 columns the dependency names stay whole and the
// PR column goes (the details say it); at 80 FILE goes first.
func TestChartsColumns(t *testing.T) {
	reg := newFakeRegistry(genInventory(20, 7, fixedNow), demoPolicy(0))
	d := newDriver(t, New(reg, prCharts(), WithNoColor(), WithSize(80, 24)))
	d.settle()
	for _, c := range []struct {
		w          int
		head, gone []string
	}{
		{160, []string{"FILE", "AGE", "PR"}, nil},
		{80, []string{"AGE", "PR"}, []string{"FILE"}},
		{60, []string{"AGE", "STATUS"}, []string{"FILE", " PR"}},
	} {
		d.send(tea.WindowSizeMsg{Width: c.w, Height: 24})
		s := d.screen()
		mustContain(t, line(s, "DEPENDENCY"), c.head...)
		mustNotContain(t, line(s, "DEPENDENCY"), c.gone...)
		mustContain(t, s, "ingress-nginx ", "cert-manager ")
	}
}

// After a re-sort the cursor stays on its image and on screen, at 80x24
// and 60x20; a re-sort while a rescan runs holds when the scan ends.
func TestRegistryResortKeepsCursorVisible(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {60, 20}} {
		d, reg, _ := fakeEnv(t, size[0], size[1])
		d.press("2", "pgdown", "pgdown", "j", "j")
		r := d.m.registry
		for _, k := range []string{"s", "s", "S", "s", "s", "S"} {
			cur := r.current()
			d.press(k)
			if got := r.current(); got != cur {
				t.Fatalf("%v %s: cursor moved from image %d to %d", size, k, cur, got)
			}
			if !strings.HasPrefix(line(d.screen(), "›["), "›[") || r.Cursor < r.Offset || r.Cursor >= r.Offset+r.Page {
				t.Fatalf("%v %s: cursor row %d off screen (offset %d, page %d)\n%s", size, k, r.Cursor, r.Offset, r.Page, d.screen())
			}
		}
		reg.Gate = make(chan struct{})
		cur := r.idx.inv.Images[r.current()].Ref()
		d.deliver(keyMsg("r"))
		d.deliver(keyMsg("s")) // while the scan runs
		want := r.idx.key
		close(reg.Gate)
		d.settle()
		if r.idx.key != want {
			t.Errorf("%v: the rescan dropped the sort %s for %s", size, want, r.idx.key)
		}
		if got := r.idx.inv.Images[r.current()].Ref(); got != cur {
			t.Errorf("%v: after the rescan the cursor is on %s, not %s", size, got, cur)
		}
		if !strings.HasPrefix(line(d.screen(), "›["), "›[") {
			t.Errorf("%v: cursor off screen after the rescan", size)
		}
	}
}

// ? on the Registry tab names the table's markers.
func TestHelpShowsMarkers(t *testing.T) {
	for _, w := range []int{60, 80} {
		d, _, _ := fakeEnv(t, w, 24)
		d.press("2", "?")
		mustContain(t, joined(d.screen()), "markers: [P] protected [L] locked [K] newest kept")
		d.press("?")
		mustNotContain(t, d.screen(), "markers:")
	}
}
