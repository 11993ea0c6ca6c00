package registry

import (
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// BenchmarkScan2000Tags scans 2,000 tags over 20 repositories of a real
// in-memory distribution registry on loopback, and reports tags scanned per
// second and HTTP requests per tag (pings, list pages, manifests, configs).
func BenchmarkScan2000Tags(b *testing.B) {
	pop := registrytest.Population{
		Repositories:      20,
		TagsPerRepository: 100,
		Seed:              2000,
		Now:               testNow,
		Scale:             1,
		MultiPlatform:     true,
		Concurrency:       16,
	}
	reg, seeded := registrytest.ServeSeeded(b, pop)
	if seeded.Tags() != 2000 {
		b.Fatalf("seeded %d tags", seeded.Tags())
	}
	ct := newCountingTransport()
	c := newClient(b, reg.Host(), WithTransport(ct))
	b.ReportAllocs()
	var elapsed time.Duration
	var requests, scans int
	for b.Loop() {
		ct.reset()
		start := time.Now()
		inv, err := c.Scan(b.Context(), nil)
		elapsed += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if inv.Tags() != 2000 || len(inv.Errors) != 0 {
			b.Fatalf("scan found %d tags, errors %v", inv.Tags(), inv.Errors)
		}
		requests += len(ct.snapshot())
		scans++
	}
	b.ReportMetric(float64(2000*scans)/elapsed.Seconds(), "tags/s")
	b.ReportMetric(float64(requests)/float64(2000*scans), "req/tag")
}
