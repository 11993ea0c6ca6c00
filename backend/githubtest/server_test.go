package githubtest_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	gh "github.com/google/go-github/v60/github"

	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
)

// gitHashObject computes `git hash-object` for content independently of
// the package: sha1 over "blob <size>\0" followed by the bytes.
func gitHashObject(content []byte) string {
	var buf bytes.Buffer
	buf.WriteString("blob ")
	buf.WriteString(strconv.Itoa(len(content)))
	buf.WriteByte(0)
	buf.Write(content)
	sum := sha1.Sum(buf.Bytes())
	return hex.EncodeToString(sum[:])
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func newServer(t *testing.T, opts ...githubtest.Option) *githubtest.Server {
	t.Helper()
	s := githubtest.NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

func TestContentsSHAIsGitBlobSHA(t *testing.T) {
	contents := map[string]string{
		"empty":      "",
		"hello":      "hello\n",
		"no newline": "version: 1.2.3",
		"binary":     "\x00\x01\xff\xfe",
		"long":       strings.Repeat("dependencies:\n  - name: binderhub\n", 40),
	}
	s := newServer(t)
	files := map[string]string{}
	for name, c := range contents {
		files[strings.ReplaceAll(name, " ", "-")+".txt"] = c
	}
	s.AddRepository("o", "r", "main", files)
	gc := s.Client(s.Token())
	_, hasGit := exec.LookPath("git")
	for name, content := range contents {
		t.Run(name, func(t *testing.T) {
			want := gitHashObject([]byte(content))
			if got := githubtest.BlobSHA([]byte(content)); got != want {
				t.Errorf("BlobSHA = %s, want %s", got, want)
			}
			if hasGit == nil {
				cmd := exec.Command("git", "hash-object", "--stdin")
				cmd.Stdin = strings.NewReader(content)
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("git hash-object: %v", err)
				}
				if got := strings.TrimSpace(string(out)); got != want {
					t.Errorf("git hash-object = %s, computed %s", got, want)
				}
			}
			f, _, _, err := gc.Repositories.GetContents(context.Background(), "o", "r", strings.ReplaceAll(name, " ", "-")+".txt", nil)
			if err != nil {
				t.Fatal(err)
			}
			if f.GetSHA() != want {
				t.Errorf("contents sha = %s, want git blob sha %s", f.GetSHA(), want)
			}
			got, err := f.GetContent()
			if err != nil || got != content {
				t.Errorf("content = %q, %v; want %q", got, err, content)
			}
			raw := *f.Content
			if !strings.HasSuffix(raw, "\n") {
				t.Errorf("base64 content %q does not end in a newline like GitHub's", raw)
			}
			lines := strings.Split(strings.TrimSuffix(raw, "\n"), "\n")
			for i, l := range lines {
				if len(l) > 60 || (i < len(lines)-1 && len(l) != 60) {
					t.Errorf("base64 line %d has %d characters; GitHub wraps at 60", i, len(l))
				}
			}
		})
	}
}

// call sends a raw request and returns status, headers and decoded body.
func call(t *testing.T, s *githubtest.Server, auth, method, path string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, strings.TrimSuffix(s.URL(), "/")+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, resp.Header, out
}

func TestAuthAndVisibility(t *testing.T) {
	s := newServer(t, githubtest.WithToken("s3cret"), githubtest.WithUser("bot"))
	s.AddRepository("o", "pub", "main", map[string]string{"a": "1"})
	s.AddRepository("o", "priv", "main", map[string]string{"a": "1"})
	s.AddRepository("o", "ro", "main", map[string]string{"a": "1"})
	if err := s.Hide("o", "priv"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReadOnly("o", "ro"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, auth, method, path string
		body                     any
		status                   int
		message                  string
	}{
		{"bearer", "Bearer s3cret", "GET", "/repos/o/pub", nil, 200, ""},
		{"token scheme", "token s3cret", "GET", "/repos/o/pub", nil, 200, ""},
		{"enterprise prefix", "token s3cret", "GET", "/api/v3/repos/o/pub", nil, 200, ""},
		{"wrong token", "Bearer nope", "GET", "/repos/o/pub", nil, 401, "Bad credentials"},
		{"no token", "", "GET", "/user", nil, 401, "Bad credentials"},
		{"hidden", "Bearer s3cret", "GET", "/repos/o/priv", nil, 404, "Not Found"},
		{"hidden contents", "Bearer s3cret", "GET", "/repos/o/priv/contents/a", nil, 404, "Not Found"},
		{"unknown", "Bearer s3cret", "GET", "/repos/o/none", nil, 404, "Not Found"},
		{"read-only write", "Bearer s3cret", "POST", "/repos/o/ro/git/refs", map[string]string{"ref": "refs/heads/x", "sha": "0"}, 403, "Resource not accessible by personal access token"},
		{"read-only read", "Bearer s3cret", "GET", "/repos/o/ro/contents/a", nil, 200, ""},
		{"unknown endpoint", "Bearer s3cret", "GET", "/nope", nil, 404, "Not Found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, h, body := call(t, s, tc.auth, tc.method, tc.path, tc.body)
			if st != tc.status {
				t.Fatalf("status %d, want %d (%v)", st, tc.status, body)
			}
			if tc.message != "" {
				if body["message"] != tc.message || body["documentation_url"] == nil {
					t.Errorf("body %v, want message %q and a documentation_url", body, tc.message)
				}
			}
			for _, k := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Used"} {
				if h.Get(k) == "" {
					t.Errorf("missing %s header", k)
				}
			}
		})
	}
	for _, r := range s.Requests() {
		if strings.Contains(r, "s3cret") {
			t.Errorf("request log %q holds the token", r)
		}
	}
	if got := s.Requests()[0]; got != "GET /repos/o/pub" {
		t.Errorf("first logged request %q, want %q", got, "GET /repos/o/pub")
	}
}

func TestRateLimit(t *testing.T) {
	s := newServer(t)
	s.AddRepository("o", "r", "main", nil)
	if _, err := s.Commit("o", "r", "main", "first", "file"); err != nil {
		t.Fatalf("commit to a repository created without files: %v", err)
	}
	auth := "Bearer " + s.Token()
	_, h1, _ := call(t, s, auth, "GET", "/repos/o/r", nil)
	_, h2, _ := call(t, s, auth, "GET", "/repos/o/r", nil)
	if h1.Get("X-RateLimit-Remaining") == h2.Get("X-RateLimit-Remaining") {
		t.Errorf("remaining did not go down: %s then %s", h1.Get("X-RateLimit-Remaining"), h2.Get("X-RateLimit-Remaining"))
	}
	s.SetRateLimitRemaining(1)
	if st, h, _ := call(t, s, auth, "GET", "/repos/o/r", nil); st != 200 || h.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("last allowed request: status %d, remaining %q", st, h.Get("X-RateLimit-Remaining"))
	}
	st, h, body := call(t, s, auth, "GET", "/repos/o/r", nil)
	if st != 403 || !strings.HasPrefix(body["message"].(string), "API rate limit exceeded") {
		t.Fatalf("over the limit: status %d, body %v", st, body)
	}
	if h.Get("X-RateLimit-Reset") != strconv.FormatInt(s.RateLimitReset().Unix(), 10) {
		t.Errorf("reset header %q, want %d", h.Get("X-RateLimit-Reset"), s.RateLimitReset().Unix())
	}
	_, _, err := s.Client(s.Token()).Repositories.Get(context.Background(), "o", "r")
	var rl *gh.RateLimitError
	if !errors.As(err, &rl) || !rl.Rate.Reset.Time.Equal(s.RateLimitReset()) {
		t.Errorf("go-github error %v (%T), want a RateLimitError resetting at %v", err, err, s.RateLimitReset())
	}
}

func TestContentsWrites(t *testing.T) {
	s := newServer(t)
	s.AddRepository("o", "r", "main", map[string]string{"Chart.yaml": "version: 1\n"})
	auth := "Bearer " + s.Token()
	sha := githubtest.BlobSHA([]byte("version: 1\n"))
	b64 := func(s string) string { return base64Std(s) }
	tests := []struct {
		name    string
		body    map[string]any
		status  int
		message string
	}{
		{"no message", map[string]any{"content": b64("x"), "sha": sha}, 422, "Invalid request.\n\n\"message\" wasn't supplied."},
		{"no sha", map[string]any{"message": "m", "content": b64("x")}, 422, "Invalid request.\n\n\"sha\" wasn't supplied."},
		{"stale sha", map[string]any{"message": "m", "content": b64("x"), "sha": strings.Repeat("a", 40)}, 409, "Chart.yaml does not match " + strings.Repeat("a", 40)},
		{"no branch", map[string]any{"message": "m", "content": b64("x"), "sha": sha, "branch": "nope"}, 404, "Branch nope not found"},
		{"bad base64", map[string]any{"message": "m", "content": "!!", "sha": sha}, 422, "content is not valid Base64"},
		{"ok", map[string]any{"message": "bump", "content": b64("version: 2\n"), "sha": sha}, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, _, body := call(t, s, auth, "PUT", "/repos/o/r/contents/Chart.yaml", tc.body)
			if st != tc.status || (tc.message != "" && body["message"] != tc.message) {
				t.Fatalf("status %d body %v; want %d %q", st, body, tc.status, tc.message)
			}
		})
	}
	log := s.Log("o", "r", "main")
	if len(log) != 2 || log[0].Parent != log[1].SHA || log[0].Message != "bump" || log[0].Files["Chart.yaml"] != "version: 2\n" {
		t.Fatalf("log after one good PUT: %+v", log)
	}
	// A new file needs no sha.
	if st, _, body := call(t, s, auth, "PUT", "/repos/o/r/contents/dir/new.txt", map[string]any{"message": "add", "content": b64("n")}); st != 201 {
		t.Fatalf("create: %d %v", st, body)
	}
	if got, ok := s.File("o", "r", "main", "dir/new.txt"); !ok || got != "n" {
		t.Errorf("new file = %q, %v", got, ok)
	}
	if err := s.ProtectBranch("o", "r", "main"); err != nil {
		t.Fatal(err)
	}
	st, _, body := call(t, s, auth, "PUT", "/repos/o/r/contents/dir/new.txt", map[string]any{"message": "m", "content": b64("z"), "sha": githubtest.BlobSHA([]byte("n"))})
	if st != 409 || !strings.Contains(body["message"].(string), "Changes must be made through a pull request.") {
		t.Errorf("protected: %d %v", st, body)
	}
}

func TestRefsPullsLabelsReviewers(t *testing.T) {
	s := newServer(t, githubtest.WithUser("bot"))
	s.AddRepository("o", "r", "main", map[string]string{"f": "1"})
	if err := s.AddCollaborators("o", "r", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddTeams("o", "r", "ops"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := s.Client(s.Token())
	base, _ := s.BranchSHA("o", "r", "main")
	ref := &gh.Reference{Ref: gh.String("refs/heads/b"), Object: &gh.GitObject{SHA: gh.String(base)}}
	if _, _, err := c.Git.CreateRef(ctx, "o", "r", ref); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Git.CreateRef(ctx, "o", "r", ref); !isMsg(err, 422, "Reference already exists") {
		t.Errorf("duplicate ref: %v", err)
	}
	got, _, err := c.Git.GetRef(ctx, "o", "r", "heads/b")
	if err != nil || got.GetObject().GetSHA() != base {
		t.Fatalf("GetRef = %v, %v", got, err)
	}
	// A PR needs commits between base and head.
	np := &gh.NewPullRequest{Title: gh.String("t"), Head: gh.String("o:b"), Base: gh.String("main")}
	if _, _, err := c.PullRequests.Create(ctx, "o", "r", np); !isMsg(err, 422, "Validation Failed") {
		t.Errorf("PR without commits: %v", err)
	}
	side, err := s.Commit("o", "r", "b", "f", "2")
	if err != nil {
		t.Fatal(err)
	}
	main2, _ := s.Commit("o", "r", "main", "g", "1")
	// b does not contain main2: not a fast forward without force.
	upd := &gh.Reference{Ref: gh.String("refs/heads/b"), Object: &gh.GitObject{SHA: gh.String(main2)}}
	if _, _, err := c.Git.UpdateRef(ctx, "o", "r", upd, false); !isMsg(err, 422, "Update is not a fast forward") {
		t.Errorf("non-fast-forward update: %v", err)
	}
	if _, _, err := c.Git.UpdateRef(ctx, "o", "r", &gh.Reference{Ref: gh.String("refs/heads/b"), Object: &gh.GitObject{SHA: gh.String(side)}}, true); err != nil {
		t.Errorf("forced update: %v", err)
	}
	pr, _, err := c.PullRequests.Create(ctx, "o", "r", np)
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetNumber() != 1 || pr.GetHTMLURL() != s.URL()+"o/r/pull/1" || pr.GetHead().GetSHA() != side || pr.GetBase().GetRef() != "main" {
		t.Errorf("PR = #%d %s head %s base %s", pr.GetNumber(), pr.GetHTMLURL(), pr.GetHead().GetSHA(), pr.GetBase().GetRef())
	}
	_, _, err = c.PullRequests.Create(ctx, "o", "r", np)
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || len(er.Errors) != 1 || er.Errors[0].Message != "A pull request already exists for o:b." {
		t.Errorf("duplicate PR: %v", err)
	}
	for _, tc := range []struct {
		head string
		want int
	}{{"o:b", 1}, {"o:other", 0}, {"x:b", 0}} {
		prs, _, err := c.PullRequests.List(ctx, "o", "r", &gh.PullRequestListOptions{State: "open", Head: tc.head})
		if err != nil || len(prs) != tc.want {
			t.Errorf("list head=%s: %d PRs, %v; want %d", tc.head, len(prs), err, tc.want)
		}
	}
	labels, _, err := c.Issues.AddLabelsToIssue(ctx, "o", "r", 1, []string{"dependencies", "helm"})
	if err != nil || len(labels) != 2 {
		t.Fatalf("labels: %v, %v", labels, err)
	}
	if got := s.Labels("o", "r"); strings.Join(got, ",") != "dependencies,helm" {
		t.Errorf("labels created in repository: %v", got)
	}
	if _, _, err := c.PullRequests.RequestReviewers(ctx, "o", "r", 1, gh.ReviewersRequest{Reviewers: []string{"mallory"}}); !isMsg(err, 422, "Reviews may only be requested from collaborators") {
		t.Errorf("non-collaborator reviewer: %v", err)
	}
	if _, _, err := c.PullRequests.RequestReviewers(ctx, "o", "r", 1, gh.ReviewersRequest{Reviewers: []string{"bot"}}); !isMsg(err, 422, "Review cannot be requested from pull request author.") {
		t.Errorf("author as reviewer: %v", err)
	}
	if _, _, err := c.PullRequests.RequestReviewers(ctx, "o", "r", 1, gh.ReviewersRequest{Reviewers: []string{"alice"}, TeamReviewers: []string{"ops"}}); err != nil {
		t.Errorf("reviewers: %v", err)
	}
	if _, _, err := c.PullRequests.Edit(ctx, "o", "r", 1, &gh.PullRequest{Title: gh.String("t2"), Body: gh.String("b2")}); err != nil {
		t.Fatal(err)
	}
	prs := s.PullRequests("o", "r")
	want := githubtest.PullRequest{Number: 1, State: "open", Title: "t2", Body: "b2", Head: "o:b", HeadRepo: "o/r", HeadRef: "b",
		HeadSHA: side, Base: "main", Labels: []string{"dependencies", "helm"}, Reviewers: []string{"alice"}, TeamReviewers: []string{"ops"},
		User: "bot", HTMLURL: s.URL() + "o/r/pull/1"}
	if len(prs) != 1 || !equalPR(prs[0], want) {
		t.Errorf("PullRequests = %+v\nwant %+v", prs, want)
	}
}

func TestForkAndMergeUpstream(t *testing.T) {
	s := newServer(t, githubtest.WithUser("bot"), githubtest.WithForkDelay(2))
	s.AddRepository("up", "r", "main", map[string]string{"f": "1"})
	ctx := context.Background()
	c := s.Client(s.Token())
	f, _, err := c.Repositories.CreateFork(ctx, "up", "r", nil)
	var accepted *gh.AcceptedError
	if !errors.As(err, &accepted) || f.GetFullName() != "bot/r" || !f.GetFork() {
		t.Fatalf("CreateFork = %v, %v; want 202 with bot/r", f, err)
	}
	for i := 0; i < 2; i++ {
		if _, _, err := c.Repositories.Get(ctx, "bot", "r"); !isMsg(err, 404, "Not Found") {
			t.Fatalf("poll %d of a fork still being created: %v", i, err)
		}
	}
	if got, _, err := c.Repositories.Get(ctx, "bot", "r"); err != nil || got.GetParent().GetFullName() != "up/r" {
		t.Fatalf("fork after delay: %v, %v", got, err)
	}
	// A second fork request returns the same fork.
	if f2, _, _ := c.Repositories.CreateFork(ctx, "up", "r", nil); f2.GetFullName() != "bot/r" {
		t.Errorf("second fork = %s", f2.GetFullName())
	}
	moved, _ := s.Commit("up", "r", "main", "f", "2")
	res, _, err := c.Repositories.MergeUpstream(ctx, "bot", "r", &gh.RepoMergeUpstreamRequest{Branch: gh.String("main")})
	if err != nil || res.GetMergeType() != "fast-forward" {
		t.Fatalf("merge-upstream = %v, %v", res, err)
	}
	if sha, _ := s.BranchSHA("bot", "r", "main"); sha != moved {
		t.Errorf("fork main = %s, want %s", sha, moved)
	}
	res, _, err = c.Repositories.MergeUpstream(ctx, "bot", "r", &gh.RepoMergeUpstreamRequest{Branch: gh.String("main")})
	if err != nil || res.GetMergeType() != "none" {
		t.Errorf("second merge-upstream = %v, %v", res, err)
	}
	// A PR from the fork against upstream.
	if _, err := s.Commit("bot", "r", "feature", "f", "3"); err != nil {
		t.Fatal(err)
	}
	pr, _, err := c.PullRequests.Create(ctx, "up", "r", &gh.NewPullRequest{Title: gh.String("t"), Head: gh.String("bot:feature"), Base: gh.String("main")})
	if err != nil || pr.GetHead().GetRepo().GetFullName() != "bot/r" || pr.GetHead().GetLabel() != "bot:feature" {
		t.Fatalf("PR from fork = %v, %v", pr, err)
	}
}

func TestFaultsAndHooks(t *testing.T) {
	s := newServer(t)
	s.AddRepository("o", "r", "main", map[string]string{"a/b.yaml": "x"})
	c := s.Client(s.Token())
	ctx := context.Background()
	s.FailNext("GET", "/repos/o/r/contents/*", 502, "Server Error")
	if _, _, _, err := c.Repositories.GetContents(ctx, "o", "r", "a/b.yaml", nil); !isMsg(err, 502, "Server Error") {
		t.Errorf("injected fault: %v", err)
	}
	if _, _, _, err := c.Repositories.GetContents(ctx, "o", "r", "a/b.yaml", nil); err != nil {
		t.Errorf("fault used twice: %v", err)
	}
	ran := false
	s.BeforeNext("PUT", "*", func() {
		ran = true
		if _, err := s.Commit("o", "r", "main", "a/b.yaml", "y"); err != nil {
			t.Error(err)
		}
	})
	_, _, err := c.Repositories.UpdateFile(ctx, "o", "r", "a/b.yaml", &gh.RepositoryContentFileOptions{
		Message: gh.String("m"), Content: []byte("z"), SHA: gh.String(githubtest.BlobSHA([]byte("x")))})
	if !ran || !isMsg(err, 409, "a/b.yaml does not match") {
		t.Errorf("hook ran %v, PUT after the branch moved: %v", ran, err)
	}
}

func isMsg(err error, status int, prefix string) bool {
	var er *gh.ErrorResponse
	return errors.As(err, &er) && er.Response.StatusCode == status && strings.HasPrefix(er.Message, prefix)
}

func equalPR(a, b githubtest.PullRequest) bool {
	j := func(p githubtest.PullRequest) string { out, _ := json.Marshal(p); return string(out) }
	return j(a) == j(b)
}
