package demo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

func TestDemoWorksForReal(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	env, err := Start(ctx, WithNow(now))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()

	rows := env.Charts.Check(ctx)
	states := map[string]model.DependencyState{}
	for _, r := range rows {
		states[r.Dependency] = r.State
		if r.State == model.StateError {
			t.Errorf("%s: %s", r.Dependency, r.Error)
		}
	}
	want := map[string]model.DependencyState{"binderhub": model.StateOutdated, "jupyterhub": model.StateUpToDate,
		"ingress-nginx": model.StateOutdated, "traefik": model.StateOutdated}
	for d, s := range want {
		if states[d] != s {
			t.Errorf("%s is %q, want %q", d, states[d], s)
		}
	}
	var binder model.DependencyStatus
	for _, r := range rows {
		switch r.Dependency {
		case "binderhub":
			binder = r
		case "traefik":
			// From the OCI registry: the tag list, then the newest's
			// manifest and config for the PR body.
			if r.Latest.Version != "35.0.0" || r.Latest.Created.IsZero() || r.Latest.Home == "" || r.Latest.AppVersion == "" {
				t.Errorf("traefik from oci://: %+v", r.Latest)
			}
		}
	}
	if !strings.HasSuffix(binder.Latest.Version, ".git.3506.h"+chartpressHash("binderhub", 3506)) {
		t.Errorf("binderhub latest = %s", binder.Latest.Version)
	}
	p, err := env.Charts.Preview([]model.DependencyStatus{binder})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(p.Diff, "\n") != 2 || !strings.Contains(p.Diff, binder.Latest.Version) {
		t.Errorf("diff is not one line:\n%s", p.Diff)
	}
	opened, err := env.Charts.Open(ctx, []model.DependencyStatus{binder})
	if err != nil {
		t.Fatal(err)
	}
	if opened[0].State != model.StatePROpened || opened[0].PRURL == "" {
		t.Errorf("after Open: %+v", opened[0])
	}
	if prs := env.GitHub.PullRequests(Owner, Repo); len(prs) != 1 {
		t.Errorf("stand-in holds %d PRs, want 1", len(prs))
	}
	// A second check sees the PR as open and proposes nothing new.
	for _, r := range env.Charts.Check(ctx) {
		if r.Dependency == "binderhub" && r.State != model.StatePROpen {
			t.Errorf("after reopening check: binderhub is %s", r.State)
		}
	}

	inv, err := env.Registry.Scan(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) > 0 {
		t.Errorf("scan errors: %v", inv.Errors)
	}
	if len(inv.Images) != len(env.Seeded.Images) {
		t.Errorf("scan found %d images, seeded %d", len(inv.Images), len(env.Seeded.Images))
	}
	plan := env.Registry.Plan(inv, nil, false)
	if plan.Refused != "" || len(plan.Deletions) == 0 || plan.TotalAfterBytes > plan.CapBytes {
		t.Fatalf("demo plan: %d deletions, refused %q, after %d cap %d", len(plan.Deletions), plan.Refused, plan.TotalAfterBytes, plan.CapBytes)
	}
	res, err := env.Registry.Apply(ctx, inv, plan, nil)
	if err != nil || len(res.Deleted) != len(plan.Deletions) {
		t.Fatalf("apply: %v, %+v", err, res)
	}
	after, err := env.Registry.Scan(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := model.ComputeSizes(after).Total; got != plan.TotalAfterBytes {
		t.Errorf("after deleting, the registry holds %d bytes; the plan said %d", got, plan.TotalAfterBytes)
	}
}
