package registry

import (
	"testing"

	"github.com/helmupgradebot/helmupgradebot/ui/internal/uitest"
)

const benchImages = 100_000

// benchIndex is the table's index of 100,000 images (the console's frame
// benchmarks are in ui).
func benchIndex(b *testing.B) *imageIndex {
	b.Helper()
	return newImageIndex(uitest.GenInventory(benchImages, 1, uitest.FixedNow), uitest.DemoPolicy(5<<40))
}

// BenchmarkRegistryResort re-sorts 100,000 images by each key in turn
// (one re-sort per iteration). Target: < 100 ms.
func BenchmarkRegistryResort(b *testing.B) {
	x := benchIndex(b)
	b.ReportAllocs()
	b.ResetTimer()
	k := 0
	for b.Loop() {
		k = (k + 1) % int(numSortKeys)
		x.setSort(sortKey(k), false)
	}
}

// BenchmarkRegistryFilter filters 100,000 images by a repository
// substring (one keystroke in the filter box).
func BenchmarkRegistryFilter(b *testing.B) {
	x := benchIndex(b)
	b.ReportAllocs()
	b.ResetTimer()
	q := []string{"numpy", "pangeo", "rstudio", ""}
	i := 0
	for b.Loop() {
		x.setFilter(q[i%len(q)])
		i++
	}
}
