package ui

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/helmupgradebot/helmupgradebot/backend/usage"
	"github.com/helmupgradebot/helmupgradebot/model"
)

const benchImages = 100_000

// usageRegistry is a fake registry whose usage sources said res of every
// scan.
type usageRegistry struct {
	*fakeRegistry
	res *usage.Result
}

// Usage is what the usage sources said of a scan.
func (u usageRegistry) Usage(*model.Inventory) *usage.Result { return u.res }

// benchModel is a console on the Registry tab over 100,000 images, with a
// selection so the gauge shows a plan; use, when not nil, is what the
// registry's usage sources say. It gets there as an operator would: the
// scan, then space and pgdown, 50 times over, and space until one selects.
// The plans of all but the last space are not run: the next space makes
// them stale and the console would drop them.
func benchModel(b *testing.B, w, h int, use *usage.Result) *Model {
	b.Helper()
	inv := genInventory(benchImages, 1, fixedNow)
	fake := newFakeRegistry(inv, demoPolicy(5<<40))
	var reg RegistryService = fake
	if use != nil {
		reg = usageRegistry{fake, use}
	}
	d := newDriver(b, New(reg, nil, WithSize(w, h)))
	d.settle()
	for range 49 {
		d.m.Update(keyMsg("space"))
		d.m.Update(keyMsg("pgdown"))
	}
	for tries := 0; !d.m.registry.PlanReady(); tries++ { // until a space selects: a held image refuses
		if tries == 100 {
			b.Fatalf("no selection with its plan:\n%s", d.screen())
		}
		d.press("j", "space")
	}
	return d.m
}

// BenchmarkRegistryFrame renders one frame of the Registry tab with
// 100,000 images: only the visible rows are rendered. Target: < 5 ms.
func BenchmarkRegistryFrame(b *testing.B) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		b.Run(strings.Join([]string{itoa(sz[0]), itoa(sz[1])}, "x"), func(b *testing.B) {
			m := benchModel(b, sz[0], sz[1], nil)
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

// BenchmarkRegistryFrameUsage is BenchmarkRegistryFrame with usage
// sources: the launch columns on 100,000 images.
func BenchmarkRegistryFrameUsage(b *testing.B) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		b.Run(itoa(sz[0])+"x"+itoa(sz[1]), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			res := &usage.Result{Usage: model.Usage{Images: make([]model.ImageUsage, benchImages)}}
			res.Window = 30 * 24 * time.Hour
			for i := range res.Usage.Images {
				if r.IntN(5) == 0 {
					res.Usage.Images[i] = model.ImageUsage{Launches: r.IntN(1000), LastLaunch: fixedNow.Add(-time.Duration(r.IntN(1000)) * time.Hour)}
				}
			}
			m := benchModel(b, sz[0], sz[1], res)
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

// BenchmarkRegistrySortKey is one s key press, through Update.
func BenchmarkRegistrySortKey(b *testing.B) {
	m := benchModel(b, 80, 24, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.Update(tea.KeyPressMsg{Code: 's', Text: "s"})
	}
}

// BenchmarkRegistryPlan is the registry's Plan for a selection of 50 out
// of 100,000 images: what a space press asks for (run in a command).
func BenchmarkRegistryPlan(b *testing.B) {
	m := benchModel(b, 80, 24, nil)
	inv, sel := m.registry.Inventory(), m.registry.Selection()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.reg.Plan(inv, sel, false)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// BenchmarkOpenOnSnapshot100k is the console's start on a 100,000-image
// registry whose last scan was saved: the snapshot is indexed (sizes,
// holds, the first sort) and the first frame drawn while the fresh scan is
// still running. Target: under a second. (Loading the snapshot from disk
// is BenchmarkLoad100k in backend/snapshot.)
func BenchmarkOpenOnSnapshot100k(b *testing.B) {
	snap := genInventory(benchImages, 1, fixedNow)
	for b.Loop() {
		// The fresh scan runs meanwhile, held at the gate (what it would
		// find does not matter: it never gets there).
		reg := newFakeRegistry(genInventory(10, 1, fixedNow), demoPolicy(5<<40))
		reg.Snap, reg.Gate = snap, make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		d := newDriver(b, New(reg, nil, WithNoColor(), WithSize(160, 48), WithContext(ctx)))
		d.waitFor("refreshing")
		if v := d.m.View(); !strings.Contains(v.Content, "refreshing") {
			b.Fatalf("the first frame does not show the snapshot:\n%s", v.Content)
		}
		cancel() // the scan ends at the gate, without reading on
	}
}
