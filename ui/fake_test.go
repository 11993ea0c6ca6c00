package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/internal/uitest"
)

// fixedNow is the clock of every deterministic test.
var fixedNow = uitest.FixedNow

// genInventory builds a BinderHub-like inventory of n images
// (uitest.GenInventory): the same seed gives the same inventory.
func genInventory(n int, seed uint64, now time.Time) *model.Inventory {
	return uitest.GenInventory(n, seed, now)
}

// fakeRegistry is an in-memory RegistryService for deterministic screens
// and for failures the demo cannot produce.
type fakeRegistry = uitest.Registry

func newFakeRegistry(inv *model.Inventory, pol model.Policy) *fakeRegistry {
	return uitest.NewRegistry(inv, pol)
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
func demoPolicy(capBytes int64) model.Policy { return uitest.DemoPolicy(capBytes) }
