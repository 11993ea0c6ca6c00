package ui

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// The Registry tab through the whole console: scanning, deleting (with its
// progress, rechecks and failures), the plan's refusals, and hiding
// untagged manifests.

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
	mustContain(t, s, "1 image changed since the scan and will be skipped", common.ShortDigests(moved.Digest.String()), "now points at it")
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
