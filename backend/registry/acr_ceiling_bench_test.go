package registry

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/digestcache"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// BenchmarkACRScanCeiling measures, in one run on the ACR stand-in's
// synthetic registry (100 manifests a repository: BinderHub-like images,
// untagged leftovers, one index per repository), the same phases as
// BenchmarkScanCeiling: the ceiling (the recorded requests of a scan
// replayed by 1 to 64 parallel clients, the best), helmupgradebot's scan cold (no
// digest cache), on a first run (filling an empty digest cache), warm from
// the digest cache alone, and warm as a second run is (seeded with the
// last run's inventory, the digest cache behind it),
// a sequential walk (a crane loop, logging in per repository) and
// go-containerregistry's defaults. Two settings:
//
//   - loopback/100000: 100,000 manifests, nothing between client and
//     stand-in (HELMUPGRADEBOT_BENCH_MANIFESTS sets another size);
//   - rtt-10ms/2000: 2,000 manifests, every answer 10 ms late, as a
//     registry in another network is: what parallel requests buy.
//
// Run it with:
//
//	go test -run '^$' -bench ACRScanCeiling -benchtime 1x -timeout 90m ./backend/registry
func BenchmarkACRScanCeiling(b *testing.B) {
	azuretest.HermeticEnv(b)
	manifests := 100_000
	if v, err := strconv.Atoi(os.Getenv("HELMUPGRADEBOT_BENCH_MANIFESTS")); err == nil && v > 0 {
		manifests = v
	}
	b.Run(fmt.Sprintf("loopback/%d", manifests), func(b *testing.B) { acrCeiling(b, manifests, 0) })
	b.Run("rtt-10ms/2000", func(b *testing.B) { acrCeiling(b, 2000, 10*time.Millisecond) })
}

func acrCeiling(b *testing.B, manifests int, rtt time.Duration) {
	id := azuretest.ServeIdentity(b)
	spec := acrtest.Synthetic{Repositories: max(manifests/100, 1), ManifestsPerRepository: min(manifests, 100), Seed: 1, Now: testNow}
	srv := acrtest.ServeSynthetic(b, spec, acrtest.WithIdentity(id), acrtest.WithoutRequestLog(), acrtest.WithLatency(rtt))
	cred, err := id.Credential()
	if err != nil {
		b.Fatal(err)
	}
	var last *model.Inventory
	scanSeeded := func(seed *model.Inventory, opts ...Option) (int, error) {
		c, err := NewACR(srv.Host(), cred, append([]Option{WithClock(func() time.Time { return testNow })}, opts...)...)
		if err != nil {
			return 0, err
		}
		if seed != nil {
			c.Seed(seed)
		}
		inv, err := c.Scan(b.Context(), nil)
		if err != nil {
			return 0, err
		}
		if len(inv.Errors) != 0 {
			return 0, fmt.Errorf("scan: %v", inv.Errors)
		}
		last = inv
		return len(inv.Images), nil
	}
	scan := func(opts ...Option) (int, error) { return scanSeeded(nil, opts...) }

	// Record what a scan asks for.
	rec := newRecordingTransport()
	images, err := scan(WithTransport(rec))
	if err != nil {
		b.Fatal(err)
	}
	total := spec.Repositories * spec.ManifestsPerRepository
	if spec.ManifestsPerRepository >= 10 { // an index's two platform manifests are part of its image
		if want := total - 2*spec.Repositories; images != want {
			b.Fatalf("the scan found %d images, the registry holds %d", images, want)
		}
	}
	requests := rec.requests()
	auth := authn.FromConfig(authn.AuthConfig{IdentityToken: srv.IssueRefreshToken("bench")})

	c := &ceilingRun{images: total} // rates count manifests, platform manifests included
	c.ceilingPhase(b, requests)
	c.phase(b, "helmupgradebot-cold", func() (int, error) { // --no-cache
		ct := newCountingTransport()
		_, err := scan(WithTransport(ct))
		return len(ct.snapshot()), err
	})
	c.phase(b, "helmupgradebot-cold-concurrency-64", func() (int, error) { // registry.concurrency: 64
		ct := newCountingTransport()
		_, err := scan(WithTransport(ct), WithConcurrency(64))
		return len(ct.snapshot()), err
	})
	var cache *digestcache.Cache                                 // the first run's, filled
	c.phase(b, "helmupgradebot-first-run", func() (int, error) { // filling an empty digest cache
		empty, err := digestcache.Open(b.TempDir())
		if err != nil {
			return 0, err
		}
		ct := newCountingTransport()
		_, err = scan(WithTransport(ct), WithDigestCache(empty))
		cache = empty
		return len(ct.snapshot()), err
	})
	if cache == nil { // the phase did not run
		if cache, err = digestcache.Open(b.TempDir()); err != nil {
			b.Fatal(err)
		}
		if _, err := scan(WithDigestCache(cache)); err != nil {
			b.Fatal(err)
		}
	}
	c.phase(b, "helmupgradebot-warm-cache", func() (int, error) { // no snapshot: every digest from the cache
		ct := newCountingTransport()
		_, err := scan(WithTransport(ct), WithDigestCache(cache))
		return len(ct.snapshot()), err
	})
	prev := last
	c.phase(b, "helmupgradebot-warm", func() (int, error) { // a second run: seeded with the last snapshot
		ct := newCountingTransport()
		_, err := scanSeeded(prev, WithTransport(ct), WithDigestCache(cache))
		return len(ct.snapshot()), err
	})
	c.phase(b, "sequential-walk", func() (int, error) { return sequentialWalk(b.Context(), srv.Host(), auth) })
	c.phase(b, "ggcr-defaults", func() (int, error) { return ggcrLoop(b.Context(), srv.Host(), auth) })
}
