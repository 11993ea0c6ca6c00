package engine_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/helmupgradebot/helmupgradebot/backend/chartrepo"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

const chartPassword = "pw-Zq81m-not-for-rows"

// privateIndex is an HTTP chart repository behind basic auth (bot,
// chartPassword) that records the Authorization headers it was sent.
type privateIndex struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func startPrivateIndex(t *testing.T) *privateIndex {
	t.Helper()
	p := &privateIndex{}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("bot:"+chartPassword))
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Header.Get("Authorization"))
		p.mu.Unlock()
		if r.Header.Get("Authorization") != want {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "entries:\n  private-chart:\n  - version: 1.0.0\n  - version: 1.2.0\n")
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *privateIndex) authorizations() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// secretFile writes value to a file only its owner reads, for a file:
// reference.
func secretFile(t *testing.T, value string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	return "file:" + path
}

// chartsOf builds the charts engine of the demo's configuration edited by
// edit, following the file at path (committed to the demo's repository).
func chartsOf(t *testing.T, env *demo.Env, path, content string, edit func(*config.Config)) (*engine.Charts, error) {
	t.Helper()
	if _, err := env.GitHub.Commit(demo.Owner, demo.Repo, "main", path, content); err != nil {
		t.Fatal(err)
	}
	cfg := *env.Config
	cfg.Charts = []config.Chart{{Repository: demo.Owner + "/" + demo.Repo, File: path}}
	cfg.GitHub.Token = "env:CHARTREPOS_TEST_TOKEN"
	edit(&cfg)
	_, charts, err := engine.FromConfig(context.Background(), &cfg, engine.WithOnly(engine.PartCharts),
		engine.WithGetenv(func(k string) string {
			if k == "CHARTREPOS_TEST_TOKEN" {
				return env.GitHub.Token()
			}
			return ""
		}),
		engine.WithChartRepoOptions(chartrepo.WithCacheDir(t.TempDir())))
	return charts, err
}

func rowsByDependency(rows []model.DependencyStatus) map[string]model.DependencyStatus {
	out := map[string]model.DependencyStatus{}
	for _, r := range rows {
		out[r.Dependency] = r
	}
	return out
}

// TestRepositoryAliasesAndCredentials: dependencies written "@name" and
// "alias:name" resolve through the repositories map; the entry's
// credentials go with its URL whether named or written out; a name the map
// lacks is an error row of its own that names it and the names it has.
func TestRepositoryAliasesAndCredentials(t *testing.T) {
	env := start(t, func(*config.Config) {})
	priv := startPrivateIndex(t)
	file := `apiVersion: v2
name: private
version: 0.1.0
dependencies:
  - name: private-chart
    version: 1.0.0
    repository: "@private"
  - name: private-chart
    alias: again
    version: 1.0.0
    repository: ` + priv.URL + `/charts/
  - name: jupyterhub
    version: 3.3.8
    repository: alias:demo
  - name: traefik
    version: "34.0.0"
    repository: "@oci"
  - name: nothing
    version: 1.0.0
    repository: "@missing"
`
	repos := func(password string) func(*config.Config) {
		return func(c *config.Config) {
			c.Repositories = map[string]config.Repository{
				"private": {URL: priv.URL + "/charts", Username: "bot", Password: password},
				"demo":    {URL: env.ChartRepository},
				"oci":     {URL: env.OCIChartRepository},
			}
		}
	}
	charts, err := chartsOf(t, env, "private/Chart.yaml", file, repos(secretFile(t, chartPassword)))
	if err != nil {
		t.Fatal(err)
	}
	rows := rowsByDependency(charts.Check(context.Background()))
	for dep, want := range map[string]struct {
		state  model.DependencyState
		latest string
		repo   string
	}{
		"private-chart": {model.StateOutdated, "1.2.0", "@private"},
		"again":         {model.StateOutdated, "1.2.0", ""},
		"jupyterhub":    {"", "", "alias:demo"},
		"traefik":       {model.StateOutdated, "", "@oci"},
	} {
		r, ok := rows[dep]
		switch {
		case !ok:
			t.Errorf("no row for %s: %+v", dep, rows)
		case r.State == model.StateError:
			t.Errorf("%s: error row %q", dep, r.Error)
		case want.state != "" && r.State != want.state, want.latest != "" && r.Latest.Version != want.latest:
			t.Errorf("%s: %s %s, want %s %s", dep, r.State, r.Latest.Version, want.state, want.latest)
		case want.repo != "" && r.ChartRepository != want.repo:
			t.Errorf("%s: chart repository %q, want it as the file writes it, %q", dep, r.ChartRepository, want.repo)
		}
	}
	miss := rows["nothing"]
	if miss.State != model.StateError || !strings.Contains(miss.Error, `"@missing"`) || !strings.Contains(miss.Error, "it has: demo, oci, private") {
		t.Errorf("unknown name: %+v", miss)
	}
	seen := priv.authorizations()
	if len(seen) == 0 {
		t.Fatal("the private repository was not asked")
	}
	for _, a := range seen {
		if !strings.HasPrefix(a, "Basic ") {
			t.Errorf("the private repository was asked without credentials (%q)", a)
		}
	}

	// Written out, the URL gets the entry's credentials too.
	before := len(priv.authorizations())
	spelled := "apiVersion: v2\nname: p\nversion: 0.1.0\ndependencies:\n  - name: private-chart\n    version: 1.0.0\n    repository: " + priv.URL + "/charts/\n"
	charts, err = chartsOf(t, env, "spelled/Chart.yaml", spelled, repos(secretFile(t, chartPassword)))
	if err != nil {
		t.Fatal(err)
	}
	if r := rowsByDependency(charts.Check(context.Background()))["private-chart"]; r.State != model.StateOutdated {
		t.Errorf("written out: %+v", r)
	}
	if seen := priv.authorizations(); len(seen) != before+1 || !strings.HasPrefix(seen[before], "Basic ") {
		t.Errorf("written out, the repository saw %q", seen[before:])
	}

	// The wrong password: an error row saying whose credentials were
	// refused, without the password.
	charts, err = chartsOf(t, env, "private/Chart.yaml", file, repos(secretFile(t, "stale-password")))
	if err != nil {
		t.Fatal(err)
	}
	r := rowsByDependency(charts.Check(context.Background()))["private-chart"]
	if r.State != model.StateError || !strings.Contains(r.Error, "credentials rejected for private "+priv.URL+"/charts") || strings.Contains(r.Error, "stale-password") {
		t.Errorf("wrong password: %+v", r)
	}

	// A reference that does not resolve stops the charts part, naming the key.
	_, err = chartsOf(t, env, "private/Chart.yaml", file, repos("env:CHARTREPOS_TEST_UNSET"))
	if err == nil || !strings.Contains(err.Error(), "repositories.private.password") {
		t.Errorf("unresolvable password: %v", err)
	}
}

// TestOCIDockerConfigByDefault: an oci:// repository the map gives no
// credentials logs in with the docker configuration's login for its host.
func TestOCIDockerConfigByDefault(t *testing.T) {
	env := start(t, func(*config.Config) {})
	const user, pass = "puller", "docker-pw-4Xv9"
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	reg, err := registrytest.Start(context.Background(), registrytest.WithHandler(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != want {
				w.Header().Set("WWW-Authenticate", `Basic realm="registry"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	for _, tag := range []string{"1.0.0", "2.0.0"} {
		img, _ := random.Image(64, 1)
		ref, _ := name.ParseReference(reg.Host()+"/helm/private-oci:"+tag, name.Insecure)
		if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: user, Password: pass})); err != nil {
			t.Fatal(err)
		}
	}
	file := "apiVersion: v2\nname: p\nversion: 0.1.0\ndependencies:\n  - name: private-oci\n    version: 1.0.0\n    repository: oci://" + reg.Host() + "/helm\n"
	check := func() model.DependencyStatus {
		charts, err := chartsOf(t, env, "oci/Chart.yaml", file, func(*config.Config) {})
		if err != nil {
			t.Fatal(err)
		}
		return rowsByDependency(charts.Check(context.Background()))["private-oci"]
	}

	home, dockerDir := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", dockerDir)
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(home, "none.json"))
	t.Setenv("XDG_RUNTIME_DIR", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	if r := check(); r.State != model.StateError || !strings.Contains(r.Error, "log in with docker login") {
		t.Errorf("without a docker login: %+v", r)
	}
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	if err := os.WriteFile(filepath.Join(dockerDir, "config.json"), []byte(`{"auths":{"`+reg.Host()+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := check(); r.State != model.StateOutdated || r.Latest.Version != "2.0.0" {
		t.Errorf("with a docker login: %+v", r)
	}
}
