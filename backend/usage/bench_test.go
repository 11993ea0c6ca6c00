package usage

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/usage/usagetest"
)

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRead1M reads 1,000,000 launch events (about a month of
// mybinder.org) from a file, streaming them into a tally, and reports
// events/s (and per CPU second) and the heap the tally holds afterwards: it grows with the
// distinct refs launched (compare the two sizes), not with the events.
//
//	go test -run '^$' -bench Read1M -benchtime 3x ./backend/usage
func BenchmarkRead1M(b *testing.B) {
	const n = 1_000_000
	for _, refs := range []int{1_000, 50_000} {
		b.Run(fmt.Sprintf("refs=%d", refs), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "events.jsonl")
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			to := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
			if err := usagetest.Write(f, usagetest.Events{Targets: usagetest.Repos(refs, 7), From: to.AddDate(0, -1, 0), To: to, N: n, Seed: 7}); err != nil {
				b.Fatal(err)
			}
			f.Close()
			fi, _ := os.Stat(path)
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			var heap uint64
			var cpu time.Duration
			b.ResetTimer()
			for range b.N {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				t := NewTally(to.AddDate(0, 0, -14))
				c0 := cpuTime()
				st, err := readFile(path, t.Add)
				cpu += cpuTime() - c0
				if err != nil || st.Events != n || st.Bad != 0 {
					b.Fatalf("%+v %v", st, err)
				}
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap = after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc)
				runtime.KeepAlive(t)
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(heap)/(1<<20), "MiB-tally")
			// on a shared machine the wall clock counts other work too
			b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "events/cpu-s")
		})
	}
}
