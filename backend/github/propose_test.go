package github_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
)

const (
	token = "ghp_SECRETsecret0123456789"
	owner = "jupyterhub"
	repo  = "mybinder.org-deploy"
	path  = "mybinder/Chart.yaml"
)

const chart = `apiVersion: v2
name: mybinder
dependencies:
  # BinderHub
  - name: binderhub
    version: "1.0.0-0.dev.git.3983.h383374de"
    repository: https://jupyterhub.github.io/helm-chart
  - name: grafana
    version: 10.5.15
    repository: https://grafana.github.io/helm-charts
`

// bump returns an idempotent Edit that sets dep's version line in path.
func bump(dep, version string) func(github.Files) (github.Files, error) {
	re := regexp.MustCompile(`(- name: ` + regexp.QuoteMeta(dep) + `\n\s+version: )("?)[^"\n]*("?)`)
	return func(f github.Files) (github.Files, error) {
		b := f[path]
		if !re.Match(b) {
			return nil, fmt.Errorf("dependency %s not in the file", dep)
		}
		return github.Files{path: re.ReplaceAll(b, []byte("${1}${2}"+version+"${3}"))}, nil
	}
}

func proposal(version string) github.Proposal {
	return github.Proposal{
		Owner:  owner,
		Repo:   repo,
		Path:   path,
		Branch: github.BranchName(path, "binderhub"),
		Title:  "Bump binderhub to " + version,
		Body:   "Updates binderhub to " + version + ".",
		Edit:   bump("binderhub", version),
	}
}

type env struct {
	srv *githubtest.Server
	c   *github.Client
}

func setup(t *testing.T, content string, opts ...githubtest.Option) env {
	t.Helper()
	srv := githubtest.NewServer(append([]githubtest.Option{githubtest.WithToken(token), githubtest.WithUser("helmupgradebot")}, opts...)...)
	t.Cleanup(srv.Close)
	srv.AddRepository(owner, repo, "main", map[string]string{path: content, "README.md": "# mybinder\n"})
	c, err := github.New(srv.URL(), token, github.WithForkPolling(time.Millisecond, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return env{srv, c}
}

// changedLines counts lines that differ between two texts with the same
// number of lines, or returns -1 when the line counts differ.
func changedLines(a, b string) int {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(la) != len(lb) {
		return -1
	}
	n := 0
	for i := range la {
		if la[i] != lb[i] {
			n++
		}
	}
	return n
}

func count(reqs []string, prefix string) int {
	n := 0
	for _, r := range reqs {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func TestProposeOpens(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mybinder-Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e := setup(t, string(raw))
	if err := e.srv.AddCollaborators(owner, repo, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.AddTeams(owner, repo, "binder-team"); err != nil {
		t.Fatal(err)
	}
	p := proposal("1.0.0-0.dev.git.4000.habcdef01")
	p.CommitMessage = "binderhub: 3983 -> 4000"
	p.Labels = []string{"dependencies", "helm-chart"}
	p.Reviewers = []string{"alice"}
	p.TeamReviewers = []string{"binder-team"}
	baseBefore, _ := e.srv.BranchSHA(owner, repo, "main")

	out, err := e.c.Propose(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != github.StatusOpened || out.Number != 1 || out.URL != e.srv.URL()+owner+"/"+repo+"/pull/1" || len(out.Warnings) != 0 {
		t.Errorf("outcome = %+v", out)
	}
	log := e.srv.Log(owner, repo, p.Branch)
	if len(log) != 2 || log[0].Parent != baseBefore || log[0].SHA != out.Commit || log[0].Message != p.CommitMessage+"\n\n"+github.Trailer+"\n" {
		t.Fatalf("branch log = %+v; want one commit %s on %s", log, out.Commit, baseBefore)
	}
	if baseAfter, _ := e.srv.BranchSHA(owner, repo, "main"); baseAfter != baseBefore {
		t.Errorf("main moved from %s to %s", baseBefore, baseAfter)
	}
	got, _ := e.srv.File(owner, repo, p.Branch, path)
	if n := changedLines(string(raw), got); n != 1 {
		t.Errorf("%d lines changed, want exactly 1:\n%s", n, got)
	}
	if !strings.Contains(got, `version: "1.0.0-0.dev.git.4000.habcdef01"`) {
		t.Errorf("bumped file lacks the new version:\n%s", got)
	}
	prs := e.srv.PullRequests(owner, repo)
	if len(prs) != 1 {
		t.Fatalf("%d pull requests, want 1", len(prs))
	}
	pr := prs[0]
	if pr.Head != owner+":"+p.Branch || pr.Base != "main" || pr.Title != p.Title || pr.Body != p.Body || pr.State != "open" ||
		!slices.Equal(pr.Labels, p.Labels) || !slices.Equal(pr.Reviewers, p.Reviewers) || !slices.Equal(pr.TeamReviewers, p.TeamReviewers) {
		t.Errorf("pull request = %+v", pr)
	}
	if n := count(e.srv.Requests(), "POST /repos/"+owner+"/"+repo+"/git/commits"); n != 1 {
		t.Errorf("%d commits written, want 1", n)
	}
}

func TestProposeIdempotentAndUpdate(t *testing.T) {
	e := setup(t, chart)
	ctx := context.Background()
	first, err := e.c.Propose(ctx, proposal("1.0.0-0.dev.git.4000.h1"))
	if err != nil || first.Status != github.StatusOpened {
		t.Fatalf("first run: %+v, %v", first, err)
	}
	branch := proposal("").Branch
	before := len(e.srv.Requests())
	second, err := e.c.Propose(ctx, proposal("1.0.0-0.dev.git.4000.h1"))
	if err != nil || second.Status != github.StatusOpen || second.Number != first.Number || second.URL != first.URL || second.Commit != "" {
		t.Fatalf("second run: %+v, %v; want pr-open #%d", second, err, first.Number)
	}
	for _, r := range e.srv.Requests()[before:] {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("second run wrote: %s", r)
		}
	}
	if n := len(e.srv.Log(owner, repo, branch)); n != 2 {
		t.Errorf("branch has %d commits after the idempotent run, want 2", n)
	}

	newer := proposal("1.0.0-0.dev.git.4100.h2")
	third, err := e.c.Propose(ctx, newer)
	if err != nil || third.Status != github.StatusUpdated || third.Number != first.Number || third.Commit == "" {
		t.Fatalf("newer version: %+v, %v; want pr-updated #%d with a commit", third, err, first.Number)
	}
	log := e.srv.Log(owner, repo, branch)
	if len(log) != 3 || log[0].SHA != third.Commit || log[1].SHA != first.Commit {
		t.Errorf("branch log after update = %d commits; want the new commit on top of the first", len(log))
	}
	got, _ := e.srv.File(owner, repo, branch, path)
	if n := changedLines(chart, got); n != 1 || !strings.Contains(got, "4100.h2") {
		t.Errorf("file after update (%d lines changed):\n%s", n, got)
	}
	prs := e.srv.PullRequests(owner, repo)
	if len(prs) != 1 || prs[0].Title != newer.Title || prs[0].Body != newer.Body || prs[0].HeadSHA != third.Commit {
		t.Errorf("pull requests after update = %+v", prs)
	}
	fourth, err := e.c.Propose(ctx, newer)
	if err != nil || fourth.Status != github.StatusOpen {
		t.Errorf("re-run after update: %+v, %v", fourth, err)
	}
}

// bot is the identity of the commits Propose writes.
var bot = githubtest.Identity{Name: github.BotName, Email: github.BotEmail}

// A branch left by an earlier run, holding only the tool's commits, is
// reset to the base.
func TestProposeStaleBranch(t *testing.T) {
	tests := []struct {
		name       string
		closedPR   bool
		wantNumber int
	}{
		{"branch without PR", false, 1},
		{"branch of a closed PR", true, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, chart)
			ctx := context.Background()
			p := proposal("1.0.0-0.dev.git.4000.h1")
			if tc.closedPR {
				old := proposal("1.0.0-0.dev.git.3990.h0")
				if _, err := e.c.Propose(ctx, old); err != nil {
					t.Fatal(err)
				}
				if err := e.srv.ClosePullRequest(owner, repo, 1); err != nil {
					t.Fatal(err)
				}
			} else if _, err := e.srv.Push(owner, repo, githubtest.Push{Branch: p.Branch, Files: map[string]string{path: "left by an old run\n"},
				Message: "Bump\n\n" + github.Trailer, Author: bot, Committer: bot}); err != nil {
				t.Fatal(err)
			}
			moved, _ := e.srv.Commit(owner, repo, "main", "README.md", "# moved\n")
			out, err := e.c.Propose(ctx, p)
			if err != nil || out.Status != github.StatusOpened || out.Number != tc.wantNumber {
				t.Fatalf("Propose = %+v, %v", out, err)
			}
			log := e.srv.Log(owner, repo, p.Branch)
			if log[0].Parent != moved {
				t.Errorf("branch commit's parent = %s, want main's head %s (the stale branch must be reset)", log[0].Parent, moved)
			}
			got, _ := e.srv.File(owner, repo, p.Branch, path)
			if changedLines(chart, got) != 1 {
				t.Errorf("file on reset branch:\n%s", got)
			}
		})
	}
}

// The branch of an open PR moves between the read and the push: another
// run of the tool is retried once on top; twice is reported; a person's
// commit makes the PR edited.
func TestProposeBranchMovesDuringCommit(t *testing.T) {
	tests := []struct {
		name       string
		moves      int
		who        githubtest.Identity
		wantErr    error
		wantStatus string
		wantPushes int
	}{
		{"moved once by another run: retried on top", 1, bot, nil, github.StatusUpdated, 2},
		{"moved twice: reported", 2, bot, github.ErrConflict, "", 2},
		{"moved by a person: left alone", 1, githubtest.Someone, nil, github.StatusEdited, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, chart)
			ctx := context.Background()
			if _, err := e.c.Propose(ctx, proposal("1.0.0-0.dev.git.4000.h1")); err != nil {
				t.Fatal(err)
			}
			p := proposal("1.0.0-0.dev.git.4100.h2")
			var moved string
			for i := 0; i < tc.moves; i++ {
				e.srv.BeforeNext("PATCH", "/repos/"+owner+"/"+repo+"/git/refs/*", func() {
					var err error
					moved, err = e.srv.Push(owner, repo, githubtest.Push{Branch: p.Branch, Files: map[string]string{"NOTES.md": fmt.Sprint(i)},
						Message: "concurrent\n\n" + github.Trailer, Author: tc.who, Committer: tc.who})
					if err != nil {
						t.Error(err)
					}
				})
			}
			out, err := e.c.Propose(ctx, p)
			if n := count(e.srv.Requests(), "PATCH /repos/"+owner+"/"+repo+"/git/refs/"); n != tc.wantPushes {
				t.Errorf("%d ref updates, want %d", n, tc.wantPushes)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), "retry") {
					t.Fatalf("err = %v, want %v explaining the retry", err, tc.wantErr)
				}
				return
			}
			if err != nil || out.Status != tc.wantStatus {
				t.Fatalf("Propose = %+v, %v; want %s", out, err, tc.wantStatus)
			}
			log := e.srv.Log(owner, repo, p.Branch)
			if tc.wantStatus == github.StatusEdited {
				if log[0].SHA != moved {
					t.Errorf("the person's commit is no longer the head")
				}
				return
			}
			if log[0].Parent != moved {
				t.Errorf("commit parent %s, want the commit pushed meanwhile %s", log[0].Parent, moved)
			}
			got, _ := e.srv.File(owner, repo, p.Branch, path)
			if changedLines(chart, got) != 1 || !strings.Contains(got, "4100.h2") {
				t.Errorf("file after retry:\n%s", got)
			}
		})
	}
}

func TestProposeWarnings(t *testing.T) {
	tests := []struct {
		name      string
		prepare   func(*githubtest.Server)
		reviewers []string
		want      []string // substrings, one per expected warning
		labels    []string // labels expected on the PR
		requested []string // reviewers expected on the PR
	}{
		{
			name: "labels refused",
			prepare: func(s *githubtest.Server) {
				s.FailNext("POST", "/repos/*/issues/1/labels", http.StatusForbidden, "Resource not accessible by personal access token")
			},
			reviewers: []string{"alice"},
			want:      []string{"add labels dependencies to pull request #1"},
			requested: []string{"alice"},
		},
		{
			name:      "reviewer not a collaborator",
			reviewers: []string{"mallory"},
			want:      []string{"Reviews may only be requested from collaborators"},
			labels:    []string{"dependencies"},
		},
		{
			name:      "author as reviewer",
			reviewers: []string{"HelmUpgradeBot", "alice"},
			want:      []string{"reviewer HelmUpgradeBot skipped"},
			labels:    []string{"dependencies"},
			requested: []string{"alice"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, chart)
			if err := e.srv.AddCollaborators(owner, repo, "alice"); err != nil {
				t.Fatal(err)
			}
			if tc.prepare != nil {
				tc.prepare(e.srv)
			}
			p := proposal("2.0.0")
			p.Labels = []string{"dependencies"}
			p.Reviewers = tc.reviewers
			out, err := e.c.Propose(context.Background(), p)
			if err != nil || out.Status != github.StatusOpened {
				t.Fatalf("Propose = %+v, %v; a refused label or reviewer must not fail the PR", out, err)
			}
			if len(out.Warnings) != len(tc.want) {
				t.Fatalf("warnings = %q, want %d", out.Warnings, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(out.Warnings[i], w) || strings.Contains(out.Warnings[i], token) {
					t.Errorf("warning %q, want it to mention %q (and never the token)", out.Warnings[i], w)
				}
			}
			pr := e.srv.PullRequests(owner, repo)[0]
			if !slices.Equal(pr.Labels, tc.labels) || !slices.Equal(pr.Reviewers, tc.requested) {
				t.Errorf("PR labels %v reviewers %v; want %v %v", pr.Labels, pr.Reviewers, tc.labels, tc.requested)
			}
		})
	}
}

func TestProposeFork(t *testing.T) {
	e := setup(t, chart, githubtest.WithUser("bot"), githubtest.WithForkDelay(3))
	ctx := context.Background()
	p := proposal("1.0.0-0.dev.git.4000.h1")
	p.Fork = true
	p.Labels = []string{"dependencies"}

	out, err := e.c.Propose(ctx, p)
	if err != nil || out.Status != github.StatusOpened {
		t.Fatalf("fork mode: %+v, %v", out, err)
	}
	if _, ok := e.srv.BranchSHA(owner, repo, p.Branch); ok {
		t.Errorf("fork mode pushed %s to upstream", p.Branch)
	}
	got, ok := e.srv.File("bot", repo, p.Branch, path)
	if !ok || changedLines(chart, got) != 1 {
		t.Fatalf("fork branch file (%v):\n%s", ok, got)
	}
	prs := e.srv.PullRequests(owner, repo)
	if len(prs) != 1 || prs[0].Head != "bot:"+p.Branch || prs[0].HeadRepo != "bot/"+repo || prs[0].Base != "main" || !slices.Equal(prs[0].Labels, p.Labels) {
		t.Fatalf("pull requests = %+v", prs)
	}
	if n := count(e.srv.Requests(), "GET /repos/bot/"+repo); n < 4 {
		t.Errorf("polled the fork %d times; it appears only on the 4th GET", n)
	}
	found, err := e.c.Inspect(ctx, p)
	if err != nil || found.Status != github.StatusOpen || found.Number != out.Number {
		t.Errorf("Inspect(fork) = %+v, %v", found, err)
	}

	again, err := e.c.Propose(ctx, p)
	if err != nil || again.Status != github.StatusOpen {
		t.Errorf("second fork-mode run: %+v, %v", again, err)
	}

	newer := proposal("1.0.0-0.dev.git.4100.h2")
	newer.Fork = true
	upd, err := e.c.Propose(ctx, newer)
	if err != nil || upd.Status != github.StatusUpdated {
		t.Fatalf("fork-mode update: %+v, %v", upd, err)
	}
	if got, _ := e.srv.File("bot", repo, p.Branch, path); !strings.Contains(got, "4100.h2") {
		t.Errorf("fork branch after update:\n%s", got)
	}

	// After the PR is closed and upstream moves, the next proposal syncs the
	// fork and restarts the branch from upstream's head.
	if err := e.srv.ClosePullRequest(owner, repo, out.Number); err != nil {
		t.Fatal(err)
	}
	moved, _ := e.srv.Commit(owner, repo, "main", "README.md", "# moved\n")
	newest := proposal("1.0.0-0.dev.git.4200.h3")
	newest.Fork = true
	again, err = e.c.Propose(ctx, newest)
	if err != nil || again.Status != github.StatusOpened || again.Number != 2 {
		t.Fatalf("after upstream moved: %+v, %v", again, err)
	}
	if sha, _ := e.srv.BranchSHA("bot", repo, "main"); sha != moved {
		t.Errorf("fork main = %s, want upstream's %s", sha, moved)
	}
	if log := e.srv.Log("bot", repo, p.Branch); log[0].Parent != moved {
		t.Errorf("fork branch commit parent %s, want %s", log[0].Parent, moved)
	}
}
