package engine_test

import (
	"context"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestSnapshotSeedsTheNextRun: a new run on ACR (a new engine and client,
// as a new process has) reads no manifest or config that the last run's
// snapshot describes, with no digest cache at all, and finds the same
// inventory; without the snapshot it reads them all again.
func TestSnapshotSeedsTheNextRun(t *testing.T) {
	azuretest.HermeticEnv(t)
	id := azuretest.ServeIdentity(t)
	srv := acrtest.ServeSynthetic(t, acrtest.Synthetic{Repositories: 5, ManifestsPerRepository: 20, Seed: 2}, acrtest.WithIdentity(id))
	cred, err := id.Credential()
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, snapshots string) (*model.Inventory, int) {
		t.Helper()
		c, err := registry.NewACR(srv.Host(), cred)
		if err != nil {
			t.Fatal(err)
		}
		r := engine.NewRegistry(srv.Host(), c, c, model.Policy{}, "", nil, engine.WithSnapshotDir(snapshots))
		before := len(srv.Requests())
		inv, err := r.Scan(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		reads := 0
		for _, q := range srv.Requests()[before:] {
			if q.Kind == acrtest.KindManifestByDigest || q.Kind == acrtest.KindBlob {
				reads++
			}
		}
		return inv, reads
	}
	dir := t.TempDir()
	first, reads := run(t, dir)
	if reads == 0 {
		t.Fatal("the first run read nothing")
	}
	for _, tc := range []struct {
		name      string
		dir       string
		wantReads bool
	}{{"seeded", dir, false}, {"no snapshot", t.TempDir(), true}} {
		t.Run(tc.name, func(t *testing.T) {
			inv, reads := run(t, tc.dir)
			if (reads > 0) != tc.wantReads {
				t.Errorf("%d manifest and config reads, want reads: %v", reads, tc.wantReads)
			}
			if len(inv.Images) != len(first.Images) || model.ComputeSizes(inv).Total != model.ComputeSizes(first).Total {
				t.Errorf("%d images %d bytes, the first run %d images %d bytes", len(inv.Images), model.ComputeSizes(inv).Total, len(first.Images), model.ComputeSizes(first).Total)
			}
		})
	}
}

// snapshotProbe is an ACR client whose scan first asks the engine for
// its snapshot, as the console would while the scan runs.
type snapshotProbe struct {
	*registry.ACR
	engine *engine.Registry
	held   bool // the engine still held the snapshot when the scan began
}

func (p *snapshotProbe) Scan(ctx context.Context, progress func(registry.Progress)) (*model.Inventory, error) {
	snap, err := p.engine.Snapshot()
	p.held = err == nil && snap != nil
	return p.ACR.Scan(ctx, progress)
}

// TestSeedOnly: a headless run (SeedOnly) lets go of the snapshot once
// the lister took it, before the scan runs; the console's engine keeps it
// for the screen until the scan ends. Both runs are seeded by it.
func TestSeedOnly(t *testing.T) {
	azuretest.HermeticEnv(t)
	id := azuretest.ServeIdentity(t)
	srv := acrtest.ServeSynthetic(t, acrtest.Synthetic{Repositories: 3, ManifestsPerRepository: 10, Seed: 3}, acrtest.WithIdentity(id))
	cred, err := id.Credential()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	scan := func(t *testing.T, seedOnly bool) (held bool, reads int) {
		t.Helper()
		c, err := registry.NewACR(srv.Host(), cred)
		if err != nil {
			t.Fatal(err)
		}
		p := &snapshotProbe{ACR: c}
		r := engine.NewRegistry(srv.Host(), p, c, model.Policy{}, "", nil, engine.WithSnapshotDir(dir))
		p.engine = r
		if seedOnly {
			r.SeedOnly()
		}
		before := len(srv.Requests())
		if _, err := r.Scan(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
		for _, q := range srv.Requests()[before:] {
			if q.Kind == acrtest.KindManifestByDigest || q.Kind == acrtest.KindBlob {
				reads++
			}
		}
		return p.held, reads
	}
	scan(t, false) // the first run writes the snapshot
	for _, tc := range []struct {
		name     string
		seedOnly bool
	}{{"console", false}, {"headless", true}} {
		t.Run(tc.name, func(t *testing.T) {
			held, reads := scan(t, tc.seedOnly)
			if held == tc.seedOnly {
				t.Errorf("the engine held the snapshot during the scan: %v, want %v", held, !tc.seedOnly)
			}
			if reads != 0 {
				t.Errorf("%d manifest reads: the run was not seeded", reads)
			}
		})
	}
}
