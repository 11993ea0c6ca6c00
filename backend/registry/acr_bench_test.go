package registry

import (
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/digestcache"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// BenchmarkScan5000 scans about 5,000 manifests (50 repositories of 100
// tags, shared base layers, one multi-platform index per repository) cold
// and warm (digest cache), through the ACR stand-in with a managed
// identity and through the distribution API of the same registry, and
// reports manifests/s and requests per manifest:
//
//	go test -run '^$' -bench Scan5000 -benchtime 2x ./backend/registry
func BenchmarkScan5000(b *testing.B) {
	azuretest.HermeticEnv(b)
	pop := registrytest.Population{Repositories: 50, TagsPerRepository: 100, Seed: 5000, Now: testNow, Scale: 1, MultiPlatform: true, Concurrency: 16}
	reg := registrytest.Serve(b)
	if _, err := reg.Populate(b.Context(), pop); err != nil {
		b.Fatal(err)
	}
	id := azuretest.ServeIdentity(b)
	srv := acrtest.Serve(b, reg, acrtest.WithIdentity(id))

	cases := []struct {
		name string
		warm bool
		acr  bool
	}{{"distribution/cold", false, false}, {"distribution/warm", true, false}, {"acr/cold", false, true}, {"acr/warm", true, true}}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var requests, manifests, scans int
			var elapsed time.Duration
			for b.Loop() {
				b.StopTimer()
				cache, err := digestcache.Open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				ct := newCountingTransport()
				opts := []Option{WithTransport(ct), WithDigestCache(cache), WithConcurrency(16), WithClock(func() time.Time { return testNow })}
				var scan func() (*model.Inventory, error)
				if tc.acr {
					cred, err := id.Credential()
					if err != nil {
						b.Fatal(err)
					}
					c, err := NewACR(srv.Host(), cred, opts...)
					if err != nil {
						b.Fatal(err)
					}
					scan = func() (*model.Inventory, error) { return c.Scan(b.Context(), nil) }
				} else {
					c, err := New(reg.Host(), opts...)
					if err != nil {
						b.Fatal(err)
					}
					scan = func() (*model.Inventory, error) { return c.Scan(b.Context(), nil) }
				}
				if tc.warm {
					if _, err := scan(); err != nil {
						b.Fatal(err)
					}
				}
				ct.reset()
				b.StartTimer()
				start := time.Now()
				inv, err := scan()
				elapsed += time.Since(start)
				if err != nil || len(inv.Errors) != 0 {
					b.Fatalf("scan: %v %v", err, inv.Errors)
				}
				requests += len(ct.snapshot())
				manifests += len(inv.Images)
				scans++
			}
			b.ReportMetric(float64(manifests)/elapsed.Seconds(), "manifests/s")
			b.ReportMetric(float64(requests)/float64(manifests), "req/manifest")
			b.ReportMetric(float64(manifests)/float64(scans), "manifests")
		})
	}
}
