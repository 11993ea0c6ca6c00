package ui

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/usage"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestUsageColumnsAndHolds: with usage sources the Registry tab shows
// launches and last launch, sorts by them, marks launched and in-use
// images, says what usage holds back, and refuses to select a launched
// image, saying why.
func TestUsageColumnsAndHolds(t *testing.T) {
	env := startDemo(t)
	d := demoConsole(t, env, 160, 48)
	d.press("2")
	mustContain(t, d.screen(), "LAUNCHES", "LAST LAUNCH", "[W]", "[R]", "usage holds ", "[W] launched [R] running [P] protected")
	x := d.m.registry.idx
	for _, c := range []struct{ header, column string }{
		{"sort: size", "SIZE▼"}, {"sort: reclaimable", "RECLAIM▼"}, {"sort: name", "REPOSITORY▼"},
		{"sort: launches (most launched first)", "LAUNCHES▼"}, {"sort: last launch (latest first)", "LAST LAUNCH▼"}, {"sort: age", "AGE▼"},
	} {
		d.press("s")
		mustContain(t, d.screen(), c.header, c.column)
		if c.column == "LAUNCHES▼" {
			for k := 1; k < len(x.order); k++ {
				if x.use.Usage.Of(x.order[k-1]).Launches < x.use.Usage.Of(x.order[k]).Launches {
					t.Fatalf("launches out of order at %d", k)
				}
			}
		}
	}
	// space on a launched image is refused, with why
	r := d.m.registry
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
	d.press("space")
	mustContain(t, d.screen(), "is held (launched ", " times in the last 30d, last ")
	if r.nsel != 0 {
		t.Error("a launched image was selected")
	}
}

// TestUsageUnknownBlocksDeletes: when a usage source fails, the status
// line says nothing can be deleted and every image is held [?].
func TestUsageUnknownBlocksDeletes(t *testing.T) {
	env := startDemo(t, demo.WithConfigure(func(c *config.Config) {
		c.Registry.Policy.Usage = append(c.Registry.Policy.Usage, config.UsageSource{Events: "/nonexistent/events-*.jsonl"})
	}))
	d := demoConsole(t, env, 160, 48)
	d.press("2")
	mustContain(t, d.screen(), "nothing can be deleted: a usage source could not be read", "[?]", "usage unknown: nothing can be deleted")
	d.press("a")
	mustContain(t, d.screen(), "policy plan: 0 images")
}

// BenchmarkRegistryFrameUsage is BenchmarkRegistryFrame with usage
// sources: the launch columns on 100,000 images.
func BenchmarkRegistryFrameUsage(b *testing.B) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		b.Run(itoa(sz[0])+"x"+itoa(sz[1]), func(b *testing.B) {
			m := benchModel(b, sz[0], sz[1])
			inv := m.registry.idx.inv
			r := rand.New(rand.NewPCG(1, 2))
			res := &usage.Result{Usage: model.Usage{Images: make([]model.ImageUsage, len(inv.Images))}}
			res.Window = 30 * 24 * time.Hour
			for i := range res.Usage.Images {
				if r.IntN(5) == 0 {
					res.Usage.Images[i] = model.ImageUsage{Launches: r.IntN(1000), LastLaunch: fixedNow.Add(-time.Duration(r.IntN(1000)) * time.Hour)}
				}
			}
			m.registry.idx = indexImages(inv, m.registry.svc.Policy(), res)
			if !strings.Contains(m.View().Content, "LAUNCH") { // LAUNCH when shrunk
				b.Fatal("no launch columns")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if v := m.View(); v.Content == "" {
					b.Fatal("empty frame")
				}
			}
		})
	}
}
