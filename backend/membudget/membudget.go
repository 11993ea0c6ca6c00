// Package membudget keeps the process's soft memory limit
// (runtime/debug.SetMemoryLimit) a margin above its live heap, under the
// container's memory limit when there is one.
//
// Go's collector lets the heap grow to twice what was live after the last
// collection (GOGC=100), and returns the pages it frees to the system
// lazily: a scan of 100,000 manifests whose live heap peaks at 125 MB
// held 350 MiB. A soft limit counts the freed pages it still holds, so the
// runtime returns them and collects sooner: at 1.25 times the live heap
// the same scan held 175 MiB, for about a third more CPU (the figures in
// docs/performance.md). Tied to the live heap, the limit grows with a
// larger registry instead of making the collector run without end, as a
// fixed one would.
package membudget

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// Defaults.
const (
	// DefaultFloor is the least the limit is set to: below it a heap is
	// small enough to leave to the collector. A headless run over 100,000
	// manifests lists and reads them with 30-55 MiB live, and the binary
	// itself is about 25 MiB resident: 112 keeps its peak under 150 MiB
	// (128 left it at 148-149), for about a tenth more CPU.
	DefaultFloor = 112 << 20
	// DefaultRatio is the limit's margin over the live heap.
	DefaultRatio = 1.25
	// DefaultContainerShare is the part of a container's memory limit
	// the soft limit may take: the rest is the binary's pages and what
	// the runtime keeps outside the heap.
	DefaultContainerShare = 0.9
	// interval is how often the live heap is read.
	interval = 50 * time.Millisecond
)

// Option changes Start's defaults.
type Option func(*options)

type options struct {
	floor     int64
	ratio     float64
	share     float64
	container func() (uint64, error)
	getenv    func(string) string
}

// WithFloor sets the least limit, in bytes.
func WithFloor(n int64) Option { return func(o *options) { o.floor = n } }

// WithRatio sets the limit's margin over the live heap (more than 1).
func WithRatio(r float64) Option { return func(o *options) { o.ratio = r } }

// WithContainer reads the container's memory limit (0 or an error: none);
// the default reads the cgroup's.
func WithContainer(fn func() (uint64, error)) Option { return func(o *options) { o.container = fn } }

// WithGetenv reads the environment (GOMEMLIMIT).
func WithGetenv(fn func(string) string) Option { return func(o *options) { o.getenv = fn } }

// Limit is the soft limit for a live heap of live bytes: ratio times it,
// at least floor, at most ceiling when ceiling is positive.
func Limit(live uint64, floor int64, ratio float64, ceiling int64) int64 {
	l := float64(live) * ratio
	n := int64(math.MaxInt64)
	if l < float64(math.MaxInt64) {
		n = int64(l)
	}
	n = max(n, floor)
	if ceiling > 0 {
		n = min(n, ceiling)
	}
	return n
}

// Start keeps the soft memory limit at Limit of the live heap, read every
// 50 ms, until ctx ends or stop is called; stop puts back the limit there
// was. The limit there was (GOMEMLIMIT's, as a Kubernetes CronJob sets it
// from its memory limit) and the container's share are its ceiling;
// GOMEMLIMIT=off leaves the runtime alone.
func Start(ctx context.Context, opts ...Option) (stop func()) {
	o := options{floor: DefaultFloor, ratio: DefaultRatio, share: DefaultContainerShare, container: memlimit.FromCgroup, getenv: func(string) string { return "" }}
	for _, opt := range opts {
		opt(&o)
	}
	if o.getenv("GOMEMLIMIT") == "off" {
		return func() {}
	}
	before := debug.SetMemoryLimit(-1)
	var ceiling int64
	if before < math.MaxInt64 {
		ceiling = before
	}
	if c, err := o.container(); err == nil && c > 0 && c < math.MaxInt64 {
		share := int64(float64(c) * o.share)
		if ceiling == 0 || share < ceiling {
			ceiling = share
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		set := int64(-1)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			metrics.Read(sample)
			var live uint64
			if sample[0].Value.Kind() == metrics.KindUint64 {
				live = sample[0].Value.Uint64()
			}
			if n := Limit(live, o.floor, o.ratio, ceiling); n != set {
				debug.SetMemoryLimit(n)
				set = n
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
		debug.SetMemoryLimit(before)
	}
}
