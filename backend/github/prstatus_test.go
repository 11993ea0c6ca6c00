package github_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

func TestPullRequestStatus(t *testing.T) {
	ctx := context.Background()
	e := setup(t, chart)
	out, err := e.c.Propose(ctx, proposal("1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	// Without waiting, the first read finds mergeable still being computed.
	impatient, err := github.New(e.srv.URL(), token, github.WithMergeablePolling(time.Millisecond, 0))
	if err != nil {
		t.Fatal(err)
	}
	st, err := impatient.PullRequestStatus(ctx, owner, repo, out.Number)
	if err != nil || st.Mergeable != nil || st.MergeableState != "unknown" || st.State != "open" || st.CreatedAt.IsZero() || st.HeadSHA == "" {
		t.Fatalf("first read: %+v, %v", st, err)
	}
	// Waiting reads it again once GitHub has it.
	patient, err := github.New(e.srv.URL(), token, github.WithMergeablePolling(time.Millisecond, 2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Commit(owner, repo, "main", "README.md", "# moved\n"); err != nil {
		t.Fatal(err)
	}
	before := count(e.srv.Requests(), fmt.Sprintf("GET /repos/%s/%s/pulls/%d", owner, repo, out.Number))
	st, err = patient.PullRequestStatus(ctx, owner, repo, out.Number)
	if err != nil || st.Mergeable == nil || !*st.Mergeable || st.MergeableState != "clean" || st.Number != out.Number || st.URL != out.URL {
		t.Fatalf("after waiting: %+v, %v", st, err)
	}
	if n := count(e.srv.Requests(), fmt.Sprintf("GET /repos/%s/%s/pulls/%d", owner, repo, out.Number)) - before; n != 2 {
		t.Errorf("read the pull request %d times, want 2", n)
	}
	// Someone bumps the same line on main: a conflict.
	if _, err := e.srv.Commit(owner, repo, "main", path, strings.Replace(chart, "3983.h383374de", "4000.h0000000", 1)); err != nil {
		t.Fatal(err)
	}
	if st, err = patient.PullRequestStatus(ctx, owner, repo, out.Number); err != nil || st.Mergeable == nil || *st.Mergeable || st.MergeableState != "dirty" {
		t.Errorf("conflict: %+v, %v", st, err)
	}
	// Merged (after the conflicting commit is undone by a force move).
	if err := e.srv.MoveBranch(owner, repo, "main", e.srv.Log(owner, repo, "main")[2].SHA); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.MergePullRequest(owner, repo, out.Number); err != nil {
		t.Fatal(err)
	}
	st, err = patient.PullRequestStatus(ctx, owner, repo, out.Number)
	if err != nil || !st.Merged || st.MergedAt.IsZero() || st.State != "closed" || st.Mergeable != nil {
		t.Errorf("merged: %+v, %v", st, err)
	}
	if _, err := patient.PullRequestStatus(ctx, owner, repo, 999); !errors.Is(err, github.ErrNotFound) || !strings.Contains(err.Error(), "pull request #999 not found") {
		t.Errorf("missing PR: %v", err)
	}
}

func TestChecks(t *testing.T) {
	type run = githubtest.CheckRun
	tests := []struct {
		name     string
		runs     []run
		statuses [][2]string // context, state
		want     model.ChecksState
		failed   string
	}{
		{name: "none", want: model.ChecksNone},
		{name: "passing runs", runs: []run{{Name: "test", Conclusion: "success"}, {Name: "docs", Conclusion: "skipped"}, {Name: "lint", Conclusion: "neutral"}}, want: model.ChecksPassing},
		{name: "passing status", statuses: [][2]string{{"ci/circleci", "success"}}, want: model.ChecksPassing},
		{name: "pending run", runs: []run{{Name: "test", Status: "in_progress"}, {Name: "lint", Conclusion: "success"}}, want: model.ChecksPending},
		{name: "queued run", runs: []run{{Name: "test", Status: "queued"}}, want: model.ChecksPending},
		{name: "pending status", runs: []run{{Name: "lint", Conclusion: "success"}}, statuses: [][2]string{{"ci/a", "pending"}}, want: model.ChecksPending},
		{name: "failing run", runs: []run{{Name: "test", Conclusion: "failure"}, {Name: "lint", Status: "in_progress"}}, want: model.ChecksFailing, failed: "test"},
		{name: "timed out", runs: []run{{Name: "e2e", Conclusion: "timed_out"}}, want: model.ChecksFailing, failed: "e2e"},
		{name: "cancelled", runs: []run{{Name: "e2e", Conclusion: "cancelled"}}, want: model.ChecksFailing, failed: "e2e"},
		{name: "erroring status", runs: []run{{Name: "lint", Conclusion: "success"}}, statuses: [][2]string{{"ci/a", "error"}}, want: model.ChecksFailing, failed: "ci/a"},
		{name: "re-run passed", runs: []run{{Name: "test", Conclusion: "failure"}, {Name: "test", Conclusion: "success"}}, want: model.ChecksPassing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, chart)
			sha, _ := e.srv.BranchSHA(owner, repo, "main")
			for _, r := range tc.runs {
				if _, err := e.srv.AddCheckRun(owner, repo, sha, r); err != nil {
					t.Fatal(err)
				}
			}
			for _, s := range tc.statuses {
				if err := e.srv.SetCommitStatus(owner, repo, sha, s[0], s[1], ""); err != nil {
					t.Fatal(err)
				}
			}
			got, err := e.c.Checks(context.Background(), owner, repo, sha)
			if err != nil || got.State != tc.want || strings.Join(got.Failed, ",") != tc.failed {
				t.Errorf("Checks = %+v, %v; want %s failing %q", got, err, tc.want, tc.failed)
			}
			if got.Total != got.Passing+got.Failing+got.Pending {
				t.Errorf("counts do not add up: %+v", got)
			}
		})
	}
}

func TestChecksPagesAndPartialFailure(t *testing.T) {
	ctx := context.Background()
	e := setup(t, chart)
	sha, _ := e.srv.BranchSHA(owner, repo, "main")
	for i := range 130 {
		if _, err := e.srv.AddCheckRun(owner, repo, sha, githubtest.CheckRun{Name: fmt.Sprintf("job-%03d", i), Conclusion: "success"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.srv.AddCheckRun(owner, repo, sha, githubtest.CheckRun{Name: "last", Conclusion: "failure"}); err != nil {
		t.Fatal(err)
	}
	got, err := e.c.Checks(ctx, owner, repo, sha)
	if err != nil || got.Total != 131 || got.State != model.ChecksFailing {
		t.Fatalf("131 runs over two pages: %+v, %v", got, err)
	}
	// A token without checks: read still gets the statuses, and an error.
	if err := e.srv.SetCommitStatus(owner, repo, sha, "ci/a", "success", ""); err != nil {
		t.Fatal(err)
	}
	e.srv.FailNext("GET", "/repos/*/check-runs", 403, "Resource not accessible by personal access token")
	got, err = e.c.Checks(ctx, owner, repo, sha)
	if err == nil || !strings.Contains(err.Error(), "read the check runs of") || got.Total != 1 || got.State != model.ChecksPassing {
		t.Errorf("check runs refused: %+v, %v", got, err)
	}
}

func TestParsePullRequestURL(t *testing.T) {
	tests := []struct {
		url, owner, repo string
		n                int
	}{
		{"https://github.com/jupyterhub/mybinder.org-deploy/pull/3012", "jupyterhub", "mybinder.org-deploy", 3012},
		{"http://127.0.0.1:4321/o/r/pull/7/", "o", "r", 7},
		{"https://ghe.example.org/org/deploy/pull/1", "org", "deploy", 1},
		{"https://github.com/o/r/issues/7", "", "", 0},
		{"https://github.com/o/r/pull/x", "", "", 0},
		{"https://github.com/pull/7", "", "", 0},
		{"", "", "", 0},
	}
	for _, tc := range tests {
		o, r, n, ok := github.ParsePullRequestURL(tc.url)
		if o != tc.owner || r != tc.repo || n != tc.n || ok != (tc.n > 0) {
			t.Errorf("ParsePullRequestURL(%q) = %q %q %d %v", tc.url, o, r, n, ok)
		}
	}
}
