package registry

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"

	"github.com/helmupgradebot/helmupgradebot/backend/digestcache"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// BenchmarkScanCeiling measures, in one run on the embedded distribution
// registry (10,000 tags over 100 repositories with shared base layers):
//
//   - the ceiling: the requests a scan needs (catalog and tag pages,
//     manifests by tag, configs), recorded from a real scan and replayed by
//     1, 4, 16 and 64 parallel clients that do nothing else, the best of them;
//   - helmupgradebot's scan, cold and warm (digest cache);
//   - a sequential walk, as a crane loop does it: list, then GET each
//     manifest and config one at a time;
//   - go-containerregistry's defaults: remote.List, remote.Get and
//     ConfigFile per tag, in a loop.
//
// Each reports manifests/s, requests per image, peak heap, peak RSS of the
// process (which includes the registry) and the ratio to the ceiling:
//
//	go test -run '^$' -bench '^BenchmarkScanCeiling$' -benchtime 1x -timeout 60m ./backend/registry
func BenchmarkScanCeiling(b *testing.B) {
	tags := 10_000
	if v, err := strconv.Atoi(os.Getenv("HELMUPGRADEBOT_BENCH_TAGS")); err == nil && v > 0 {
		tags = v
	}
	repos := max(tags/100, 1)
	pop := registrytest.Population{Repositories: repos, TagsPerRepository: tags / repos, Seed: 10_000, Now: testNow, Scale: 1, MultiPlatform: true, Concurrency: 16}
	reg := registrytest.Serve(b)
	if _, err := reg.Populate(b.Context(), pop); err != nil {
		b.Fatal(err)
	}

	// Record what a scan asks for.
	rec := newRecordingTransport()
	inv, err := newClient(b, reg.Host(), WithTransport(rec), WithConcurrency(32)).Scan(b.Context(), nil)
	if err != nil {
		b.Fatal(err)
	}
	images := len(inv.Images)
	requests := rec.requests()

	c := &ceilingRun{images: images}
	c.ceilingPhase(b, requests)
	c.phase(b, "helmupgradebot-cold", func() (int, error) {
		ct := newCountingTransport()
		_, err := newClient(b, reg.Host(), WithTransport(ct)).Scan(b.Context(), nil)
		return len(ct.snapshot()), err
	})
	cache, err := digestcache.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := newClient(b, reg.Host(), WithDigestCache(cache)).Scan(b.Context(), nil); err != nil { // fill it
		b.Fatal(err)
	}
	c.phase(b, "helmupgradebot-warm", func() (int, error) {
		ct := newCountingTransport()
		_, err = newClient(b, reg.Host(), WithTransport(ct), WithDigestCache(cache)).Scan(b.Context(), nil)
		return len(ct.snapshot()), err
	})
	c.phase(b, "sequential-walk", func() (int, error) { return sequentialWalk(b.Context(), reg.Host(), authn.Anonymous) })
	c.phase(b, "ggcr-defaults", func() (int, error) { return ggcrLoop(b.Context(), reg.Host(), authn.Anonymous) })
}

// ceilingRun runs the phases of a ceiling benchmark: the first, the
// ceiling, sets what the others are measured against.
type ceilingRun struct {
	images  int     // manifests a scan finds
	ceiling float64 // 0 until ceilingPhase ran
	rate    float64 // the last phase's
}

// phase runs one way of reading the registry as a sub-benchmark; run
// returns the requests it sent.
func (c *ceilingRun) phase(b *testing.B, name string, run func() (int, error)) {
	b.Run(name, func(b *testing.B) {
		var rate, perImage float64
		var heap, rss uint64
		for b.Loop() {
			stop := sampleMemory()
			start := time.Now()
			n, err := run()
			d := time.Since(start)
			heap, rss = stop()
			if err != nil {
				b.Fatal(err)
			}
			rate, perImage = float64(c.images)/d.Seconds(), float64(n)/float64(c.images)
		}
		c.rate = rate
		b.ReportMetric(rate, "manifests/s")
		b.ReportMetric(perImage, "req/image")
		b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
		if c.ceiling > 0 {
			b.ReportMetric(rate/c.ceiling, "of-ceiling")
		}
	})
}

// ceilingPhase sets the ceiling: the best rate of replaying requests from
// 1, 4, 16 and 64 parallel clients (on few cores, many clients can serve
// less than a few).
func (c *ceilingRun) ceilingPhase(b *testing.B, requests []recorded) {
	best := 0.0
	for _, n := range []int{1, 4, 16, 64} {
		c.ceiling = 0
		c.phase(b, fmt.Sprintf("replay-%d-clients", n), func() (int, error) { return len(requests), replay(b.Context(), requests, n) })
		best = max(best, c.rate)
	}
	c.ceiling = best
	b.Logf("ceiling: %.0f manifests/s", best)
}

// recordingTransport keeps every GET a scan sends, to replay: its URL
// and the headers that matter, interned (a 100,000-manifest scan sends
// over 200,000).
type recordingTransport struct {
	inner  http.RoundTripper
	mu     sync.Mutex
	intern map[string]string
	reqs   []recorded
}

type recorded struct{ url, auth, accept string }

func newRecordingTransport() *recordingTransport {
	return &recordingTransport{inner: http.DefaultTransport.(*http.Transport).Clone(), intern: map[string]string{}}
}

func (t *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.inner.RoundTrip(r)
	if err == nil && r.Method == http.MethodGet && resp.StatusCode == http.StatusOK {
		t.mu.Lock()
		in := func(v string) string {
			if w, ok := t.intern[v]; ok {
				return w
			}
			t.intern[v] = v
			return v
		}
		t.reqs = append(t.reqs, recorded{url: r.URL.String(), auth: in(r.Header.Get("Authorization")), accept: in(r.Header.Get("Accept"))})
		t.mu.Unlock()
	}
	return resp, err
}

func (t *recordingTransport) requests() []recorded {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reqs
}

// replay sends the requests from n parallel clients, reading every body.
func replay(ctx context.Context, reqs []recorded, n int) error {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = n
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	var next atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for range n {
		g.Go(func() error {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(reqs) {
					return nil
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, reqs[i].url, nil)
				if err != nil {
					return err
				}
				for k, v := range map[string]string{"Authorization": reqs[i].auth, "Accept": reqs[i].accept} {
					if v != "" {
						req.Header.Set(k, v)
					}
				}
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("replay %s: %s", reqs[i].url, resp.Status)
				}
			}
		})
	}
	return g.Wait()
}

// sequentialWalk lists the catalog and each repository's tags, then GETs
// each tag's manifest and its config, one request at a time, logging in
// with auth once for each repository (crane logs in for every call). It returns the
// number of requests sent, token requests included.
func sequentialWalk(ctx context.Context, host string, auth authn.Authenticator) (int, error) {
	ct := newCountingTransport()
	reg, err := name.NewRegistry(host, name.Insecure)
	if err != nil {
		return 0, err
	}
	base := "http://" + host + "/v2/"
	transports := map[string]http.RoundTripper{} // a login per scope, kept
	get := func(scope, url, accept string, into any) error {
		rt, ok := transports[scope]
		if !ok {
			if rt, err = transport.NewWithContext(ctx, reg, auth, ct, []string{scope}); err != nil {
				return err
			}
			transports[scope] = rt
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := (&http.Client{Transport: rt}).Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		if into == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			return err
		}
		return json.NewDecoder(resp.Body).Decode(into)
	}
	n := func() int { return len(ct.snapshot()) }
	var repos []string
	for last := ""; ; {
		var cat struct{ Repositories []string }
		if err := get("registry:catalog:*", base+"_catalog?n=1000&last="+last, "", &cat); err != nil {
			return n(), err
		}
		repos = append(repos, cat.Repositories...)
		if len(cat.Repositories) < 1000 {
			break
		}
		last = cat.Repositories[len(cat.Repositories)-1]
	}
	accept := "application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.docker.distribution.manifest.v2+json"
	for _, repo := range repos {
		scope := "repository:" + repo + ":pull"
		var tl struct{ Tags []string }
		if err := get(scope, base+repo+"/tags/list?n=1000", "", &tl); err != nil {
			return n(), err
		}
		for _, tag := range tl.Tags {
			var m struct {
				Config    struct{ Digest string }
				Manifests []struct{ Digest string }
			}
			if err := get(scope, base+repo+"/manifests/"+tag, accept, &m); err != nil {
				return n(), err
			}
			digests := []string{}
			if m.Config.Digest != "" {
				digests = append(digests, m.Config.Digest)
			}
			for _, c := range m.Manifests { // an index: each platform's manifest, then its config
				var pm struct{ Config struct{ Digest string } }
				if err := get(scope, base+repo+"/manifests/"+c.Digest, accept, &pm); err != nil {
					return n(), err
				}
				if pm.Config.Digest != "" {
					digests = append(digests, pm.Config.Digest)
				}
			}
			for _, d := range digests {
				if err := get(scope, base+repo+"/blobs/"+d, "", nil); err != nil {
					return n(), err
				}
			}
		}
	}
	return n(), nil
}

// ggcrLoop is what a script on go-containerregistry's defaults does: list
// each repository's tags, then get each image and its config.
func ggcrLoop(ctx context.Context, host string, auth authn.Authenticator) (int, error) {
	ct := newCountingTransport()
	opts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(ct), remote.WithAuth(auth)}
	reg, err := name.NewRegistry(host, name.Insecure)
	if err != nil {
		return 0, err
	}
	repos, err := remote.Catalog(ctx, reg, opts...)
	if err != nil {
		return 0, err
	}
	for _, repo := range repos {
		r := reg.Repo(repo)
		tags, err := remote.List(r, opts...)
		if err != nil {
			return len(ct.snapshot()), err
		}
		for _, tag := range tags {
			desc, err := remote.Get(r.Tag(tag), opts...)
			if err != nil {
				return len(ct.snapshot()), err
			}
			if desc.MediaType.IsIndex() {
				idx, err := desc.ImageIndex()
				if err != nil {
					return len(ct.snapshot()), err
				}
				im, err := idx.IndexManifest()
				if err != nil {
					return len(ct.snapshot()), err
				}
				for _, m := range im.Manifests {
					img, err := idx.Image(m.Digest)
					if err == nil {
						_, err = img.ConfigFile()
					}
					if err != nil {
						return len(ct.snapshot()), err
					}
				}
				continue
			}
			img, err := desc.Image()
			if err == nil {
				_, err = img.ConfigFile()
			}
			if err != nil {
				return len(ct.snapshot()), err
			}
		}
	}
	return len(ct.snapshot()), nil
}

// sampleMemory samples the heap in use and the process's RSS until the
// returned function is called, which gives their peaks.
func sampleMemory() func() (heap, rss uint64) {
	var peakHeap, peakRSS atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			if r := rssBytes(); r > peakRSS.Load() {
				peakRSS.Store(r)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		return peakHeap.Load(), peakRSS.Load()
	}
}

// rssBytes reads the process's resident set size (Linux).
func rssBytes() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
