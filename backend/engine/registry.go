// Package engine drives helmupgradebot's two chores, registry cleanup and
// chart upgrades, for both faces: the console and --headless call the same
// methods, so a preview is always what a run applies.
package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/audit"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/backend/runlock"
	"github.com/helmupgradebot/helmupgradebot/backend/snapshot"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// Registry scans, plans and cleans one container registry.
type Registry struct {
	url       string
	lister    registry.Lister
	deleter   registry.Deleter
	policy    model.Policy
	auditPath string
	now       func() time.Time
	flavor    string
	usage     *usageState // nil: no usage source configured
	snapshots string      // directory of the last scans' inventories; "" none
	seedOnce  sync.Once
	snapMu    sync.Mutex
	snapRead  bool
	snap      *model.Inventory // the last run's, until the first scan ends
	snapErr   error
	seedOnly  bool                    // nothing shows the snapshot: let it go once the lister has it
	requests  *registry.RequestCounts // nil: not counted
}

// Seeder is a lister that can take a previous inventory of its registry,
// whose manifests it then need not read again (registry.ACR).
type Seeder interface {
	Seed(*model.Inventory)
}

// WithSnapshotDir keeps each scan's inventory under dir, for the console
// to open on at once (Snapshot).
func WithSnapshotDir(dir string) RegistryOption { return func(r *Registry) { r.snapshots = dir } }

// Snapshot is the last run's inventory, or nil when there is none. It is
// only for showing while a fresh scan runs: never plan deletions on it.
// It is read once: the console showing it and the first scan seeded with
// it share one copy, which is let go when that scan ends.
func (r *Registry) Snapshot() (*model.Inventory, error) {
	if r.snapshots == "" {
		return nil, nil
	}
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	if !r.snapRead {
		r.snap, r.snapErr = snapshot.Load(snapshot.Path(r.snapshots, r.url))
		r.snapRead = true
	}
	return r.snap, r.snapErr
}

// SeedOnly says that nothing will show the snapshot (a headless run): the
// first scan's seed is its only use, and the engine lets go of it as soon
// as the lister has taken what it needs, rather than when the scan ends.
// At 100,000 images that is about 45 MB less during the scan.
func (r *Registry) SeedOnly() { r.seedOnly = true }

// RegistryOption tunes NewRegistry.
type RegistryOption func(*Registry)

// WithFlavor names the registry's API flavor (acr or distribution) for the
// report; the lister and deleter are what differ.
func WithFlavor(f string) RegistryOption { return func(r *Registry) { r.flavor = f } }

// Flavor is the registry's API flavor: "acr" or "distribution".
func (r *Registry) Flavor() string {
	if r.flavor == "" {
		return "distribution"
	}
	return r.flavor
}

// NewRegistry wires a registry client to a policy and an audit log path.
func NewRegistry(url string, lister registry.Lister, deleter registry.Deleter, pol model.Policy, auditPath string, now func() time.Time, opts ...RegistryOption) *Registry {
	if now == nil {
		now = time.Now
	}
	r := &Registry{url: url, lister: lister, deleter: deleter, policy: pol, auditPath: auditPath, now: now}
	for _, o := range opts {
		o(r)
	}
	return r
}

// WithRequestCounts gives the counts of the registry client's requests
// (registry.WithRequestCounts), for Requests.
func WithRequestCounts(c *registry.RequestCounts) RegistryOption {
	return func(r *Registry) { r.requests = c }
}

// Requests returns the HTTP requests sent to the registry so far, by
// registry API (registry.APIs); nil when they are not counted.
func (r *Registry) Requests() map[string]int64 {
	if r.requests == nil {
		return nil
	}
	return r.requests.Counts()
}

// URL is the registry's host[:port].
func (r *Registry) URL() string { return r.url }

// Policy is the deletion policy from the configuration.
func (r *Registry) Policy() model.Policy { return r.policy }

// AuditPath is where deletions are recorded.
func (r *Registry) AuditPath() string { return r.auditPath }

// Now is the engine's clock.
func (r *Registry) Now() time.Time { return r.now() }

// Scan inventories the registry. progress may be nil.
func (r *Registry) Scan(ctx context.Context, progress func(registry.Progress)) (*model.Inventory, error) {
	if progress == nil {
		progress = func(registry.Progress) {}
	}
	r.seedOnce.Do(func() {
		// The last run's snapshot saves the first scan reading again what
		// it read; every later scan is seeded by the one before it.
		if sd, ok := r.lister.(Seeder); ok {
			if prev, err := r.Snapshot(); err == nil && prev != nil && prev.Registry != "" {
				sd.Seed(prev)
			}
			if r.seedOnly {
				r.snapMu.Lock()
				r.snap, r.snapErr = nil, nil
				r.snapMu.Unlock()
			}
		}
	})
	defer func() {
		r.snapMu.Lock()
		r.snap, r.snapErr, r.snapRead = nil, nil, true
		r.snapMu.Unlock()
	}()
	inv, err := r.scanWithUsage(ctx, progress)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", r.url, err)
	}
	if err := r.readPlannedLocks(ctx, inv); err != nil {
		return nil, fmt.Errorf("scan %s: %w", r.url, err)
	}
	if r.snapshots != "" {
		_ = snapshot.Save(snapshot.Path(r.snapshots, r.url), inv) // a missing snapshot costs only a slower start
	}
	return inv, nil
}

// readPlannedLocks reads the locks a scan left unread
// (registry.WithDeferredLocks) where the policy's plan deletes, forced
// past max_delete_fraction so that any plan of this inventory finds its
// locks read (registry.ReadPlannedLocks).
func (r *Registry) readPlannedLocks(ctx context.Context, inv *model.Inventory) error {
	lr, ok := r.lister.(registry.LockReader)
	if !ok {
		return nil
	}
	return registry.ReadPlannedLocks(ctx, lr, inv, func(inv *model.Inventory) model.Plan { return r.Plan(inv, nil, true) })
}

// Plan makes the deletion plan: the policy's (age, then cap) when manual is
// nil, else exactly the manual picks minus held images. force accepts a
// plan over max_delete_fraction.
func (r *Registry) Plan(inv *model.Inventory, manual []int, force bool) model.Plan {
	return model.MakePlan(inv, model.Request{Policy: r.policy, Now: r.now(), Manual: manual, Force: force, Usage: r.planUsage(inv)})
}

// Apply deletes a plan's images, recording every attempt and outcome in the
// audit log. progress may be nil.
func (r *Registry) Apply(ctx context.Context, inv *model.Inventory, plan model.Plan, progress func(done, total int)) (registry.ApplyResult, error) {
	if plan.Refused != "" {
		return registry.ApplyResult{}, fmt.Errorf("plan refused: %s", plan.Refused)
	}
	if len(plan.Deletions) == 0 {
		return registry.ApplyResult{}, nil
	}
	log, err := audit.Open(r.auditPath) // its errors name the path
	if err != nil {
		return registry.ApplyResult{}, err
	}
	opts := []registry.ApplyOption{registry.WithProtect(r.policy.Protect)}
	if progress != nil {
		opts = append(opts, registry.WithProgress(progress))
	}
	res, err := registry.Apply(ctx, r.deleter, inv, plan, log, opts...)
	if cerr := log.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return res, err
}

// Recheck says which of a plan's deletions the registry no longer allows
// (changed since the scan), deleting nothing; Apply skips the same ones.
func (r *Registry) Recheck(ctx context.Context, inv *model.Inventory, plan model.Plan) []registry.Skip {
	return registry.Recheck(ctx, r.deleter, inv, plan, r.policy.Protect)
}

// Recover finds the deletions a killed run attempted without recording
// their outcome (the audit log's attempts with no answer), asks the
// registry what became of each, and records it. Every run calls it before
// planning.
func (r *Registry) Recover(ctx context.Context) ([]registry.Recovered, error) {
	// the registry's lines, however another configuration spelled it (the
	// run lock is per registry in the same sense)
	key := func(host string) string { return runlock.RegistryName(host, config.IsACRHost(host)) }
	want := key(r.url)
	pending, _, err := audit.PendingFor(r.auditPath, func(reg string) bool { return key(reg) == want })
	if err != nil || len(pending) == 0 {
		return nil, err
	}
	log, err := audit.Open(r.auditPath)
	if err != nil {
		return nil, err
	}
	rec, err := registry.Recover(ctx, r.deleter, log, pending)
	if cerr := log.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return rec, err
}
