package ui

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// fixedNow is the clock of every deterministic test.
var fixedNow = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

// genInventory builds a BinderHub-like inventory of n images: repositories
// of 1-20 images sharing an OS and a conda layer by generation, a
// per-repository environment layer and a per-image layer; created times
// over the year before now; tags are commit-like shas. The same seed gives
// the same inventory.
func genInventory(n int, seed uint64, now time.Time) *model.Inventory {
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
			im := model.Image{Repository: repo, Digest: "sha256:" + hex(64), Tags: []string{hex(40)}, Created: created,
				MediaType: "application/vnd.docker.distribution.manifest.v2+json"}
			if j == 0 {
				im.Tags = append(im.Tags, "latest")
			}
			blobs := []model.Blob{os[gen], conda[gen], env,
				{Digest: "sha256:layer-" + im.Digest, Size: int64(1+rng.IntN(200)) * mb},
				{Digest: "sha256:cfg-" + im.Digest, Size: 4096}}
			if err := b.AddImage(im, blobs); err != nil {
				panic(err)
			}
			made++
		}
	}
	b.SetRepositories(repos)
	return b.Inventory()
}

// fakeRegistry is an in-memory RegistryService for deterministic screens
// and for failures the demo cannot produce.
type fakeRegistry struct {
	url string
	pol model.Policy
	now time.Time

	mu      sync.Mutex
	inv     *model.Inventory
	deleted map[string]bool
	// gate, when set, holds Scan after its first progress report until it
	// is closed.
	gate chan struct{}
	// failAfter >= 0 makes deletions after the first failAfter fail, with
	// failErr (default: 500 Internal Server Error).
	failAfter int
	failErr   string
	// applyGate, when set, holds each deletion until it yields a value.
	applyGate chan struct{}
	scanErr   error
	scans     int
	// snap is the last scan's inventory the fake keeps (nil: none).
	snap *model.Inventory
	// moved names images (repository@digest) that a tag moved onto since
	// the scan: Recheck reports them and Apply skips them.
	moved map[string]bool
}

func newFakeRegistry(inv *model.Inventory, pol model.Policy) *fakeRegistry {
	return &fakeRegistry{url: "registry.example.org", pol: pol, now: fixedNow, inv: inv, deleted: map[string]bool{}, failAfter: -1}
}

func (f *fakeRegistry) URL() string          { return f.url }
func (f *fakeRegistry) Policy() model.Policy { return f.pol }
func (f *fakeRegistry) Now() time.Time       { return f.now }

func (f *fakeRegistry) Scan(ctx context.Context, progress func(registry.Progress)) (*model.Inventory, error) {
	f.mu.Lock()
	f.scans++
	gate, err := f.gate, f.scanErr
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
		if f.deleted[im.Ref()] {
			continue
		}
		blobs := make([]model.Blob, len(im.Blobs))
		for k, bi := range im.Blobs {
			blobs[k] = src.Blobs[bi]
		}
		if err := b.AddImage(im, blobs); err != nil {
			f.mu.Unlock()
			return nil, err
		}
	}
	f.mu.Unlock()
	for _, l := range src.RepositoryLocks {
		b.AddRepositoryLock(l)
	}
	b.SetRepositories(src.Repositories)
	progress(registry.Progress{Repositories: len(repos), RepositoriesDone: len(repos), Images: len(src.Images), ImagesDone: len(src.Images)})
	return b.Inventory(), nil
}

// Snapshot is the last scan's inventory, if the test set one.
func (f *fakeRegistry) Snapshot() (*model.Inventory, error) { return f.snap, nil }

// Recover finds nothing left unrecorded.
func (f *fakeRegistry) Recover(context.Context) ([]registry.Recovered, error) { return nil, nil }

func (f *fakeRegistry) Recheck(_ context.Context, inv *model.Inventory, plan model.Plan) []registry.Skip {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []registry.Skip
	for k, d := range plan.Deletions {
		if im := &inv.Images[d.Image]; f.moved[im.Ref()] {
			out = append(out, registry.Skip{Index: k, Repository: im.Repository, Digest: im.Digest,
				Reason: registry.ChangedSinceScan + ": " + im.Repository + ":latest now points at it"})
		}
	}
	return out
}

func (f *fakeRegistry) Plan(inv *model.Inventory, manual []int, force bool) model.Plan {
	return model.MakePlan(inv, model.Request{Policy: f.pol, Now: f.now, Manual: manual, Force: force})
}

func (f *fakeRegistry) Apply(ctx context.Context, inv *model.Inventory, plan model.Plan, progress func(done, total int)) (registry.ApplyResult, error) {
	if plan.Refused != "" {
		return registry.ApplyResult{}, errors.New("plan refused: " + plan.Refused)
	}
	var res registry.ApplyResult
	total := len(plan.Deletions)
	for k, d := range plan.Deletions {
		if f.applyGate != nil {
			<-f.applyGate
		}
		if ctx.Err() != nil {
			res.NotStarted, res.Interrupted = total-k, true
			return res, fmt.Errorf("apply interrupted: %d of %d deletions not started: %w", total-k, total, ctx.Err())
		}
		im := &inv.Images[d.Image]
		f.mu.Lock()
		if f.moved[im.Ref()] {
			f.mu.Unlock()
			res.Skipped = append(res.Skipped, registry.Skip{Index: k, Repository: im.Repository, Digest: im.Digest,
				Reason: registry.ChangedSinceScan + ": " + im.Repository + ":latest now points at it"})
			progress(k+1, total)
			continue
		}
		fail := f.failAfter >= 0 && k >= f.failAfter
		if !fail {
			f.deleted[im.Ref()] = true
		}
		f.mu.Unlock()
		if fail {
			msg := "500 Internal Server Error"
			if f.failErr != "" {
				msg = strings.ReplaceAll(f.failErr, "REF", im.Repository+"/manifests/"+im.Digest)
			}
			res.Failed = append(res.Failed, registry.Failure{Index: k, Repository: im.Repository, Digest: im.Digest, Error: msg})
		} else {
			res.Deleted = append(res.Deleted, registry.Done{Index: k, Repository: im.Repository, Digest: im.Digest, Bytes: d.Reclaim})
			res.FreedBytes += d.Reclaim
		}
		progress(k+1, total)
	}
	return res, nil
}

// fakeCharts is an in-memory ChartService.
type fakeCharts struct {
	// gate, when set, holds Check until it is closed.
	gate    chan struct{}
	mu      sync.Mutex
	rows    []model.DependencyStatus
	nextPR  int
	failErr error
	opened  [][]string
}

func newFakeCharts() *fakeCharts {
	ver := func(v string, age time.Duration) model.ChartVersion {
		return model.ChartVersion{Version: v, Created: fixedNow.Add(-age)}
	}
	const repo, file = "jupyterhub/mybinder.org-deploy", "mybinder/Chart.yaml"
	return &fakeCharts{nextPR: 101, rows: []model.DependencyStatus{
		{Repository: repo, File: file, Base: "main", Dependency: "binderhub", ChartRepository: "https://hub.jupyter.org/helm-chart/",
			Current: "1.0.0-0.dev.git.3440.h1e0b0d0", Latest: ver("1.0.0-0.dev.git.3506.hba24eb2a", 3*24*time.Hour), State: model.StateOutdated},
		{Repository: repo, File: file, Base: "main", Dependency: "jupyterhub", ChartRepository: "https://hub.jupyter.org/helm-chart/",
			Current: "3.3.7", Latest: ver("3.3.8", 20*24*time.Hour), State: model.StateOutdated},
		{Repository: repo, File: file, Base: "main", Dependency: "ingress-nginx", ChartRepository: "https://kubernetes.github.io/ingress-nginx",
			Current: "4.11.3", Latest: ver("4.11.3", 60*24*time.Hour), State: model.StateUpToDate},
		{Repository: repo, File: "config/prod/Chart.yaml", Base: "main", Dependency: "traefik", ChartRepository: "oci://ghcr.io/traefik/helm",
			Current: "33.0.0", Latest: ver("34.1.0", 9*24*time.Hour), State: model.StatePROpen, PRNumber: 77,
			PRURL: "https://github.com/jupyterhub/mybinder.org-deploy/pull/77"},
		{Repository: repo, File: "config/prod/Chart.yaml", Base: "main", Dependency: "grafana", ChartRepository: "https://grafana.github.io/helm-charts",
			Current: "8.5.1", State: model.StateError, Error: "fetch https://grafana.github.io/helm-charts/index.yaml: 503 Service Unavailable"},
	}}
}

func (f *fakeCharts) Check(ctx context.Context) []model.DependencyStatus {
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rows)
}

func (f *fakeCharts) Preview(deps []model.DependencyStatus) (engine.Proposal, error) {
	if len(deps) == 0 {
		return engine.Proposal{}, errors.New("no dependency to bump")
	}
	var bumps []model.Bump
	var diff string
	for k, d := range deps {
		bumps = append(bumps, d.Bump())
		diff += fmt.Sprintf("-%d:     version: %s\n+%d:     version: %s\n", 10+4*k, d.Current, 10+4*k, d.Latest.Version)
	}
	title, body := model.PullRequestText(deps[0].File, bumps)
	branch := "helmupgradebot/mybinder-chart-yaml/" + deps[0].Dependency
	if len(deps) > 1 {
		branch = "helmupgradebot/mybinder-chart-yaml/all"
	}
	return engine.Proposal{Repository: deps[0].Repository, File: deps[0].File, Base: "main", Branch: branch, Title: title, Body: body, Diff: diff}, nil
}

func (f *fakeCharts) Open(ctx context.Context, deps []model.DependencyStatus) ([]model.DependencyStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failErr != nil {
		err := f.failErr
		f.failErr = nil
		return nil, err
	}
	n := f.nextPR
	f.nextPR++
	var names []string
	out := slices.Clone(deps)
	for i := range out {
		out[i].State, out[i].PRNumber = model.StatePROpened, n
		out[i].PRURL = fmt.Sprintf("https://github.com/%s/pull/%d", out[i].Repository, n)
		names = append(names, out[i].Dependency)
		for k := range f.rows {
			if f.rows[k].Dependency == out[i].Dependency && f.rows[k].File == out[i].File {
				f.rows[k] = out[i]
			}
		}
	}
	f.opened = append(f.opened, names)
	return out, nil
}

// demoPolicy is a policy with every kind of hold and a cap the registry is
// over.
func demoPolicy(capBytes int64) model.Policy {
	return model.Policy{MaxAge: 180 * 24 * time.Hour, KeepLatest: 1, Cap: capBytes, Aggressive: true}
}
