package registry

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/digestcache"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestACRSeededScan: a scan seeded with the previous inventory reads no
// manifest or config the listing still shows, and gives exactly what a
// cold scan gives, also after pushes, tag moves and locks; a repository the
// previous inventory holds an error about, or an image whose blobs it
// cannot name, is read again.
func TestACRSeededScan(t *testing.T) {
	e := startACR(t)
	sc := buildScene(t, e)
	cold := scanOrFail(t, e.client(t))
	var tagged *model.Inventory // a seed taken in a case's change
	reads := func(since int) map[string]int {
		out := map[string]int{}
		for _, r := range e.srv.Requests()[since:] {
			if r.Kind == acrtest.KindManifestByDigest || r.Kind == acrtest.KindManifestByTag || r.Kind == acrtest.KindBlob {
				out[r.Repository]++
			}
		}
		return out
	}
	same := func(t *testing.T, got, want *model.Inventory) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("seeded scan differs from a cold scan:\n got %+v\nwant %+v", got, want)
		}
	}

	tests := []struct {
		name      string
		seed      func() *model.Inventory
		change    func()
		wantReads []string // repositories read again
		// wantLocks, when set, are the locks of the cold scan after change
		wantLocks map[string]int // model.Image.LockLevel -> images
	}{
		{name: "unchanged", seed: func() *model.Inventory { return cold }},
		{name: "an error in app", seed: func() *model.Inventory {
			inv := *cold
			inv.Errors = append(slices.Clone(inv.Errors), model.ScanError{Repository: "app", Error: "boom"})
			return &inv
		}, wantReads: []string{"app"}},
		{name: "blob out of range", seed: func() *model.Inventory {
			inv := *cold
			inv.Images = slices.Clone(inv.Images)
			for i := range inv.Images {
				if inv.Images[i].Repository == "nix" {
					inv.Images[i].Blobs = []int32{int32(inv.Blobs.Len())}
				}
			}
			return &inv
		}, wantReads: []string{"nix"}},
		{name: "after a push, a tag move and a lock", seed: func() *model.Inventory { return cold }, change: func() {
			e.pushedAt(t, "app:v3", e.p.image(2, "amd64"), 2)
			e.pushedAt(t, "nix:1", e.p.image(3, "amd64"), 3)
			e.srv.Lock("app", sc.old, false, true)
		}, wantReads: []string{"app", "nix"}},
		{name: "after locks at every level", seed: func() *model.Inventory { return cold }, change: func() {
			// locks come from the listing, never from the seed: none of
			// these needs a read
			e.srv.LockRepository("nix", true, false)
			e.srv.LockRepository("app", false, true)
			e.srv.LockTag("app", "v2", false, true)
			e.srv.Lock("multi", sc.arm, true, false)
		}, wantReads: []string{"app", "nix"}, // the push of the case before
			wantLocks: map[string]int{model.LockManifest: 2, model.LockTag: 1, model.LockPlatform: 1, model.LockRepository: 2}},
		{name: "a new index over a platform manifest the seed holds", seed: func() *model.Inventory { return tagged }, change: func() {
			// amd64 is tagged, so an image of its own in the seed; a new
			// index over it, read afresh, takes its blobs from the seed
			e.pushedAt(t, "multi:amd", sc.platforms[0], 150)
			tagged = scanOrFail(t, e.client(t))
			e.pushedAt(t, "multi:reversed", e.p.index("reversed", sc.platforms[1], sc.platforms[0]), 2)
		}, wantReads: []string{"multi"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.change != nil {
				tc.change()
			}
			want := scanOrFail(t, e.client(t))
			if tc.wantLocks != nil {
				locks := want.LockLevels()
				if !maps.Equal(locks, tc.wantLocks) || len(want.RepositoryLocks) != 2 {
					t.Errorf("cold scan: locks %v and %+v, want %v and two repository locks", locks, want.RepositoryLocks, tc.wantLocks)
				}
			}
			c := e.client(t)
			c.Seed(tc.seed())
			before := len(e.srv.Requests())
			got := scanOrFail(t, c)
			same(t, got, want)
			read := reads(before)
			for _, repo := range tc.wantReads {
				if read[repo] == 0 {
					t.Errorf("%s was not read again", repo)
				}
				delete(read, repo)
			}
			if len(read) != 0 {
				t.Errorf("read %v, which the seed covers", read)
			}
			// and the next scan of the same client is seeded by this one
			before = len(e.srv.Requests())
			again := scanOrFail(t, c)
			same(t, again, want)
			if r := reads(before); len(r) != 0 {
				t.Errorf("the second scan read %v", r)
			}
			runtime.KeepAlive(got) // held, as the console holds what it shows
		})
	}

	// An inventory nobody holds any more (a headless run's, once reported)
	// is not kept for seeding.
	c := e.client(t)
	if _, err := c.Scan(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	before := len(e.srv.Requests())
	if _, err := c.Scan(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if len(reads(before)) == 0 {
		t.Error("a scan was seeded with an inventory nobody held")
	}
}

// TestACRSeededScanIsNoGeneration: a seeded scan that meets no new digest
// leaves the digest cache as it was: it records no generation (which
// would age out entries only the snapshot stands in for) and collects
// nothing; a scan that uses the cache is a generation as before.
func TestACRSeededScanIsNoGeneration(t *testing.T) {
	e := startACR(t)
	buildScene(t, e)
	dir := t.TempDir()
	cache, err := digestcache.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	generations := func() int {
		entries, _ := os.ReadDir(filepath.Join(dir, "scans"))
		return len(entries)
	}
	c := e.client(t, WithDigestCache(cache))
	first := scanOrFail(t, c)
	if generations() != 1 {
		t.Fatalf("%d generations after the first scan, want 1", generations())
	}
	if _, err := c.Scan(t.Context(), nil); err != nil { // seeded by the first
		t.Fatal(err)
	}
	if n := generations(); n != 1 {
		t.Errorf("%d generations after a seeded scan that met nothing new, want 1", n)
	}
	runtime.KeepAlive(first)
	if _, err := e.client(t, WithDigestCache(cache)).Scan(t.Context(), nil); err != nil { // a new client: from the cache
		t.Fatal(err)
	}
	if n := generations(); n != 2 {
		t.Errorf("%d generations after a scan from the cache, want 2", n)
	}
}
