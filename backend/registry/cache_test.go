package registry

import (
	"context"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/helmupgradebot/helmupgradebot/backend/digestcache"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

func openCache(t testing.TB, dir string, opts ...digestcache.Option) *digestcache.Cache {
	t.Helper()
	c, err := digestcache.Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// cachedDigests lists the digests a cache in dir holds, as a new process
// finds them.
func cachedDigests(t testing.TB, dir string) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	for _, e := range openCache(t, dir).Entries() {
		got[e.Digest] = true
	}
	return got
}

// damageEntry changes the record of digest in the cache in dir.
func damageEntry(t testing.TB, dir, digest string, fn func(record []byte)) {
	t.Helper()
	for _, e := range openCache(t, dir).Entries() {
		if e.Digest != digest {
			continue
		}
		raw, err := os.ReadFile(e.Segment)
		if err != nil {
			t.Fatal(err)
		}
		fn(raw[e.Offset : e.Offset+e.Length])
		if err := os.WriteFile(e.Segment, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s not cached", digest)
}

// readSet is what a full scan of seeded must read by digest: every
// manifest (tagged or a platform manifest) and every image config.
func readSet(seeded *registrytest.Seeded) (manifests, configs map[string]bool) {
	manifests, configs = map[string]bool{}, map[string]bool{}
	for _, im := range seeded.Images {
		manifests[im.Digest] = true
		for _, ch := range im.Children {
			manifests[ch] = true
		}
		for _, b := range im.Blobs {
			if types.MediaType(b.MediaType).IsConfig() {
				configs[b.Digest] = true
			}
		}
	}
	return manifests, configs
}

// requests counts calls by "METHOD kind", pings left out.
func requests(calls []call) map[string]int {
	n := map[string]int{}
	for _, cl := range calls {
		if cl.kind != kindPing {
			n[cl.method+" "+cl.kind]++
		}
	}
	return n
}

// gets lists the references fetched with GET as kind.
func gets(calls []call, kind string) []string {
	var out []string
	for _, cl := range calls {
		if cl.method == http.MethodGet && cl.kind == kind {
			out = append(out, cl.ref)
		}
	}
	slices.Sort(out)
	return out
}

// TestDigestCacheColdWarm: a cold scan asks what an uncached scan asks (a
// GET per tag, each platform manifest and config once by digest) and fills
// the cache; a warm scan (another process: a new cache handle and client)
// lists and HEADs tags only, GETs no manifest and no blob; both
// inventories equal an uncached scan's.
func TestDigestCacheColdWarm(t *testing.T) {
	reg, seeded := registrytest.ServeSeeded(t, population())
	want := scan(t, newClient(t, reg.Host()))
	checkMatchesSeed(t, want, seeded)
	manifests, configs := readSet(seeded)
	children := map[string]bool{}
	for _, im := range seeded.Images {
		for _, ch := range im.Children {
			children[ch] = true
		}
	}

	dir := t.TempDir()
	cold := openCache(t, dir)
	ct := newCountingTransport()
	inv := scan(t, newClient(t, reg.Host(), WithTransport(ct), WithDigestCache(cold)))
	if !reflect.DeepEqual(inv, want) {
		t.Error("cold cached scan differs from the uncached scan")
	}
	calls := ct.snapshot()
	n := requests(calls)
	t.Logf("cold: %v", n)
	if n["HEAD "+kindManifestTag] != 0 || n["GET "+kindManifestTag] != seeded.Tags() {
		t.Errorf("cold: %d HEADs and %d GETs by tag; want a GET per tag (%d) and no HEAD", n["HEAD "+kindManifestTag], n["GET "+kindManifestTag], seeded.Tags())
	}
	if got := gets(calls, kindManifestDigest); !slices.Equal(got, slices.Sorted(maps.Keys(children))) {
		t.Errorf("cold: manifests GET by digest\n%v\nwant each platform manifest once\n%v", got, slices.Sorted(maps.Keys(children)))
	}
	if got := gets(calls, kindBlob); !slices.Equal(got, slices.Sorted(maps.Keys(configs))) {
		t.Errorf("cold: blobs GET\n%v\nwant each config once\n%v", got, slices.Sorted(maps.Keys(configs)))
	}
	if st := cold.Stats(); st.Stored != int64(len(manifests)+len(configs)) || st.Hits != 0 {
		t.Errorf("cold: cache stats %+v; want %d stored", st, len(manifests)+len(configs))
	}
	held := cachedDigests(t, dir)
	for d := range manifests {
		if !held[d] {
			t.Errorf("manifest %s not cached", d)
		}
	}
	for d := range configs {
		if !held[d] {
			t.Errorf("config %s not cached", d)
		}
	}

	ct.reset()
	warm := openCache(t, dir)
	inv = scan(t, newClient(t, reg.Host(), WithTransport(ct), WithDigestCache(warm)))
	if !reflect.DeepEqual(inv, want) {
		t.Error("warm scan differs from the uncached scan")
	}
	n = requests(ct.snapshot())
	t.Logf("warm: %v", n)
	for k := range n {
		switch k {
		case "GET " + kindCatalog, "GET " + kindTags, "HEAD " + kindManifestTag:
		default:
			t.Errorf("warm: %d requests %s; want only list pages and HEADs by tag", n[k], k)
		}
	}
	if n["HEAD "+kindManifestTag] != seeded.Tags() {
		t.Errorf("warm: %d HEADs, want %d", n["HEAD "+kindManifestTag], seeded.Tags())
	}
	if st := warm.Stats(); st.Hits != int64(len(manifests)+len(configs)) || st.Misses != 0 || st.Stored != 0 {
		t.Errorf("warm: cache stats %+v", st)
	}
}

// TestDigestCacheCorruptEntry: a manifest entry half lost (zeroed, as
// after a power loss) and a corrupted config entry are detected, re-read
// from the registry (those two only) and repaired; the inventory is
// unchanged.
func TestDigestCacheCorruptEntry(t *testing.T) {
	reg, seeded := registrytest.ServeSeeded(t, population())
	dir := t.TempDir()
	want := scan(t, newClient(t, reg.Host(), WithDigestCache(openCache(t, dir))))

	k := slices.IndexFunc(seeded.Images, func(im registrytest.SeededImage) bool { return len(im.Children) == 0 })
	im := seeded.Images[k]
	manifest := im.Digest
	config := im.Blobs[slices.IndexFunc(im.Blobs, func(b registrytest.Blob) bool { return types.MediaType(b.MediaType).IsConfig() })].Digest
	damageEntry(t, dir, manifest, func(rec []byte) { clear(rec[len(rec)/2:]) }) // half lost
	damageEntry(t, dir, config, func(rec []byte) { rec[len(rec)-3] ^= 0x20 })

	ct := newCountingTransport()
	cache := openCache(t, dir)
	inv := scan(t, newClient(t, reg.Host(), WithTransport(ct), WithDigestCache(cache)))
	if !reflect.DeepEqual(inv, want) {
		t.Error("scan over a damaged cache differs")
	}
	calls := ct.snapshot()
	if got := gets(calls, kindManifestDigest); !slices.Equal(got, []string{manifest}) {
		t.Errorf("manifests re-read %v, want only the truncated %s", got, manifest)
	}
	if got := gets(calls, kindBlob); !slices.Equal(got, []string{config}) {
		t.Errorf("blobs re-read %v, want only the corrupted %s", got, config)
	}
	if st := cache.Stats(); st.Corrupt != 2 || st.Stored != 2 {
		t.Errorf("cache stats %+v; want 2 corrupt, 2 stored again", st)
	}
	// Repaired: the next scan reads nothing.
	ct.reset()
	scan(t, newClient(t, reg.Host(), WithTransport(ct), WithDigestCache(openCache(t, dir))))
	if n := requests(ct.snapshot()); n["GET "+kindManifestDigest]+n["GET "+kindBlob] != 0 {
		t.Errorf("after repair: %v", n)
	}
}

// TestDigestCacheCollects: a complete scan collects the entries of an
// image deleted since (Keep 1); a scan that missed a repository is not
// complete and collects nothing.
func TestDigestCacheCollects(t *testing.T) {
	var broken atomic.Bool
	var brokenRepo string // set before broken
	reg, seeded := registrytest.ServeSeeded(t, population(), registrytest.WithHandler(fault(func(r *http.Request) bool {
		return broken.Load() && r.URL.Path == "/v2/"+brokenRepo+"/tags/list"
	}, http.StatusInternalServerError, "UNKNOWN")))
	dir := t.TempDir()
	var mu sync.Mutex
	now := testNow
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func() { mu.Lock(); now = now.Add(time.Hour); mu.Unlock() }
	c := newClient(t, reg.Host(), WithDigestCache(openCache(t, dir, digestcache.WithKeep(1), digestcache.WithClock(clock))))
	scan(t, c)
	full := cachedDigests(t, dir)

	// A scan that cannot list one repository: incomplete, keeps everything.
	brokenRepo = seeded.Repositories[0]
	broken.Store(true)
	advance()
	inv := scanOrFail(t, c)
	if len(inv.Errors) == 0 {
		t.Fatal("the injected listing failure did not show")
	}
	if got := cachedDigests(t, dir); !reflect.DeepEqual(got, full) {
		t.Errorf("an incomplete scan collected: %d entries left of %d", len(got), len(full))
	}

	// Delete an image whose manifest and config no other image shares.
	broken.Store(false)
	manifests, _ := readSet(seeded)
	var gone []string
	for _, im := range seeded.Images {
		if len(im.Children) > 0 || len(im.Tags) == 0 {
			continue
		}
		cfg := im.Blobs[1].Digest
		shared := false
		for _, other := range seeded.Images {
			if other.Digest != im.Digest && slices.ContainsFunc(other.Blobs, func(b registrytest.Blob) bool { return b.Digest == cfg || b.Digest == im.Digest }) {
				shared = true
			}
		}
		if !shared {
			if err := c.DeleteManifest(t.Context(), im.Repository, im.Digest); err != nil {
				t.Fatal(err)
			}
			gone = []string{im.Digest, cfg}
			break
		}
	}
	if gone == nil {
		t.Fatal("no image with its own config to delete")
	}
	advance()
	inv = scan(t, c)
	got := cachedDigests(t, dir)
	for _, d := range gone {
		if got[d] {
			t.Errorf("%s of the deleted image still cached after a complete scan", d)
		}
	}
	for _, im := range inv.Images {
		if !got[im.Digest.String()] {
			t.Errorf("%s in use but not cached", im.Ref())
		}
	}
	if len(got) != len(full)-2 {
		t.Errorf("%d entries after collection, want %d (manifests %d)", len(got), len(full)-2, len(manifests))
	}
}

// TestDigestCacheHeadFallback: over a warm cache, a registry that refuses
// HEAD is scanned by GET per tag, asked only a few HEADs before the scan
// gives up on them, and the scan is whole.
func TestDigestCacheHeadFallback(t *testing.T) {
	reg, seeded := registrytest.ServeSeeded(t, population(), registrytest.WithHandler(fault(func(r *http.Request) bool {
		return r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/")
	}, http.StatusMethodNotAllowed, "UNSUPPORTED")))
	ct := newCountingTransport()
	const workers = 2
	c := newClient(t, reg.Host(), WithTransport(ct), WithConcurrency(workers), WithDigestCache(openCache(t, t.TempDir())))
	scan(t, c) // cold: no HEAD
	ct.reset()
	inv := scan(t, c)
	checkMatchesSeed(t, inv, seeded)
	n := requests(ct.snapshot())
	if h := n["HEAD "+kindManifestTag]; h < headGiveUp || h > headGiveUp+workers {
		t.Errorf("%d HEADs; want %d to %d before giving up", h, headGiveUp, headGiveUp+workers)
	}
	if n["GET "+kindManifestTag] != seeded.Tags() {
		t.Errorf("%d GETs by tag, want %d", n["GET "+kindManifestTag], seeded.Tags())
	}
}

// BenchmarkScanDigestCache scans the 2,000 tags of BenchmarkScan2000Tags
// without a digest cache (--no-cache), with one cold (an empty cache each
// time: a first run, filling it) and warm, and reports tags/s and the
// CPU time a scan takes:
//
//	go test -run '^$' -bench ScanDigestCache -benchtime 5x ./backend/registry
func BenchmarkScanDigestCache(b *testing.B) {
	pop := registrytest.Population{Repositories: 20, TagsPerRepository: 100, Seed: 2000, Now: testNow, Scale: 1, MultiPlatform: true, Concurrency: 16}
	reg, _ := registrytest.ServeSeeded(b, pop)
	for _, name := range []string{"none", "cold", "warm"} {
		warm := name == "warm"
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			if warm {
				scanBench(b, reg.Host(), openCache(b, dir), nil)
			}
			ct := newCountingTransport()
			var elapsed, cpu time.Duration
			var scans int
			for b.Loop() {
				cdir := dir
				if !warm {
					cdir = filepath.Join(dir, time.Now().Format("150405.000000000"))
				}
				ct.reset()
				start, cpu0 := time.Now(), processCPU(b)
				var cache *digestcache.Cache // none: --no-cache
				if name != "none" {
					cache = openCache(b, cdir)
				}
				scanBench(b, reg.Host(), cache, ct)
				elapsed += time.Since(start)
				cpu += processCPU(b) - cpu0
				scans++
			}
			n := requests(ct.snapshot())
			b.ReportMetric(float64(2000*scans)/elapsed.Seconds(), "tags/s")
			b.ReportMetric(cpu.Seconds()/float64(scans), "cpu-s/scan")
			b.ReportMetric(float64(len(ct.snapshot()))/2000, "req/tag")
			b.ReportMetric(float64(n["GET "+kindManifestDigest]+n["GET "+kindManifestTag]), "manifest-GETs")
			b.ReportMetric(float64(n["GET "+kindBlob]), "blob-GETs")
		})
	}
}

// processCPU is the CPU time this process has used, user and system:
// steadier than wall time on a shared machine. The registry serving the
// scan is in this process too, the same for every variant.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func scanBench(b *testing.B, host string, cache *digestcache.Cache, ct *countingTransport) {
	opts := []Option{WithDigestCache(cache)}
	if ct != nil {
		opts = append(opts, WithTransport(ct))
	}
	inv, err := newClient(b, host, opts...).Scan(context.Background(), nil)
	if err != nil || inv.Tags() != 2000 || len(inv.Errors) != 0 {
		b.Fatalf("scan: %v, %d tags, errors %v", err, inv.Tags(), inv.Errors)
	}
}
