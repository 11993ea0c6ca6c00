package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// appIndex serves a chart repository whose chart app says what each
// version changed in its artifacthub.io/changes annotation (1.1.0's does
// not parse), and whose source is github.com/acme/app.
func appIndex(t *testing.T) string {
	t.Helper()
	changes := map[string]string{
		"1.0.0": "- Initial release",
		"1.1.0": "- kind: feature\n  description: not a kind Artifact Hub knows",
		"1.2.0": "- kind: fixed\n  description: Crash on start, thanks @helper (#7)\n  links:\n    - name: Issue\n      url: https://github.com/acme/app/issues/7",
		"1.3.0": "- kind: added\n  description: Metrics\n- kind: security\n  description: Bump base image",
	}
	var b strings.Builder
	b.WriteString("apiVersion: v1\nentries:\n  app:\n")
	for _, v := range []string{"1.3.0", "1.2.0", "1.1.0", "1.0.0"} {
		fmt.Fprintf(&b, "  - version: %s\n    created: \"2026-10-01T00:00:00Z\"\n    sources: [https://github.com/acme/app]\n", v)
		fmt.Fprintf(&b, "    annotations:\n      artifacthub.io/changes: |\n        %s\n", strings.ReplaceAll(changes[v], "\n", "\n        "))
	}
	body := b.String()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/index.yaml" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body)) //nolint:errcheck // the test sees a short index
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// seedNginxReleases publishes releases of the demo's ingress-nginx chart
// (pinned at 4.11.3, newest 4.12.0) in its source repository, tagged as
// chart-releaser tags them.
func seedNginxReleases(t *testing.T, gh *githubtest.Server) {
	t.Helper()
	gh.AddRepository("kubernetes", "ingress-nginx", "main", map[string]string{"README.md": "ingress-nginx\n"})
	base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	for i, r := range []githubtest.Release{
		{Tag: "ingress-nginx-4.11.3", Body: "old notes"},
		{Tag: "controller-v1.12.0", Body: "the controller's notes"},
		{Tag: "ingress-nginx-4.11.4", Name: "4.11.4", Body: "Backport by @maintainer in #1234"},
		{Tag: "ingress-nginx-4.12.0", Name: "The big one", Body: "## Breaking\n\n- Drops `@deprecated` annotations\n</details>"},
	} {
		r.Created = base.AddDate(0, 0, i)
		if _, err := gh.AddRelease("kubernetes", "ingress-nginx", r); err != nil {
			t.Fatal(err)
		}
	}
}

// releaseRequests counts the requests for repo's releases.
func releaseRequests(gh *githubtest.Server, repo string) int {
	return strings.Count("\n"+strings.Join(gh.Requests(), "\n"), "\nGET /repos/"+repo+"/releases")
}

// TestPullRequestCarriesReleaseNotes: a grouped pull request has a section
// per dependency, from the annotations of one chart and the GitHub
// releases of the other.
func TestPullRequestCarriesReleaseNotes(t *testing.T) {
	ctx := context.Background()
	index := appIndex(t)
	env := start(t, func(c *config.Config) {
		c.Charts[0].Group = true
		c.Charts[0].Dependencies["app"] = config.Dependency{}
	})
	seedNginxReleases(t, env.GitHub)
	env.GitHub.AddRepository("acme", "app", "main", nil)
	if _, err := env.GitHub.AddRelease("acme", "app", githubtest.Release{Tag: "v1.3.0", Body: "release notes that annotations make unneeded"}); err != nil {
		t.Fatal(err)
	}
	content, _ := env.GitHub.File(demo.Owner, demo.Repo, "main", demo.File)
	setChart(t, env, demo.File, content+"  - name: app\n    version: 1.0.0\n    repository: "+index+"\n")

	rows := env.Charts.Check(ctx)
	app, nginx := row(t, rows, "app"), row(t, rows, "ingress-nginx")
	if app.State != model.StateOutdated || app.Notes == nil || app.Notes.Source != model.NotesFromChanges {
		t.Fatalf("app: %+v notes %+v", app, app.Notes)
	}
	if nginx.State != model.StateOutdated || nginx.Notes == nil || nginx.Notes.Source != model.NotesFromReleases {
		t.Fatalf("ingress-nginx: %+v notes %+v", nginx, nginx.Notes)
	}
	if n := releaseRequests(env.GitHub, "acme/app"); n != 0 {
		t.Errorf("read acme/app's releases %d times though the annotations say what changed", n)
	}
	if jh := row(t, rows, "jupyterhub"); jh.Notes != nil {
		t.Errorf("an up-to-date row has notes: %+v", jh.Notes)
	}

	opened, err := env.Charts.Open(ctx, outdated(rows))
	if err != nil {
		t.Fatal(err)
	}
	prs := env.GitHub.PullRequests(demo.Owner, demo.Repo)
	if len(prs) != 1 || opened[0].PRNumber != prs[0].Number {
		t.Fatalf("pull requests: %+v", prs)
	}
	body := prs[0].Body
	for _, want := range []string{
		"### Release notes\n",
		"<summary>app 1.0.0 → 1.3.0 (artifacthub.io/changes)</summary>",
		"#### `1.3.0`\n\n- **Added**: Metrics\n- **Security**: Bump base image\n",
		"- **Fixed**: Crash on start, thanks @&#8203;helper ([acme/app#7](https://redirect.github.com/acme/app/issues/7)) ([Issue](https://redirect.github.com/acme/app/issues/7))",
		"#### `1.1.0`\n\n- _its artifacthub.io/changes annotation was skipped: entry 1 (line 1): kind \"feature\" is not one of",
		"<summary>ingress-nginx 4.11.3 → 4.12.0 (GitHub releases of kubernetes/ingress-nginx)</summary>",
		"/kubernetes/ingress-nginx/releases/tag/ingress-nginx-4.12.0): The big one",
		"- Drops `@deprecated` annotations\n&lt;/details>",
		"Backport by @&#8203;maintainer in [kubernetes/ingress-nginx#1234](https://redirect.github.com/kubernetes/ingress-nginx/issues/1234)",
		"All changes: https://github.com/kubernetes/ingress-nginx/compare/ingress-nginx-4.11.3...ingress-nginx-4.12.0",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("PR body lacks %q:\n%s", want, body)
		}
	}
	for _, notWant := range []string{"Initial release", "old notes", "the controller's notes", "release notes that annotations"} {
		if strings.Contains(body, notWant) {
			t.Errorf("PR body has %q, outside the bump", notWant)
		}
	}
	if i, j := strings.Index(body, "<summary>app "), strings.Index(body, "<summary>ingress-nginx "); i < 0 || j < 0 || strings.Count(body, "<details>") != 2 {
		t.Errorf("want one section per dependency:\n%s", body)
	}

	// A second check asks GitHub again only after an hour.
	before := releaseRequests(env.GitHub, "kubernetes/ingress-nginx")
	env.Charts.Check(ctx)
	if n := releaseRequests(env.GitHub, "kubernetes/ingress-nginx") - before; n != 0 {
		t.Errorf("the second check read the releases %d more times", n)
	}
}

// TestReleaseNotesNeverFailTheRow: a source GitHub does not show, or a
// GitHub that refuses, leaves the row outdated and its PR can be opened.
func TestReleaseNotesNeverFailTheRow(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		before func(*demo.Env)
		want   string // in the PR body; "" for no notes section
	}{
		{name: "a repository GitHub does not show", before: func(env *demo.Env) {
			if err := env.GitHub.Hide("kubernetes", "ingress-nginx"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "GitHub refuses", before: func(env *demo.Env) {
			seedNginxReleases(t, env.GitHub)
			env.GitHub.FailNext("GET", "/repos/kubernetes/ingress-nginx/releases", http.StatusForbidden, "Resource not accessible by integration")
		}, want: "- ingress-nginx: the release notes could not be read from GitHub; see https://github.com/kubernetes/ingress-nginx/releases.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := start(t, func(*config.Config) {})
			tc.before(env)
			nginx := row(t, env.Charts.Check(ctx), "ingress-nginx")
			if nginx.State != model.StateOutdated || nginx.Error != "" || nginx.Warning != "" {
				t.Fatalf("ingress-nginx: %+v", nginx)
			}
			if releaseRequests(env.GitHub, "kubernetes/ingress-nginx") != 1 {
				t.Errorf("requests: %v", env.GitHub.Requests())
			}
			p, err := env.Charts.Preview([]model.DependencyStatus{nginx})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" && strings.Contains(p.Body, "Release notes") || tc.want != "" && !strings.Contains(p.Body, tc.want) {
				t.Errorf("body:\n%s", p.Body)
			}
			if strings.Contains(p.Body, "Resource not accessible") {
				t.Errorf("GitHub's error reached the body:\n%s", p.Body)
			}
			if got := open(t, env, nginx); got.State != model.StatePROpened {
				t.Errorf("open: %+v", got)
			}
		})
	}
}

// TestRangeReleaseNotes: a pin written as a range gets the notes of the
// versions after the highest one it admitted.
func TestRangeReleaseNotes(t *testing.T) {
	for _, tc := range []struct {
		pin, want string
		notWant   []string
	}{
		{pin: "~1.0.0", want: "<summary>app ~1.0.0 → 1.3.0 (artifacthub.io/changes)</summary>", notWant: []string{"Initial release"}},
		{pin: "1.1.x", want: "#### `1.2.0`", notWant: []string{"Initial release", "#### `1.1.0`"}},
	} {
		t.Run(tc.pin, func(t *testing.T) {
			ctx := context.Background()
			index := appIndex(t)
			env := start(t, func(c *config.Config) {
				c.Charts[0].Dependencies["app"] = config.Dependency{}
			})
			content, _ := env.GitHub.File(demo.Owner, demo.Repo, "main", demo.File)
			setChart(t, env, demo.File, content+"  - name: app\n    version: \""+tc.pin+"\"\n    repository: "+index+"\n")
			app := row(t, env.Charts.Check(ctx), "app")
			if app.State != model.StateOutdated || app.Notes == nil {
				t.Fatalf("app: %+v notes %+v", app, app.Notes)
			}
			p, err := env.Charts.Preview([]model.DependencyStatus{app})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(p.Body, tc.want) || !strings.Contains(p.Body, "#### `1.3.0`") {
				t.Errorf("PR body lacks %q or 1.3.0's notes:\n%s", tc.want, p.Body)
			}
			for _, nw := range tc.notWant {
				if strings.Contains(p.Body, nw) {
					t.Errorf("PR body has %q, which the range already admitted:\n%s", nw, p.Body)
				}
			}
		})
	}
}
