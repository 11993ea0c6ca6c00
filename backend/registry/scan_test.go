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
	i := slices.IndexFunc(inv.Images, func(im model.Image) bool { return im.Digest == model.ParseDigest(index.Digest) })
	if i < 0 {
		t.Fatal("index dropped")
	}
	if got := inv.Images[i].Children; !slices.Equal(got, model.ParseDigests(index.Children[1:])) {
		t.Errorf("children %v, want %v", got, index.Children[1:])
	}
	if len(inv.Images) != len(probe.Images) {
		t.Errorf("%d images, want %d", len(inv.Images), len(probe.Images))
	}
}
