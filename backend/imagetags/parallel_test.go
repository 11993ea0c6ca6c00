package imagetags

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// The lookups of a file in parallel, and their benchmark.

// The lookups of a file run in parallel, bounded by WithConcurrency.
func TestParallelLookups(t *testing.T) {
	reg, tr := startRegistry(t, 10*time.Millisecond)
	content := manyImages(t, reg.Host(), 20, 0)
	for _, tc := range []struct {
		concurrency int
		peakAtLeast int32
		peakAtMost  int32
	}{{1, 1, 1}, {16, 4, 16}} {
		tr.peak.Store(0)
		c := New(WithRetry(fastRetry), WithConcurrency(tc.concurrency))
		_, results, err := c.CheckFile(t.Context(), "v.yaml", content, model.ImageRules{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			if r.Err != nil || r.Newest.Tag != "1.1.0" {
				t.Errorf("%s: %q %v", r.Reference.Path, r.Newest.Tag, r.Err)
			}
		}
		if p := tr.peak.Load(); p < tc.peakAtLeast || p > tc.peakAtMost {
			t.Errorf("concurrency %d: %d requests in flight at most, want %d to %d", tc.concurrency, p, tc.peakAtLeast, tc.peakAtMost)
		}
	}
}

// manyImages pushes n images (a/imgN: 1.0.0 and 1.1.0) and returns a
// values file of about lines lines that pins each at 1.0.0, in the three
// forms, between filler keys.
func manyImages(t testing.TB, host string, n, lines int) []byte {
	t.Helper()
	var b strings.Builder
	filler := max(0, lines-4*n) / max(n, 1)
	for i := range n {
		repo := fmt.Sprintf("apps/img%d", i)
		pushTags(t, host, repo, "1.0.0", "1.1.0")
		fmt.Fprintf(&b, "service%d:\n", i)
		for j := range filler {
			fmt.Fprintf(&b, "  setting%d: value %d # a comment\n", j, j)
		}
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "  image: %s/%s:1.0.0\n  replicas: 2\n", host, repo)
		case 1:
			fmt.Fprintf(&b, "  image:\n    repository: %s/%s\n    tag: \"1.0.0\"\n", host, repo)
		default:
			fmt.Fprintf(&b, "  image:\n    name: %s/%s\n    tag: '1.0.0'\n", host, repo)
		}
	}
	return []byte(b.String())
}

// BenchmarkCheckValuesFile checks a 1,000-line values file pinning 20
// images against a registry 10 ms away (every request waits 10 ms), with
// a new Client each time (nothing cached). The lookups run in parallel:
// a check takes about as long as its slowest lookup (slowest-lookup-ms),
// not the sum of them (sum-of-lookups-ms).
func BenchmarkCheckValuesFile(b *testing.B) {
	reg, _ := startRegistry(b, 10*time.Millisecond)
	content := manyImages(b, reg.Host(), 20, 1000)
	if n := strings.Count(string(content), "\n"); n < 990 || n > 1010 {
		b.Fatalf("%d lines", n)
	}
	var slowest, sum time.Duration // over all iterations
	b.ResetTimer()
	for b.Loop() {
		var slowestHere time.Duration
		_, results, err := New().CheckFile(context.Background(), "values.yaml", content, model.ImageRules{})
		if err != nil {
			b.Fatal(err)
		}
		if len(results) != 20 {
			b.Fatalf("%d results", len(results))
		}
		for _, r := range results {
			if r.Err != nil || r.Newest.Tag != "1.1.0" {
				b.Fatalf("%s: %q %v", r.Reference.Path, r.Newest.Tag, r.Err)
			}
			slowestHere = max(slowestHere, r.Elapsed)
			sum += r.Elapsed
		}
		slowest += slowestHere
	}
	b.ReportMetric(float64(slowest.Microseconds())/1000/float64(b.N), "slowest-lookup-ms/op")
	b.ReportMetric(float64(sum.Microseconds())/1000/float64(b.N), "sum-of-lookups-ms/op")
}
