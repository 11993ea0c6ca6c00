package githubtest_test

import (
	"context"
	"fmt"
	"testing"

	gh "github.com/google/go-github/v60/github"

	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
)

// openPR opens a pull request from branch b, which changes line 2 of f.
func openPR(t *testing.T, s *githubtest.Server, c *gh.Client) *gh.PullRequest {
	t.Helper()
	if _, err := s.Commit("o", "r", "b", "f", "a\nB\nc\n"); err != nil {
		t.Fatal(err)
	}
	pr, _, err := c.PullRequests.Create(context.Background(), "o", "r", &gh.NewPullRequest{Title: gh.String("t"), Head: gh.String("b"), Base: gh.String("main")})
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

// mergeability reads a pull request twice: GitHub computes mergeable in
// the background, so the first GET after a push says null.
func mergeability(t *testing.T, s *githubtest.Server, n int) (first, then string) {
	t.Helper()
	show := func() string {
		_, _, body := call(t, s, "token "+s.Token(), "GET", fmt.Sprintf("/repos/o/r/pulls/%d", n), nil)
		m, ok := body["mergeable"]
		if !ok {
			t.Fatalf("GET pull has no mergeable field: %v", body)
		}
		return fmt.Sprintf("%v/%v", m, body["mergeable_state"])
	}
	return show(), show()
}

func TestPullRequestMergeable(t *testing.T) {
	s := newServer(t)
	s.AddRepository("o", "r", "main", map[string]string{"f": "a\nb\nc\n"})
	c := s.Client(s.Token())
	pr := openPR(t, s, c)
	if pr.Mergeable != nil {
		t.Errorf("POST pulls answered mergeable %v", *pr.Mergeable)
	}
	if first, then := mergeability(t, s, pr.GetNumber()); first != "<nil>/unknown" || then != "true/clean" {
		t.Errorf("fresh PR: %s then %s, want null/unknown then true/clean", first, then)
	}
	// Base changes another line: still merges, but computed again.
	if _, err := s.Commit("o", "r", "main", "f", "a\nb\nC\n"); err != nil {
		t.Fatal(err)
	}
	if first, then := mergeability(t, s, pr.GetNumber()); first != "<nil>/unknown" || then != "true/clean" {
		t.Errorf("after an unrelated base push: %s then %s", first, then)
	}
	// Base changes the same line: a conflict.
	if _, err := s.Commit("o", "r", "main", "f", "a\nX\nC\n"); err != nil {
		t.Fatal(err)
	}
	if _, then := mergeability(t, s, pr.GetNumber()); then != "false/dirty" {
		t.Errorf("conflicting base push: %s, want false/dirty", then)
	}
	// go-github reads it too.
	got, _, err := c.PullRequests.Get(context.Background(), "o", "r", pr.GetNumber())
	if err != nil || got.Mergeable == nil || *got.Mergeable || got.GetMergeableState() != "dirty" {
		t.Errorf("go-github: mergeable %v state %q, %v", got.Mergeable, got.GetMergeableState(), err)
	}
	if err := s.SetMergeableState("o", "r", pr.GetNumber(), "blocked"); err != nil {
		t.Fatal(err)
	}
	if _, then := mergeability(t, s, pr.GetNumber()); then != "true/blocked" {
		t.Errorf("SetMergeableState blocked: %s", then)
	}
	// Lists leave mergeable out, as GitHub's do.
	prs, _, err := c.PullRequests.List(context.Background(), "o", "r", nil)
	if err != nil || len(prs) != 1 || prs[0].Mergeable != nil || prs[0].MergeableState != nil {
		t.Errorf("listed PR carries mergeable: %+v, %v", prs, err)
	}
}

func TestPullRequestUnstableAndMerged(t *testing.T) {
	s := newServer(t)
	s.AddRepository("o", "r", "main", map[string]string{"f": "a\nb\nc\n"})
	c := s.Client(s.Token())
	pr := openPR(t, s, c)
	if _, err := s.AddCheckRun("o", "r", pr.GetHead().GetSHA(), githubtest.CheckRun{Name: "test", Conclusion: "failure"}); err != nil {
		t.Fatal(err)
	}
	if _, then := mergeability(t, s, pr.GetNumber()); then != "true/unstable" {
		t.Errorf("failing check: %s, want true/unstable", then)
	}
	if err := s.MergePullRequest("o", "r", pr.GetNumber()); err != nil {
		t.Fatal(err)
	}
	got, _, err := c.PullRequests.Get(context.Background(), "o", "r", pr.GetNumber())
	if err != nil || !got.GetMerged() || got.MergedAt == nil || got.Mergeable != nil {
		t.Errorf("merged PR: merged %v at %v, mergeable %v, %v", got.GetMerged(), got.MergedAt, got.Mergeable, err)
	}
}

func TestCheckRunsAndCombinedStatus(t *testing.T) {
	s := newServer(t)
	s.AddRepository("o", "r", "main", map[string]string{"f": "1"})
	ctx := context.Background()
	c := s.Client(s.Token())
	sha, _ := s.BranchSHA("o", "r", "main")

	// Nothing yet: no check runs; the combined state is pending with no statuses.
	runs, _, err := c.Checks.ListCheckRunsForRef(ctx, "o", "r", sha, nil)
	if err != nil || runs.GetTotal() != 0 || len(runs.CheckRuns) != 0 {
		t.Fatalf("no check runs: %+v, %v", runs, err)
	}
	st, _, err := c.Repositories.GetCombinedStatus(ctx, "o", "r", "main", nil)
	if err != nil || st.GetState() != "pending" || st.GetTotalCount() != 0 || st.GetSHA() != sha {
		t.Fatalf("no statuses: %+v, %v", st, err)
	}

	for _, r := range []githubtest.CheckRun{
		{Name: "lint", Conclusion: "failure"},
		{Name: "test", Status: "in_progress"},
		{Name: "lint", Conclusion: "success"}, // a re-run
	} {
		if _, err := s.AddCheckRun("o", "r", "main", r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddCheckRun("o", "r", "main", githubtest.CheckRun{Name: "x", Status: "in_progress", Conclusion: "success"}); err == nil {
		t.Error("an unfinished run with a conclusion was taken")
	}
	runs, _, err = c.Checks.ListCheckRunsForRef(ctx, "o", "r", sha, nil)
	if err != nil || runs.GetTotal() != 2 || len(runs.CheckRuns) != 2 {
		t.Fatalf("latest check runs: %+v, %v", runs, err)
	}
	byName := map[string]*gh.CheckRun{}
	for _, r := range runs.CheckRuns {
		byName[r.GetName()] = r
	}
	if l := byName["lint"]; l.GetStatus() != "completed" || l.GetConclusion() != "success" || l.CompletedAt == nil || l.GetHeadSHA() != sha {
		t.Errorf("lint: %+v", l)
	}
	if tr := byName["test"]; tr.GetStatus() != "in_progress" || tr.Conclusion != nil || tr.CompletedAt != nil {
		t.Errorf("test: %+v", tr)
	}
	all, _, err := c.Checks.ListCheckRunsForRef(ctx, "o", "r", sha, &gh.ListCheckRunsOptions{Filter: gh.String("all")})
	if err != nil || all.GetTotal() != 3 {
		t.Errorf("filter=all: %d, %v", all.GetTotal(), err)
	}
	// The documented shape: conclusion and completed_at present, as null.
	_, _, raw := call(t, s, "token "+s.Token(), "GET", "/repos/o/r/commits/"+sha+"/check-runs?check_name=test", nil)
	list, _ := raw["check_runs"].([]any)
	if len(list) != 1 {
		t.Fatalf("check_name=test: %v", raw)
	}
	one := list[0].(map[string]any)
	for _, k := range []string{"conclusion", "completed_at"} {
		if v, ok := one[k]; !ok || v != nil {
			t.Errorf("unfinished run: %s = %v (present %v), want null", k, v, ok)
		}
	}
	// Pages.
	page, resp, err := c.Checks.ListCheckRunsForRef(ctx, "o", "r", sha, &gh.ListCheckRunsOptions{ListOptions: gh.ListOptions{PerPage: 1}})
	if err != nil || len(page.CheckRuns) != 1 || resp.NextPage != 2 || page.GetTotal() != 2 {
		t.Errorf("per_page=1: %d runs, next %d, %v", len(page.CheckRuns), resp.NextPage, err)
	}

	// Statuses: the latest of each context; failure wins.
	for _, x := range [][2]string{{"ci/a", "pending"}, {"ci/b", "success"}, {"ci/a", "success"}} {
		if err := s.SetCommitStatus("o", "r", sha, x[0], x[1], ""); err != nil {
			t.Fatal(err)
		}
	}
	st, _, err = c.Repositories.GetCombinedStatus(ctx, "o", "r", sha, nil)
	if err != nil || st.GetState() != "success" || st.GetTotalCount() != 2 || len(st.Statuses) != 2 {
		t.Errorf("two passing contexts: %+v, %v", st, err)
	}
	if err := s.SetCommitStatus("o", "r", sha, "ci/b", "error", "boom"); err != nil {
		t.Fatal(err)
	}
	if st, _, _ = c.Repositories.GetCombinedStatus(ctx, "o", "r", sha, nil); st.GetState() != "failure" {
		t.Errorf("an erroring context: %s", st.GetState())
	}
	if err := s.SetCommitStatus("o", "r", sha, "ci/c", "bogus", ""); err == nil {
		t.Error("a bogus state was taken")
	}
	// Unknown commits.
	if _, _, err := c.Checks.ListCheckRunsForRef(ctx, "o", "r", "0123456789012345678901234567890123456789", nil); !isMsg(err, 422, "No commit found") {
		t.Errorf("check runs of an unknown commit: %v", err)
	}
	if _, _, err := c.Repositories.GetCombinedStatus(ctx, "o", "r", "nope", nil); !isMsg(err, 404, "No commit found") {
		t.Errorf("status of an unknown ref: %v", err)
	}
}
