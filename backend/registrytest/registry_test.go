package registrytest

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// testNow anchors every test population so results do not depend on the
// day the tests run.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func smallPopulation(seed int64) Population {
	return Population{Repositories: 6, TagsPerRepository: 4, Seed: seed, Now: testNow, Scale: 64, MultiPlatform: true}
}

func seed(t *testing.T, host string, p Population) *Seeded {
	t.Helper()
	s, err := Seed(t.Context(), host, p)
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	return s
}

type driverCase struct {
	name string
	opts func(t *testing.T) []Option
}

var drivers = []driverCase{
	{"inmemory", func(*testing.T) []Option { return nil }},
	{"filesystem", func(t *testing.T) []Option { return []Option{WithFilesystem(t.TempDir())} }},
}

// countRequests counts requests per "METHOD /path-kind" for WithHandler.
type requestCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *requestCounter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := r.URL.Path
		switch {
		case strings.HasSuffix(kind, "/tags/list"):
			kind = "tags"
		case kind == "/v2/_catalog":
			kind = "catalog"
		}
		c.mu.Lock()
		if c.n == nil {
			c.n = make(map[string]int)
		}
		c.n[r.Method+" "+kind]++
		c.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (c *requestCounter) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

func TestSeededRegistryMatchesTruth(t *testing.T) {
	t.Parallel()
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			var counter requestCounter
			r := Serve(t, append(d.opts(t), WithHandler(counter.wrap))...)
			s := seed(t, r.Host(), smallPopulation(7))
			ctx := t.Context()

			// Stored blobs are exactly the distinct blobs the images reference.
			stored, err := r.Blobs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := make(map[string]int64)
			for _, b := range s.Blobs() {
				want[b.Digest] = b.Size
			}
			if !maps.Equal(stored, want) {
				t.Errorf("stored blobs differ from Seeded.Blobs: %d stored, %d expected", len(stored), len(want))
			}
			got, err := r.BlobBytes(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got != s.StoredBytes() {
				t.Errorf("BlobBytes = %d, Seeded.StoredBytes = %d", got, s.StoredBytes())
			}

			// Catalog, two repositories a page, follows Link to the end.
			reg, _ := name.NewRegistry(r.Host())
			repos, err := remote.Catalog(ctx, reg, remote.WithPageSize(2))
			if err != nil {
				t.Fatalf("Catalog: %v", err)
			}
			if !slices.Equal(repos, s.Repositories) {
				t.Errorf("catalog = %v, want %v", repos, s.Repositories)
			}
			if n, want := counter.get("GET catalog"), len(s.Repositories)/2+1; n < want-1 || n > want {
				t.Errorf("catalog took %d requests for %d repositories at 2 a page", n, len(s.Repositories))
			}

			for _, repo := range s.Repositories {
				tags, err := remote.List(reg.Repo(repo), remote.WithContext(ctx), remote.WithPageSize(2))
				if err != nil {
					t.Fatalf("List %s: %v", repo, err)
				}
				var wantTags []string
				for _, im := range s.Images {
					if im.Repository == repo {
						wantTags = append(wantTags, im.Tags...)
					}
				}
				slices.Sort(wantTags)
				slices.Sort(tags)
				if !slices.Equal(tags, wantTags) {
					t.Errorf("tags of %s = %v, want %v", repo, tags, wantTags)
				}
			}

			// Every image, read back through the API, references exactly
			// the blobs Seeded says, and says the created time Seeded says.
			for _, im := range s.Images {
				checkImageAgainstRegistry(t, r.Host(), im)
			}
		})
	}
}

func checkImageAgainstRegistry(t *testing.T, host string, im SeededImage) {
	t.Helper()
	ctx := t.Context()
	repo, err := name.NewRepository(host + "/" + im.Repository)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range im.Tags {
		desc, err := remote.Head(repo.Tag(tag), remote.WithContext(ctx))
		if err != nil {
			t.Fatalf("HEAD %s:%s: %v", im.Repository, tag, err)
		}
		if desc.Digest.String() != im.Digest || string(desc.MediaType) != im.MediaType {
			t.Errorf("%s:%s is %s %s, want %s %s", im.Repository, tag, desc.Digest, desc.MediaType, im.Digest, im.MediaType)
		}
	}
	desc, err := remote.Get(repo.Digest(im.Digest), remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("GET %s: %v", im.Ref(), err)
	}
	var blobs []Blob
	add := func(d v1.Descriptor) {
		blobs = append(blobs, Blob{Digest: d.Digest.String(), Size: d.Size, MediaType: string(d.MediaType)})
	}
	var created []time.Time
	var missing bool
	addImage := func(img v1.Image) {
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		add(m.Config)
		for _, l := range m.Layers {
			add(l)
		}
		raw, err := img.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatalf("config of %s: %v", im.Ref(), err)
		}
		if _, ok := cfg["created"]; !ok {
			missing = true
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, cf.Created.Time)
	}
	add(desc.Descriptor)
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		m, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		var platforms, children []string
		for _, c := range m.Manifests {
			add(c)
			platforms = append(platforms, c.Platform.OS+"/"+c.Platform.Architecture)
			children = append(children, c.Digest.String())
			img, err := idx.Image(c.Digest)
			if err != nil {
				t.Fatal(err)
			}
			addImage(img)
		}
		if !slices.Equal(platforms, im.Platforms) || !slices.Equal(children, im.Children) {
			t.Errorf("index %s: platforms %v children %v, want %v %v", im.Ref(), platforms, children, im.Platforms, im.Children)
		}
	} else {
		img, err := desc.Image()
		if err != nil {
			t.Fatal(err)
		}
		addImage(img)
	}
	got := sortedBlobs(blobMap(blobs))
	want := sortedBlobs(blobMap(im.Blobs))
	if !slices.Equal(got, want) {
		t.Errorf("%s references %v, Seeded says %v", im.Ref(), got, want)
	}
	if missing != im.CreatedMissing {
		t.Errorf("%s: config created field missing = %v, Seeded says %v", im.Ref(), missing, im.CreatedMissing)
	}
	newest := slices.MaxFunc(created, func(a, b time.Time) int { return a.Compare(b) })
	if !newest.Equal(im.Created) {
		t.Errorf("%s: created %v, Seeded says %v", im.Ref(), newest, im.Created)
	}
}

func blobMap(bs []Blob) map[string]Blob {
	m := make(map[string]Blob, len(bs))
	for _, b := range bs {
		m[b.Digest] = b
	}
	return m
}

func TestCatalogPageLimit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		opts    []Option
		n       int
		wantErr bool
	}{
		{"default limit accepts 1000", nil, DefaultCatalogMaxEntries, false},
		{"default limit rejects 1001", nil, DefaultCatalogMaxEntries + 1, true},
		{"configured limit accepts 2", []Option{WithCatalogMaxEntries(2)}, 2, false},
		{"configured limit rejects 3", []Option{WithCatalogMaxEntries(2)}, 3, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := Serve(t, tc.opts...)
			s := seed(t, r.Host(), Population{Repositories: 3, TagsPerRepository: 1, Now: testNow, Scale: 1})
			reg, _ := name.NewRegistry(r.Host())
			repos, err := remote.CatalogPage(reg, "", tc.n, remote.WithContext(t.Context()))
			if tc.wantErr {
				var terr *transport.Error
				if !errors.As(err, &terr) || terr.StatusCode != http.StatusBadRequest ||
					len(terr.Errors) == 0 || terr.Errors[0].Code != "PAGINATION_NUMBER_INVALID" {
					t.Fatalf("CatalogPage(n=%d) = %v, %v; want 400 PAGINATION_NUMBER_INVALID", tc.n, repos, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("CatalogPage(n=%d): %v", tc.n, err)
			}
			want := s.Repositories[:min(tc.n, len(s.Repositories))]
			if !slices.Equal(repos, want) {
				t.Errorf("CatalogPage(n=%d) = %v, want %v", tc.n, repos, want)
			}
		})
	}
}

func TestTagsPageClampedNotRejected(t *testing.T) {
	t.Parallel()
	r := Serve(t, WithMaxTags(2))
	s := seed(t, r.Host(), Population{Repositories: 1, TagsPerRepository: 5, Now: testNow, Scale: 1})
	repo := s.Repositories[0]

	resp, err := http.Get("http://" + r.Host() + "/v2/" + repo + "/tags/list?n=100")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct{ Tags []string }
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || len(page.Tags) != 2 || !strings.Contains(resp.Header.Get("Link"), `rel="next"`) {
		t.Errorf("tags/list?n=100 with limit 2: status %d, %d tags, Link %q; want 200, 2 tags and a next link",
			resp.StatusCode, len(page.Tags), resp.Header.Get("Link"))
	}

	ref, _ := name.NewRepository(r.Host() + "/" + repo)
	all, err := remote.List(ref, remote.WithContext(t.Context()), remote.WithPageSize(100))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != s.Tags() {
		t.Errorf("List through clamped pages found %d tags, want %d", len(all), s.Tags())
	}
}

func TestWithHandlerInjectsFaults(t *testing.T) {
	t.Parallel()
	var failed atomic.Int32
	r := Serve(t, WithHandler(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path == "/v2/_catalog" {
				failed.Add(1)
				http.Error(w, "injected", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, req)
		})
	}))
	reg, _ := name.NewRegistry(r.Host())
	_, err := remote.Catalog(t.Context(), reg)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusForbidden || failed.Load() == 0 {
		t.Errorf("Catalog through a failing handler = %v (%d injected), want 403", err, failed.Load())
	}
}

func TestStartOptionErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opt  Option
		want string
	}{
		{"empty filesystem dir", WithFilesystem(""), "WithFilesystem"},
		{"nil handler", WithHandler(nil), "WithHandler"},
		{"nil log output", WithLogOutput(nil), "WithLogOutput"},
		{"zero catalog limit", WithCatalogMaxEntries(0), "WithCatalogMaxEntries"},
		{"negative tags limit", WithMaxTags(-1), "WithMaxTags"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Start(t.Context(), tc.opt)
			if err == nil {
				_ = r.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s", err, tc.want)
			}
		})
	}
}

func TestCloseStopsServingAndIsIdempotent(t *testing.T) {
	t.Parallel()
	r, err := Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if resp, err := http.Get("http://" + r.Host() + "/v2/"); err == nil {
		resp.Body.Close()
		t.Errorf("registry still answers after Close: %s", resp.Status)
	}
}

// storageFiles lists every file in a registry's storage with its size.
func storageFiles(t *testing.T, r *Registry) map[string]int64 {
	t.Helper()
	out := make(map[string]int64)
	err := r.driver.Walk(t.Context(), "/", func(fi storagedriver.FileInfo) error {
		if !fi.IsDir() {
			out[fi.Path()] = fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPopulateLeavesWhatSeedPushes(t *testing.T) {
	t.Parallel()
	pushed, written := Serve(t), Serve(t)
	p := smallPopulation(13)
	sp := seed(t, pushed.Host(), p)
	sw, err := written.Populate(t.Context(), p)
	if err != nil {
		t.Fatalf("Populate: %v", err)
	}
	if !slices.EqualFunc(sp.Images, sw.Images, sameImage) || !slices.Equal(sp.Repositories, sw.Repositories) {
		t.Fatal("Populate and Seed report different populations")
	}
	a, b := storageFiles(t, pushed), storageFiles(t, written)
	if len(a) < len(sp.Blobs()) {
		t.Fatalf("pushed registry holds %d files for %d blobs", len(a), len(sp.Blobs()))
	}
	for path, size := range a {
		if got, ok := b[path]; !ok || got != size {
			t.Errorf("pushed registry has %s (%d bytes), populated one has %d bytes (present %v)", path, size, got, ok)
		}
	}
	for path := range b {
		if _, ok := a[path]; !ok {
			t.Errorf("populated registry has %s, pushed one does not", path)
		}
	}
	for _, im := range sw.Images {
		checkImageAgainstRegistry(t, written.Host(), im)
	}
}
