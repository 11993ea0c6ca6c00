package registry

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

func TestScanMatchesSeed(t *testing.T) {
	reg, seeded := registrytest.ServeSeeded(t, population())

	// The population must hold what this test is about, or it proves little.
	var epoch, missing, index bool
	for _, im := range seeded.Images {
		epoch = epoch || (!im.CreatedMissing && im.Created.Year() == 1970)
		missing = missing || im.CreatedMissing
		index = index || len(im.Platforms) > 1
	}
	if !epoch || !missing || !index {
		t.Fatalf("population lacks a special image: 1970 %v, no created %v, index %v", epoch, missing, index)
	}

	var calls, inside atomic.Int32
	var last Progress
	c := newClient(t, reg.Host(), WithConcurrency(4))
	inv, err := c.Scan(t.Context(), func(p Progress) {
		if inside.Add(1) != 1 {
			t.Error("progress called concurrently")
		}
		time.Sleep(time.Millisecond) // widen the window for overlap
		calls.Add(1)
		if p.RepositoriesDone > p.Repositories || p.ImagesDone > p.Images {
			t.Errorf("progress %+v: done over total", p)
		}
		last = p
		inside.Add(-1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) != 0 {
		t.Errorf("scan errors: %+v", inv.Errors)
	}
	if inv.Registry != reg.Host() || !inv.ScannedAt.Equal(testNow) || inv.Repositories != len(seeded.Repositories) {
		t.Errorf("inventory header: registry %q scanned %v repositories %d", inv.Registry, inv.ScannedAt, inv.Repositories)
	}
	checkMatchesSeed(t, inv, seeded)

	want := Progress{Repositories: len(seeded.Repositories), RepositoriesDone: len(seeded.Repositories),
		Images: seeded.Tags(), ImagesDone: seeded.Tags()}
	if last != want || calls.Load() < 2 {
		t.Errorf("last progress %+v after %d calls, want %+v", last, calls.Load(), want)
	}

	// Sizes: deduplicated total = the seeder's distinct blobs = the bytes
	// the registry really stores.
	stored, err := reg.BlobBytes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	total := model.ComputeSizes(inv).Total
	if total != seeded.StoredBytes() || total != stored {
		t.Errorf("total %d, seeder's distinct blobs %d, registry stores %d", total, seeded.StoredBytes(), stored)
	}
}

func TestScanPagination(t *testing.T) {
	pop := population()
	pop.Repositories, pop.TagsPerRepository = 7, 6
	tests := []struct {
		name     string
		pageSize int
		start    []registrytest.Option
		// maxCatalogN, maxTagsN: the most entries a page may hold.
		maxCatalogN, maxTagsN int
	}{
		{"page size 2", 2, nil, 2, 2},
		{"registry rejects n=1000", DefaultPageSize, []registrytest.Option{registrytest.WithCatalogMaxEntries(3)}, 3, DefaultPageSize},
		{"registry clamps tag pages", DefaultPageSize, []registrytest.Option{registrytest.WithMaxTags(2), registrytest.WithCatalogMaxEntries(2)}, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, seeded := registrytest.ServeSeeded(t, pop, tt.start...)
			perRepo := map[string]int{}
			for _, im := range seeded.Images {
				perRepo[im.Repository] += len(im.Tags)
			}
			if slices.Max(slices.Collect(maps.Values(perRepo))) <= 5 || len(seeded.Repositories) <= 5 {
				t.Fatalf("population too small for pagination: %v", perRepo)
			}
			ct := newCountingTransport()
			c := newClient(t, reg.Host(), WithPageSize(tt.pageSize), WithTransport(ct))
			inv := scanOrFail(t, c)
			if len(inv.Errors) != 0 {
				t.Errorf("scan errors: %+v", inv.Errors)
			}
			checkMatchesSeed(t, inv, seeded)

			catalogPages := 0
			tagPages := map[string]int{}
			for _, cl := range ct.snapshot() {
				if cl.status != http.StatusOK {
					continue
				}
				switch cl.kind {
				case kindCatalog:
					catalogPages++
				case kindTags:
					tagPages[cl.repo]++
				}
			}
			if want := (len(seeded.Repositories) + tt.maxCatalogN - 1) / tt.maxCatalogN; catalogPages < want {
				t.Errorf("%d catalog pages, want at least %d", catalogPages, want)
			}
			for repo, n := range perRepo {
				if want := (n + tt.maxTagsN - 1) / tt.maxTagsN; tagPages[repo] < want {
					t.Errorf("%s: %d tags in %d pages, want at least %d", repo, n, tagPages[repo], want)
				}
			}
		})
	}
}

func TestScanFaults(t *testing.T) {
	pop := population()
	pop.Repositories, pop.TagsPerRepository = 4, 3
	isTags := func(repo string) func(r *http.Request) bool {
		return func(r *http.Request) bool {
			return r.Method == http.MethodGet && r.URL.Path == "/v2/"+repo+"/tags/list"
		}
	}
	isManifest := func(repo, ref string) func(r *http.Request) bool {
		return func(r *http.Request) bool {
			return r.Method == http.MethodGet && r.URL.Path == "/v2/"+repo+"/manifests/"+ref
		}
	}
	// victim is a binder repository of this population (seeded names are
	// deterministic), and its newest image.
	_, probe := registrytest.ServeSeeded(t, pop)
	// It has an image with a single tag: a corrupt answer for that tag
	// loses the whole image.
	vi := slices.IndexFunc(probe.Images, func(im registrytest.SeededImage) bool {
		return strings.HasPrefix(im.Repository, "binder-") && len(im.Tags) == 1
	})
	if vi < 0 {
		t.Fatal("no binder image with a single tag")
	}
	victim := probe.Images[vi].Repository
	vtag := probe.Images[vi].Tags[0]

	tests := []struct {
		name string
		wrap func(http.Handler) http.Handler
		// scanErr: Scan must fail with these words.
		scanErr []string
		// else inventory errors must mention these, and these images
		// (indexes into Seeded.Images) must be missing; the rest present.
		invErr  []string
		missing func(s *registrytest.Seeded) []int
	}{
		{
			name:    "tags 500",
			wrap:    fault(isTags(victim), http.StatusInternalServerError, "UNKNOWN"),
			invErr:  []string{"list tags of " + victim, "500", "try again later"},
			missing: func(s *registrytest.Seeded) []int { return imagesOf(s, victim) },
		},
		{
			name:    "tags NAME_UNKNOWN",
			wrap:    fault(isTags(victim), http.StatusNotFound, "NAME_UNKNOWN"),
			invErr:  []string{"list tags of " + victim, "404", "untagged manifests"},
			missing: func(s *registrytest.Seeded) []int { return imagesOf(s, victim) },
		},
		{
			name:    "catalog 401",
			wrap:    fault(func(r *http.Request) bool { return r.URL.Path == "/v2/_catalog" }, http.StatusUnauthorized, "UNAUTHORIZED"),
			scanErr: []string{"list repositories", "401 Unauthorized", "registry.auth"},
		},
		{
			name: "manifests 429",
			wrap: fault(func(r *http.Request) bool {
				return r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v2/"+victim+"/manifests/")
			}, http.StatusTooManyRequests, "TOOMANYREQUESTS"),
			invErr:  []string{"get manifest " + victim + ":", "429", "rate limited"},
			missing: func(s *registrytest.Seeded) []int { return imagesOf(s, victim) },
		},
		{
			name:    "corrupt manifest",
			wrap:    rewrite(isManifest(victim, vtag), "", func([]byte) []byte { return []byte(`{"schemaVersion": 2, "config": {`) }),
			invErr:  []string{victim + "@sha256:", "not valid JSON", vtag},
			missing: func(*registrytest.Seeded) []int { return []int{vi} },
		},
		{
			name:    "unknown media type",
			wrap:    rewrite(isManifest(victim, vtag), "application/vnd.example.thing.v1+json", func(b []byte) []byte { return b }),
			invErr:  []string{victim + "@" + probe.Images[vi].Digest, `unknown media type "application/vnd.example.thing.v1+json"`},
			missing: func(*registrytest.Seeded) []int { return []int{vi} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, seeded := registrytest.ServeSeeded(t, pop, registrytest.WithHandler(tt.wrap))
			c := newClient(t, reg.Host())
			inv, err := c.Scan(t.Context(), nil)
			if tt.scanErr != nil {
				if err == nil {
					t.Fatalf("Scan succeeded, want an error with %q", tt.scanErr)
				}
				t.Logf("scan error: %v", err)
				for _, w := range tt.scanErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(inv.Errors) == 0 {
				t.Fatal("no scan errors recorded")
			}
			for _, e := range inv.Errors {
				if e.Repository != victim {
					t.Errorf("error about %q, want only %q: %+v", e.Repository, victim, e)
				}
			}
			all := fmt.Sprint(inv.Errors)
			t.Logf("scan errors: %s", all)
			for _, w := range tt.invErr {
				if !strings.Contains(all, w) {
					t.Errorf("errors %s lack %q", all, w)
				}
			}
			gone := tt.missing(seeded)
			have := map[string]bool{}
			for _, im := range inv.Images {
				have[im.Ref()] = true
			}
			for i, im := range seeded.Images {
				if want := !slices.Contains(gone, i); have[im.Ref()] != want {
					t.Errorf("%s present = %v, want %v", im.Ref(), have[im.Ref()], want)
				}
			}
		})
	}
}

func imagesOf(s *registrytest.Seeded, repo string) []int {
	var out []int
	for i, im := range s.Images {
		if im.Repository == repo {
			out = append(out, i)
		}
	}
	return out
}

// TestScanRequestCount checks what a scan asks of the registry. The least
// a scan over the distribution API can do: one GET per tag (only the
// manifest says which digest a tag points at, and a GET by tag returns
// the manifest in the same round trip; a HEAD first would add a request
// per distinct digest), list pages, one GET per distinct platform manifest
// of an index (by digest) and one per distinct config blob. Tags sharing a
// digest therefore cost one GET each, no more.
func TestScanRequestCount(t *testing.T) {
	reg, seeded := registrytest.ServeSeeded(t, population())
	// Five more tags on one image, so that several tags share a digest.
	shared := &seeded.Images[len(seeded.Images)-1]
	pusher, err := remote.NewPusher()
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.NewRepository(reg.Host() + "/" + shared.Repository)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(r.Digest(shared.Digest))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		tag := fmt.Sprintf("alias-%d", i)
		if err := pusher.Push(t.Context(), r.Tag(tag), desc); err != nil {
			t.Fatal(err)
		}
		shared.Tags = append(shared.Tags, tag)
	}

	ct := newCountingTransport()
	c := newClient(t, reg.Host(), WithTransport(ct))
	inv := scan(t, c)
	checkMatchesSeed(t, inv, seeded)

	children := map[string]bool{}
	configs := map[string]bool{}
	for _, im := range seeded.Images {
		for _, ch := range im.Children {
			children[ch] = true
		}
		for _, b := range im.Blobs {
			if types.MediaType(b.MediaType).IsConfig() {
				configs[b.Digest] = true
			}
		}
	}
	if len(children) == 0 || len(configs) == 0 {
		t.Fatalf("population has %d platform manifests and %d configs", len(children), len(configs))
	}

	byTag := map[string]int{}
	byDigest := map[string]int{}
	blobs := map[string]int{}
	count := map[string]int{}
	for _, cl := range ct.snapshot() {
		if cl.kind == kindPing {
			count[kindPing]++
			continue
		}
		if cl.method != http.MethodGet {
			t.Errorf("%s request %+v", cl.method, cl)
			continue
		}
		count[cl.kind]++
		switch cl.kind {
		case kindManifestTag:
			byTag[cl.repo+":"+cl.ref]++
		case kindManifestDigest:
			byDigest[cl.ref]++
		case kindBlob:
			blobs[cl.ref]++
		}
	}
	for _, im := range seeded.Images {
		for _, tag := range im.Tags {
			if n := byTag[im.Repository+":"+tag]; n != 1 {
				t.Errorf("%s:%s fetched %d times, want once", im.Repository, tag, n)
			}
		}
	}
	if count[kindManifestTag] != seeded.Tags() {
		t.Errorf("%d manifest GETs by tag, want %d (one per tag)", count[kindManifestTag], seeded.Tags())
	}
	for d, n := range byDigest {
		if !children[d] || n != 1 {
			t.Errorf("manifest %s fetched by digest %d times (platform manifest: %v)", d, n, children[d])
		}
	}
	if len(byDigest) != len(children) {
		t.Errorf("%d platform manifests fetched, want %d", len(byDigest), len(children))
	}
	for d, n := range blobs {
		if !configs[d] || n != 1 {
			t.Errorf("blob %s fetched %d times (config: %v)", d, n, configs[d])
		}
	}
	if len(blobs) != len(configs) {
		t.Errorf("%d configs fetched, want %d", len(blobs), len(configs))
	}
	if count[kindCatalog] != 1 || count[kindTags] != len(seeded.Repositories) || count[kindOther] != 0 {
		t.Errorf("requests by kind %v: want one catalog page and one tag page per repository (%d)", count, len(seeded.Repositories))
	}
	// One ping (with go-containerregistry's https-then-http race: two
	// requests) for the catalog and per repository.
	if maxPings := 2 * (1 + len(seeded.Repositories)); count[kindPing] > maxPings {
		t.Errorf("%d pings, want at most %d", count[kindPing], maxPings)
	}
	t.Logf("requests: %v for %d tags", count, seeded.Tags())
}

func TestScanCancel(t *testing.T) {
	started := make(chan struct{}, 1)
	block := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/manifests/") && r.Method == http.MethodGet {
				select {
				case started <- struct{}{}:
				default:
				}
				<-r.Context().Done() // hold until the client gives up
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	reg, _ := registrytest.ServeSeeded(t, population(), registrytest.WithHandler(block))
	c := newClient(t, reg.Host())
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-started
		cancel()
	}()
	done := make(chan error, 1)
	go func() {
		_, err := c.Scan(ctx, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Scan after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Scan did not stop after cancel")
	}
}

func TestScanWithBasicAuth(t *testing.T) {
	const user, pass = "scanner", "s3cret-pass"
	auth := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if r.Method == http.MethodGet && (!ok || u != user || p != pass) {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	pop := population()
	pop.Repositories, pop.TagsPerRepository = 3, 2
	ctx := t.Context()
	reg := registrytest.Serve(t, registrytest.WithHandler(auth))
	seeded, err := registrytest.Seed(ctx, reg.Host(), pop, remote.WithAuth(&authn.Basic{Username: user, Password: pass}))
	if err != nil {
		t.Fatal(err)
	}

	inv, err := newClient(t, reg.Host(), WithAuthenticator(&authn.Basic{Username: user, Password: pass})).Scan(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) != 0 {
		t.Errorf("scan errors: %+v", inv.Errors)
	}
	checkMatchesSeed(t, inv, seeded)

	_, err = newClient(t, reg.Host(), WithAuthenticator(&authn.Basic{Username: user, Password: "wrong-pass"})).Scan(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "registry.auth") {
		t.Errorf("wrong password: err = %v, want a 401 naming registry.auth", err)
	}
	if err != nil && strings.Contains(err.Error(), "wrong-pass") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		host    string
		opts    []Option
		wantErr string
		scheme  string
	}{
		{host: "127.0.0.1:5000", scheme: "http"},
		{host: "127.0.0.2:5000", scheme: "http"},
		{host: "localhost:5000", scheme: "http"},
		{host: "[::1]:5000", scheme: "http"},
		{host: "myregistry.azurecr.io", scheme: "https"},
		{host: "10.1.2.3:5000", opts: []Option{WithInsecure()}, scheme: "http"},
		{host: "", wantErr: "empty host"},
		{host: "http://10.1.2.3:5000", wantErr: "without a scheme"},
		{host: "r.example/path", wantErr: "without a path"},
		{host: "r.example", opts: []Option{WithConcurrency(0)}, wantErr: "not positive"},
		{host: "r.example", opts: []Option{WithPageSize(-1)}, wantErr: "not positive"},
		{host: "r.example", opts: []Option{WithAuthenticator(authn.Anonymous), WithKeychain(authn.DefaultKeychain)}, wantErr: "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			c, err := New(tt.host, tt.opts...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New(%q) err = %v, want %q", tt.host, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.reg.Scheme() != tt.scheme {
				t.Errorf("scheme %q, want %q", c.reg.Scheme(), tt.scheme)
			}
		})
	}
}

// TestPlainHTTPRefusedOffLoopback: go-containerregistry would fall back to
// plain HTTP for a private address by itself; the client must not, unless
// told to. The base transport here reaches no network: it records and
// fails every request.
func TestPlainHTTPRefusedOffLoopback(t *testing.T) {
	for _, insecure := range []bool{false, true} {
		t.Run(fmt.Sprintf("insecure=%v", insecure), func(t *testing.T) {
			ct := &countingTransport{inner: offline{}}
			opts := []Option{WithTransport(ct), WithRetryBackoff(remote.Backoff{Steps: 1})}
			if insecure {
				opts = append(opts, WithInsecure())
			}
			c, err := New("10.255.255.1:5000", opts...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Scan(t.Context(), nil)
			if err == nil {
				t.Fatal("Scan of an unreachable registry succeeded")
			}
			schemes := map[string]int{}
			for _, cl := range ct.snapshot() {
				schemes[cl.scheme]++
			}
			if insecure {
				if schemes["http"] == 0 {
					t.Errorf("insecure: no plain HTTP attempted (%v)", schemes)
				}
				return
			}
			if schemes["http"] != 0 || schemes["https"] == 0 {
				t.Errorf("requests by scheme %v: want HTTPS only", schemes)
			}
			if !strings.Contains(err.Error(), "registry.insecure") {
				t.Errorf("error %q does not say how to allow plain HTTP", err)
			}
		})
	}
}

type offline struct{}

func (offline) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in this test")
}

// TestScanIndexChildFails: a platform manifest that cannot be read is
// reported by its reference; the index is kept with the rest.
func TestScanIndexChildFails(t *testing.T) {
	pop := population()
	pop.Repositories, pop.TagsPerRepository = 3, 2
	_, probe := registrytest.ServeSeeded(t, pop)
	k := slices.IndexFunc(probe.Images, func(im registrytest.SeededImage) bool { return len(im.Children) > 1 })
	if k < 0 {
		t.Fatal("no multi-platform index in the population")
	}
	index := probe.Images[k]
	bad := index.Children[0]
	reg, _ := registrytest.ServeSeeded(t, pop, registrytest.WithHandler(fault(func(r *http.Request) bool {
		return r.Method == http.MethodGet && r.URL.Path == "/v2/"+index.Repository+"/manifests/"+bad
	}, http.StatusInternalServerError, "UNKNOWN")))
	inv, err := newClient(t, reg.Host()).Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) != 1 || inv.Errors[0].Reference != index.Repository+"@"+bad || !strings.Contains(inv.Errors[0].Error, "500") {
		t.Fatalf("errors %+v, want one about %s@%s", inv.Errors, index.Repository, bad)
	}
	i := slices.IndexFunc(inv.Images, func(im model.Image) bool { return im.Digest == index.Digest })
	if i < 0 {
		t.Fatal("index dropped")
	}
	if got := inv.Images[i].Children; !slices.Equal(got, index.Children[1:]) {
		t.Errorf("children %v, want %v", got, index.Children[1:])
	}
	if len(inv.Images) != len(probe.Images) {
		t.Errorf("%d images, want %d", len(inv.Images), len(probe.Images))
	}
}
