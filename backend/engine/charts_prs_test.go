package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/chartfile"
	"github.com/helmupgradebot/helmupgradebot/backend/chartfile/chartfiletest"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/model"
)

func row(t *testing.T, rows []model.DependencyStatus, dep string) model.DependencyStatus {
	t.Helper()
	for _, r := range rows {
		if r.Dependency == dep {
			return r
		}
	}
	t.Fatalf("no row for %s in %+v", dep, rows)
	return model.DependencyStatus{}
}

// setChart replaces the deployment's Chart.yaml on main.
func setChart(t *testing.T, env *demo.Env, path, content string) {
	t.Helper()
	if _, err := env.GitHub.Commit(demo.Owner, demo.Repo, "main", path, content); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, env *demo.Env, rows ...model.DependencyStatus) model.DependencyStatus {
	t.Helper()
	out, err := env.Charts.Open(context.Background(), rows)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// Item 7 of issue 7: a PR closed without merging declines its version, a
// newer one gets a fresh PR, and a branch someone pushed to is left alone,
// in dry runs (Check) as in Open.
func TestClosedAndEditedPullRequests(t *testing.T) {
	ctx := context.Background()
	env := start(t, func(*config.Config) {})
	nginx := row(t, env.Charts.Check(ctx), "ingress-nginx")
	if nginx.State != model.StateOutdated || nginx.Latest.Version != "4.12.0" {
		t.Fatalf("ingress-nginx: %+v", nginx)
	}
	// A PR for 4.11.4 is declined...
	older := nginx
	older.Latest = model.ChartVersion{Version: "4.11.4"}
	declined := open(t, env, older)
	if err := env.GitHub.ClosePullRequest(demo.Owner, demo.Repo, declined.PRNumber); err != nil {
		t.Fatal(err)
	}
	// ...which says nothing about 4.12.0: a fresh PR.
	nginx = row(t, env.Charts.Check(ctx), "ingress-nginx")
	if nginx.State != model.StateOutdated {
		t.Fatalf("after 4.11.4 was declined, 4.12.0 is %s", nginx.State)
	}
	fresh := open(t, env, nginx)
	if fresh.State != model.StatePROpened || fresh.PRNumber == declined.PRNumber {
		t.Fatalf("4.12.0: %+v", fresh)
	}
	// 4.12.0 declined too: pr-closed, run after run, and nothing opened.
	if err := env.GitHub.ClosePullRequest(demo.Owner, demo.Repo, fresh.PRNumber); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		nginx = row(t, env.Charts.Check(ctx), "ingress-nginx")
		if nginx.State != model.StatePRClosed || nginx.PRNumber != fresh.PRNumber || nginx.Warning == "" {
			t.Fatalf("declined 4.12.0: %+v", nginx)
		}
	}
	if out, err := env.Charts.Open(ctx, []model.DependencyStatus{nginx}); err == nil && out[0].State != model.StatePRClosed {
		t.Errorf("Open of a declined version: %+v", out[0])
	}

	// A maintainer pushes to the binderhub PR: it is edited, never updated.
	hub := row(t, env.Charts.Check(ctx), "binderhub")
	olderHub := hub
	olderHub.Latest = model.ChartVersion{Version: "1.0.0-0.dev.git.3490.h0000000"}
	opened := open(t, env, olderHub)
	branch := env.GitHub.PullRequests(demo.Owner, demo.Repo)[opened.PRNumber-1].HeadRef
	theirs, err := env.GitHub.Commit(demo.Owner, demo.Repo, branch, "hub/values.yaml", "binderhub: {tuned: true}\n")
	if err != nil {
		t.Fatal(err)
	}
	hub = row(t, env.Charts.Check(ctx), "binderhub")
	if hub.State != model.StateEdited || hub.PRNumber != opened.PRNumber || !strings.Contains(hub.Warning, "did not write") {
		t.Fatalf("binderhub after a maintainer's push: %+v", hub)
	}
	if out, err := env.Charts.Open(ctx, []model.DependencyStatus{hub}); err != nil || out[0].State != model.StateEdited {
		t.Errorf("Open on an edited PR: %+v, %v", out, err)
	}
	if head, _ := env.GitHub.BranchSHA(demo.Owner, demo.Repo, branch); head != theirs {
		t.Error("the maintainer's commit is gone")
	}
}

// The same for a grouped PR: a declined grouped PR declines each of its
// versions; a dependency with a newer version gets a fresh grouped PR
// without the declined ones.
func TestClosedGroupedPullRequest(t *testing.T) {
	ctx := context.Background()
	env := start(t, func(c *config.Config) { c.Charts[0].Group = true })
	rows := outdated(env.Charts.Check(ctx))
	if len(rows) != 3 {
		t.Fatalf("outdated: %+v", rows)
	}
	for i := range rows {
		if rows[i].Dependency == "ingress-nginx" {
			rows[i].Latest = model.ChartVersion{Version: "4.11.4"}
		}
	}
	first := open(t, env, rows...)
	if err := env.GitHub.ClosePullRequest(demo.Owner, demo.Repo, first.PRNumber); err != nil {
		t.Fatal(err)
	}
	all := env.Charts.Check(ctx)
	for _, dep := range []string{"binderhub", "traefik"} {
		if r := row(t, all, dep); r.State != model.StatePRClosed || r.PRNumber != first.PRNumber {
			t.Errorf("%s after the grouped PR was declined: %+v", dep, r)
		}
	}
	nginx := row(t, all, "ingress-nginx")
	if nginx.State != model.StateOutdated || nginx.Latest.Version != "4.12.0" {
		t.Fatalf("ingress-nginx 4.12.0 was not declined: %+v", nginx)
	}
	p, err := env.Charts.Preview(outdated(all))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(p.Diff, "binderhub") || strings.Contains(p.Diff, "traefik") || !strings.Contains(p.Diff, "4.12.0") {
		t.Errorf("the fresh grouped PR carries a declined version:\n%s", p.Diff)
	}
	second := open(t, env, outdated(all)...)
	if second.State != model.StatePROpened || second.PRNumber == first.PRNumber {
		t.Fatalf("fresh grouped PR: %+v", second)
	}
	if r := row(t, env.Charts.Check(ctx), "ingress-nginx"); r.State != model.StatePROpen {
		t.Errorf("after the fresh PR: %+v", r)
	}
}

// Item 8: a chart listed twice, one copy aliased; each row gets its own
// branch, title and one-line change.
func TestAliasedCopyOfAChart(t *testing.T) {
	ctx := context.Background()
	env := start(t, func(c *config.Config) {
		c.Charts[0].Dependencies = map[string]config.Dependency{"binderhub": {Prereleases: true}, "staging": {Prereleases: true}}
	})
	chart := `apiVersion: v2
name: hub
version: 0.1.0
dependencies:
  - name: binderhub
    version: "1.0.0-0.dev.git.3478.h` + "0000000" + `"
    repository: ` + env.ChartRepository + `
  - name: binderhub
    alias: staging
    version: "1.0.0-0.dev.git.3478.h0000000"
    repository: ` + env.ChartRepository + `
`
	setChart(t, env, demo.File, chart)
	rows := outdated(env.Charts.Check(ctx))
	if len(rows) != 2 {
		t.Fatalf("outdated rows: %+v", rows)
	}
	var branches, titles []string
	for _, r := range rows {
		p, err := env.Charts.Preview([]model.DependencyStatus{r})
		if err != nil {
			t.Fatalf("%s: %v", r.Dependency, err)
		}
		if strings.Count(p.Diff, "\n") != 2 {
			t.Errorf("%s: diff\n%s", r.Dependency, p.Diff)
		}
		if got := open(t, env, r); got.State != model.StatePROpened {
			t.Fatalf("%s: %+v", r.Dependency, got)
		}
		branches, titles = append(branches, p.Branch), append(titles, p.Title)
	}
	if branches[0] == branches[1] || titles[0] == titles[1] || !strings.Contains(titles[0]+titles[1], "staging") {
		t.Errorf("branches %v, titles %v: the alias must tell them apart", branches, titles)
	}
	for _, r := range env.Charts.Check(ctx) {
		if r.State != model.StatePROpen {
			t.Errorf("%s after its PR: %s", r.Dependency, r.State)
		}
	}
	prs := env.GitHub.PullRequests(demo.Owner, demo.Repo)
	for _, pr := range prs {
		got, _ := env.GitHub.File(demo.Owner, demo.Repo, pr.HeadRef, demo.File)
		if d := engine.LineDiff([]byte(chart), []byte(got)); strings.Count(d, "\n") != 2 {
			t.Errorf("%s changes more than its line:\n%s", pr.Title, d)
		}
	}
}

// Item 9: aliases and merge keys resolve; a repository reached through <<
// is followed, and a version shared through an anchor is an error row
// naming the file and lines, never a silent skip.
func TestYAMLAliasesAndMergeKeys(t *testing.T) {
	ctx := context.Background()
	env := start(t, func(c *config.Config) { c.Charts[0].Dependencies = nil }) // every followable dependency
	chart := `apiVersion: v2
name: hub
version: 0.1.0
x-repo: &repo ` + env.ChartRepository + `
x-nginx: &nginx
  repository: ` + env.ChartRepository + `
  condition: ingress-nginx.enabled
dependencies:
  - name: binderhub
    version: ">=1.0.0-0" # resolves to the newest dev build
    repository: *repo
  - <<: *nginx
    name: ingress-nginx
    version: 4.11.3
  - name: jupyterhub
    version: &hubv 3.3.7
    repository: *repo
  - name: jupyterhub
    alias: hub2
    version: *hubv
    repository: *repo
`
	setChart(t, env, demo.File, chart)
	rows := env.Charts.Check(ctx)
	if len(rows) != 4 {
		t.Fatalf("rows: %+v", rows)
	}
	nginx := row(t, rows, "ingress-nginx")
	if nginx.State != model.StateOutdated || nginx.ChartRepository != env.ChartRepository {
		t.Fatalf("ingress-nginx through <<: %+v", nginx)
	}
	if got := open(t, env, nginx); got.State != model.StatePROpened {
		t.Errorf("bump through <<: %+v", got)
	}
	if r := row(t, rows, "binderhub"); r.State == model.StateError || r.ChartRepository != env.ChartRepository {
		t.Errorf("binderhub with an aliased repository: %+v", r)
	}
	for _, dep := range []string{"jupyterhub", "hub2"} {
		r := row(t, rows, dep)
		if r.State != model.StateError || !strings.Contains(r.Error, demo.File) || !strings.Contains(r.Error, "line 16") {
			t.Errorf("%s, a version shared through &hubv: %+v; want an error naming the file and line", dep, r)
		}
	}
}

// lockFor writes the Chart.lock helm writes for chart.
func lockFor(t *testing.T, chart string, versions ...string) string {
	t.Helper()
	lock, err := chartfiletest.Lock(chart, versions...)
	if err != nil {
		t.Fatal(err)
	}
	return lock
}

// Item 10: the PR updates a committed Chart.lock in the same commit, digest
// included; a lock whose digest cannot be reproduced is still bumped, and
// the body says to regenerate it.
func TestChartLock(t *testing.T) {
	ctx := context.Background()
	env := start(t, func(*config.Config) {})
	chart, _ := env.GitHub.File(demo.Owner, demo.Repo, "main", demo.File)
	f, err := chartfile.Parse([]byte(chart))
	if err != nil {
		t.Fatal(err)
	}
	versions := make([]string, len(f.Dependencies))
	for i, d := range f.Dependencies {
		versions[i] = d.Version
	}
	lockPath := "hub/Chart.lock"
	setChart(t, env, lockPath, lockFor(t, chart, versions...))
	nginx := row(t, env.Charts.Check(ctx), "ingress-nginx")
	p, err := env.Charts.Preview([]model.DependencyStatus{nginx})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Body, "Chart.lock") || strings.Contains(p.Body, "must be regenerated") || !strings.Contains(p.Diff, "Chart.lock") {
		t.Errorf("preview does not say the lock is updated:\n%s\n%s", p.Body, p.Diff)
	}
	base, _ := env.GitHub.BranchSHA(demo.Owner, demo.Repo, "main")
	open(t, env, nginx)
	log := env.GitHub.Log(demo.Owner, demo.Repo, p.Branch)
	if log[0].Parent != base {
		t.Fatalf("the PR has more than one commit")
	}
	versions[2] = "4.12.0"
	if want := lockFor(t, log[0].Files[demo.File], versions...); log[0].Files[lockPath] != want {
		t.Errorf("Chart.lock in the PR's commit:\n%s\nwant:\n%s", log[0].Files[lockPath], want)
	}
	if !strings.Contains(log[0].Files[demo.File], "version: '4.12.0'") {
		t.Errorf("Chart.yaml in the PR's commit:\n%s", log[0].Files[demo.File])
	}

	// A lock this tool cannot reproduce: versions bumped, body says so.
	setChart(t, env, lockPath, strings.Replace(lockFor(t, chart, versions...), "digest: sha256:", "digest: sha256:0", 1))
	traefik := row(t, env.Charts.Check(ctx), "traefik")
	p, err = env.Charts.Preview([]model.DependencyStatus{traefik})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Body, "must be regenerated") || !strings.Contains(p.Body, "helm dependency update") {
		t.Errorf("body does not say to regenerate the lock:\n%s", p.Body)
	}
	open(t, env, traefik)
	prs := env.GitHub.PullRequests(demo.Owner, demo.Repo)
	if pr := prs[len(prs)-1]; !strings.Contains(pr.Body, "must be regenerated") {
		t.Errorf("PR body:\n%s", pr.Body)
	}
}
