package registry

import (
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/ui/internal/uitest"
)

// TestRegistryOpensOnSnapshot: with a snapshot of the last scan the table
// shows at once, marked as of its time, while the fresh scan runs; no
// delete is confirmed on it; the fresh scan keeps the cursor and the
// selection on the same images.
func TestRegistryOpensOnSnapshot(t *testing.T) {
	inv := uitest.GenInventory(60, 7, uitest.FixedNow)
	reg := uitest.NewRegistry(inv, uitest.DemoPolicy(15<<30))
	snap := uitest.GenInventory(60, 7, uitest.FixedNow.Add(-48*time.Hour))
	snap.ScannedAt = uitest.FixedNow.Add(-2 * time.Hour)
	reg.Snap, reg.Gate = snap, make(chan struct{})
	d := newConsole(t, reg, 120, 40)
	d.WaitFor("refreshing…")
	s := uitest.Joined(d.Screen())
	uitest.MustContain(t, s, "as of "+snap.ScannedAt.Local().Format(time.DateTime)+", refreshing…", "REPOSITORY", "60 images")
	for _, k := range []string{"j", "j", "space"} { // keys while the scan still runs
		d.Deliver(uitest.Key(k))
	}
	for d.m.nsel == 0 || !d.m.planReady {
		if !d.Step(5 * time.Second) {
			t.Fatal("the selection's plan never came")
		}
	}
	sel := d.m.idx.inv.Images[d.m.Selection()[0]].Ref()
	cur := d.m.idx.inv.Images[d.m.Current()].Ref()
	d.Deliver(uitest.Key("d"))
	uitest.MustContain(t, uitest.Joined(d.Screen()), "deletes wait for the fresh scan")
	if d.box != nil {
		t.Fatal("a delete box opened on the snapshot")
	}
	close(reg.Gate)
	d.Settle()
	r := d.m
	if r.stale || r.nsel != 1 {
		t.Fatalf("after the fresh scan: stale %v, %d selected", r.stale, r.nsel)
	}
	if got := r.idx.inv.Images[r.Selection()[0]].Ref(); got != sel {
		t.Errorf("selection moved to %s, want %s", got, sel)
	}
	if got := r.idx.inv.Images[r.Current()].Ref(); got != cur {
		t.Errorf("cursor moved to %s, want %s", got, cur)
	}
	d.Press("r") // the error about the snapshot stays until a key; a rescan now is fresh
	uitest.MustNotContain(t, uitest.Joined(d.Screen()), "refreshing")
}
