package githubtest_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
)

// openPull pushes a branch and opens a pull request from it.
func openPull(t *testing.T, s *githubtest.Server, c *gh.Client, branch string) int {
	t.Helper()
	if _, err := s.Push("o", "r", githubtest.Push{Branch: branch, Files: map[string]string{branch: "x"}, Message: branch}); err != nil {
		t.Fatal(err)
	}
	pr, _, err := c.PullRequests.Create(t.Context(), "o", "r", &gh.NewPullRequest{Title: gh.String(branch), Head: gh.String(branch), Base: gh.String("main")})
	if err != nil {
		t.Fatal(err)
	}
	return pr.GetNumber()
}

// listAll reads every page of the issue list, returning the numbers in
// order and how many pages it took.
func listAll(t *testing.T, c *gh.Client, opts gh.IssueListByRepoOptions) ([]int, []*gh.Issue, int) {
	t.Helper()
	var numbers []int
	var all []*gh.Issue
	pages := 0
	for {
		is, resp, err := c.Issues.ListByRepo(t.Context(), "o", "r", &opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, i := range is {
			numbers = append(numbers, i.GetNumber())
			all = append(all, i)
		}
		if resp.NextPage == 0 {
			return numbers, all, pages
		}
		opts.Page = resp.NextPage
	}
}

// TestIssuesShareNumbersWithPulls: issues and pull requests take numbers
// from one sequence, and the issue list holds both, pull requests marked
// by their pull_request key, filtered and sorted as GitHub does, in pages
// that go-github follows by the Link header.
func TestIssuesShareNumbersWithPulls(t *testing.T) {
	s := newServer(t)
	s.AddRepository("o", "r", "main", map[string]string{"README.md": "r\n"})
	c := s.Client(s.Token())
	ctx := t.Context()

	p1 := openPull(t, s, c, "one")
	i2, _, err := c.Issues.Create(ctx, "o", "r", &gh.IssueRequest{Title: gh.String("bot's"), Body: gh.String("body")})
	if err != nil {
		t.Fatal(err)
	}
	i3, err := s.AddIssue("o", "r", githubtest.Issue{Title: "a person's", User: "Mona"})
	if err != nil {
		t.Fatal(err)
	}
	p4 := openPull(t, s, c, "two")
	i5, err := s.AddIssue("o", "r", githubtest.Issue{Title: "closed", State: "closed"})
	if err != nil {
		t.Fatal(err)
	}
	if got := []int{p1, i2.GetNumber(), i3, p4, i5}; !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
		t.Fatalf("numbers %v, want 1 to 5 in order", got)
	}
	if i2.GetUser().GetLogin() != s.User() || i2.GetUser().GetType() != "User" || i2.GetState() != "open" || !strings.HasSuffix(i2.GetHTMLURL(), "/o/r/issues/2") {
		t.Errorf("created issue: %+v", i2)
	}

	for _, tc := range []struct {
		name  string
		opts  gh.IssueListByRepoOptions
		want  []int
		pages int
	}{
		{"default: open, newest first", gh.IssueListByRepoOptions{}, []int{4, 3, 2, 1}, 1},
		{"all, oldest first, in pages of 2", gh.IssueListByRepoOptions{State: "all", Direction: "asc", ListOptions: gh.ListOptions{PerPage: 2}}, []int{1, 2, 3, 4, 5}, 3},
		{"closed", gh.IssueListByRepoOptions{State: "closed"}, []int{5}, 1},
		{"by creator, any case", gh.IssueListByRepoOptions{State: "all", Creator: strings.ToUpper(s.User())}, []int{4, 2, 1}, 1},
		{"by a person", gh.IssueListByRepoOptions{State: "all", Creator: "mona"}, []int{5, 3}, 1},
		{"nobody", gh.IssueListByRepoOptions{State: "all", Creator: "nobody"}, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, pages := listAll(t, c, tc.opts)
			if !slices.Equal(got, tc.want) || pages != tc.pages {
				t.Errorf("%v in %d pages, want %v in %d", got, pages, tc.want, tc.pages)
			}
		})
	}
	_, all, _ := listAll(t, c, gh.IssueListByRepoOptions{State: "all", Direction: "asc"})
	for _, i := range all {
		isPull := i.GetNumber() == p1 || i.GetNumber() == p4
		if i.IsPullRequest() != isPull {
			t.Errorf("#%d: pull request %v, want %v", i.GetNumber(), i.IsPullRequest(), isPull)
		}
		if isPull && !strings.HasSuffix(i.GetPullRequestLinks().GetHTMLURL(), fmt.Sprintf("/pull/%d", i.GetNumber())) {
			t.Errorf("#%d: pull_request links %+v", i.GetNumber(), i.GetPullRequestLinks())
		}
	}
	if all[4].GetState() != "closed" || all[4].GetStateReason() != "completed" || all[4].ClosedAt == nil {
		t.Errorf("closed issue: %+v", all[4])
	}
	if _, _, err := c.Issues.ListByRepo(ctx, "o", "r", &gh.IssueListByRepoOptions{State: "shut"}); !isMsg(err, 422, "Validation Failed") {
		t.Errorf("state shut: %v", err)
	}
	// updated sorts by the last change
	if _, _, err := c.Issues.Edit(ctx, "o", "r", 3, &gh.IssueRequest{Body: gh.String("edited")}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := listAll(t, c, gh.IssueListByRepoOptions{Sort: "updated"}); got[0] != 3 {
		t.Errorf("by updated: %v, want #3 first", got)
	}
}

// TestIssueWrites: create and edit as GitHub validates them, and the
// answers for a repository the token cannot see or write, or whose issues
// are off.
func TestIssueWrites(t *testing.T) {
	s := newServer(t)
	s.AddRepository("o", "r", "main", map[string]string{"README.md": "r\n"})
	c := s.Client(s.Token())
	ctx := t.Context()
	is, resp, err := c.Issues.Create(ctx, "o", "r", &gh.IssueRequest{Title: gh.String("status"), Body: gh.String("one")})
	if err != nil || resp.StatusCode != 201 || !strings.HasSuffix(resp.Header.Get("Location"), "/repos/o/r/issues/1") {
		t.Fatalf("create: %v %v", err, resp)
	}
	n := is.GetNumber()
	edited, _, err := c.Issues.Edit(ctx, "o", "r", n, &gh.IssueRequest{Body: gh.String("two")})
	if err != nil || edited.GetBody() != "two" || edited.GetTitle() != "status" {
		t.Fatalf("edit: %v %+v", err, edited)
	}
	got, _, err := c.Issues.Get(ctx, "o", "r", n)
	if err != nil || got.GetBody() != "two" || !got.GetUpdatedAt().After(got.GetCreatedAt().Add(-time.Nanosecond)) {
		t.Fatalf("get: %v %+v", err, got)
	}
	closed, _, err := c.Issues.Edit(ctx, "o", "r", n, &gh.IssueRequest{State: gh.String("closed"), StateReason: gh.String("not_planned")})
	if err != nil || closed.GetState() != "closed" || closed.GetStateReason() != "not_planned" {
		t.Fatalf("close: %v %+v", err, closed)
	}
	if err := s.ReopenIssue("o", "r", n); err != nil {
		t.Fatal(err)
	}
	if is := s.Issues("o", "r"); len(is) != 1 || is[0].State != "open" || is[0].StateReason != "reopened" || is[0].Body != "two" || is[0].User != s.User() {
		t.Errorf("after reopening: %+v", is)
	}

	long := strings.Repeat("é", 65537)
	for _, tc := range []struct {
		name   string
		setup  func() error
		do     func() error
		status int
		msg    string
	}{
		{"no title", nil, func() error {
			_, _, err := c.Issues.Create(ctx, "o", "r", &gh.IssueRequest{Body: gh.String("x")})
			return err
		}, 422, "Validation Failed"},
		{"body too long", nil, func() error {
			_, _, err := c.Issues.Create(ctx, "o", "r", &gh.IssueRequest{Title: gh.String("x"), Body: gh.String(long)})
			return err
		}, 422, "Validation Failed"},
		{"edit to a bad state", nil, func() error {
			_, _, err := c.Issues.Edit(ctx, "o", "r", n, &gh.IssueRequest{State: gh.String("gone")})
			return err
		}, 422, "Validation Failed"},
		{"no such issue", nil, func() error {
			_, _, err := c.Issues.Edit(ctx, "o", "r", 99, &gh.IssueRequest{Body: gh.String("x")})
			return err
		}, 404, "Not Found"},
		{"read-only", func() error { return s.ReadOnly("o", "r") }, func() error {
			_, _, err := c.Issues.Edit(ctx, "o", "r", n, &gh.IssueRequest{Body: gh.String("x")})
			return err
		}, 403, "Resource not accessible"},
		{"issues off", func() error { return s.DisableIssues("o", "r") }, func() error {
			_, _, err := c.Issues.ListByRepo(ctx, "o", "r", nil)
			return err
		}, 410, "Issues are disabled for this repo"},
		{"hidden", func() error { return s.Hide("o", "r") }, func() error {
			_, _, err := c.Issues.Create(ctx, "o", "r", &gh.IssueRequest{Title: gh.String("x")})
			return err
		}, 404, "Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				if err := tc.setup(); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.do(); !isMsg(err, tc.status, tc.msg) {
				t.Errorf("got %v, want %d %q", err, tc.status, tc.msg)
			}
		})
	}
	if is := s.Issues("o", "r"); len(is) != 1 || is[0].Body != "two" {
		t.Errorf("a refused write changed the issues: %+v", is)
	}
}

// TestAppIssues: GET /app takes the App's JSON web token and names its
// slug; an installation's issues are its bot's, and need the issues
// permission.
func TestAppIssues(t *testing.T) {
	s := newServer(t)
	key, other := appKeys(t)
	s.AddRepository("org", "deploy", "main", map[string]string{"Chart.yaml": "name: x\n"})
	if err := s.AddApp(githubtest.App{ID: 9, Slug: "hub-bot", PublicKey: &key.PublicKey, Installations: map[int64][]string{1: {"org/deploy"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddApp(githubtest.App{ID: 10, Slug: "no-issues", PublicKey: &other.PublicKey, Installations: map[int64][]string{2: {"org/deploy"}},
		Permissions: map[string]string{"contents": "write", "pull_requests": "write", "metadata": "read"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	jwt := signJWT(t, key, 9, now, now.Add(time.Minute))
	app, _, err := s.Client(jwt).Apps.Get(t.Context(), "") // go-github sends it as "Bearer …"
	if err != nil || app.GetSlug() != "hub-bot" || app.GetID() != 9 {
		t.Fatalf("GET /app: %v %+v", err, app)
	}
	if _, _, err := s.Client(s.Token()).Apps.Get(t.Context(), ""); !isMsg(err, 401, "A JSON web token could not be decoded") {
		t.Errorf("GET /app with a token: %v", err)
	}

	tokenOf := func(jwt string, inst int) *gh.Client {
		a := appCall(t, s, "POST", fmt.Sprintf("app/installations/%d/access_tokens", inst), "Bearer "+jwt)
		tok, _ := a.body["token"].(string)
		return s.Client(tok)
	}
	bot := tokenOf(jwt, 1)
	is, _, err := bot.Issues.Create(t.Context(), "org", "deploy", &gh.IssueRequest{Title: gh.String("status")})
	if err != nil || is.GetUser().GetLogin() != "hub-bot[bot]" || is.GetUser().GetType() != "Bot" {
		t.Fatalf("the App's issue: %v %+v", err, is.GetUser())
	}
	found, _, err := bot.Issues.ListByRepo(t.Context(), "org", "deploy", &gh.IssueListByRepoOptions{Creator: "hub-bot[bot]"})
	if err != nil || len(found) != 1 {
		t.Errorf("by the bot: %v %d", err, len(found))
	}
	noIssues := tokenOf(signJWT(t, other, 10, now, now.Add(time.Minute)), 2)
	if _, _, err := noIssues.Issues.Create(t.Context(), "org", "deploy", &gh.IssueRequest{Title: gh.String("x")}); !isMsg(err, 403, "Resource not accessible by integration") {
		t.Errorf("create without issues: write: %v", err)
	}
	if _, _, err := noIssues.Issues.ListByRepo(t.Context(), "org", "deploy", nil); !isMsg(err, 403, "Resource not accessible by integration") {
		t.Errorf("list without issues: read: %v", err)
	}
}
