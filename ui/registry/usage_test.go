package registry

import (
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/internal/uitest"
)

// TestUsageColumnsAndHolds: with usage sources the Registry tab shows
// launches and last launch, sorts by them, marks launched and in-use
// images, says what usage holds back, and refuses to select a launched
// image, saying why.
func TestUsageColumnsAndHolds(t *testing.T) {
	env := uitest.StartDemo(t)
	d := demoTab(t, env, 160, 48)
	uitest.MustContain(t, d.Screen(), "LAUNCHES", "LAST LAUNCH", "[W]", "[R]", "usage holds ", "[W] launched [R] running [P] protected")
	x := d.m.idx
	for _, c := range []struct{ header, column string }{
		{"sort: size", "SIZE▼"}, {"sort: reclaimable", "RECLAIM▼"}, {"sort: name", "REPOSITORY▼"},
		{"sort: launches (most launched first)", "LAUNCHES▼"}, {"sort: last launch (latest first)", "LAST LAUNCH▼"}, {"sort: age", "AGE▼"},
	} {
		d.Press("s")
		uitest.MustContain(t, d.Screen(), c.header, c.column)
		if c.column == "LAUNCHES▼" {
			for k := 1; k < len(x.order); k++ {
				if x.use.Usage.Of(x.order[k-1]).Launches < x.use.Usage.Of(x.order[k]).Launches {
					t.Fatalf("launches out of order at %d", k)
				}
			}
		}
	}
	// space on a launched image is refused, with why
	r := d.m
	pos := -1
	for p, i := range x.view {
		if x.holds[i] == model.HoldLaunched {
			pos = p
			break
		}
	}
	if pos < 0 {
		t.Fatal("no launched image in view")
	}
	r.Cursor = pos
	r.scroll()
	d.Press("space")
	uitest.MustContain(t, d.Screen(), "is held (launched ", " times in the last 30d, last ")
	if r.nsel != 0 {
		t.Error("a launched image was selected")
	}
}

// TestUsageUnknownBlocksDeletes: when a usage source fails, the status
// line says nothing can be deleted and every image is held [?].
func TestUsageUnknownBlocksDeletes(t *testing.T) {
	env := uitest.StartDemo(t, demo.WithConfigure(func(c *config.Config) {
		c.Registry.Policy.Usage = append(c.Registry.Policy.Usage, config.UsageSource{Events: "/nonexistent/events-*.jsonl"})
	}))
	d := demoTab(t, env, 160, 48)
	uitest.MustContain(t, d.Screen(), "nothing can be deleted: a usage source could not be read", "[?]", "usage unknown: nothing can be deleted")
	d.Press("a")
	uitest.MustContain(t, d.Screen(), "policy plan: 0 images")
}
