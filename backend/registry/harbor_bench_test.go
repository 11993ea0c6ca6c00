package registry

import (
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/helmupgradebot/helmupgradebot/backend/digestcache"
	"github.com/helmupgradebot/helmupgradebot/backend/harbortest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// BenchmarkHarborCost scans about 2,000 images (20 repositories, 2,280
// tags, in one Harbor project, shared base layers, one multi-platform
// index) through the Harbor stand-in, cold (an empty digest cache) and
// warm (the cache of a previous scan), and reports the requests per image
// by API:
//
//	go test -run '^$' -bench HarborCost -benchtime 2x ./backend/registry
func BenchmarkHarborCost(b *testing.B) {
	pop := registrytest.Population{Repositories: 20, TagsPerRepository: 114, Seed: 2000, Now: testNow, Scale: 1,
		MultiPlatform: true, Concurrency: 16, Prefix: "binder/"}
	reg := registrytest.Serve(b)
	if _, err := reg.Populate(b.Context(), pop); err != nil {
		b.Fatal(err)
	}
	srv := harbortest.Serve(b, reg, harbortest.WithClock(func() time.Time { return testNow }))
	srv.AddUser("robot$binder+cleaner", "s3cret", true)
	for _, warm := range []bool{false, true} {
		name := "cold"
		if warm {
			name = "warm"
		}
		b.Run(name, func(b *testing.B) {
			var images, scans int
			var counts RequestCounts
			for b.Loop() {
				b.StopTimer()
				cache, err := digestcache.Open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				opts := []Option{WithAuthenticator(&authn.Basic{Username: "robot$binder+cleaner", Password: "s3cret"}),
					WithDigestCache(cache), WithConcurrency(16), WithClock(func() time.Time { return testNow })}
				if warm {
					h, err := NewHarbor(srv.Host(), nil, opts...)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := h.Scan(b.Context(), nil); err != nil {
						b.Fatal(err)
					}
				}
				h, err := NewHarbor(srv.Host(), nil, append(opts, WithRequestCounts(&counts))...) // a new process: no seed
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				inv, err := h.Scan(b.Context(), nil)
				if err != nil {
					b.Fatal(err)
				}
				for _, e := range inv.Errors {
					if !e.Warning {
						b.Fatalf("scan error: %+v", e)
					}
				}
				images += len(inv.Images)
				scans++
			}
			total := int64(0)
			for api, n := range counts.Counts() {
				b.ReportMetric(float64(n)/float64(images), api+"/image")
				total += n
			}
			b.ReportMetric(float64(total)/float64(images), "req/image")
			b.ReportMetric(float64(images)/float64(scans), "images")
		})
	}
}
