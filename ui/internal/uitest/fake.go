package uitest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// FixedNow is the clock of every deterministic test.
var FixedNow = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

// GenInventory builds a BinderHub-like inventory of n images: repositories
// of 1-20 images sharing an OS and a conda layer by generation, a
// per-repository environment layer and a per-image layer; created times
// over the year before now; tags are commit-like shas. The same seed gives
// the same inventory.
func GenInventory(n int, seed uint64, now time.Time) *model.Inventory {
	rng := rand.New(rand.NewPCG(seed, 42))
	b := model.NewInventoryBuilder("registry.example.org", now)
	hex := func(k int) string {
		const digits = "0123456789abcdef"
		out := make([]byte, k)
		for i := range out {
			out[i] = digits[rng.IntN(16)]
		}
		return string(out)
	}
	const mb = 1 << 20
	os := []model.Blob{{Digest: "sha256:os-a", Size: 30 * mb}, {Digest: "sha256:os-b", Size: 32 * mb}}
	conda := []model.Blob{{Digest: "sha256:conda-a", Size: 300 * mb}, {Digest: "sha256:conda-b", Size: 340 * mb}}
	orgs := []string{"jupyterhub", "binder-examples", "ipython", "numpy", "pangeo-data", "rstudio"}
	repos := 0
	for made := 0; made < n; {
		repos++
		repo := fmt.Sprintf("binder-%s-%s-%s", orgs[rng.IntN(len(orgs))], hex(5), hex(8))
		k := min(1+rng.IntN(20), n-made)
		env := model.Blob{Digest: "sha256:env-" + repo, Size: int64(50+rng.IntN(900)) * mb}
		for j := 0; j < k; j++ {
			gen := rng.IntN(2)
			created := now.Add(-time.Duration(rng.IntN(365*24)) * time.Hour)
			im := model.Image{Repository: repo, Digest: model.ParseDigest("sha256:" + hex(64)), Tags: []string{hex(40)}, Created: created,
				MediaType: "application/vnd.docker.distribution.manifest.v2+json"}
			if j == 0 {
				im.Tags = append(im.Tags, "latest")
			}
			blobs := []model.Blob{os[gen], conda[gen], env,
				{Digest: "sha256:layer-" + im.Digest.String(), Size: int64(1+rng.IntN(200)) * mb},
				{Digest: "sha256:cfg-" + im.Digest.String(), Size: 4096}}
			if err := b.AddImage(im, blobs); err != nil {
				panic(err)
			}
			made++
		}
	}
	b.SetRepositories(repos)
	return b.Inventory()
}

// DemoPolicy is a policy with every kind of hold and a cap the registry is
// over.
func DemoPolicy(capBytes int64) model.Policy {
	return model.Policy{MaxAge: 180 * 24 * time.Hour, KeepLatest: 1, Cap: capBytes, Aggressive: true}
}

// Registry is an in-memory registry service (the console's
// RegistryService) for deterministic screens and for failures the demo
// cannot produce. Set its knobs before the work they change starts, or
// after the console has settled.
type Registry struct {
	url string
	pol model.Policy
	now time.Time

	mu  sync.Mutex
	inv *model.Inventory
	// Deleted names the images (repository@digest) deleted so far.
	Deleted map[string]bool
	// Gate, when set, holds Scan after its first progress report until it
	// is closed.
	Gate chan struct{}
	// FailAfter >= 0 makes deletions after the first FailAfter fail, with
	// FailErr (default: 500 Internal Server Error; REF in it becomes the
	// manifest's path).
	FailAfter int
	FailErr   string
	// ApplyGate, when set, holds each deletion until it yields a value.
	ApplyGate chan struct{}
	ScanErr   error
	// Scans counts the scans begun.
	Scans int
	// Snap is the last scan's inventory the fake keeps (nil: none).
	Snap *model.Inventory
	// Moved names images (repository@digest) that a tag moved onto since
	// the scan: Recheck reports them and Apply skips them.
	Moved map[string]bool
}

// NewRegistry is a registry holding inv, planned by pol at FixedNow.
func NewRegistry(inv *model.Inventory, pol model.Policy) *Registry {
	return &Registry{url: "registry.example.org", pol: pol, now: FixedNow, inv: inv, Deleted: map[string]bool{}, FailAfter: -1}
}

func (f *Registry) URL() string          { return f.url }
func (f *Registry) Policy() model.Policy { return f.pol }
func (f *Registry) Now() time.Time       { return f.now }

// Scan reports a third of the repositories done, waits for Gate, and
// returns the inventory less what was deleted (or ScanErr).
func (f *Registry) Scan(ctx context.Context, progress func(registry.Progress)) (*model.Inventory, error) {
	f.mu.Lock()
	f.Scans++
	gate, err := f.Gate, f.ScanErr
	src := f.inv
	f.mu.Unlock()
	repos := map[string]bool{}
	for _, im := range src.Images {
		repos[im.Repository] = true
	}
	progress(registry.Progress{Repositories: len(repos), RepositoriesDone: len(repos) / 3, Images: len(src.Images), ImagesDone: len(src.Images) / 4})
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	b := model.NewInventoryBuilder(src.Registry, f.now)
	f.mu.Lock()
	for _, im := range src.Images {
		if f.Deleted[im.Ref()] {
			continue
		}
		if err := b.AddImageFrom(im, &src.Blobs, im.Blobs); err != nil {
			f.mu.Unlock()
			return nil, err
		}
	}
	f.mu.Unlock()
	for _, l := range src.RepositoryLocks {
		b.AddRepositoryLock(l)
	}
	for _, r := range src.RegistryRules {
		b.AddRegistryRule(r)
	}
	b.SetVendorSizeName(src.VendorSizeName)
	b.SetRepositories(src.Repositories)
	b.SetLocksUnread(src.LocksUnread)
	progress(registry.Progress{Repositories: len(repos), RepositoriesDone: len(repos), Images: len(src.Images), ImagesDone: len(src.Images)})
	return b.Inventory(), nil
}

// Snapshot is the last scan's inventory, if the test set one.
func (f *Registry) Snapshot() (*model.Inventory, error) { return f.Snap, nil }

// Recover finds nothing left unrecorded.
func (f *Registry) Recover(context.Context) ([]registry.Recovered, error) { return nil, nil }

// Recheck reports the planned images in Moved.
func (f *Registry) Recheck(_ context.Context, inv *model.Inventory, plan model.Plan) []registry.Skip {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []registry.Skip
	for k, d := range plan.Deletions {
		if im := &inv.Images[d.Image]; f.Moved[im.Ref()] {
			out = append(out, registry.Skip{Index: k, Repository: im.Repository, Digest: im.Digest.String(),
				Reason: registry.ChangedSinceScan + ": " + im.Repository + ":latest now points at it"})
		}
	}
	return out
}

// Plan is model.MakePlan with the fake's policy and clock.
func (f *Registry) Plan(inv *model.Inventory, manual []int, force bool) model.Plan {
	return model.MakePlan(inv, model.Request{Policy: f.pol, Now: f.now, Manual: manual, Force: force})
}

// Apply deletes the plan's images, one by one, as FailAfter, ApplyGate
// and Moved say.
func (f *Registry) Apply(ctx context.Context, inv *model.Inventory, plan model.Plan, progress func(done, total int)) (registry.ApplyResult, error) {
	if plan.Refused != "" {
		return registry.ApplyResult{}, errors.New("plan refused: " + plan.Refused)
	}
	var res registry.ApplyResult
	total := len(plan.Deletions)
	for k, d := range plan.Deletions {
		if f.ApplyGate != nil {
			<-f.ApplyGate
		}
		if ctx.Err() != nil {
			res.NotStarted, res.Interrupted = total-k, true
			return res, fmt.Errorf("apply interrupted: %d of %d deletions not started: %w", total-k, total, ctx.Err())
		}
		im := &inv.Images[d.Image]
		f.mu.Lock()
		if f.Moved[im.Ref()] {
			f.mu.Unlock()
			res.Skipped = append(res.Skipped, registry.Skip{Index: k, Repository: im.Repository, Digest: im.Digest.String(),
				Reason: registry.ChangedSinceScan + ": " + im.Repository + ":latest now points at it"})
			progress(k+1, total)
			continue
		}
		fail := f.FailAfter >= 0 && k >= f.FailAfter
		if !fail {
			f.Deleted[im.Ref()] = true
		}
		f.mu.Unlock()
		if fail {
			msg := "500 Internal Server Error"
			if f.FailErr != "" {
				msg = strings.ReplaceAll(f.FailErr, "REF", im.Repository+"/manifests/"+im.Digest.String())
			}
			res.Failed = append(res.Failed, registry.Failure{Index: k, Repository: im.Repository, Digest: im.Digest.String(), Error: msg})
		} else {
			res.Deleted = append(res.Deleted, registry.Done{Index: k, Repository: im.Repository, Digest: im.Digest.String(), Bytes: d.Reclaim})
			res.FreedBytes += d.Reclaim
		}
		progress(k+1, total)
	}
	return res, nil
}
