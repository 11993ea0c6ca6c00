package engine_test

import (
	"bytes"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/digestcache"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// TestDigestCacheByDefault: a registry engine caches manifests and configs
// under $HOME/.cache (or WithDigestCacheDir's directory) unless told not to
// (--no-cache).
func TestDigestCacheByDefault(t *testing.T) {
	ctx := t.Context()
	reg, cfg := smallRegistry(t)
	for _, tt := range []struct {
		name string
		opts func(dir string) []engine.Option
		// where the entries must be, given $HOME and a spare directory;
		// "": nowhere
		want func(home, dir string) string
	}{
		{"default", func(string) []engine.Option { return nil }, func(home, _ string) string {
			d, err := digestcache.DefaultDir(func(k string) string { return map[string]string{"HOME": home}[k] }, reg.Host())
			if err != nil {
				t.Fatal(err)
			}
			return d
		}},
		{"dir", func(dir string) []engine.Option { return []engine.Option{engine.WithDigestCacheDir(dir)} },
			func(_, dir string) string { return dir }},
		{"no-cache", func(string) []engine.Option { return []engine.Option{engine.WithoutDigestCache()} },
			func(string, string) string { return "" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			home, dir := t.TempDir(), t.TempDir()
			getenv := func(k string) string { return map[string]string{"HOME": home}[k] }
			r, _, err := engine.FromConfig(ctx, cfg, append(tt.opts(dir), engine.WithGetenv(getenv))...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Scan(ctx, nil); err != nil {
				t.Fatal(err)
			}
			all := entries(filepath.Join(home, ".cache")) + entries(dir) // the state directory keeps the scan's snapshot
			if want := tt.want(home, dir); want == "" {
				if all != 0 {
					t.Errorf("%d files written with the cache off", all)
				}
			} else if n := entries(want); n == 0 || n != all {
				t.Errorf("%d cache files in %s, %d in all", n, want, all)
			}
		})
	}
}

// entries counts the files under root.
func entries(root string) int {
	n := 0
	_ = filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// smallRegistry starts a registry holding smallPopulation, and returns
// it with a configuration for it.
func smallRegistry(t *testing.T) (*registrytest.Registry, *config.Config) {
	t.Helper()
	reg, _ := registrytest.ServeSeeded(t, smallPopulation())
	return reg, &config.Config{Registry: config.Registry{URL: reg.Host(), Auth: config.Auth{Type: config.AuthAnonymous}, Concurrency: 4}}
}

// TestDigestCacheLogsDamage: damage the digest cache finds is logged
// through WithDigestCacheLogger, and the scan is whole.
func TestDigestCacheLogsDamage(t *testing.T) {
	ctx := t.Context()
	_, cfg := smallRegistry(t)
	dir, home := t.TempDir(), t.TempDir() // the state (snapshots) under home, never the working directory
	var log bytes.Buffer
	scan := func() int {
		t.Helper()
		r, _, err := engine.FromConfig(ctx, cfg, engine.WithDigestCacheDir(dir), engine.WithGetenv(func(k string) string { return map[string]string{"HOME": home}[k] }),
			engine.WithDigestCacheLogger(slog.New(slog.NewTextHandler(&log, nil))))
		if err != nil {
			t.Fatal(err)
		}
		inv, err := r.Scan(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return len(inv.Images)
	}
	want := scan()
	c, err := digestcache.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Entries()[0]
	raw, err := os.ReadFile(e.Segment)
	if err != nil {
		t.Fatal(err)
	}
	raw[e.Offset+e.Length-2] ^= 1
	if err := os.WriteFile(e.Segment, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := scan(); got != want {
		t.Errorf("%d images over a damaged cache, %d before", got, want)
	}
	if !strings.Contains(log.String(), "damaged entry dropped") || !strings.Contains(log.String(), e.Digest) {
		t.Errorf("log %q: no line about %s", log.String(), e.Digest)
	}
}
