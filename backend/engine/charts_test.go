package engine_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/demo/demotest"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// start runs the demo for a chart test: without its values file, whose
// image rows images_test.go tests.
func start(t *testing.T, configure func(*config.Config)) *demo.Env {
	t.Helper()
	return demotest.Serve(t, demo.WithNow(now), demo.WithPopulation(smallPopulation()), demo.WithConfigure(func(c *config.Config) {
		c.Charts[0].Values = nil
		configure(c)
	}))
}

// smallPopulation keeps the registry small: these tests are about charts.
func smallPopulation() registrytest.Population {
	p := registrytest.DefaultPopulation()
	p.Repositories, p.TagsPerRepository = 3, 2
	return p
}

func outdated(rows []model.DependencyStatus) []model.DependencyStatus {
	var out []model.DependencyStatus
	for _, r := range rows {
		if r.State == model.StateOutdated {
			out = append(out, r)
		}
	}
	return out
}

func TestGroupedPullRequest(t *testing.T) {
	ctx := context.Background()
	env := start(t, func(c *config.Config) { c.Charts[0].Group = true })
	rows := outdated(env.Charts.Check(ctx))
	if len(rows) != 3 {
		t.Fatalf("outdated rows: %+v", rows)
	}
	p, err := env.Charts.Preview(rows)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(p.Branch, "/all") || strings.Count(p.Diff, "\n") != 2*len(rows) {
		t.Errorf("grouped preview: branch %s, diff\n%s", p.Branch, p.Diff)
	}
	for _, r := range rows {
		if !strings.Contains(p.Title, r.Dependency+" to "+r.Latest.Version) {
			t.Errorf("title %q does not carry %s's new version", p.Title, r.Dependency)
		}
	}
	opened, err := env.Charts.Open(ctx, rows)
	if err != nil {
		t.Fatal(err)
	}
	if opened[0].PRNumber == 0 || opened[0].PRNumber != opened[2].PRNumber {
		t.Errorf("grouped open: %+v", opened)
	}
	prs := env.GitHub.PullRequests(demo.Owner, demo.Repo)
	if len(prs) != 1 {
		t.Fatalf("%d PRs, want one grouped PR", len(prs))
	}
	content, ok := env.GitHub.File(demo.Owner, demo.Repo, prs[0].HeadRef, demo.File)
	if !ok {
		t.Fatal("no file on the PR branch")
	}
	for _, r := range rows {
		if !strings.Contains(content, r.Latest.Version) {
			t.Errorf("PR branch lacks %s %s", r.Dependency, r.Latest.Version)
		}
	}
	for _, r := range env.Charts.Check(ctx) {
		if r.State == model.StateOutdated {
			t.Errorf("after the grouped PR, %s is still outdated", r.Dependency)
		}
	}
}

// TestGroupedPullRequestOnUngroupedFile: the console's P opens one PR for
// a file not configured as grouped; a later check must still see it.
func TestGroupedPullRequestOnUngroupedFile(t *testing.T) {
	ctx := context.Background()
	env := start(t, func(*config.Config) {})
	rows := outdated(env.Charts.Check(ctx))
	if len(rows) < 2 {
		t.Fatalf("want two outdated rows, got %+v", rows)
	}
	if _, err := env.Charts.Open(ctx, rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range env.Charts.Check(ctx) {
		if r.State == model.StateOutdated {
			t.Errorf("after a grouped PR, %s is still outdated", r.Dependency)
		}
	}
}

func TestCheckErrorRows(t *testing.T) {
	tests := []struct {
		name      string
		configure func(*config.Config)
		dep, want string
	}{
		{"missing file", func(c *config.Config) { c.Charts[0].File = "nope/Chart.yaml" }, "", "nope/Chart.yaml"},
		{"configured dependency absent", func(c *config.Config) {
			c.Charts[0].Dependencies["cert-manager"] = config.Dependency{}
		}, "cert-manager", "no such dependency"},
		{"repository not visible", func(c *config.Config) { c.Charts[0].Repository = "someone/private" }, "", "someone/private"},
		{"constraint narrows to nothing newer", func(c *config.Config) {
			c.Charts[0].Dependencies["ingress-nginx"] = config.Dependency{Constraint: "<4.0.0"}
		}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := start(t, func(c *config.Config) { tt.configure(c) })
			rows := env.Charts.Check(context.Background())
			if tt.want == "" {
				for _, r := range rows {
					if r.Dependency == "ingress-nginx" && r.State != model.StateUpToDate {
						t.Errorf("ingress-nginx under <4.0.0 is %s, want up-to-date", r.State)
					}
				}
				return
			}
			found := false
			for _, r := range rows {
				if r.State == model.StateError && r.Dependency == tt.dep && strings.Contains(r.Error, tt.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error row for %q mentioning %q: %+v", tt.dep, tt.want, rows)
			}
		})
	}
}

func TestOpenRefused(t *testing.T) {
	ctx := context.Background()
	env := start(t, func(*config.Config) {})
	rows := outdated(env.Charts.Check(ctx))
	env.GitHub.FailNext(http.MethodPost, "/repos/*/pulls", http.StatusForbidden, "Resource not accessible by integration")
	_, err := env.Charts.Open(ctx, rows[:1])
	if err == nil {
		t.Fatal("Open succeeded although GitHub refused the PR")
	}
	if !strings.Contains(err.Error(), rows[0].Dependency) || !strings.Contains(err.Error(), demo.Repo) {
		t.Errorf("error does not say what failed: %v", err)
	}
	if prs := env.GitHub.PullRequests(demo.Owner, demo.Repo); len(prs) != 0 {
		t.Errorf("%d PRs after a refusal", len(prs))
	}
	// The operator retries: the branch left behind is reused, one PR.
	if _, err := env.Charts.Open(ctx, rows[:1]); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if prs := env.GitHub.PullRequests(demo.Owner, demo.Repo); len(prs) != 1 {
		t.Errorf("%d PRs after retry, want 1", len(prs))
	}
}

func TestPreviewErrors(t *testing.T) {
	env := start(t, func(*config.Config) {})
	if _, err := env.Charts.Preview(nil); err == nil {
		t.Error("empty preview: no error")
	}
	up := model.DependencyStatus{Repository: "a/b", File: "f", Dependency: "x", State: model.StateUpToDate}
	if _, err := env.Charts.Preview([]model.DependencyStatus{up}); err == nil {
		t.Error("preview of an up-to-date dependency: no error")
	}
	out := model.DependencyStatus{Repository: "a/b", File: "f", Dependency: "x", State: model.StateOutdated, Latest: model.ChartVersion{Version: "2.0.0"}}
	if _, err := env.Charts.Preview([]model.DependencyStatus{out}); err == nil || !strings.Contains(err.Error(), "refresh") {
		t.Errorf("preview of an unread file: %v", err)
	}
}

func TestLineDiff(t *testing.T) {
	got := engine.LineDiff([]byte("a\r\nb\r\nc"), []byte("a\r\nB\r\nc"))
	if got != "-2: b\n+2: B\n" {
		t.Errorf("LineDiff = %q", got)
	}
}

// TestOpenWarning: GitHub refuses a reviewer; the PR is still opened and
// the row says what it lacks.
func TestOpenWarning(t *testing.T) {
	ctx := context.Background()
	env := start(t, func(c *config.Config) { c.Charts[0].Reviewers = []string{"not-a-collaborator"} })
	rows := outdated(env.Charts.Check(ctx))
	opened, err := env.Charts.Open(ctx, rows[:1])
	if err != nil {
		t.Fatal(err)
	}
	if opened[0].State != model.StatePROpened || !strings.Contains(opened[0].Warning, "not-a-collaborator") {
		t.Errorf("row after a refused reviewer: state %s, warning %q", opened[0].State, opened[0].Warning)
	}
}
