package demo

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestDemoLocks: the demo's registry shows a lock at every level ACR
// has, each holding what it should, and the policy plan deletes none of
// what they hold.
func TestDemoLocks(t *testing.T) {
	ctx := context.Background()
	env, err := Start(ctx, WithNow(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	inv, err := env.Registry.Scan(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	levels := inv.LockLevels()
	for _, l := range []string{model.LockManifest, model.LockTag, model.LockPlatform, model.LockRepository} {
		if levels[l] == 0 {
			t.Errorf("no image locked by a %s lock: %v", l, levels)
		}
	}
	var deleteOnly, writeLocked bool
	for _, l := range inv.RepositoryLocks {
		deleteOnly = deleteOnly || (l.DeleteDisabled && !l.WriteDisabled)
		writeLocked = writeLocked || l.WriteDisabled
	}
	if !deleteOnly || !writeLocked {
		t.Errorf("repository locks %+v, want one with deletes only disabled and one with writes disabled", inv.RepositoryLocks)
	}
	plan := env.Registry.Plan(inv, nil, false)
	for _, d := range plan.Deletions {
		if inv.Images[d.Image].Locked {
			t.Errorf("%s is planned, but %s", inv.Images[d.Image].Ref(), inv.Images[d.Image].LockText())
		}
	}
	n := 0
	for _, c := range levels {
		n += c
	}
	if plan.Held[model.HoldLocked] != n || !maps.Equal(levels, map[string]int{model.LockManifest: 1, model.LockTag: 1, model.LockPlatform: 1, model.LockRepository: levels[model.LockRepository]}) {
		t.Errorf("held %v, locks %v", plan.Held, levels)
	}
}
