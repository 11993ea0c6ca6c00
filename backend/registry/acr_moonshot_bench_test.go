package registry

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// The rescan's round trip and requests in flight.
const rescanRTT, rescanInFlight = 30 * time.Millisecond, 16

// BenchmarkACRWarmRescan is issue 22's moonshot: a warm rescan (a second
// run, seeded with the last inventory, so no manifest is read) of 100,000
// ACR manifests in 1,000 repositories of 100, every answer 30 ms late, 16
// requests in flight (registry.concurrency's default). The seed comes
// from a scan of a twin stand-in on loopback (the same synthetic registry,
// the same digests). It reports where the time goes:
//
//   - s: the rescan, start to inventory;
//   - listing-s: until the last repository is listed with its locks
//     (its manifest listing, its attributes, its tag listing);
//   - rest-s: the rest (taking the seed, assembling the inventory);
//   - floor-s: what its requests cost at that round trip and
//     concurrency, requests × 30 ms / 16, and listing-floor-s the same for
//     the manifest listing alone (the catalog and the manifest pages, no
//     lock read: the floor the issue names, 1,000 pages);
//   - requests by kind: manifest pages, tag pages, repository
//     attributes, catalog pages, tokens, manifests read;
//   - lock-repos: the repositories whose locks ReadPlannedLocks read.
//
// Three cases: every-lock reads every repository's locks in the scan (as
// the console does); deferred/ leaves repository and tag locks to
// ReadPlannedLocks (as headless runs do), under a policy that deletes
// nothing, and under one that deletes the oldest day's images (an hourly
// run in the steady state).
//
// Run it with (HELMUPGRADEBOT_BENCH_MANIFESTS sets another size):
//
//	go test -run '^$' -bench ACRWarmRescan -benchtime 1x -timeout 30m ./backend/registry
func BenchmarkACRWarmRescan(b *testing.B) {
	azuretest.HermeticEnv(b)
	manifests := 100_000
	if v, err := strconv.Atoi(os.Getenv("HELMUPGRADEBOT_BENCH_MANIFESTS")); err == nil && v > 0 {
		manifests = v
	}
	id := azuretest.ServeIdentity(b)
	cred, err := id.Credential()
	if err != nil {
		b.Fatal(err)
	}
	spec := acrtest.Synthetic{Repositories: max(manifests/100, 1), ManifestsPerRepository: min(manifests, 100), Seed: 1, Now: testNow}
	near := acrtest.ServeSynthetic(b, spec, acrtest.WithIdentity(id), acrtest.WithoutRequestLog())
	far := acrtest.ServeSynthetic(b, spec, acrtest.WithIdentity(id), acrtest.WithoutRequestLog(), acrtest.WithLatency(rescanRTT))
	c, err := NewACR(near.Host(), cred, WithClock(func() time.Time { return testNow }))
	if err != nil {
		b.Fatal(err)
	}
	seed, err := c.Scan(b.Context(), nil)
	if err != nil || len(seed.Errors) > 0 {
		b.Fatalf("the seeding scan: %v %v", err, seed.Errors)
	}

	// The oldest day's images: what an hourly run deletes once the
	// registry is in its steady state (an age policy deleting what has
	// just come of age).
	oldest := testNow
	for _, im := range seed.Images {
		if im.Created.Before(oldest) {
			oldest = im.Created
		}
	}
	modes := []struct {
		name     string
		deferred bool
		pol      model.Policy
	}{
		{"every-lock", false, model.Policy{}},
		{"deferred/nothing-to-delete", true, model.Policy{}},
		{"deferred/oldest-day", true, model.Policy{MaxAge: testNow.Sub(oldest) - 24*time.Hour}},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			warmRescan(b, far.Host(), cred, seed, m.deferred, m.pol, manifests, spec.Repositories)
		})
	}
}

// warmRescan is one case of BenchmarkACRWarmRescan: a rescan of the
// ACR at host seeded with seed; deferred, its locks left to
// ReadPlannedLocks under pol.
func warmRescan(b *testing.B, host string, cred azcore.TokenCredential, seed *model.Inventory, deferred bool, pol model.Policy, manifests, repositories int) {
	const rtt, inFlight = rescanRTT, rescanInFlight
	clock := WithClock(func() time.Time { return testNow })
	var runs, total, listing float64
	var kinds rescanCounts
	var lockRepos int
	for b.Loop() {
		ct := newCountingTransport()
		opts := []Option{clock, WithTransport(ct), WithConcurrency(inFlight)}
		if deferred {
			opts = append(opts, WithDeferredLocks())
		}
		c, err := NewACR(host, cred, opts...)
		if err != nil {
			b.Fatal(err)
		}
		c.Seed(seed)
		var mu sync.Mutex
		var listed time.Duration
		start := time.Now()
		inv, err := c.Scan(b.Context(), func(p Progress) {
			mu.Lock()
			defer mu.Unlock()
			if listed == 0 && p.Repositories > 0 && p.RepositoriesDone == p.Repositories {
				listed = time.Since(start)
			}
		})
		unread := 0
		if err == nil && deferred {
			unread = len(inv.LocksUnread)
			err = ReadPlannedLocks(b.Context(), c, inv, func(inv *model.Inventory) model.Plan {
				return model.MakePlan(inv, model.Request{Policy: pol, Now: testNow, Force: true})
			})
			lockRepos = unread - len(inv.LocksUnread)
		}
		elapsed := time.Since(start)
		if err != nil || len(inv.Errors) > 0 || len(inv.Images) != len(seed.Images) {
			b.Fatalf("the rescan: %v %v, %d images of %d", err, inv.Errors, len(inv.Images), len(seed.Images))
		}
		runs++
		total += elapsed.Seconds()
		listing += listed.Seconds()
		kinds = rescanKinds(ct.snapshot())
	}
	requests := kinds.total()
	floor := func(n int) float64 { return float64(n) * rtt.Seconds() / inFlight }
	b.ReportMetric(total/runs, "s")
	b.ReportMetric(listing/runs, "listing-s")
	b.ReportMetric((total-listing)/runs, "rest-s")
	b.ReportMetric(floor(requests), "floor-s")
	b.ReportMetric(floor(kinds.manifestPages+kinds.catalogPages), "listing-floor-s")
	b.ReportMetric(float64(requests), "requests")
	b.ReportMetric(float64(kinds.manifestPages), "manifest-pages")
	b.ReportMetric(float64(kinds.tagPages), "tag-pages")
	b.ReportMetric(float64(kinds.attributes), "repository-reads")
	b.ReportMetric(float64(kinds.catalogPages), "catalog-pages")
	b.ReportMetric(float64(kinds.tokens), "tokens")
	b.ReportMetric(float64(kinds.manifests), "manifests-read")
	if deferred {
		b.ReportMetric(float64(lockRepos), "lock-repos")
	}
	b.Logf("%d manifests in %d repositories, %s away, %d in flight: %.2f s (listing %.2f s, the rest %.2f s); %d requests (%s), whose floor is %.2f s; the manifest listing alone %.2f s; locks read after the listing in %d repositories",
		manifests, repositories, rtt, inFlight, total/runs, listing/runs, (total-listing)/runs, requests, kinds, floor(requests), floor(kinds.manifestPages+kinds.catalogPages), lockRepos)
}

// rescanCounts are a rescan's requests by kind.
type rescanCounts struct {
	manifestPages, tagPages, attributes, catalogPages, tokens, manifests, other int
}

func (k rescanCounts) total() int {
	return k.manifestPages + k.tagPages + k.attributes + k.catalogPages + k.tokens + k.manifests + k.other
}

func (k rescanCounts) String() string {
	return fmt.Sprintf("%d manifest pages, %d tag pages, %d repository reads, %d catalog pages, %d tokens, %d manifests, %d other",
		k.manifestPages, k.tagPages, k.attributes, k.catalogPages, k.tokens, k.manifests, k.other)
}

// rescanKinds sorts calls by what they read.
func rescanKinds(calls []call) rescanCounts {
	var k rescanCounts
	for _, cl := range calls {
		switch p := cl.path; {
		case strings.HasPrefix(p, "/oauth2/"):
			k.tokens++
		case p == "/acr/v1/_catalog":
			k.catalogPages++
		case strings.HasPrefix(p, "/acr/v1/") && strings.HasSuffix(p, "/_manifests"):
			k.manifestPages++
		case strings.HasPrefix(p, "/acr/v1/") && strings.HasSuffix(p, "/_tags"):
			k.tagPages++
		case strings.HasPrefix(p, "/acr/v1/"):
			k.attributes++
		case cl.kind == kindManifestDigest || cl.kind == kindManifestTag:
			k.manifests++
		default:
			k.other++
		}
	}
	return k
}
