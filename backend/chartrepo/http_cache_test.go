package chartrepo

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The cache of a repository's index: conditional requests, no caching
// without validators, and concurrent callers sharing one fetch.

func TestVersionsCache(t *testing.T) {
	body := fixtureIndex(t)
	tests := []struct {
		name, etag, lastModified string
	}{
		{"etag", `"abc123"`, ""},
		{"last-modified", "", "Thu, 24 Oct 2024 11:45:31 GMT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newIndexServer(t, body)
			srv.etag, srv.lastModified = tt.etag, tt.lastModified
			dir := t.TempDir()
			ctx := context.Background()

			first, err := New(WithCacheDir(dir)).Versions(ctx, srv.repo(), "jupyterhub")
			if err != nil {
				t.Fatal(err)
			}
			// A second run (a new client) revalidates and uses its copy.
			second, err := New(WithCacheDir(dir)).Versions(ctx, srv.repo(), "jupyterhub")
			if err != nil {
				t.Fatal(err)
			}
			requests, notModified := srv.stats()
			if requests != 2 || notModified != 1 {
				t.Fatalf("requests=%d notModified=%d, want 2 and 1", requests, notModified)
			}
			want := tt.etag + "|"
			if tt.etag == "" {
				want = "|" + tt.lastModified
			}
			if len(srv.conditionals) != 1 || srv.conditionals[0] != want {
				t.Errorf("conditional headers %q, want [%q]", srv.conditionals, want)
			}
			if len(first) != len(second) || first[0].Version != second[0].Version || !first[0].Created.Equal(second[0].Created) {
				t.Errorf("cached copy differs: %d vs %d versions", len(first), len(second))
			}

			// A damaged cached copy (the body and its parsed versions) is
			// replaced by a fresh download.
			files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
			parsed, _ := filepath.Glob(filepath.Join(dir, "*.gob"))
			if len(files) != 1 || len(parsed) != 1 {
				t.Fatalf("cache has %v and %v", files, parsed)
			}
			for _, f := range append(files, parsed...) {
				if err := os.WriteFile(f, []byte(": not yaml ["), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			third, err := New(WithCacheDir(dir)).Versions(ctx, srv.repo(), "jupyterhub")
			if err != nil {
				t.Fatal(err)
			}
			if len(third) != len(first) {
				t.Errorf("after a damaged cache: %d versions, want %d", len(third), len(first))
			}
			if requests, _ := srv.stats(); requests != 4 {
				t.Errorf("requests=%d, want 4 (304, then a full download)", requests)
			}
			// The repaired cache serves the next run again.
			if _, err := New(WithCacheDir(dir)).Versions(ctx, srv.repo(), "jupyterhub"); err != nil {
				t.Fatal(err)
			}
			if _, notModified := srv.stats(); notModified != 3 {
				t.Errorf("notModified=%d, want 3", notModified)
			}
		})
	}
}

func TestVersionsNoValidatorsNotCached(t *testing.T) {
	srv := newIndexServer(t, fixtureIndex(t))
	dir := t.TempDir()
	for range 2 {
		if _, err := New(WithCacheDir(dir)).Versions(context.Background(), srv.repo(), "pebble"); err != nil {
			t.Fatal(err)
		}
	}
	if requests, notModified := srv.stats(); requests != 2 || notModified != 0 || len(srv.conditionals) != 0 {
		t.Errorf("requests=%d notModified=%d conditionals=%q", requests, notModified, srv.conditionals)
	}
}

func TestVersionsConcurrentShareOneFetch(t *testing.T) {
	srv := newIndexServer(t, []byte("entries:\n  a:\n  - version: 1.0.0\n  b:\n  - version: 2.0.0\n"))
	c := New()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			_, err := c.Versions(context.Background(), srv.repo(), []string{"a", "b"}[i%2])
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := srv.stats(); n != 1 {
		t.Errorf("index fetched %d times by concurrent lookups, want once", n)
	}
}
