package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// serveIndex serves body as a chart repository's index.yaml on loopback;
// gzip data is served with Content-Encoding gzip, as GitHub Pages serves
// an index.
func serveIndex(t *testing.T, body []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/index.yaml" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-yaml")
		if bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
			w.Header().Set("Content-Encoding", "gzip")
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// vIndex is an index whose chart publishes v versions, as cert-manager's
// repository does.
func vIndex(chart string, versions ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nentries:\n  %s:\n", chart)
	for i, v := range versions {
		fmt.Fprintf(&b, "  - name: %s\n    version: %s\n    appVersion: %s\n    created: \"2026-0%d-01T00:00:00Z\"\n    urls: [%s-%s.tgz]\n", chart, v, v, i+1, chart, v)
	}
	return []byte(b.String())
}

// chartWith is a deployment Chart.yaml with the given dependency entries.
func chartWith(entries ...string) string {
	return "apiVersion: v2\nname: hub\nversion: 0.1.0\ndependencies:\n" + strings.Join(entries, "")
}

func entry(name, version, repo string) string {
	return fmt.Sprintf("  - name: %s\n    version: %s   # pinned\n    repository: %s\n", name, version, repo)
}

// TestVersionsAndRanges: each pin against the demo repository (ingress-nginx
// 4.10.0 … 4.12.0, jupyterhub 3.0.0 … 3.3.8 and 4.0.0 betas) and one that
// publishes v versions (cert-manager v1.7.1, v1.8.0): the row, the line
// the PR writes, and the PR's title.
func TestVersionsAndRanges(t *testing.T) {
	tests := []struct {
		name     string
		dep      string // the chart: cert-manager (v index), ingress-nginx, jupyterhub
		pin      string // as written in the file
		strategy string
		state    model.DependencyState
		line     string // the version line the PR writes
		errHas   string
	}{
		{name: "v pin keeps its v", dep: "cert-manager", pin: "v1.7.1", state: model.StateOutdated, line: "version: v1.8.0   # pinned"},
		{name: "bare pin against a v index", dep: "cert-manager", pin: "1.7.1", state: model.StateOutdated, line: "version: 1.8.0   # pinned"},
		{name: "bare pin equal to the newest v version", dep: "cert-manager", pin: `"1.8.0"`, state: model.StateUpToDate},
		{name: "unpublished pin, nothing newer", dep: "cert-manager", pin: "1.9.0", state: model.StateError,
			errHas: "version 1.9.0 is not published, and nothing newer is accepted: the newest published version is v1.8.0"},
		{name: "tilde range against a v index", dep: "cert-manager", pin: "~1.7.0", state: model.StateOutdated, line: "version: ~1.8.0   # pinned"},
		{name: "caret range admitting the newest", dep: "ingress-nginx", pin: "^4.10.0", state: model.StateUpToDate},
		{name: "bump moves its floor", dep: "ingress-nginx", pin: "^4.10.0", strategy: "bump", state: model.StateOutdated, line: "version: ^4.12.0   # pinned"},
		{name: "comparisons, quoted", dep: "ingress-nginx", pin: `">=4.10.0 <4.12"`, state: model.StateOutdated, line: `version: ">=4.12.0 <4.14"   # pinned`},
		{name: "comparisons with a comma, single-quoted", dep: "ingress-nginx", pin: "'>=4.10.0, <4.11.0'", state: model.StateOutdated, line: "version: '>=4.12.0, <4.13.0'   # pinned"},
		{name: "x-range", dep: "jupyterhub", pin: "2.x", state: model.StateOutdated, line: "version: 3.x   # pinned"},
		{name: "short version is an x-range to helm", dep: "jupyterhub", pin: `"3.2"`, state: model.StateOutdated, line: `version: "3.3"   # pinned`},
		{name: "widen", dep: "jupyterhub", pin: "^2.0.0", strategy: "widen", state: model.StateOutdated, line: "version: ^2.0.0 || ^3.3.8   # pinned"},
		{name: "widen a range that admits the newest", dep: "jupyterhub", pin: "^3.0.0", strategy: "widen", state: model.StateUpToDate},
		{name: "an upper bound that is not a whole step", dep: "ingress-nginx", pin: `">=4.10.0 <4.11.7"`, state: model.StateError,
			errHas: "its upper bound <4.11.7 is not a whole number of steps above 4.10.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			env := start(t, func(c *config.Config) {
				c.Charts[0].Dependencies = map[string]config.Dependency{tt.dep: {Range: tt.strategy}}
			})
			repo := env.ChartRepository
			if tt.dep == "cert-manager" {
				repo = serveIndex(t, vIndex("cert-manager", "v1.7.1", "v1.8.0"))
			}
			chart := chartWith(entry(tt.dep, tt.pin, repo), entry("other", "1.0.0", repo))
			setChart(t, env, demo.File, chart)
			r := row(t, env.Charts.Check(ctx), tt.dep)
			if r.State != tt.state || !strings.Contains(r.Error, tt.errHas) {
				t.Fatalf("row: state %s, error %q; want %s with %q", r.State, r.Error, tt.state, tt.errHas)
			}
			if tt.state != model.StateOutdated {
				return
			}
			p, err := env.Charts.Preview([]model.DependencyStatus{r})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(p.Diff, "+6:     "+tt.line+"\n") || strings.Count(p.Diff, "\n") != 2 {
				t.Errorf("diff:\n%s\nwant line 6 to become %q", p.Diff, tt.line)
			}
			pin := r.Bump().Pin()
			if p.Title != fmt.Sprintf("Bump %s from %s to %s", tt.dep, r.Current, pin) {
				t.Errorf("title %q", p.Title)
			}
			if ranged := r.NewPin != ""; ranged != strings.Contains(p.Body, "- Range: `"+r.Current+"` → `"+pin+"`, which now admits `"+r.Latest.Version+"`") {
				t.Errorf("range %v, body:\n%s", ranged, p.Body)
			}
			got := open(t, env, r)
			if got.State != model.StatePROpened {
				t.Fatalf("open: %+v", got)
			}
			prs := env.GitHub.PullRequests(demo.Owner, demo.Repo)
			content, _ := env.GitHub.File(demo.Owner, demo.Repo, prs[0].HeadRef, demo.File)
			if d := engine.LineDiff([]byte(chart), []byte(content)); d != p.Diff {
				t.Errorf("the PR's change:\n%s\nthe preview's:\n%s", d, p.Diff)
			}
			// The next check finds the PR current, and a closed one declines
			// this very pin.
			if again := row(t, env.Charts.Check(ctx), tt.dep); again.State != model.StatePROpen {
				t.Errorf("after the PR: %s", again.State)
			}
			if err := env.GitHub.ClosePullRequest(demo.Owner, demo.Repo, got.PRNumber); err != nil {
				t.Fatal(err)
			}
			if again := row(t, env.Charts.Check(ctx), tt.dep); again.State != model.StatePRClosed {
				t.Errorf("after the PR was closed: %s", again.State)
			}
		})
	}
}

// TestRangeLock: a range's bump locks the version it now resolves to, as
// the repository spells it, with helm's digest.
func TestRangeLock(t *testing.T) {
	ctx := context.Background()
	env := start(t, func(c *config.Config) { c.Charts[0].Dependencies = nil })
	certs := serveIndex(t, vIndex("cert-manager", "v1.7.1", "v1.8.0"))
	chart := chartWith(entry("cert-manager", `"~1.7.0"`, certs), entry("ingress-nginx", "1.0.0 || ^4.11.0", env.ChartRepository))
	setChart(t, env, demo.File, chart)
	lockPath := "hub/Chart.lock"
	setChart(t, env, lockPath, lockFor(t, chart, "v1.7.1", "4.11.3"))
	rows := env.Charts.Check(ctx)
	if r := row(t, rows, "ingress-nginx"); r.State != model.StateUpToDate || r.Latest.Version != "4.12.0" {
		t.Errorf("ingress-nginx, a range admitting 4.12.0: %+v", r)
	}
	certRow := row(t, rows, "cert-manager")
	if certRow.State != model.StateOutdated || certRow.NewPin != "~1.8.0" || certRow.Latest.Version != "v1.8.0" || certRow.CurrentVersion == nil || certRow.CurrentVersion.Version != "v1.7.1" {
		t.Fatalf("cert-manager: %+v", certRow)
	}
	open(t, env, certRow)
	prs := env.GitHub.PullRequests(demo.Owner, demo.Repo)
	commit := env.GitHub.Log(demo.Owner, demo.Repo, prs[0].HeadRef)[0]
	if want := lockFor(t, commit.Files[demo.File], "v1.8.0", "4.11.3"); commit.Files[lockPath] != want {
		t.Errorf("Chart.lock in the PR:\n%s\nwant:\n%s", commit.Files[lockPath], want)
	}
	if !strings.Contains(prs[0].Body, "`hub/Chart.lock` is updated") || !strings.Contains(prs[0].Body, "appVersion: `v1.7.1` → `v1.8.0`") {
		t.Errorf("PR body:\n%s", prs[0].Body)
	}
}

// TestSkippedEntries: an entry helm skips (no name, not a mapping) is a
// skipped row with a warning; the others are checked and bumped, one line
// each, whether or not the configuration lists dependencies.
func TestSkippedEntries(t *testing.T) {
	for _, listed := range []bool{false, true} {
		t.Run(fmt.Sprintf("listed=%v", listed), func(t *testing.T) {
			ctx := context.Background()
			env := start(t, func(c *config.Config) {
				if !listed {
					c.Charts[0].Dependencies = nil
				}
			})
			chart := chartWith(
				entry("ingress-nginx", "4.11.3", env.ChartRepository),
				"  - version: 1.0.0\n    repository: "+env.ChartRepository+"\n",
				"  - just-a-string\n",
				"  - name: unlisted\n    version: [1]\n    repository: https://example.invalid/charts\n",
				entry("jupyterhub", "3.3.7", env.ChartRepository),
			)
			setChart(t, env, demo.File, chart)
			rows := env.Charts.Check(ctx)
			var skipped []model.DependencyStatus
			for _, r := range rows {
				if r.State == model.StateSkipped {
					skipped = append(skipped, r)
				}
				if r.State == model.StateError && r.Dependency != "binderhub" && r.Dependency != "traefik" {
					t.Errorf("error row %s: %s", r.Dependency, r.Error)
				}
			}
			wantSkipped := map[string]string{
				"(no name, line 8)":  "chart file line 8: dependency 2: has no name; skipped, as helm skips it",
				"(no name, line 10)": "dependency 3: is a scalar, want a mapping",
			}
			if !listed {
				wantSkipped["unlisted"] = "version of unlisted is a list"
			}
			if len(skipped) != len(wantSkipped) {
				t.Fatalf("skipped rows %+v, want %v", skipped, wantSkipped)
			}
			for _, r := range skipped {
				if w, ok := wantSkipped[r.Dependency]; !ok || !strings.Contains(r.Warning, w) || r.Error != "" {
					t.Errorf("skipped row %q: warning %q; want %q", r.Dependency, r.Warning, w)
				}
			}
			out := outdated(rows)
			if len(out) != 2 {
				t.Fatalf("outdated rows: %+v", out)
			}
			p, err := env.Charts.Preview(out)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Count(p.Diff, "\n") != 4 || !strings.Contains(p.Diff, "version: 4.12.0") || !strings.Contains(p.Diff, "version: 3.3.8") {
				t.Errorf("grouped diff beside skipped entries:\n%s", p.Diff)
			}
			if _, err := env.Charts.Preview(skipped[:1]); err == nil {
				t.Error("a skipped row previews a PR")
			}
		})
	}
}

// TestMybinderAgainstTheRealIndex: mybinder.org's Chart.yaml against the
// JupyterHub repository's real index (testdata). Its binderhub pin is newer
// than anything that index publishes: an error naming the newest, never
// up-to-date. An older pin is bumped on its one line.
func TestMybinderAgainstTheRealIndex(t *testing.T) {
	index, err := os.ReadFile(filepath.Join("..", "..", "testdata", "jupyterhub-helm-chart-index.yaml.gz"))
	if err != nil {
		t.Fatal(err)
	}
	mybinder, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mybinder-Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	repo := serveIndex(t, index)
	real := strings.ReplaceAll(string(mybinder), "https://jupyterhub.github.io/helm-chart", repo)
	tests := []struct {
		name, from, to string
		state          model.DependencyState
		has            string
		compare        bool // the body links the commits between the two builds
	}{
		{"the real pin is newer than the index", "", "", model.StateError,
			"version 1.0.0-0.dev.git.3983.h383374de is not published, and nothing newer is accepted: the newest published version is 1.0.0-0.dev.git.3506.hba24eb2a", false},
		{"an older pin", `"1.0.0-0.dev.git.3983.h383374de"`, `"1.0.0-0.dev.git.3497.hf25ee22"`, model.StateOutdated, `"1.0.0-0.dev.git.3506.hba24eb2a"`, true},
		{"a range admitting the newest", `"1.0.0-0.dev.git.3983.h383374de"`, `">=1.0.0-0.dev.git.3497.hf25ee22 <2"`, model.StateUpToDate, "", false},
		{"a range excluding it", `"1.0.0-0.dev.git.3983.h383374de"`, `">=0.2.0-0 <1.0.0-0"`, model.StateOutdated, `">=1.0.0-0.dev.git.3506.hba24eb2a <2.0.0-0"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			env := start(t, func(c *config.Config) {
				c.Charts[0].Dependencies = map[string]config.Dependency{"binderhub": {Prereleases: true}}
			})
			chart := strings.Replace(real, tt.from, tt.to, 1)
			setChart(t, env, demo.File, chart)
			r := row(t, env.Charts.Check(ctx), "binderhub")
			if r.State != tt.state {
				t.Fatalf("binderhub: %+v", r)
			}
			if tt.state != model.StateOutdated {
				if !strings.Contains(r.Error, tt.has) {
					t.Errorf("error %q lacks %q", r.Error, tt.has)
				}
				return
			}
			p, err := env.Charts.Preview([]model.DependencyStatus{r})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Count(p.Diff, "\n") != 2 || !strings.Contains(p.Diff, tt.has) {
				t.Errorf("diff:\n%s", p.Diff)
			}
			if strings.Contains(p.Body, "compare/f25ee22...ba24eb2a") != tt.compare {
				t.Errorf("compare link %v, body:\n%s", tt.compare, p.Body)
			}
		})
	}
}
