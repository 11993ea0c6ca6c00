package digestcache

import (
	"encoding/binary"
	"runtime"
	"testing"
)

// benchContents is content i of a 100,000-manifest registry's cache: even
// i a manifest of about 1.6 KB, odd i its config of about 1 KB (the ACR
// stand-in's synthetic images have ten layers).
func benchContents(buf []byte, i int) []byte {
	n := 1600
	if i%2 == 1 {
		n = 1000
	}
	buf = buf[:0]
	for len(buf) < n {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(i)*0x9e3779b97f4a7c15+uint64(len(buf)))
	}
	return buf[:n]
}

const benchEntries = 200_000 // 100,000 manifests and their configs

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// fill stores benchEntries into the cache in dir as a first run does (a
// miss, then a Put) and ends the scan.
func fill(b *testing.B, dir string) *Cache {
	c := open(b, dir)
	s := c.BeginScan()
	buf := make([]byte, 0, 2048)
	for i := range benchEntries {
		data := benchContents(buf, i)
		d := digestOf(data)
		if _, _, ok := c.Get(d); ok {
			b.Fatal("hit in an empty cache")
		}
		if err := c.Put(d, "application/vnd.oci.image.manifest.v1+json", data); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.End(true); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkFill100k fills an empty cache with what a first run over
// 100,000 manifests stores (200,000 entries, 260 MB), hashing included,
// and reports the index's heap:
//
//	go test -run '^$' -bench Fill100k -benchtime 3x ./backend/digestcache
func BenchmarkFill100k(b *testing.B) {
	var heap uint64
	for b.Loop() {
		dir := b.TempDir()
		before := heapInUse()
		c := fill(b, dir)
		heap = heapInUse() - before
		runtime.KeepAlive(c)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchEntries), "ns/entry")
	b.ReportMetric(float64(heap)/(1<<20), "index-heap-MiB")
}

// BenchmarkLoad100k opens a cache of 200,000 entries and reads one: what
// loading its index costs a run that uses the cache.
//
//	go test -run '^$' -bench Load100k ./backend/digestcache
func BenchmarkLoad100k(b *testing.B) {
	dir := b.TempDir()
	fill(b, dir)
	d := digestOf(benchContents(nil, 7))
	b.ReportAllocs()
	var heap uint64
	for b.Loop() {
		before := heapInUse()
		c := open(b, dir)
		if _, _, ok := c.Get(d); !ok {
			b.Fatal("miss")
		}
		heap = heapInUse() - before
		runtime.KeepAlive(c)
	}
	b.ReportMetric(float64(heap)/(1<<20), "index-heap-MiB")
}
