package acrtest_test

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// BenchmarkListManifests pages through the /acr/v1 listing of one
// repository of about 5,000 manifests (50 pages of 100), as a scan of a big
// registry does; the first (cold) pass, which reads every manifest and
// config from storage once, is not timed. Each timed pass checks the
// repository's fingerprint on its first page and reuses the snapshot for
// the others.
func BenchmarkListManifests(b *testing.B) {
	e := start(b)
	seeded, err := e.reg.Populate(context.Background(), registrytest.Population{Repositories: 1, TagsPerRepository: 6000, Seed: 1, Scale: 1})
	if err != nil {
		b.Fatal(err)
	}
	repo := seeded.Repositories[0]
	tok := e.accessToken(b, "repository:"+repo+":metadata_read")
	listAll := func() int {
		n, path := 0, "/acr/v1/"+repo+"/_manifests"
		for path != "" {
			r := e.do(b, "GET", path, bearer(tok), "")
			if r.status != 200 {
				b.Fatalf("%d %s", r.status, r.raw)
			}
			ms, _ := r.body["manifests"].([]any)
			n += len(ms)
			path = strings.TrimSuffix(strings.TrimPrefix(r.header.Get("Link"), "<"), `>; rel="next"`)
		}
		return n
	}
	manifests := listAll()
	b.ResetTimer()
	for range b.N {
		listAll()
	}
	b.ReportMetric(float64(manifests), "manifests")
}

// BenchmarkNewSynthetic100k makes up a registry of 100,000 manifests
// (1,000 repositories of 100) and reports what it costs the process that
// holds it:
//
//	go test -run '^$' -bench NewSynthetic100k -benchtime 1x ./backend/acrtest
func BenchmarkNewSynthetic100k(b *testing.B) {
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		srv, err := acrtest.NewSynthetic(b.Context(), acrtest.Synthetic{Repositories: 1000, ManifestsPerRepository: 100, Seed: 1, Now: synthNow})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB")
		srv.Close()
	}
}
