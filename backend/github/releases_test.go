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
	"github.com/helmupgradebot/helmupgradebot/model"
)

func TestReleases(t *testing.T) {
	ctx := context.Background()
	e := setup(t, chart)
	e.srv.AddRepository("charts", "many", "main", nil)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 350 // four pages of 100
	for i := 1; i <= n; i++ {
		if _, err := e.srv.AddRelease("charts", "many", githubtest.Release{Tag: fmt.Sprintf("app-1.%d.0", i), Body: fmt.Sprintf("body %d", i),
			Created: base.Add(time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.srv.AddRelease("charts", "many", githubtest.Release{Tag: "app-9.0.0", Draft: true, Created: base}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		repo      string
		enough    func([]model.Release) bool
		wantPages int
		wantFirst string
		wantLen   int
	}{
		{name: "bounded to three pages", repo: "many", wantPages: 3, wantFirst: "app-1.350.0", wantLen: 300},
		{name: "enough after the first page", repo: "many", enough: func(p []model.Release) bool { return model.ReleasesReach("app", "1.300.0", p) },
			wantPages: 1, wantFirst: "app-1.350.0", wantLen: 100},
		{name: "enough after the second page", repo: "many", enough: func(p []model.Release) bool { return model.ReleasesReach("app", "1.200.0", p) },
			wantPages: 2, wantFirst: "app-1.350.0", wantLen: 200},
		{name: "a repository without releases", repo: repo, wantPages: 1},
		{name: "a repository GitHub does not show", repo: "missing", wantPages: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			owner := "charts"
			if tt.repo == repo {
				owner = "jupyterhub"
			}
			path := fmt.Sprintf("GET /repos/%s/%s/releases", owner, tt.repo)
			before := count(e.srv.Requests(), path)
			rs, err := e.c.Releases(ctx, owner, tt.repo, tt.enough)
			if err != nil {
				t.Fatal(err)
			}
			if got := count(e.srv.Requests(), path) - before; got != tt.wantPages {
				t.Errorf("%d requests, want %d", got, tt.wantPages)
			}
			if len(rs) != tt.wantLen || (tt.wantLen > 0 && (rs[0].Tag != tt.wantFirst || rs[0].Body != "body 350" || rs[0].URL == "" || rs[0].Published.IsZero())) {
				t.Errorf("%d releases, first %+v", len(rs), rs[:min(len(rs), 1)])
			}
		})
	}
}

func TestReleasesErrors(t *testing.T) {
	ctx := context.Background()
	e := setup(t, chart)
	e.srv.FailNext("GET", "/repos/*/releases", http.StatusForbidden, "Resource not accessible by personal access token")
	_, err := e.c.Releases(ctx, owner, repo, nil)
	var ge *github.Error
	if !errors.As(err, &ge) || !errors.Is(err, github.ErrForbidden) || !strings.Contains(err.Error(), "list the releases in "+owner+"/"+repo) {
		t.Errorf("403: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), token) {
		t.Errorf("the token is in the error: %v", err)
	}
	if _, err := e.c.Releases(ctx, "", repo, nil); err == nil {
		t.Error("no owner: no error")
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.c.Releases(canceled, owner, repo, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

func TestServesGitHubCom(t *testing.T) {
	tests := []struct {
		api  string
		want bool
	}{
		{"", true},
		{"https://api.github.com/", true},
		{"http://127.0.0.1:8080/", true},
		{"https://ghe.example.com/api/v3/", false},
		{"https://api.octocorp.ghe.com/", false},
	}
	for _, tt := range tests {
		c, err := github.New(tt.api, token)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.ServesGitHubCom(); got != tt.want {
			t.Errorf("ServesGitHubCom(%q) = %v, want %v", tt.api, got, tt.want)
		}
	}
}
