package github_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
)

func TestBranchName(t *testing.T) {
	tests := []struct{ file, dep, want string }{
		{"mybinder/Chart.yaml", "binderhub", "helmupgradebot/mybinder-chart-yaml/binderhub"},
		{"config/requirements.yaml", "all", "helmupgradebot/config-requirements-yaml/all"},
		{"Chart.yaml", "cluster-autoscaler", "helmupgradebot/chart-yaml/cluster-autoscaler"},
		{"./Weird Path/Chart.yaml", "My_Chart", "helmupgradebot/weird-path-chart-yaml/my-chart-5f5f48c"},
		{"Chart.yaml", "my-chart", "helmupgradebot/chart-yaml/my-chart"},
		{"a..b/..lock", "x~y^z:w", "helmupgradebot/a-b-lock/x-y-z-w-51882c6"},
		{"", "", "helmupgradebot/file/all"},
	}
	for _, tc := range tests {
		if got := github.BranchName(tc.file, tc.dep); got != tc.want {
			t.Errorf("BranchName(%q, %q) = %q, want %q", tc.file, tc.dep, got, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name, url, token, want string
	}{
		{"empty token", "", "  \n", "GitHub token is empty: set github.token"},
		{"token with a space", "", "ghp_a b", "spaces or control characters"},
		{"not http", "ftp://example.com/", token, "is not an http(s) URL"},
		{"no host", "https:///api", token, "is not an http(s) URL"},
		{"userinfo hidden", "ftp://user:hunter2@example.com/", token, "xxxxx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := github.New(tc.url, tc.token)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") || (strings.TrimSpace(tc.token) != "" && strings.Contains(err.Error(), tc.token)) {
				t.Errorf("error text holds a secret: %q", err)
			}
		})
	}
	for _, u := range []string{"", github.DefaultAPIURL, "https://ghe.example.com/api/v3"} {
		if _, err := github.New(u, " "+token+"\n"); err != nil {
			t.Errorf("New(%q): %v", u, err)
		}
	}
}

func TestReads(t *testing.T) {
	e := setup(t, chart)
	ctx := context.Background()
	if err := e.srv.Hide(owner, "private"); err == nil {
		t.Fatal("Hide of an unknown repository succeeded")
	}
	e.srv.AddRepository(owner, "private", "trunk", map[string]string{"a": "1"})
	if err := e.srv.Hide(owner, "private"); err != nil {
		t.Fatal(err)
	}
	e.srv.AddRepository(owner, "other", "trunk", map[string]string{"dir/a": "1"})

	if b, err := e.c.DefaultBranch(ctx, owner, "other"); err != nil || b != "trunk" {
		t.Errorf("DefaultBranch = %q, %v", b, err)
	}
	if _, err := e.c.DefaultBranch(ctx, owner, "private"); !errors.Is(err, github.ErrNotVisible) {
		t.Errorf("DefaultBranch(private) err = %v", err)
	}

	content, sha, err := e.c.GetFile(ctx, owner, repo, path, "")
	if err != nil || string(content) != chart || sha != githubtest.BlobSHA([]byte(chart)) {
		t.Errorf("GetFile = %q, %s, %v", content, sha, err)
	}
	tests := []struct {
		name, repo, path, ref string
		kind                  error
		want                  string
	}{
		{"missing file", repo, "nope.yaml", "main", github.ErrNotFound, "file nope.yaml not found at main"},
		{"missing ref", repo, path, "nope", github.ErrNotFound, "not found at nope"},
		{"private repository", "private", "a", "", github.ErrNotVisible, "repository jupyterhub/private not found or the token cannot see it"},
		{"directory", "other", "dir", "", nil, "dir is a directory"},
		{"dot-dot", repo, "../x", "", nil, "invalid file path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.c.GetFile(ctx, owner, tc.repo, tc.path, tc.ref)
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.kind != nil && !errors.Is(err, tc.kind)) {
				t.Errorf("err = %v; want %v containing %q", err, tc.kind, tc.want)
			}
		})
	}
}

// Inspect says what Propose would do, and writes nothing.
func TestInspect(t *testing.T) {
	e := setup(t, chart)
	ctx := context.Background()
	p := proposal("2.0.0")
	p.Edit = nil // a dry run needs none
	if out, err := e.c.Inspect(ctx, p); err != nil || out.Status != "" || out.Number != 0 {
		t.Fatalf("Inspect before any PR = %+v, %v; want a PR to open", out, err)
	}
	opened, err := e.c.Propose(ctx, proposal("2.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	before := len(e.srv.Requests())
	if out, err := e.c.Inspect(ctx, p); err != nil || out.Status != github.StatusOpen || out.Number != opened.Number || out.URL != opened.URL {
		t.Fatalf("Inspect = %+v, %v; want pr-open #%d", out, err, opened.Number)
	}
	newer := proposal("2.1.0")
	if out, err := e.c.Inspect(ctx, newer); err != nil || out.Status != "" || out.Number != opened.Number {
		t.Errorf("Inspect(newer) = %+v, %v; want an update of #%d", out, err, opened.Number)
	}
	// The same branch in the token owner's fork is a different head.
	fork := p
	fork.Fork = true
	if out, err := e.c.Inspect(ctx, fork); err != nil || out.Status != "" || out.Number != 0 {
		t.Errorf("Inspect(fork) = %+v, %v; want none", out, err)
	}
	for _, r := range e.srv.Requests()[before:] {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("Inspect wrote: %s", r)
		}
	}
	if err := e.srv.ClosePullRequest(owner, repo, opened.Number); err != nil {
		t.Fatal(err)
	}
	if out, err := e.c.Inspect(ctx, p); err != nil || out.Status != github.StatusClosed || out.Number != opened.Number {
		t.Errorf("Inspect after close = %+v, %v; want pr-closed", out, err)
	}
	bad, _ := github.New(e.srv.URL(), "ghp_nottheone")
	if _, err := bad.Inspect(ctx, fork); !errors.Is(err, github.ErrBadToken) || strings.Contains(err.Error(), "ghp_nottheone") {
		t.Errorf("Inspect with a bad token: %v", err)
	}
}

func BenchmarkPropose(b *testing.B) {
	srv := githubtest.NewServer(githubtest.WithToken(token), githubtest.WithRateLimit(1<<30))
	defer srv.Close()
	srv.AddRepository(owner, repo, "main", map[string]string{path: chart})
	c, err := github.New(srv.URL(), token)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := proposal("2.0.0")
		p.Branch = fmt.Sprintf("%s-%d", p.Branch, i) // a fresh branch: a new PR each time
		out, err := c.Propose(ctx, p)
		if err != nil || out.Status != github.StatusOpened {
			b.Fatalf("Propose = %+v, %v", out, err)
		}
	}
}

func BenchmarkProposeAlreadyOpen(b *testing.B) {
	srv := githubtest.NewServer(githubtest.WithToken(token), githubtest.WithRateLimit(1<<30))
	defer srv.Close()
	srv.AddRepository(owner, repo, "main", map[string]string{path: chart})
	c, err := github.New(srv.URL(), token)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Propose(ctx, proposal("2.0.0")); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		out, err := c.Propose(ctx, proposal("2.0.0"))
		if err != nil || out.Status != github.StatusOpen {
			b.Fatalf("Propose = %+v, %v", out, err)
		}
	}
}
