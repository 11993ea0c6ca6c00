package registry

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

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
				cache := emptyCache(b)
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

// BenchmarkACRCost counts what a scan of the ACR stand-in costs in
// requests, at the sizes acr purge was measured beside it (2,000 and
// 6,000 tags over 20 repositories of the embedded registry), on loopback
// and with every answer 25 ms late: cold (an empty digest cache, a new
// client), warm (a second run: a new client seeded with the first's
// inventory, as with the snapshot, the digest cache behind it), and, on
// loopback, cold with age_from built (a config read per image). Besides
// requests/image it reports each kind per image: token requests (the
// refresh token's exchange included), answers 401, listing calls,
// manifest and blob reads.
//
//	go test -run '^$' -bench ACRCost -benchtime 1x ./backend/registry
func BenchmarkACRCost(b *testing.B) {
	azuretest.HermeticEnv(b)
	for _, tags := range []int{2000, 6000} {
		b.Run(fmt.Sprintf("tags-%d", tags), func(b *testing.B) {
			reg := registrytest.Serve(b)
			pop := registrytest.Population{Repositories: 20, TagsPerRepository: tags / 20, Seed: 22, Now: testNow, Scale: 1, Concurrency: 16}
			if _, err := reg.Populate(b.Context(), pop); err != nil {
				b.Fatal(err)
			}
			id := azuretest.ServeIdentity(b)
			cred, err := id.Credential()
			if err != nil {
				b.Fatal(err)
			}
			for _, rtt := range []time.Duration{0, 25 * time.Millisecond} {
				srv := acrtest.Serve(b, reg, acrtest.WithIdentity(id), acrtest.WithoutRequestLog(), acrtest.WithLatency(rtt))
				where := "loopback"
				if rtt > 0 {
					where = fmt.Sprintf("rtt-%s", rtt)
				}
				// warm-deferred-locks: a headless run's scan, its
				// repository and tag locks left to where a plan deletes
				// (none here)
				cases := []struct {
					name    string
					warm    bool
					ageFrom string
					opts    []Option
				}{{"cold", false, AgeFromPushed, nil}, {"warm", true, AgeFromPushed, nil}, {"cold-age-from-built", false, AgeFromBuilt, nil},
					{"warm-deferred-locks", true, AgeFromPushed, []Option{WithDeferredLocks()}}}
				for _, tc := range cases {
					if rtt > 0 && tc.ageFrom == AgeFromBuilt {
						continue
					}
					b.Run(where+"/"+tc.name, func(b *testing.B) { acrCost(b, srv.Host(), cred, tc.warm, tc.ageFrom, tc.opts...) })
				}
			}
		})
	}
}

// acrCost is one case of BenchmarkACRCost.
func acrCost(b *testing.B, host string, cred azcore.TokenCredential, warm bool, ageFrom string, opts ...Option) {
	var kinds costCounts
	var images, scans int
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		cache := emptyCache(b)
		ct := newCountingTransport()
		client := func() *ACR {
			c, err := NewACR(host, cred, append([]Option{WithTransport(ct), WithDigestCache(cache), WithAgeFrom(ageFrom), WithClock(func() time.Time { return testNow })}, opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			return c
		}
		c := client()
		if warm { // a second run: a new client seeded with the first's inventory (the snapshot)
			first, err := c.Scan(b.Context(), nil)
			if err != nil {
				b.Fatal(err)
			}
			c = client()
			c.Seed(first)
		}
		ct.reset()
		b.StartTimer()
		start := time.Now()
		inv, err := c.Scan(b.Context(), nil)
		elapsed += time.Since(start)
		if err != nil || len(inv.Errors) != 0 {
			b.Fatalf("scan: %v %v", err, inv.Errors)
		}
		kinds.add(costOf(ct.snapshot()))
		images += len(inv.Images)
		scans++
	}
	n := float64(images)
	for k, unit := range []string{costTotal: "req/image", costToken: "tokens/image", costUnauthorized: "401s/image",
		costListing: "listing/image", costManifest: "manifests/image", costBlob: "blobs/image"} {
		b.ReportMetric(float64(kinds[k])/n, unit)
	}
	b.ReportMetric(n/elapsed.Seconds(), "images/s")
	b.ReportMetric(n/float64(scans), "images")
}

// costCounts are a scan's requests by kind (the cost* indexes).
type costCounts [costKinds]int

// Kinds of request BenchmarkACRCost counts.
const (
	costTotal = iota
	costToken
	costUnauthorized
	costListing
	costManifest
	costBlob
	costKinds
)

func (c *costCounts) add(o costCounts) {
	for k := range c {
		c[k] += o[k]
	}
}

// costOf counts calls by kind.
func costOf(calls []call) costCounts {
	var c costCounts
	for _, cl := range calls {
		c[costTotal]++
		switch {
		case strings.HasPrefix(cl.path, "/oauth2/"):
			c[costToken]++
		case strings.HasPrefix(cl.path, "/acr/v1/"):
			c[costListing]++
		case cl.kind == kindManifestDigest || cl.kind == kindManifestTag:
			c[costManifest]++
		case cl.kind == kindBlob:
			c[costBlob]++
		}
		if cl.status == http.StatusUnauthorized {
			c[costUnauthorized]++
		}
	}
	return c
}

// emptyCache opens an empty digest cache in a directory of the benchmark's.
func emptyCache(b *testing.B) *digestcache.Cache {
	b.Helper()
	cache, err := digestcache.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return cache
}
