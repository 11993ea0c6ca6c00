package ui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

const benchImages = 100_000

// benchModel is a console on the Registry tab over 100,000 images, with a
// selection so the gauge shows a plan.
func benchModel(b *testing.B, w, h int) *Model {
	b.Helper()
	inv := genInventory(benchImages, 1, fixedNow)
	reg := newFakeRegistry(inv, demoPolicy(5<<40))
	m := New(reg, nil, WithSize(w, h))
	m.tab = tabRegistry
	m.registry.scanDone(scanDoneMsg{index: newImageIndex(inv, reg.Policy())})
	m.registry.Cursor = benchImages / 2
	m.registry.scroll()
	for i := range 50 {
		m.registry.selected[i*997] = true
		m.registry.nsel++
	}
	m.registry.plan = reg.Plan(inv, m.registry.selection(), false)
	return m
}

// BenchmarkRegistryFrame renders one frame of the Registry tab with
// 100,000 images: only the visible rows are rendered. Target: < 5 ms.
func BenchmarkRegistryFrame(b *testing.B) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		b.Run(strings.Join([]string{itoa(sz[0]), itoa(sz[1])}, "x"), func(b *testing.B) {
			m := benchModel(b, sz[0], sz[1])
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

// BenchmarkRegistryResort re-sorts 100,000 images by each key in turn
// (one re-sort per iteration). Target: < 100 ms.
func BenchmarkRegistryResort(b *testing.B) {
	m := benchModel(b, 80, 24)
	x := m.registry.idx
	b.ReportAllocs()
	b.ResetTimer()
	k := 0
	for b.Loop() {
		k = (k + 1) % int(numSortKeys)
		x.setSort(sortKey(k), false)
	}
}

// BenchmarkRegistrySortKey is one s key press, through Update.
func BenchmarkRegistrySortKey(b *testing.B) {
	m := benchModel(b, 80, 24)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.Update(tea.KeyPressMsg{Code: 's', Text: "s"})
	}
}

// BenchmarkRegistryFilter filters 100,000 images by a repository
// substring (one keystroke in the filter box).
func BenchmarkRegistryFilter(b *testing.B) {
	m := benchModel(b, 80, 24)
	x := m.registry.idx
	b.ReportAllocs()
	b.ResetTimer()
	q := []string{"numpy", "pangeo", "rstudio", ""}
	i := 0
	for b.Loop() {
		x.setFilter(q[i%len(q)])
		i++
	}
}

// BenchmarkRegistryPlan is the registry's Plan for a selection of 50 out
// of 100,000 images: what a space press asks for (run in a command).
func BenchmarkRegistryPlan(b *testing.B) {
	m := benchModel(b, 80, 24)
	r := m.registry
	sel := r.selection()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.svc.Plan(r.idx.inv, sel, false)
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
		reg := newFakeRegistry(snap, demoPolicy(5<<40))
		reg.Snap, reg.Gate = snap, make(chan struct{})
		m := New(reg, nil, WithNoColor(), WithSize(160, 48))
		m.registry.scanning = true // the fresh scan, gated, runs meanwhile
		msg := m.registry.loadSnapshot()()
		m.Update(msg)
		if v := m.View(); !strings.Contains(v.Content, "refreshing") {
			b.Fatalf("the first frame does not show the snapshot:\n%s", v.Content)
		}
		close(reg.Gate)
	}
}
