package github_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
)

const marker = "<!-- status -->"

// text renders a body that holds the marker and says s, and records the
// previous body it was given.
func text(s string, previous *string) func(string) string {
	return func(prev string) string {
		if previous != nil {
			*previous = prev
		}
		return marker + "\n" + s
	}
}

func keep(t *testing.T, e env, s string) (github.KeptIssue, string) {
	t.Helper()
	var prev string
	got, err := e.c.KeepIssue(context.Background(), owner, repo, marker, "Status", text(s, &prev))
	if err != nil {
		t.Fatal(err)
	}
	return got, prev
}

// TestKeepIssue: the first call opens the issue, the next edits it only
// when the body changes, and each finds it among the bot's own issues,
// never a person's, never a pull request.
func TestKeepIssue(t *testing.T) {
	e := setup(t, chart)
	// A person quotes the marker; the bot's pull request carries it: neither is the issue.
	if _, err := e.srv.AddIssue(owner, repo, githubtest.Issue{Title: "copy", Body: marker + "\nquoted", User: "mona"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Propose(context.Background(), withBody(proposal("1.0.0-0.dev.git.4000.h1234567"), marker)); err != nil {
		t.Fatal(err)
	}
	got, prev := keep(t, e, "one")
	if got.Outcome != github.IssueCreated || got.Number != 3 || prev != "" || !strings.HasSuffix(got.URL, "/issues/3") || len(got.Duplicates) != 0 {
		t.Fatalf("first: %+v, previous %q", got, prev)
	}
	patches := func() int { return count(e.srv.Requests(), "PATCH /repos/"+owner+"/"+repo+"/issues/") }
	for _, tc := range []struct {
		say     string
		outcome github.IssueOutcome
		patches int
	}{
		{"one", github.IssueUnchanged, 0},
		{"two", github.IssueUpdated, 1},
		{"two", github.IssueUnchanged, 1},
	} {
		got, prev := keep(t, e, tc.say)
		if got.Outcome != tc.outcome || got.Number != 3 || patches() != tc.patches || !strings.HasPrefix(prev, marker) {
			t.Errorf("%s: %+v after %d edits (previous %q), want %s after %d", tc.say, got, patches(), prev, tc.outcome, tc.patches)
		}
	}
	is := e.srv.Issues(owner, repo)
	if len(is) != 2 || is[1].Title != "Status" || is[1].Body != marker+"\ntwo" || is[1].User != "helmupgradebot" || is[0].Body != marker+"\nquoted" {
		t.Errorf("issues: %+v", is)
	}
}

func withBody(p github.Proposal, body string) github.Proposal {
	p.Body = body
	return p
}

// TestKeepIssueClosedAndDuplicates: a closed issue turns the feature off
// (nothing written, nothing opened) until it is reopened; of two open ones
// the oldest is kept and the other named.
func TestKeepIssueClosedAndDuplicates(t *testing.T) {
	e := setup(t, chart)
	first, _ := keep(t, e, "one")
	if err := e.srv.CloseIssue(owner, repo, first.Number); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, _ := keep(t, e, "two")
		if got.Outcome != github.IssueClosed || got.Number != first.Number || len(e.srv.Issues(owner, repo)) != 1 {
			t.Fatalf("closed: %+v, issues %+v", got, e.srv.Issues(owner, repo))
		}
	}
	if is := e.srv.Issues(owner, repo); is[0].Body != marker+"\none" || is[0].State != "closed" {
		t.Errorf("a closed issue was written: %+v", is[0])
	}
	// Another open one of the bot's (an older run's duplicate) is kept while the oldest is closed.
	dup, err := e.srv.AddIssue(owner, repo, githubtest.Issue{Title: "Status", Body: marker + "\nold", User: e.srv.User()})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := keep(t, e, "three"); got.Outcome != github.IssueUpdated || got.Number != dup || !slices.Equal(got.Duplicates, []int{first.Number}) {
		t.Errorf("an open one beside a closed one: %+v", got)
	}
	if err := e.srv.ReopenIssue(owner, repo, first.Number); err != nil {
		t.Fatal(err)
	}
	got, prev := keep(t, e, "four")
	if got.Outcome != github.IssueUpdated || got.Number != first.Number || prev != marker+"\none" || !slices.Equal(got.Duplicates, []int{dup}) {
		t.Errorf("reopened, with a duplicate: %+v (previous %q)", got, prev)
	}
	if is := e.srv.Issues(owner, repo); is[1].Body != marker+"\nthree" {
		t.Errorf("the duplicate was written: %+v", is[1])
	}
}

// TestKeepIssuePages: the bot's issue is found past the first page of its
// issues (100 a page, the Link header followed).
func TestKeepIssuePages(t *testing.T) {
	e := setup(t, chart)
	for i := range 130 {
		body := fmt.Sprintf("issue %d", i)
		if i == 120 {
			body = marker + "\nfound"
		}
		if _, err := e.srv.AddIssue(owner, repo, githubtest.Issue{Title: "t", Body: body, User: e.srv.User()}); err != nil {
			t.Fatal(err)
		}
	}
	got, prev := keep(t, e, "found")
	if got.Outcome != github.IssueUnchanged || got.Number != 121 || prev != marker+"\nfound" {
		t.Errorf("%+v (previous %q)", got, prev)
	}
	if n := count(e.srv.Requests(), "GET /repos/"+owner+"/"+repo+"/issues?"); n != 2 {
		t.Errorf("%d list requests, want 2 pages", n)
	}
}

// TestKeepIssueApp: an App's issue is its bot's, found by the slug GET
// /app gives; the token user's issue with the marker is not the App's.
func TestKeepIssueApp(t *testing.T) {
	key, pemText := appKey(t)
	s := githubtest.NewServer()
	t.Cleanup(s.Close)
	s.AddRepository("org", "deploy", "main", map[string]string{"Chart.yaml": chart})
	if err := s.AddApp(githubtest.App{ID: 11, Slug: "hub-bot", PublicKey: &key.PublicKey, Installations: map[int64][]string{21: {"org/deploy"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddIssue("org", "deploy", githubtest.Issue{Title: "Status", Body: marker, User: s.User()}); err != nil {
		t.Fatal(err)
	}
	c, err := github.NewApp(s.URL(), github.App{ID: 11, InstallationID: 21, PrivateKey: pemText})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []github.IssueOutcome{github.IssueCreated, github.IssueUnchanged} {
		got, err := c.KeepIssue(context.Background(), "org", "deploy", marker, "Status", text("app", nil))
		if err != nil || got.Outcome != want || got.Number != 2 {
			t.Fatalf("%+v %v, want %s #2", got, err, want)
		}
	}
	if is := s.Issues("org", "deploy"); len(is) != 2 || is[1].User != "hub-bot[bot]" {
		t.Errorf("issues: %+v", is)
	}
}

// TestKeepIssueErrors: what an operator reads when the status issue
// cannot be kept; the token never shows.
func TestKeepIssueErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(s *githubtest.Server) error
		kind  error
		want  string
	}{
		{"no permission", func(s *githubtest.Server) error { return s.ReadOnly(owner, repo) }, github.ErrForbidden, "Issues: Read and write"},
		{"issues off", func(s *githubtest.Server) error { return s.DisableIssues(owner, repo) }, github.ErrIssuesDisabled, "github.status_issue: false"},
		{"invisible", func(s *githubtest.Server) error { return s.Hide(owner, repo) }, github.ErrNotVisible, "not found or the token cannot see it"},
		{"edit refused", func(s *githubtest.Server) error {
			_, err := s.AddIssue(owner, repo, githubtest.Issue{Title: "Status", Body: marker, User: s.User()})
			s.FailNext("PATCH", "/repos/*/issues/*", 403, "Resource not accessible by personal access token")
			return err
		}, github.ErrForbidden, "update the status issue #1 in " + owner + "/" + repo},
		{"rate limited", func(s *githubtest.Server) error { s.SetRateLimitRemaining(0); return nil }, github.ErrRateLimited, "rate limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, chart)
			if err := tc.setup(e.srv); err != nil {
				t.Fatal(err)
			}
			_, err := e.c.KeepIssue(context.Background(), owner, repo, marker, "Status", text("x", nil))
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), token) {
				t.Errorf("got %v, want %v saying %q", err, tc.kind, tc.want)
			}
		})
	}
	e := setup(t, chart)
	if _, err := e.c.KeepIssue(context.Background(), owner, repo, "", "Status", text("x", nil)); err == nil || len(e.srv.Requests()) != 0 {
		t.Errorf("no marker: %v after %d requests", err, len(e.srv.Requests()))
	}
}
