package membudget

import (
	"context"
	"errors"
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name    string
		live    uint64
		ceiling int64
		want    int64
	}{
		{"nothing live: the floor", 0, 0, 112 * mib},
		{"a small heap: the floor", 50 * mib, 0, 112 * mib},
		{"just over the floor", 100 * mib, 0, 125 * mib},
		{"a large heap: its margin", 1000 * mib, 0, 1250 * mib},
		{"under a container's limit", 1000 * mib, 900 * mib, 900 * mib},
		{"a container's limit under the floor", 0, 64 * mib, 64 * mib},
		{"the edge of the type", math.MaxUint64, 0, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Limit(tc.live, DefaultFloor, DefaultRatio, tc.ceiling); got != tc.want {
				t.Errorf("Limit(%d, ceiling %d) = %d, want %d", tc.live, tc.ceiling, got, tc.want)
			}
		})
	}
}

// waitLimit waits until the soft memory limit is want.
func waitLimit(t *testing.T, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for got := debug.SetMemoryLimit(-1); got != want; got = debug.SetMemoryLimit(-1) {
		if time.Now().After(deadline) {
			t.Fatalf("memory limit %d, want %d", got, want)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStart: the limit follows the live heap above the floor, stays under
// the container's share and under a limit already set (GOMEMLIMIT), is
// left alone with GOMEMLIMIT=off, and is put back by stop.
func TestStart(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "GOMEMLIMIT" {
				return v
			}
			return ""
		}
	}
	noContainer := WithContainer(func() (uint64, error) { return 0, errors.New("no cgroup") })

	stop := Start(t.Context(), WithGetenv(env("")), WithFloor(1<<40), noContainer)
	waitLimit(t, 1<<40)
	stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("after stop the limit is %d, want %d", got, before)
	}

	// 64 MiB live: ratio 2 makes the limit at least 128 MiB above a floor of 1
	keep := make([]byte, 64<<20)
	for i := range keep {
		keep[i] = 1
	}
	stop = Start(t.Context(), WithGetenv(env("")), WithFloor(1), WithRatio(2), noContainer)
	deadline := time.Now().Add(10 * time.Second)
	for debug.SetMemoryLimit(-1) < 128<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("limit %d with 64 MiB live, want at least 128 MiB", debug.SetMemoryLimit(-1))
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	runtime.KeepAlive(keep)
	stop()

	stop = Start(t.Context(), WithGetenv(env("")), WithFloor(1<<40), WithContainer(func() (uint64, error) { return 1 << 30, nil }))
	share := DefaultContainerShare
	waitLimit(t, int64(float64(1<<30)*share))
	stop()

	// a limit already set (GOMEMLIMIT) is the ceiling; off leaves it be
	debug.SetMemoryLimit(300 << 20)
	stop = Start(t.Context(), WithGetenv(env("300MiB")), WithFloor(1<<40), noContainer)
	waitLimit(t, 300<<20)
	stop()
	stop = Start(t.Context(), WithGetenv(env("300MiB")), WithFloor(1), noContainer)
	deadline = time.Now().Add(10 * time.Second)
	for debug.SetMemoryLimit(-1) >= 300<<20 { // under it, following the live heap
		if time.Now().After(deadline) {
			t.Fatalf("limit %d, want it under GOMEMLIMIT's 300 MiB", debug.SetMemoryLimit(-1))
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("after stop the limit is %d, want GOMEMLIMIT's", got)
	}
	debug.SetMemoryLimit(before)
	stop = Start(t.Context(), WithGetenv(env("off")), WithFloor(1<<40), noContainer)
	time.Sleep(3 * interval)
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("with GOMEMLIMIT=off the limit is %d, want it left at %d", got, before)
	}
	stop()

	// a cancelled context ends it too; stop still puts the limit back
	ctx, cancel := context.WithCancel(t.Context())
	stop = Start(ctx, WithGetenv(env("")), WithFloor(1<<40), noContainer)
	waitLimit(t, 1<<40)
	cancel()
	stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("after cancel and stop the limit is %d, want %d", got, before)
	}
}
