package registry

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/internal/uitest"
)

// The Registry table at 80 and 60 columns: repository names keep their
// room, the launch columns shrink and then go, SIZE goes at 60.
func TestRegistryColumns(t *testing.T) {
	env := uitest.StartDemo(t)
	d := demoTab(t, env, 80, 24)
	for _, c := range []struct {
		w, h       int
		head, gone []string
		repo       string // what must show of a long repository name
	}{
		{160, 48, []string{"SIZE", "RECLAIM", "LAUNCHES", "LAST LAUNCH"}, nil, "binder-voila-dashboards-voila-gallery-68d4d3"},
		{80, 24, []string{"SIZE", "RECLAIM", "LAUNCH", "LAST"}, []string{"LAUNCHES", "LAST LAUNCH"}, "binder-fastai-fastbo"}, // its room: 20
		{60, 20, []string{"RECLAIM"}, []string{"SIZE", "LAUNCH", "LAST"}, "binder-fastai-fastbook-"},
	} {
		d.Send(tea.WindowSizeMsg{Width: c.w, Height: c.h})
		s := d.Screen()
		head := uitest.Line(s, "REPOSITORY")
		uitest.MustContain(t, head, c.head...)
		uitest.MustNotContain(t, head, c.gone...)
		uitest.MustContain(t, s, c.repo)
		if t.Failed() {
			t.Fatalf("at %dx%d:\n%s", c.w, c.h, s)
		}
	}
	// A filter to images nobody launched empties the launch columns: they
	// go before SIZE does.
	d.Send(tea.WindowSizeMsg{Width: 60, Height: 20})
	d.Press("/")
	d.TypeText("base")
	d.Press("enter")
	head := uitest.Line(d.Screen(), "REPOSITORY")
	uitest.MustContain(t, head, "SIZE")
	uitest.MustNotContain(t, head, "LAUNCH")
}

// After a re-sort the cursor stays on its image and on screen, at 80x24
// and 60x20; a re-sort while a rescan runs holds when the scan ends.
func TestRegistryResortKeepsCursorVisible(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {60, 20}} {
		d, reg := tabEnv(t, size[0], size[1])
		d.Press("pgdown", "pgdown", "j", "j")
		r := d.m
		for _, k := range []string{"s", "s", "S", "s", "s", "S"} {
			cur := r.Current()
			d.Press(k)
			if got := r.Current(); got != cur {
				t.Fatalf("%v %s: cursor moved from image %d to %d", size, k, cur, got)
			}
			if !strings.HasPrefix(uitest.Line(d.Screen(), "›["), "›[") || r.Cursor < r.Offset || r.Cursor >= r.Offset+r.Page {
				t.Fatalf("%v %s: cursor row %d off screen (offset %d, page %d)\n%s", size, k, r.Cursor, r.Offset, r.Page, d.Screen())
			}
		}
		reg.Gate = make(chan struct{})
		cur := r.idx.inv.Images[r.Current()].Ref()
		d.Deliver(uitest.Key("r"))
		d.Deliver(uitest.Key("s")) // while the scan runs
		want := r.idx.key
		close(reg.Gate)
		d.Settle()
		if r.idx.key != want {
			t.Errorf("%v: the rescan dropped the sort %s for %s", size, want, r.idx.key)
		}
		if got := r.idx.inv.Images[r.Current()].Ref(); got != cur {
			t.Errorf("%v: after the rescan the cursor is on %s, not %s", size, got, cur)
		}
		if !strings.HasPrefix(uitest.Line(d.Screen(), "›["), "›[") {
			t.Errorf("%v: cursor off screen after the rescan", size)
		}
	}
}

// Where the registry records pulls and sizes of its own (ECR), the table
// shows PULLED and the registry's size under its own name; an image never
// pulled shows "-"; the pulled hold's marker is in the legend. Without
// them neither column shows.
func TestRegistryPulledAndVendorColumns(t *testing.T) {
	inv := uitest.GenInventory(20, 3, uitest.FixedNow)
	plain := uitest.GenInventory(20, 3, uitest.FixedNow)
	inv.VendorSizeName = "ECR size"
	for _, repo := range []string{"binder-ipython-073d0-aab39b8e", "binder-rstudio-48c68-f9cd2d56"} {
		inv.RegistryRules = append(inv.RegistryRules, model.RegistryRule{Repository: repo, Kind: "ECR lifecycle policy", Summary: "rule 1: expire untagged images pushed more than 14 days ago"})
	}
	for i := range inv.Images {
		inv.Images[i].VendorSize = int64(i+1) << 30
		if i%2 == 0 {
			inv.Images[i].LastPulled = uitest.FixedNow.Add(-time.Duration(i+1) * 24 * time.Hour)
		}
	}
	for _, c := range []struct {
		name       string
		inv        *model.Inventory
		head, gone []string
	}{
		{"ecr", inv, []string{"PULLED", "ECR SIZE", "RECLAIM"}, nil},
		{"distribution", plain, []string{"RECLAIM"}, []string{"PULLED", "ECR SIZE"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newConsole(t, uitest.NewRegistry(c.inv, uitest.DemoPolicy(15<<30)), 160, 40)
			d.Settle()
			s := d.Screen()
			head := uitest.Line(s, "REPOSITORY")
			uitest.MustContain(t, head, c.head...)
			uitest.MustNotContain(t, head, c.gone...)
			if c.inv == inv {
				uitest.MustContain(t, s, "1d ago", "1.0 GiB")
				uitest.MustContain(t, d.m.idx.legend(), "[D] pulled recently")
				uitest.MustContain(t, s, "ECR lifecycle policy of binder-ipython-073d0-aab39b8e (the registry expires by it on its own): rule 1")
			}
		})
	}
}
