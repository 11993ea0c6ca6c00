package github_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	gh "github.com/google/go-github/v60/github"

	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
)

// Fork mode when the fork's main is not upstream's: the pull request must
// propose the bump and nothing else, whatever the fork holds.

const (
	forker    = "bot" // the token's user, who owns the fork
	forkFile  = "FORK-ONLY.md"
	oldLine   = `    version: "1.0.0-0.dev.git.3983.h383374de"`
	forkedVer = "1.0.0-0.dev.git.4000.h1"
)

// forkAhead sets up upstream and the token user's fork of it whose main
// holds a commit of its own (an unrelated file) that upstream lacks, and
// returns that commit.
func forkAhead(t *testing.T) (env, string) {
	t.Helper()
	e := setup(t, chart, githubtest.WithUser(forker))
	if _, _, err := e.srv.Client(token).Repositories.CreateFork(context.Background(), owner, repo, nil); err != nil {
		if _, ok := err.(*gh.AcceptedError); !ok {
			t.Fatal(err)
		}
	}
	own, err := e.srv.Commit(forker, repo, "main", forkFile, "the fork's own notes\n")
	if err != nil {
		t.Fatal(err)
	}
	return e, own
}

func forkProposal(version string) github.Proposal {
	p := proposal(version)
	p.Fork = true
	return p
}

// botIdentity is who the tool's commits are by.
var botIdentity = githubtest.Identity{Name: github.BotName, Email: github.BotEmail}

// earlierRun pushes to the fork the branch an earlier (defective) run
// built: the tool's bump commit on parent, e.g. the fork's own main.
func earlierRun(t *testing.T, e env, p github.Proposal, parent, version string) string {
	t.Helper()
	bumped, err := p.Edit(github.Files{path: []byte(chart)})
	if err != nil {
		t.Fatal(err)
	}
	sha, err := e.srv.Push(forker, repo, githubtest.Push{Branch: p.Branch, Parent: parent,
		Message: "Bump binderhub to " + version + "\n\n" + github.Trailer + "\n",
		Files:   map[string]string{path: string(bumped[path])}, Author: botIdentity, Committer: botIdentity})
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

// onlyTheBump checks what pull request number proposes, read through the
// API as a reviewer sees it (the comparison of its base with its head):
// one commit, the tool's, on a commit of upstream's base branch (want,
// when not empty), changing path's binderhub version line and nothing else.
func onlyTheBump(t *testing.T, e env, number int, version, want string) {
	t.Helper()
	ctx := context.Background()
	c := e.srv.Client(token)
	pr, _, err := c.PullRequests.Get(ctx, owner, repo, number)
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetHead().GetLabel() != forker+":"+pr.GetHead().GetRef() || pr.GetBase().GetRef() != "main" {
		t.Fatalf("pull request #%d is from %s into %s", number, pr.GetHead().GetLabel(), pr.GetBase().GetRef())
	}
	cmp, _, err := c.Repositories.CompareCommits(ctx, owner, repo, pr.GetBase().GetRef(), pr.GetHead().GetLabel(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, rc := range cmp.Commits {
		subject, _, _ := strings.Cut(rc.GetCommit().GetMessage(), "\n")
		subjects = append(subjects, rc.GetSHA()[:7]+" "+subject+" by "+rc.GetCommit().GetAuthor().GetName())
	}
	if len(cmp.Commits) != 1 || !github.Managed(cmp.Commits[0].GetCommit()) || cmp.Commits[0].GetSHA() != pr.GetHead().GetSHA() {
		t.Fatalf("pull request #%d proposes commits %q; want the bump alone", number, subjects)
	}
	parent := cmp.Commits[0].Parents[0].GetSHA()
	onBase := slices.ContainsFunc(e.srv.Log(owner, repo, "main"), func(c githubtest.Commit) bool { return c.SHA == parent })
	if !onBase || want != "" && parent != want {
		t.Errorf("the bump's parent %.7s is not upstream's main (on it: %v; want %.7s)", parent, onBase, want)
	}
	var files []string
	for _, f := range cmp.Files {
		files = append(files, f.GetFilename())
	}
	if !slices.Equal(files, []string{path}) {
		t.Fatalf("pull request #%d changes files %q; want %s alone", number, files, path)
	}
	var changed []string
	for _, line := range strings.Split(cmp.Files[0].GetPatch(), "\n") {
		if strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-") {
			changed = append(changed, line)
		}
	}
	if want := []string{"-" + oldLine, `+    version: "` + version + `"`}; !slices.Equal(changed, want) {
		t.Errorf("pull request #%d's diff changes lines %q; want %q\n%s", number, changed, want, cmp.Files[0].GetPatch())
	}
}

// The review's case: the fork's main is ahead of upstream's (merge-upstream
// says "not behind"), and the bump must not carry the fork's own commit.
func TestProposeForkAheadOfUpstreamProposesOnlyTheBump(t *testing.T) {
	e, own := forkAhead(t)
	upstreamMain, _ := e.srv.BranchSHA(owner, repo, "main")
	p := forkProposal(forkedVer)

	out, err := e.c.Propose(context.Background(), p)
	if err != nil || out.Status != github.StatusOpened {
		t.Fatalf("Propose = %+v, %v", out, err)
	}
	onlyTheBump(t, e, out.Number, forkedVer, upstreamMain)
	if _, ok := e.srv.File(forker, repo, p.Branch, forkFile); ok {
		t.Errorf("the fork's branch holds %s", forkFile)
	}
	if sha, _ := e.srv.BranchSHA(forker, repo, "main"); sha != own {
		t.Errorf("the fork's main moved from %.7s to %.7s", own, sha)
	}
	if _, ok := e.srv.BranchSHA(owner, repo, p.Branch); ok {
		t.Errorf("fork mode pushed %s to upstream", p.Branch)
	}
	// The next run finds its pull request as it left it.
	if again, err := e.c.Propose(context.Background(), p); err != nil || again.Status != github.StatusOpen || again.Number != out.Number {
		t.Errorf("second run = %+v, %v; want pr-open #%d", again, err, out.Number)
	}
}

// A branch an earlier run built on the fork's main (carrying the fork's
// commit) is rebuilt on upstream's base, with or without its pull request;
// one that someone edited is still left alone.
func TestProposeForkRebuildsABranchCarryingTheForksCommits(t *testing.T) {
	ctx := context.Background()
	t.Run("no pull request yet", func(t *testing.T) {
		e, own := forkAhead(t)
		p := forkProposal(forkedVer)
		earlierRun(t, e, p, own, forkedVer)
		upstreamMain, _ := e.srv.BranchSHA(owner, repo, "main")
		out, err := e.c.Propose(ctx, p)
		if err != nil || out.Status != github.StatusOpened {
			t.Fatalf("Propose = %+v, %v", out, err)
		}
		onlyTheBump(t, e, out.Number, forkedVer, upstreamMain)
		if len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], "rebuilt on "+owner+"/"+repo+"'s main") ||
			!strings.Contains(out.Warnings[0], "branch "+p.Branch+" of "+forker+"/"+repo) {
			t.Errorf("warnings = %q; want one saying which branch was rebuilt on what", out.Warnings)
		}
	})
	t.Run("its pull request open", func(t *testing.T) {
		for _, version := range []string{forkedVer, "1.0.0-0.dev.git.4100.h2"} { // same title, newer bump
			t.Run(version, func(t *testing.T) {
				e, own := forkAhead(t)
				p := forkProposal(forkedVer)
				earlierRun(t, e, p, own, forkedVer)
				pr, _, err := e.srv.Client(token).PullRequests.Create(ctx, owner, repo, &gh.NewPullRequest{
					Title: gh.String(p.Title), Head: gh.String(forker + ":" + p.Branch), Base: gh.String("main")})
				if err != nil {
					t.Fatal(err)
				}
				p = forkProposal(version)
				if got, err := e.c.Inspect(ctx, p); err != nil || got.Status != "" || got.Number != pr.GetNumber() {
					t.Errorf("Inspect = %+v, %v; want an update of #%d", got, err, pr.GetNumber())
				}
				out, err := e.c.Propose(ctx, p)
				if err != nil || out.Status != github.StatusUpdated || out.Number != pr.GetNumber() {
					t.Fatalf("Propose = %+v, %v; want #%d updated", out, err, pr.GetNumber())
				}
				upstreamMain, _ := e.srv.BranchSHA(owner, repo, "main")
				onlyTheBump(t, e, out.Number, version, upstreamMain)
				if prs := e.srv.PullRequests(owner, repo); len(prs) != 1 || prs[0].Title != p.Title || prs[0].HeadSHA != out.Commit {
					t.Errorf("pull requests = %+v", prs)
				}
				if len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], "rebuilt") {
					t.Errorf("warnings = %q", out.Warnings)
				}
			})
		}
	})
	t.Run("someone's commit on top is left alone", func(t *testing.T) {
		e, own := forkAhead(t)
		p := forkProposal(forkedVer)
		earlierRun(t, e, p, own, forkedVer)
		theirs, err := e.srv.Commit(forker, repo, p.Branch, "NOTES.md", "tested on staging\n")
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.c.Propose(ctx, forkProposal("1.0.0-0.dev.git.4100.h2"))
		if err != nil || out.Status != github.StatusEdited || len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], githubtest.Someone.Name) {
			t.Fatalf("Propose = %+v, %v; want edited, naming whose commit", out, err)
		}
		if sha, _ := e.srv.BranchSHA(forker, repo, p.Branch); sha != theirs {
			t.Errorf("branch moved from %.7s to %.7s", theirs, sha)
		}
		if prs := e.srv.PullRequests(owner, repo); len(prs) != 0 {
			t.Errorf("pull requests = %+v", prs)
		}
	})
}

// Upstream's main moves between the bot reading it and pushing the
// branch: on by a commit (the bump's parent is still on main), or
// rewritten by a force-push that drops the commit the bump was built on
// (the branch is rebuilt on the new main). Either way the pull request
// proposes the bump alone.
func TestProposeForkUpstreamBaseMovesWhilePushing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		force bool
	}{{"fast-forward", false}, {"force-push", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := forkAhead(t)
			root, _ := e.srv.BranchSHA(owner, repo, "main")
			if _, err := e.srv.Commit(owner, repo, "main", "README.md", "# to be dropped\n"); err != nil {
				t.Fatal(err)
			}
			var moved string
			e.srv.BeforeNext("POST", "/repos/"+forker+"/"+repo+"/git/refs", func() {
				push := githubtest.Push{Branch: "main", Message: "moved", Files: map[string]string{"README.md": "# moved\n"},
					Author: githubtest.Someone, Committer: githubtest.Someone}
				if tc.force {
					push.Parent = root
				}
				var err error
				if moved, err = e.srv.Push(owner, repo, push); err != nil {
					t.Error(err)
				}
			})
			out, err := e.c.Propose(context.Background(), forkProposal(forkedVer))
			if err != nil || out.Status != github.StatusOpened {
				t.Fatalf("Propose = %+v, %v", out, err)
			}
			if moved == "" {
				t.Fatal("upstream's main did not move")
			}
			want := ""
			if tc.force {
				want = moved
			}
			onlyTheBump(t, e, out.Number, forkedVer, want)
		})
	}
}

// Syncing the fork's main (merge-upstream) is a courtesy: when GitHub
// refuses it (the fork's main has diverged: 409) or fails, the pull request
// is still opened on upstream's base, with a warning saying what failed
// and where.
func TestProposeForkMergeUpstreamFailureIsOnlyAWarning(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(e env)
		want  string
	}{
		{"diverged", func(e env) {
			if _, err := e.srv.Commit(owner, repo, "main", "README.md", "# upstream moved on\n"); err != nil {
				t.Fatal(err)
			}
		}, "409: There are merge conflicts; the fork's main has commits of its own"},
		{"server error", func(e env) {
			e.srv.FailNext("POST", "/repos/"+forker+"/"+repo+"/merge-upstream", 502, "Server Error")
		}, "502: Server Error; left as it is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, own := forkAhead(t)
			tc.setup(e)
			upstreamMain, _ := e.srv.BranchSHA(owner, repo, "main")
			out, err := e.c.Propose(context.Background(), forkProposal(forkedVer))
			if err != nil || out.Status != github.StatusOpened {
				t.Fatalf("Propose = %+v, %v", out, err)
			}
			onlyTheBump(t, e, out.Number, forkedVer, upstreamMain)
			where := "sync branch main of the fork from upstream " + owner + "/" + repo + " in " + forker + "/" + repo
			if len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], where) || !strings.Contains(out.Warnings[0], tc.want) ||
				!strings.Contains(out.Warnings[0], "built on "+owner+"/"+repo+"'s main") {
				t.Errorf("warnings = %q; want one with %q and %q", out.Warnings, where, tc.want)
			}
			if sha, _ := e.srv.BranchSHA(forker, repo, "main"); sha != own {
				t.Errorf("the fork's main moved from %.7s to %.7s", own, sha)
			}
		})
	}
}

// A failure at any step of a fork-mode proposal opens no pull request and
// says what failed and where; the next run opens one proposing the bump
// alone.
func TestProposeForkFailureLeavesNoPullRequestWithForeignCommits(t *testing.T) {
	up, fork := owner+"/"+repo, forker+"/"+repo
	for _, tc := range []struct {
		method, path string
		want         string
	}{
		{"GET", "/repos/" + up + "/git/ref/heads/main", "read base branch main in " + up},
		{"GET", "/repos/" + up + "/contents/" + path, "read " + path + " at main ("},
		{"GET", "/repos/" + up + "/git/commits/*", "read the commit at main ("},
		{"POST", "/repos/" + fork + "/git/blobs", "commit " + path + " to branch helmupgradebot/"},
		{"POST", "/repos/" + fork + "/git/trees", " in " + fork},
		{"POST", "/repos/" + fork + "/git/commits", " in " + fork},
		{"POST", "/repos/" + fork + "/git/refs", "create branch helmupgradebot/"},
		{"compare after the push", "", "compare branch helmupgradebot/"},
		{"POST", "/repos/" + up + "/pulls", "open pull request from " + forker + ":helmupgradebot/"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			e, _ := forkAhead(t)
			// 403 rather than a 5xx, which the client retries on reads.
			const refused = "Resource not accessible by personal access token"
			if tc.path == "" { // the check after the push: the first compare is inspect's
				e.srv.BeforeNext("POST", "/repos/"+fork+"/git/refs", func() {
					e.srv.FailNext("GET", "/repos/"+up+"/compare/*", 403, refused)
				})
			} else {
				e.srv.FailNext(tc.method, tc.path, 403, refused)
			}
			p := forkProposal(forkedVer)
			out, err := e.c.Propose(context.Background(), p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "403: "+refused) {
				t.Fatalf("Propose = %+v, %v; want an error with %q", out, err, tc.want)
			}
			var ge *github.Error
			if !errors.As(err, &ge) || ge.Repo != up && ge.Repo != fork {
				t.Errorf("error %v names no repository", err)
			}
			if prs := e.srv.PullRequests(owner, repo); len(prs) != 0 {
				t.Fatalf("a pull request was opened: %+v", prs)
			}
			out, err = e.c.Propose(context.Background(), p)
			if err != nil || out.Status != github.StatusOpened {
				t.Fatalf("next run = %+v, %v", out, err)
			}
			upstreamMain, _ := e.srv.BranchSHA(owner, repo, "main")
			onlyTheBump(t, e, out.Number, forkedVer, upstreamMain)
		})
	}
}
