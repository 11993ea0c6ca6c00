package github_test

import (
	"context"
	"strings"
	"testing"

	gh "github.com/google/go-github/v60/github"

	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
)

// writes returns the requests after the first n that were not reads.
func writes(reqs []string, n int) []string {
	var out []string
	for _, r := range reqs[n:] {
		if !strings.HasPrefix(r, "GET ") {
			out = append(out, r)
		}
	}
	return out
}

// declined opens p's PR and closes it unmerged, and returns its number.
func declined(t *testing.T, e env, p github.Proposal) int {
	t.Helper()
	out, err := e.c.Propose(context.Background(), p)
	if err != nil || out.Status != github.StatusOpened {
		t.Fatalf("open: %+v, %v", out, err)
	}
	if err := e.srv.ClosePullRequest(owner, repo, out.Number); err != nil {
		t.Fatal(err)
	}
	return out.Number
}

// The case: the bot's PR was closed and a maintainer pushed a
// commit to its branch. No later run touches that branch or reopens the
// declined version; a newer version is reported edited, not forced.
func TestProposeNeverDiscardsSomeoneElsesCommit(t *testing.T) {
	e := setup(t, chart)
	ctx := context.Background()
	x := proposal("1.0.0-0.dev.git.4000.h1")
	first := declined(t, e, x)
	theirs, err := e.srv.Commit(owner, repo, x.Branch, "NOTES.md", "why we stay on 3983\n")
	if err != nil {
		t.Fatal(err)
	}
	y := proposal("1.0.0-0.dev.git.4100.h2")
	for run := range 3 { // cron runs again and again
		n := len(e.srv.Requests())
		again, err := e.c.Propose(ctx, x)
		if err != nil || again.Status != github.StatusClosed || again.Number != first {
			t.Fatalf("run %d, the declined version: %+v, %v; want pr-closed #%d", run, again, err, first)
		}
		newer, err := e.c.Propose(ctx, y)
		if err != nil || newer.Status != github.StatusEdited || len(newer.Warnings) != 1 ||
			!strings.Contains(newer.Warnings[0], githubtest.Someone.Name) || !strings.Contains(newer.Warnings[0], "delete the branch") {
			t.Fatalf("run %d, a newer version: %+v, %v; want edited, saying whose commit and what to do", run, newer, err)
		}
		if w := writes(e.srv.Requests(), n); len(w) > 0 {
			t.Fatalf("run %d wrote: %v", run, w)
		}
	}
	if head, _ := e.srv.BranchSHA(owner, repo, x.Branch); head != theirs {
		t.Errorf("branch head %s, want the maintainer's commit %s", head, theirs)
	}
	if prs := e.srv.PullRequests(owner, repo); len(prs) != 1 {
		t.Errorf("%d pull requests, want only the closed one", len(prs))
	}
	// A dry run sees the same.
	dry := y
	dry.Edit = nil
	if out, err := e.c.Inspect(ctx, dry); err != nil || out.Status != github.StatusEdited {
		t.Errorf("Inspect = %+v, %v; want edited", out, err)
	}
}

// A PR closed without merging declines its version only: the same version
// is not proposed again, a newer one reuses the branch (it holds only the
// tool's commits) for a fresh PR.
func TestProposeDeclinedVersion(t *testing.T) {
	e := setup(t, chart)
	ctx := context.Background()
	x := proposal("1.0.0-0.dev.git.4000.h1")
	first := declined(t, e, x)
	n := len(e.srv.Requests())
	if out, err := e.c.Propose(ctx, x); err != nil || out.Status != github.StatusClosed {
		t.Fatalf("declined version: %+v, %v", out, err)
	}
	if w := writes(e.srv.Requests(), n); len(w) > 0 {
		t.Fatalf("wrote: %v", w)
	}
	moved, _ := e.srv.Commit(owner, repo, "main", "README.md", "# moved\n")
	y := proposal("1.0.0-0.dev.git.4100.h2")
	out, err := e.c.Propose(ctx, y)
	if err != nil || out.Status != github.StatusOpened || out.Number == first {
		t.Fatalf("newer version: %+v, %v; want a fresh PR", out, err)
	}
	if log := e.srv.Log(owner, repo, y.Branch); log[0].Parent != moved {
		t.Errorf("the fresh PR's commit is on %s, want main's head %s", log[0].Parent, moved)
	}
	if out, err := e.c.Propose(ctx, y); err != nil || out.Status != github.StatusOpen {
		t.Errorf("re-run: %+v, %v", out, err)
	}

	// Declined decides what a closed PR turned down, here by its body.
	if err := e.srv.ClosePullRequest(owner, repo, out.Number); err != nil {
		t.Fatal(err)
	}
	z := proposal("1.0.0-0.dev.git.4200.h3")
	z.Declined = func(pr github.PullRequest) bool { return strings.Contains(pr.Body, "4100.h2") && !pr.Merged }
	if out, err := e.c.Propose(ctx, z); err != nil || out.Status != github.StatusClosed || out.Number != 2 {
		t.Errorf("custom Declined: %+v, %v", out, err)
	}
}

// A merged PR declines nothing: if its version is reverted on the base, it
// is proposed again.
func TestProposeAfterMergedPR(t *testing.T) {
	e := setup(t, chart)
	ctx := context.Background()
	x := proposal("1.0.0-0.dev.git.4000.h1")
	first, err := e.c.Propose(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.MergePullRequest(owner, repo, first.Number); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Commit(owner, repo, "main", path, chart); err != nil { // a revert
		t.Fatal(err)
	}
	if out, err := e.c.Propose(ctx, x); err != nil || out.Status != github.StatusOpened {
		t.Errorf("after a merge and a revert: %+v, %v; want a new PR", out, err)
	}
}

// A person's commit on an open PR makes it edited: no update, no new title.
func TestProposeEditedOpenPR(t *testing.T) {
	e := setup(t, chart)
	ctx := context.Background()
	x := proposal("1.0.0-0.dev.git.4000.h1")
	first, err := e.c.Propose(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := e.srv.Commit(owner, repo, x.Branch, "values.yaml", "tuned: true\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []github.Proposal{x, proposal("1.0.0-0.dev.git.4100.h2")} {
		n := len(e.srv.Requests())
		out, err := e.c.Propose(ctx, p)
		if err != nil || out.Status != github.StatusEdited || out.Number != first.Number {
			t.Fatalf("%s: %+v, %v; want edited #%d", p.Title, out, err, first.Number)
		}
		if w := writes(e.srv.Requests(), n); len(w) > 0 {
			t.Fatalf("%s wrote: %v", p.Title, w)
		}
	}
	if head, _ := e.srv.BranchSHA(owner, repo, x.Branch); head != theirs {
		t.Errorf("branch moved")
	}
	if pr := e.srv.PullRequests(owner, repo)[0]; pr.Title != x.Title {
		t.Errorf("PR retitled to %q", pr.Title)
	}
}

// An amended or rebased bot commit keeps the trailer and the author but
// has another committer: it is someone else's.
func TestProposeAmendedCommitIsEdited(t *testing.T) {
	e := setup(t, chart)
	ctx := context.Background()
	x := proposal("1.0.0-0.dev.git.4000.h1")
	first, err := e.c.Propose(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	log := e.srv.Log(owner, repo, x.Branch)
	if _, err := e.srv.Push(owner, repo, githubtest.Push{Branch: x.Branch, Parent: log[0].Parent, Message: log[0].Message,
		Files: map[string]string{path: log[0].Files[path], "values.yaml": "amended: true\n"}, Author: log[0].Author, Committer: githubtest.Someone}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.ClosePullRequest(owner, repo, first.Number); err != nil {
		t.Fatal(err)
	}
	if out, err := e.c.Propose(ctx, proposal("1.0.0-0.dev.git.4100.h2")); err != nil || out.Status != github.StatusEdited {
		t.Errorf("after an amend: %+v, %v; want edited", out, err)
	}
	if got, _ := e.srv.File(owner, repo, x.Branch, "values.yaml"); got != "amended: true\n" {
		t.Errorf("the amended commit was discarded")
	}
}

func TestManaged(t *testing.T) {
	bot := &gh.CommitAuthor{Name: gh.String(github.BotName), Email: gh.String(github.BotEmail)}
	other := &gh.CommitAuthor{Name: gh.String("Mona"), Email: gh.String("mona@example.org")}
	tests := []struct {
		name              string
		msg               string
		author, committer *gh.CommitAuthor
		want              bool
	}{
		{"the tool's", "Bump a\n\n" + github.Trailer + "\n", bot, bot, true},
		{"trailer among others", "Bump a\n\nbody\n\nSigned-off-by: x <x@y>\nhelmupgradebot-managed:  true\n", bot, bot, true},
		{"no trailer", "Bump a\n", bot, bot, false},
		{"trailer in the subject", github.Trailer, bot, bot, false},
		{"trailer not in the last paragraph", "Bump\n\n" + github.Trailer + "\n\nmore words\n", bot, bot, false},
		{"another committer", "Bump a\n\n" + github.Trailer, bot, other, false},
		{"another author", "Bump a\n\n" + github.Trailer, other, bot, false},
		{"CRLF", "Bump a\r\n\r\n" + github.Trailer + "\r\n", bot, bot, true},
	}
	for _, tt := range tests {
		c := &gh.Commit{Message: gh.String(tt.msg), Author: tt.author, Committer: tt.committer}
		if got := github.Managed(c); got != tt.want {
			t.Errorf("%s: Managed = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// Files in Also change in the same commit; a missing one is seen as nil
// and stays missing unless the edit gives it content.
func TestProposeSeveralFilesInOneCommit(t *testing.T) {
	lockPath := "mybinder/Chart.lock"
	e := setup(t, chart)
	if _, err := e.srv.Commit(owner, repo, "main", lockPath, "version: 3983\n"); err != nil {
		t.Fatal(err)
	}
	p := proposal("2.0.0")
	p.Also = []string{lockPath, "mybinder/absent.lock"}
	edit := p.Edit
	p.Edit = func(f github.Files) (github.Files, error) {
		out, err := edit(f)
		if err != nil {
			return nil, err
		}
		if f["mybinder/absent.lock"] != nil || f[lockPath] == nil {
			t.Errorf("Edit got %q", f)
		}
		out[lockPath] = []byte("version: 2.0.0\n")
		return out, nil
	}
	out, err := e.c.Propose(context.Background(), p)
	if err != nil || out.Status != github.StatusOpened {
		t.Fatalf("Propose = %+v, %v", out, err)
	}
	log := e.srv.Log(owner, repo, p.Branch)
	if log[0].SHA != out.Commit || log[0].Files[lockPath] != "version: 2.0.0\n" || !strings.Contains(log[0].Files[path], "2.0.0") {
		t.Errorf("the PR's commit lacks a file: %+v", log[0].Files)
	}
	if _, ok := log[0].Files["mybinder/absent.lock"]; ok {
		t.Error("a missing file was created")
	}
	if log[1].Files[lockPath] != "version: 3983\n" {
		t.Error("the PR has more than one commit")
	}
}
