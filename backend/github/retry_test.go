package github_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
	"github.com/helmupgradebot/helmupgradebot/backend/retry"
)

// fastRetry waits milliseconds between attempts, unless GitHub says more.
var fastRetry = retry.Policy{MaxAttempts: 4, MaxWait: 10 * time.Second, BaseDelay: time.Millisecond}

// TestSecondaryRateLimitHonoured: GitHub's secondary rate limit (403 with
// Retry-After, or 429) is waited out and the call made again, a POST
// included (GitHub did not act on it); a rate limit that ends after the
// call's max wait, and a plain 403, are answers.
func TestSecondaryRateLimitHonoured(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		path        string
		status      int
		header      func() http.Header
		minWait     time.Duration
		wantErrKind error
		opened      bool
	}{
		{name: "403 Retry-After 1 on a read", method: "GET", path: "/repos/*/pulls", status: 403, header: h("Retry-After", "1"), minWait: 900 * time.Millisecond, opened: true},
		{name: "403 Retry-After 1 on opening the PR", method: "POST", path: "/repos/*/pulls", status: 403, header: h("Retry-After", "1"), minWait: 900 * time.Millisecond, opened: true},
		{name: "429 Retry-After as a date", method: "POST", path: "/repos/*/git/commits", status: 429, header: func() http.Header {
			return http.Header{"Retry-After": {time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)}}
		}, minWait: 900 * time.Millisecond, opened: true},
		{name: "403 Retry-After past max_wait", method: "GET", path: "/repos/*/pulls", status: 403, header: h("Retry-After", "3600"), wantErrKind: github.ErrRateLimited},
		{name: "plain 403 is a refusal", method: "POST", path: "/repos/*/pulls", status: 403, header: h(), wantErrKind: github.ErrForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := githubtest.NewServer(githubtest.WithToken(token), githubtest.WithUser("helmupgradebot"))
			t.Cleanup(srv.Close)
			srv.AddRepository(owner, repo, "main", map[string]string{path: chart})
			c, err := github.New(srv.URL(), token, github.WithRetry(fastRetry))
			if err != nil {
				t.Fatal(err)
			}
			srv.FailNextWithHeader(tc.method, tc.path, tc.status, "You have exceeded a secondary rate limit.", tc.header())
			start := time.Now()
			out, err := c.Propose(t.Context(), proposal("1.0.0-0.dev.git.4000.habcdef12"))
			took := time.Since(start)
			if tc.wantErrKind != nil {
				if !errors.Is(err, tc.wantErrKind) {
					t.Fatalf("error %v, want %v", err, tc.wantErrKind)
				}
				if took > 5*time.Second {
					t.Errorf("took %s to give up", took)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if took < tc.minWait {
				t.Errorf("took %s, want the Retry-After wait of %s", took, tc.minWait)
			}
			prs := srv.PullRequests(owner, repo)
			if len(prs) != 1 || out.URL == "" {
				t.Errorf("%d pull requests, outcome %+v", len(prs), out)
			}
			n := 0
			for _, r := range srv.Requests() {
				if strings.HasPrefix(r, "POST /repos/"+owner+"/"+repo+"/pulls") {
					n++
				}
			}
			if n != 1+boolInt(tc.method == "POST" && tc.path == "/repos/*/pulls") {
				t.Errorf("%d POSTs of the pull request", n)
			}
		})
	}
}

func h(kv ...string) func() http.Header {
	return func() http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
