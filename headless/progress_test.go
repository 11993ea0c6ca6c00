package headless

import (
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/registry"
)

// TestProgressLog: a headless scan logs its progress at the start, every
// few seconds and once at the end, however often the scan reports it (an
// ACR scan reports every manifest it reads).
func TestProgressLog(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	listing := registry.Progress{Repositories: 10}
	listed := registry.Progress{Repositories: 10, RepositoriesDone: 10, Images: 1000}
	reading := func(n int) registry.Progress { p := listed; p.ImagesDone = n; return p }
	tests := []struct {
		name  string
		at    []time.Duration
		p     []registry.Progress
		wantN int
	}{
		{"every read within a second", []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond},
			[]registry.Progress{listing, listed, reading(1), reading(2)}, 1},
		{"a read every second for 12 s", seconds(12), repeat(reading(5), 12), 3},
		{"the end, then the final call", []time.Duration{0, time.Second, 2 * time.Second},
			[]registry.Progress{reading(999), reading(1000), reading(1000)}, 2},
		{"distribution: all listed images read before the last repository", []time.Duration{0, time.Second},
			[]registry.Progress{{Repositories: 10, RepositoriesDone: 5, Images: 50, ImagesDone: 50}, {Repositories: 10, RepositoriesDone: 6, Images: 60, ImagesDone: 60}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var l progressLog
			n := 0
			for i, p := range tc.p {
				if l.due(t0.Add(tc.at[i]), p) {
					n++
				}
			}
			if n != tc.wantN {
				t.Errorf("logged %d times, want %d", n, tc.wantN)
			}
		})
	}
}

func seconds(n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i) * time.Second
	}
	return out
}

func repeat(p registry.Progress, n int) []registry.Progress {
	out := make([]registry.Progress, n)
	for i := range out {
		out[i] = p
	}
	return out
}
