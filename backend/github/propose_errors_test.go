package github_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
)

// How Propose fails: each GitHub error and fork-mode failure, and what the
// error says.

func TestProposeErrors(t *testing.T) {
	reset := time.Now().Add(42 * time.Minute).Truncate(time.Second)
	tests := []struct {
		name     string
		token    string // client token; the server's when empty
		prepare  func(*githubtest.Server, *github.Proposal)
		kind     error
		contains []string
		noBranch bool // the bot's branch must not have been created
	}{
		{
			name:     "bad token",
			token:    "ghp_WRONGwrong987654321",
			kind:     github.ErrBadToken,
			contains: []string{"GitHub rejected the token (401): check github.token", owner + "/" + repo},
			noBranch: true,
		},
		{
			name:     "private repository",
			prepare:  func(s *githubtest.Server, _ *github.Proposal) { s.Hide(owner, repo) },
			kind:     github.ErrNotVisible,
			contains: []string{"repository " + owner + "/" + repo + " not found or the token cannot see it; the token needs contents:write and pull-requests:write"},
			noBranch: true,
		},
		{
			name:     "read-only token",
			prepare:  func(s *githubtest.Server, _ *github.Proposal) { s.ReadOnly(owner, repo) },
			kind:     github.ErrForbidden,
			contains: []string{"commit " + path + " to branch", "403", "contents:write and pull-requests:write"},
			noBranch: true,
		},
		{
			name: "rate limit exhausted",
			prepare: func(s *githubtest.Server, _ *github.Proposal) {
				s.SetRateLimitReset(reset)
				s.SetRateLimitRemaining(0)
			},
			kind:     github.ErrRateLimited,
			contains: []string{"rate limit", "resets at " + reset.UTC().Format(time.RFC3339)},
			noBranch: true,
		},
		{
			name: "rate limit runs out midway",
			prepare: func(s *githubtest.Server, _ *github.Proposal) {
				s.SetRateLimitReset(reset)
				s.SetRateLimitRemaining(4) // repository, pull list, compare, base ref
			},
			kind:     github.ErrRateLimited,
			contains: []string{"read " + path, "resets at " + reset.UTC().Format(time.RFC3339)},
			noBranch: true,
		},
		{
			name: "secondary rate limit (429)",
			prepare: func(s *githubtest.Server, _ *github.Proposal) {
				s.FailNextWithHeader("GET", "/repos/*/pulls", http.StatusTooManyRequests, "You have exceeded a secondary rate limit.",
					http.Header{"X-Ratelimit-Reset": {fmt.Sprint(reset.Unix())}})
			},
			kind:     github.ErrRateLimited,
			contains: []string{"list pull requests from", "resets at " + reset.UTC().Format(time.RFC3339)},
			noBranch: true,
		},
		{
			name:     "protected branch",
			prepare:  func(s *githubtest.Server, p *github.Proposal) { s.ProtectBranch(owner, repo, p.Branch) },
			kind:     github.ErrProtectedBranch,
			contains: []string{"create branch helmupgradebot/", "Repository rule violations found", "exempt"},
		},
		{
			name:     "file missing",
			prepare:  func(_ *githubtest.Server, p *github.Proposal) { p.Path = "nope/Chart.yaml" },
			kind:     github.ErrNotFound,
			contains: []string{"file nope/Chart.yaml not found"},
			noBranch: true,
		},
		{
			name: "already at that version",
			prepare: func(_ *githubtest.Server, p *github.Proposal) {
				p.Edit = bump("binderhub", "1.0.0-0.dev.git.3983.h383374de")
			},
			kind:     github.ErrUpToDate,
			contains: []string{path + " is already at that version on branch main"},
			noBranch: true,
		},
		{
			name:     "edit fails",
			prepare:  func(_ *githubtest.Server, p *github.Proposal) { p.Edit = bump("nope", "1") },
			contains: []string{"edit " + path, "dependency nope not in the file"},
			noBranch: true,
		},
		{
			name:     "base branch missing",
			prepare:  func(_ *githubtest.Server, p *github.Proposal) { p.Base = "gone" },
			kind:     github.ErrNotFound,
			contains: []string{"branch gone does not exist"},
			noBranch: true,
		},
		{
			name: "server error",
			prepare: func(s *githubtest.Server, _ *github.Proposal) {
				s.FailNext("POST", "/repos/*/pulls", 502, "Server Error")
			},
			contains: []string{"open pull request from " + owner + ":helmupgradebot/", "GitHub answered 502: Server Error"},
		},
		{
			name:     "invalid proposal",
			prepare:  func(_ *githubtest.Server, p *github.Proposal) { p.Title, p.Edit = "", nil },
			contains: []string{"missing Title, Edit"},
			noBranch: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, chart)
			c := e.c
			if tc.token != "" {
				var err error
				if c, err = github.New(e.srv.URL(), tc.token); err != nil {
					t.Fatal(err)
				}
			}
			p := proposal("2.0.0")
			if tc.prepare != nil {
				tc.prepare(e.srv, &p)
			}
			out, err := c.Propose(context.Background(), p)
			if err == nil {
				t.Fatalf("Propose = %+v, want an error", out)
			}
			t.Logf("error: %v", err)
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("err = %v; want kind %v", err, tc.kind)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err = %q; want it to contain %q", err, s)
				}
			}
			for _, secret := range []string{token, tc.token} {
				if secret != "" && strings.Contains(err.Error(), secret) {
					t.Errorf("error text holds a token: %q", err)
				}
			}
			if _, ok := e.srv.BranchSHA(owner, repo, p.Branch); tc.noBranch && ok {
				t.Errorf("branch %s was created", p.Branch)
			}
		})
	}
}

func TestProposeForkErrors(t *testing.T) {
	t.Run("fork never appears", func(t *testing.T) {
		srv := githubtest.NewServer(githubtest.WithToken(token), githubtest.WithUser("bot"), githubtest.WithForkDelay(1<<30))
		defer srv.Close()
		srv.AddRepository(owner, repo, "main", map[string]string{path: chart})
		c, err := github.New(srv.URL(), token, github.WithForkPolling(time.Millisecond, 30*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		p := proposal("2.0.0")
		p.Fork = true
		_, err = c.Propose(context.Background(), p)
		if err == nil || !strings.Contains(err.Error(), "did not appear within 30ms") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("token owns the repository", func(t *testing.T) {
		e := setup(t, chart, githubtest.WithUser(owner))
		p := proposal("2.0.0")
		p.Fork = true
		_, err := e.c.Propose(context.Background(), p)
		if err == nil || !strings.Contains(err.Error(), "turn fork mode off") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("context cancelled while waiting", func(t *testing.T) {
		srv := githubtest.NewServer(githubtest.WithToken(token), githubtest.WithUser("bot"), githubtest.WithForkDelay(1<<30))
		defer srv.Close()
		srv.AddRepository(owner, repo, "main", map[string]string{path: chart})
		c, err := github.New(srv.URL(), token, github.WithForkPolling(time.Millisecond, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		p := proposal("2.0.0")
		p.Fork = true
		_, err = c.Propose(ctx, p)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the context's deadline", err)
		}
	})
}
