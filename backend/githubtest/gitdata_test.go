package githubtest_test

import (
	"context"
	"testing"

	gh "github.com/google/go-github/v60/github"

	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
)

// A commit of two files through the Git database, as a client writes one:
// blobs, a tree on the parent's tree, a commit, then the ref.
func TestGitDatabaseCommit(t *testing.T) {
	s := newServer(t)
	s.AddRepository("o", "r", "main", map[string]string{"a/Chart.yaml": "v: 1\n", "a/Chart.lock": "l: 1\n", "old.txt": "x"})
	ctx := context.Background()
	c := s.Client(s.Token())
	head, _ := s.BranchSHA("o", "r", "main")
	parent, _, err := c.Git.GetCommit(ctx, "o", "r", head)
	if err != nil {
		t.Fatal(err)
	}
	if parent.GetTree().GetSHA() == "" || parent.GetAuthor().GetName() != "o" || len(parent.Parents) != 0 {
		t.Fatalf("parent commit = %+v", parent)
	}
	blob, _, err := c.Git.CreateBlob(ctx, "o", "r", &gh.Blob{Content: gh.String(base64Std("v: 2\n")), Encoding: gh.String("base64")})
	if err != nil || blob.GetSHA() != gitHashObject([]byte("v: 2\n")) {
		t.Fatalf("blob = %+v, %v", blob, err)
	}
	tree, _, err := c.Git.CreateTree(ctx, "o", "r", parent.GetTree().GetSHA(), []*gh.TreeEntry{
		{Path: gh.String("a/Chart.yaml"), Mode: gh.String("100644"), Type: gh.String("blob"), SHA: blob.SHA},
		{Path: gh.String("a/Chart.lock"), Mode: gh.String("100644"), Type: gh.String("blob"), Content: gh.String("l: 2\n")},
		{Path: gh.String("old.txt"), Mode: gh.String("100644"), Type: gh.String("blob")}, // sha null: delete
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.Entries) != 2 {
		t.Errorf("tree entries = %v", tree.Entries)
	}
	bot := &gh.CommitAuthor{Name: gh.String("helmupgradebot"), Email: gh.String("bot@example.org")}
	commit, _, err := c.Git.CreateCommit(ctx, "o", "r", &gh.Commit{Message: gh.String("Bump\n\nTrailer: x"), Tree: tree,
		Parents: []*gh.Commit{{SHA: gh.String(head)}}, Author: bot}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if commit.GetCommitter().GetEmail() != "bot@example.org" || commit.Parents[0].GetSHA() != head {
		t.Errorf("commit = %+v; the committer defaults to the author", commit)
	}
	ref := &gh.Reference{Ref: gh.String("refs/heads/main"), Object: &gh.GitObject{SHA: commit.SHA}}
	if _, _, err := c.Git.UpdateRef(ctx, "o", "r", ref, false); err != nil {
		t.Fatal(err)
	}
	log := s.Log("o", "r", "main")
	if len(log) != 2 || log[0].Files["a/Chart.yaml"] != "v: 2\n" || log[0].Files["a/Chart.lock"] != "l: 2\n" ||
		len(log[0].Files) != 2 || log[0].Committer != (githubtest.Identity{Name: "helmupgradebot", Email: "bot@example.org"}) {
		t.Fatalf("log = %+v", log)
	}

	// Errors are GitHub's 422s.
	if _, _, err := c.Git.CreateTree(ctx, "o", "r", "nope", nil); !isMsg(err, 422, "Validation Failed") {
		t.Errorf("bad base tree: %v", err)
	}
	if _, _, err := c.Git.CreateCommit(ctx, "o", "r", &gh.Commit{Message: gh.String("m"), Tree: &gh.Tree{SHA: gh.String("nope")}}, nil); !isMsg(err, 422, "Tree SHA does not exist") {
		t.Errorf("bad tree: %v", err)
	}
	if _, _, err := c.Git.CreateCommit(ctx, "o", "r", &gh.Commit{Message: gh.String("m"), Tree: tree, Parents: []*gh.Commit{{SHA: gh.String("0000000000000000000000000000000000000000")}}}, nil); !isMsg(err, 422, "Parent SHA does not exist") {
		t.Errorf("bad parent: %v", err)
	}
	if _, _, err := c.Git.GetCommit(ctx, "o", "r", "0000000000000000000000000000000000000000"); !isMsg(err, 404, "Not Found") {
		t.Errorf("missing commit: %v", err)
	}
}

func TestCompare(t *testing.T) {
	s := newServer(t, githubtest.WithUser("bot"))
	s.AddRepository("o", "r", "main", map[string]string{"f": "1"})
	ctx := context.Background()
	c := s.Client(s.Token())
	base, _ := s.BranchSHA("o", "r", "main")
	var shas []string
	for i := range 5 {
		sha, err := s.Push("o", "r", githubtest.Push{Branch: "topic", Files: map[string]string{"f": string(rune('2' + i))},
			Message: "m", Author: githubtest.Someone, Committer: githubtest.Someone})
		if err != nil {
			t.Fatal(err)
		}
		shas = append(shas, sha)
	}
	cmp, _, err := c.Repositories.CompareCommits(ctx, "o", "r", "main", "topic", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cmp.GetStatus() != "ahead" || cmp.GetAheadBy() != 5 || cmp.GetBehindBy() != 0 || len(cmp.Commits) != 5 ||
		cmp.Commits[0].GetSHA() != shas[0] || cmp.GetMergeBaseCommit().GetSHA() != base ||
		cmp.Commits[4].GetCommit().GetCommitter().GetEmail() != githubtest.Someone.Email || cmp.Commits[4].Author != nil {
		t.Fatalf("compare = %+v", cmp)
	}
	if len(cmp.Files) != 1 || cmp.Files[0].GetFilename() != "f" || cmp.Files[0].GetStatus() != "modified" {
		t.Errorf("files = %v", cmp.Files)
	}
	// Pages, oldest first.
	var paged []string
	opts := &gh.ListOptions{PerPage: 2}
	for {
		cmp, resp, err := c.Repositories.CompareCommits(ctx, "o", "r", "main", "topic", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, rc := range cmp.Commits {
			paged = append(paged, rc.GetSHA())
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(paged) != 5 || paged[4] != shas[4] {
		t.Errorf("paged = %v, want %v", paged, shas)
	}
	// main moves on: diverged; the other way round: behind.
	if _, err := s.Commit("o", "r", "main", "g", "1"); err != nil {
		t.Fatal(err)
	}
	if cmp, _, _ := c.Repositories.CompareCommits(ctx, "o", "r", "main", "topic", nil); cmp.GetStatus() != "diverged" || cmp.GetBehindBy() != 1 {
		t.Errorf("diverged: %+v", cmp)
	}
	if cmp, _, _ := c.Repositories.CompareCommits(ctx, "o", "r", "topic", shas[2], nil); cmp.GetStatus() != "behind" || cmp.GetAheadBy() != 0 {
		t.Errorf("behind: %+v", cmp)
	}
	if cmp, _, _ := c.Repositories.CompareCommits(ctx, "o", "r", "topic", "o:topic", nil); cmp.GetStatus() != "identical" {
		t.Errorf("identical: %+v", cmp)
	}
	if _, _, err := c.Repositories.CompareCommits(ctx, "o", "r", "main", "nope", nil); !isMsg(err, 404, "Not Found") {
		t.Errorf("missing branch: %v", err)
	}
	// A branch in the token user's fork, named owner:branch.
	if _, _, err := c.Repositories.CreateFork(ctx, "o", "r", nil); err != nil && !isAccepted(err) {
		t.Fatal(err)
	}
	if _, err := s.Push("bot", "r", githubtest.Push{Branch: "fix", Parent: base, Files: map[string]string{"h": "1"}, Message: "m",
		Author: githubtest.Identity{Name: "bot", Email: "bot@users.noreply.github.com"}, Committer: githubtest.Identity{Name: "bot", Email: "bot@users.noreply.github.com"}}); err != nil {
		t.Fatal(err)
	}
	cmp, _, err = c.Repositories.CompareCommits(ctx, "o", "r", "main", "bot:fix", nil)
	if err != nil || cmp.GetAheadBy() != 1 || cmp.GetBehindBy() != 1 || cmp.Commits[0].GetAuthor().GetLogin() != "bot" {
		t.Errorf("fork compare = %+v, %v", cmp, err)
	}
}

func isAccepted(err error) bool {
	_, ok := err.(*gh.AcceptedError)
	return ok
}

func TestMergedPullRequest(t *testing.T) {
	s := newServer(t)
	s.AddRepository("o", "r", "main", map[string]string{"f": "1"})
	ctx := context.Background()
	c := s.Client(s.Token())
	if _, err := s.Commit("o", "r", "b", "f", "2"); err != nil {
		t.Fatal(err)
	}
	pr, _, err := c.PullRequests.Create(ctx, "o", "r", &gh.NewPullRequest{Title: gh.String("t"), Head: gh.String("b"), Base: gh.String("main")})
	if err != nil || pr.MergedAt != nil || pr.GetMerged() {
		t.Fatalf("new PR: %+v, %v", pr, err)
	}
	if err := s.MergePullRequest("o", "r", pr.GetNumber()); err != nil {
		t.Fatal(err)
	}
	prs, _, err := c.PullRequests.List(ctx, "o", "r", &gh.PullRequestListOptions{State: "closed"})
	if err != nil || len(prs) != 1 || prs[0].MergedAt == nil || prs[0].GetState() != "closed" {
		t.Fatalf("closed PRs: %+v, %v", prs, err)
	}
	if got, _ := s.File("o", "r", "main", "f"); got != "2" {
		t.Errorf("main after the merge has f = %q", got)
	}
}

// A repository network shares its objects: a fork can point a branch at,
// and build commits on, a commit pushed to its upstream after the fork was
// made (and the other way round); an unrelated repository cannot.
func TestForkSharesUpstreamObjects(t *testing.T) {
	s := newServer(t, githubtest.WithUser("bot"))
	s.AddRepository("up", "r", "main", map[string]string{"f": "1\n"})
	s.AddRepository("other", "r", "main", map[string]string{"f": "1\n"})
	ctx := context.Background()
	c := s.Client(s.Token())
	if _, _, err := c.Repositories.CreateFork(ctx, "up", "r", nil); err != nil && !isAccepted(err) {
		t.Fatal(err)
	}
	later, err := s.Commit("up", "r", "main", "f", "2\n")
	if err != nil {
		t.Fatal(err)
	}
	upCommit, _, err := c.Git.GetCommit(ctx, "bot", "r", later)
	if err != nil || upCommit.GetSHA() != later {
		t.Fatalf("the fork reading upstream's later commit: %+v, %v", upCommit, err)
	}
	tree, _, err := c.Git.CreateTree(ctx, "bot", "r", upCommit.GetTree().GetSHA(), []*gh.TreeEntry{
		{Path: gh.String("g"), Mode: gh.String("100644"), Type: gh.String("blob"), Content: gh.String("x\n")}})
	if err != nil {
		t.Fatalf("a tree in the fork on upstream's tree: %v", err)
	}
	commit, _, err := c.Git.CreateCommit(ctx, "bot", "r", &gh.Commit{Message: gh.String("m"), Tree: tree,
		Parents: []*gh.Commit{{SHA: gh.String(later)}}}, nil)
	if err != nil {
		t.Fatalf("a commit in the fork on upstream's commit: %v", err)
	}
	if _, _, err := c.Git.CreateRef(ctx, "bot", "r", &gh.Reference{Ref: gh.String("refs/heads/b"), Object: &gh.GitObject{SHA: gh.String(later)}}); err != nil {
		t.Fatalf("a fork branch at upstream's commit: %v", err)
	}
	if _, _, err := c.Git.UpdateRef(ctx, "bot", "r", &gh.Reference{Ref: gh.String("refs/heads/b"), Object: &gh.GitObject{SHA: commit.SHA}}, false); err != nil {
		t.Fatalf("fast-forward the fork branch: %v", err)
	}
	if got, ok := s.File("bot", "r", "b", "f"); !ok || got != "2\n" {
		t.Errorf("fork branch f = %q, %v; want upstream's 2", got, ok)
	}
	// Upstream sees the fork's commit too.
	if _, _, err := c.Git.GetCommit(ctx, "up", "r", commit.GetSHA()); err != nil {
		t.Errorf("upstream reading the fork's commit: %v", err)
	}
	// Another network holds none of them, even for the same content.
	if _, _, err := c.Git.GetCommit(ctx, "other", "r", later); !isMsg(err, 404, "Not Found") {
		t.Errorf("an unrelated repository reading the commit: %v", err)
	}
	if _, _, err := c.Git.CreateRef(ctx, "other", "r", &gh.Reference{Ref: gh.String("refs/heads/b"), Object: &gh.GitObject{SHA: gh.String(later)}}); !isMsg(err, 422, "Object does not exist") {
		t.Errorf("an unrelated repository's branch at the commit: %v", err)
	}
	if _, _, err := c.Git.CreateTree(ctx, "other", "r", upCommit.GetTree().GetSHA(), []*gh.TreeEntry{
		{Path: gh.String("g"), Mode: gh.String("100644"), Type: gh.String("blob"), Content: gh.String("x\n")}}); !isMsg(err, 422, "Validation Failed") {
		t.Errorf("an unrelated repository's tree on the tree: %v", err)
	}
	if _, _, _, err := c.Repositories.GetContents(ctx, "other", "r", "f", &gh.RepositoryContentGetOptions{Ref: later}); !isMsg(err, 404, "No commit found") {
		t.Errorf("an unrelated repository's contents at the commit: %v", err)
	}
	if err := s.MoveBranch("other", "r", "b", later); err == nil {
		t.Error("MoveBranch to another network's commit succeeded")
	}
}

// Compare lists each changed file with its line counts and patch, as a
// pull request's diff shows it.
func TestCompareFilePatch(t *testing.T) {
	s := newServer(t)
	before := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\n"
	s.AddRepository("o", "r", "main", map[string]string{"f": before, "gone": "x\n"})
	ctx := context.Background()
	c := s.Client(s.Token())
	base, _ := s.BranchSHA("o", "r", "main")
	after := "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn"
	if _, err := s.Push("o", "r", githubtest.Push{Branch: "topic", Message: "m", Author: githubtest.Someone, Committer: githubtest.Someone,
		Files: map[string]string{"f": after, "new": "1\n2\n"}}); err != nil {
		t.Fatal(err)
	}
	cmp, _, err := c.Repositories.CompareCommits(ctx, "o", "r", base, "topic", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		status   string
		add, del int
		patch    string
	}{
		"f":   {"modified", 2, 1, "@@ -1,5 +1,5 @@\n a\n-b\n+B\n c\n d\n e\n@@ -11,3 +11,4 @@\n k\n l\n m\n+n\n\\ No newline at end of file"},
		"new": {"added", 2, 0, "@@ -0,0 +1,2 @@\n+1\n+2"},
	}
	if len(cmp.Files) != len(want) {
		t.Fatalf("files = %v", cmp.Files)
	}
	for _, f := range cmp.Files {
		w := want[f.GetFilename()]
		if f.GetStatus() != w.status || f.GetAdditions() != w.add || f.GetDeletions() != w.del || f.GetChanges() != w.add+w.del || f.GetPatch() != w.patch {
			t.Errorf("%s: %s +%d -%d %d\n%s\nwant %+v", f.GetFilename(), f.GetStatus(), f.GetAdditions(), f.GetDeletions(), f.GetChanges(), f.GetPatch(), w)
		}
	}
}
