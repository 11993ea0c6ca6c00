package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/headless"
)

// TestNoCacheFlag: a headless run caches manifests and configs under
// $HOME/.cache/helmupgradebot/digests; with --no-cache it writes nothing
// there.
func TestNoCacheFlag(t *testing.T) {
	ctx := context.Background()
	pop := registrytest.DefaultPopulation()
	pop.Repositories, pop.TagsPerRepository = 2, 2
	reg, _ := registrytest.ServeSeeded(t, pop)
	cfg := filepath.Join(t.TempDir(), "hub.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "registry:\n  url: %s\n", reg.Host()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, noCache := range []bool{false, true} {
		home := t.TempDir()
		args := []string{"--headless", "--json", "--only", "registry", "--config", cfg}
		if noCache {
			args = append(args, "--no-cache")
		}
		var stdout, stderr bytes.Buffer
		if code := run(ctx, args, &stdout, &stderr, func(k string) string { return map[string]string{"HOME": home}[k] }); code != headless.ExitOK {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr.String())
		}
		cached, _ := filepath.Glob(filepath.Join(home, ".cache", "helmupgradebot", "digests", "*", "*.seg"))
		if noCache && len(cached) != 0 {
			t.Errorf("--no-cache: %d segments written", len(cached))
		}
		if !noCache && len(cached) == 0 {
			t.Error("nothing cached under $HOME/.cache/helmupgradebot/digests")
		}
	}
}
