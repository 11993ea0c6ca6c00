package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
	"github.com/helmupgradebot/helmupgradebot/backend/history"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// headOf returns the head commit of pull request n in the demo repository.
func headOf(t *testing.T, env *demo.Env, n int) string {
	t.Helper()
	for _, p := range env.GitHub.PullRequests(demo.Owner, demo.Repo) {
		if p.Number == n {
			return p.HeadSHA
		}
	}
	t.Fatalf("no pull request #%d", n)
	return ""
}

func addRun(t *testing.T, env *demo.Env, sha string, r githubtest.CheckRun) {
	t.Helper()
	if _, err := env.GitHub.AddCheckRun(demo.Owner, demo.Repo, sha, r); err != nil {
		t.Fatal(err)
	}
}

// record stores rows in the demo's history as a run does.
func record(t *testing.T, env *demo.Env, rows []model.DependencyStatus) {
	t.Helper()
	run := history.Run{Time: now, Face: history.FaceHeadless, Applied: true}
	for _, d := range rows {
		run.Charts = append(run.Charts, history.ChartRun{Repository: d.Repository, File: d.File, Dependency: d.Dependency,
			Current: d.Current, Latest: d.Latest.Version, Status: string(d.State), PullRequest: d.PRURL, Error: d.Error})
	}
	if err := env.History.Append(run); err != nil {
		t.Fatal(err)
	}
}

func mergeable(r model.DependencyStatus) string {
	if r.PRMergeable == nil {
		return "null/" + r.PRMergeableState
	}
	if *r.PRMergeable {
		return "true/" + r.PRMergeableState
	}
	return "false/" + r.PRMergeableState
}

// An open PR's age, mergeable and checks come with Check: failing,
// passing and pending checks (check runs and commit statuses), a
// conflict with the base, and a PR GitHub will not describe.
func TestCheckDescribesOpenPullRequests(t *testing.T) {
	ctx := context.Background()
	env := start(t, func(*config.Config) {})
	rows := env.Charts.Check(ctx)
	for _, r := range rows {
		if r.PRChecks != "" || !r.PRCreatedAt.IsZero() || r.Merged != nil {
			t.Errorf("%s without a PR: %+v", r.Dependency, r)
		}
	}
	hub := open(t, env, row(t, rows, "binderhub"))
	nginx := open(t, env, row(t, rows, "ingress-nginx"))
	traefik := open(t, env, row(t, rows, "traefik"))
	if hub.PRChecks != "" {
		t.Errorf("Open reported checks it did not read: %+v", hub)
	}

	// binderhub: a test fails, lint passes.
	addRun(t, env, headOf(t, env, hub.PRNumber), githubtest.CheckRun{Name: "test", Conclusion: "failure"})
	addRun(t, env, headOf(t, env, hub.PRNumber), githubtest.CheckRun{Name: "lint", Conclusion: "success"})
	// ingress-nginx: a check run and a commit status pass...
	addRun(t, env, headOf(t, env, nginx.PRNumber), githubtest.CheckRun{Name: "test", Conclusion: "success"})
	if err := env.GitHub.SetCommitStatus(demo.Owner, demo.Repo, headOf(t, env, nginx.PRNumber), "ci/circleci", "success", ""); err != nil {
		t.Fatal(err)
	}
	// ...but someone edits its version line on main: a conflict.
	content, _ := env.GitHub.File(demo.Owner, demo.Repo, "main", demo.File)
	setChart(t, env, demo.File, strings.Replace(content, "version: '4.11.3'", "version: '4.11.3' # held back", 1))
	// traefik: still running.
	addRun(t, env, headOf(t, env, traefik.PRNumber), githubtest.CheckRun{Name: "test", Status: "in_progress"})

	rows = env.Charts.Check(ctx)
	for _, tc := range []struct {
		dep       string
		checks    model.ChecksState
		failed    string
		mergeable string
	}{
		{"binderhub", model.ChecksFailing, "test", "true/unstable"},
		{"ingress-nginx", model.ChecksPassing, "", "false/dirty"},
		{"traefik", model.ChecksPending, "", "true/unstable"},
	} {
		r := row(t, rows, tc.dep)
		if r.State != model.StatePROpen || r.PullRequestState() != "open" {
			t.Errorf("%s: state %s", tc.dep, r.State)
		}
		if r.PRChecks != tc.checks || strings.Join(r.PRFailedChecks, ",") != tc.failed || mergeable(r) != tc.mergeable {
			t.Errorf("%s: checks %s %v, mergeable %s; want %s %q, %s", tc.dep, r.PRChecks, r.PRFailedChecks, mergeable(r), tc.checks, tc.failed, tc.mergeable)
		}
		if r.PRCreatedAt.IsZero() {
			t.Errorf("%s: no PR creation time", tc.dep)
		}
	}
	if r := row(t, rows, "jupyterhub"); r.PRChecks != "" || r.PullRequestState() != "" {
		t.Errorf("jupyterhub has no PR: %+v", r)
	}

	// The checks go green; the row follows.
	addRun(t, env, headOf(t, env, hub.PRNumber), githubtest.CheckRun{Name: "test", Conclusion: "success"})
	if r := row(t, env.Charts.Check(ctx), "binderhub"); r.PRChecks != model.ChecksPassing || mergeable(r) != "true/clean" {
		t.Errorf("binderhub after a green re-run: %s, %s", r.PRChecks, mergeable(r))
	}

	// GitHub refuses to describe the traefik PR: unknown, not an error.
	env.GitHub.FailNext("GET", "/repos/*/pulls/*", 403, "Resource not accessible by personal access token")
	env.GitHub.FailNext("GET", "/repos/*/check-runs", 403, "Resource not accessible by personal access token")
	rows = env.Charts.Check(ctx)
	var refused, partial model.DependencyStatus
	for _, r := range rows {
		if r.PRChecks == model.ChecksUnknown && r.PRCreatedAt.IsZero() {
			refused = r
		} else if r.PRChecks == model.ChecksUnknown {
			partial = r
		}
	}
	if refused.Dependency == "" || refused.State != model.StatePROpen || refused.PRMergeableState != "unknown" || refused.Error != "" {
		t.Errorf("a PR that cannot be read: %+v", refused)
	}
	// The next PR's check runs were refused, its commit status not: it
	// passes, but the checks cannot be told passing, so unknown.
	if partial.Dependency == "" || partial.PRCreatedAt.IsZero() {
		t.Errorf("a PR whose check runs cannot be read: %+v", partial)
	}
}

// A PR the last run recorded open that is merged now shows as merged, in
// every check of this engine; the run after, which recorded no open PR,
// shows nothing. One closed without merging is not merged.
func TestCheckFindsPullRequestsMergedSinceTheLastRun(t *testing.T) {
	ctx := context.Background()
	env := start(t, func(*config.Config) {})
	rows := env.Charts.Check(ctx)
	hub := open(t, env, row(t, rows, "binderhub"))
	nginx := open(t, env, row(t, rows, "ingress-nginx"))
	record(t, env, []model.DependencyStatus{hub, nginx})

	if err := env.GitHub.MergePullRequest(demo.Owner, demo.Repo, hub.PRNumber); err != nil {
		t.Fatal(err)
	}
	if err := env.GitHub.ClosePullRequest(demo.Owner, demo.Repo, nginx.PRNumber); err != nil {
		t.Fatal(err)
	}
	// A new run: the engine starts from the history alone.
	env.Charts.UseHistory(env.History)
	for range 2 {
		rows = env.Charts.Check(ctx)
		r := row(t, rows, "binderhub")
		if r.State != model.StateUpToDate || r.Merged == nil || r.Merged.Number != hub.PRNumber || r.Merged.URL != hub.PRURL ||
			r.Merged.MergedAt.IsZero() || r.PullRequestState() != "merged" {
			t.Fatalf("binderhub after its PR was merged: %+v (merged %+v)", r, r.Merged)
		}
		if r := row(t, rows, "ingress-nginx"); r.Merged != nil || r.State != model.StatePRClosed {
			t.Errorf("ingress-nginx, closed unmerged: %s, merged %+v", r.State, r.Merged)
		}
	}
	// That run is recorded; the one after has nothing to report.
	record(t, env, rows)
	env.Charts.UseHistory(env.History)
	if r := row(t, env.Charts.Check(ctx), "binderhub"); r.Merged != nil {
		t.Errorf("the run after still reports a merge: %+v", r.Merged)
	}

	// Without history, a PR this engine opened and saw merged counts too.
	traefik := open(t, env, row(t, env.Charts.Check(ctx), "traefik"))
	if err := env.GitHub.MergePullRequest(demo.Owner, demo.Repo, traefik.PRNumber); err != nil {
		t.Fatal(err)
	}
	if r := row(t, env.Charts.Check(ctx), "traefik"); r.Merged == nil || r.Merged.Number != traefik.PRNumber {
		t.Errorf("traefik, opened and merged in this session: %+v", r)
	}
}
