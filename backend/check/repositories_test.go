package check_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/chartrepo"
	"github.com/helmupgradebot/helmupgradebot/backend/check"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

const repoPassword = "repo-pw-Lk37-never-listed"

// basicOnly answers requests with user:pass and challenges the rest.
func basicOnly(user, pass string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TestChartRepositories: each configured repository gets a line, reached
// with its credentials (an index, or an OCI registry token), saying what
// failed when it did; a name a chart file uses that the map lacks is a
// failed line; a repository whose secret does not resolve is skipped.
func TestChartRepositories(t *testing.T) {
	env := startDemo(t)
	acr, id := startACR(t, env)
	index := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("entries:\n  private-chart:\n  - version: 1.0.0\n"))
	})
	priv := httptest.NewServer(basicOnly("bot", repoPassword, index))
	t.Cleanup(priv.Close)
	reg, err := registrytest.Start(context.Background(), registrytest.WithHandler(func(next http.Handler) http.Handler { return basicOnly("bot", repoPassword, next) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })

	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(repoPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	content, ok := env.GitHub.File(demo.Owner, demo.Repo, "main", demo.File)
	if !ok {
		t.Fatal("no demo chart file")
	}
	content += "  - name: private-chart\n    version: 1.0.0\n    repository: \"@private\"\n  - name: lost\n    version: 1.0.0\n    repository: alias:lost\n"
	if _, err := env.GitHub.Commit(demo.Owner, demo.Repo, "main", demo.File, content); err != nil {
		t.Fatal(err)
	}
	cfg := demoConfig(env)
	cfg.Charts = []config.Chart{{Repository: demo.Owner + "/" + demo.Repo, File: demo.File}}
	cfg.Repositories = map[string]config.Repository{
		"demo":    {URL: env.ChartRepository},
		"private": {URL: priv.URL, Username: "bot", Password: "file:" + pwFile},
		"wrong":   {URL: priv.URL + "/other", Username: "bot", Password: "env:CHECK_TEST_WRONG"},
		"needy":   {URL: priv.URL + "/needy"},
		"unset":   {URL: priv.URL + "/unset", Token: "env:CHECK_TEST_UNSET"},
		"oci":     {URL: "oci://" + reg.Host() + "/helm", Username: "bot", Password: "file:" + pwFile},
		"ocibad":  {URL: "oci://" + reg.Host() + "/charts", Username: "bot", Password: "env:CHECK_TEST_WRONG"},
		"acr":     {URL: "oci://" + acr.Host() + "/helm"},
	}
	acrKeychain, err := registry.ACRKeychain(id.DirectCredential(), func(h string) bool { return h == acr.Host() })
	if err != nil {
		t.Fatal(err)
	}
	r := check.Config(context.Background(), cfg,
		getenv(map[string]string{tokenVar: env.GitHub.Token(), "CHECK_TEST_WRONG": "stale-password"}),
		engine.WithChartRepoOptions(chartrepo.WithKeychain(acrKeychain)))
	out := text(t, r)
	for _, want := range []struct {
		kind, subject string
		status        check.Status
		detail, fix   string
	}{
		{check.KindChartRepo, "demo " + env.ChartRepository, check.Pass, "answers (index.yaml): binderhub: ", ""},
		{check.KindChartRepo, "private " + priv.URL, check.Pass, "answers with basic auth (index.yaml): private-chart: 1 versions", ""},
		{check.KindChartRepo, "wrong " + priv.URL + "/other", check.Fail, "HTTP 401 Unauthorized; credentials rejected for wrong " + priv.URL + "/other (basic auth from repositories.wrong)", "correct repositories.wrong"},
		{check.KindChartRepo, "needy " + priv.URL + "/needy", check.Fail, "the repository wants credentials", "give the repository's credentials"},
		{check.KindChartRepo, "unset " + priv.URL + "/unset", check.Skipped, "not tried: the credentials of repositories.unset do not resolve", ""},
		{check.KindSecret, "repositories.unset.token", check.Fail, "CHECK_TEST_UNSET is not set", "set the variable"},
		{check.KindSecret, "repositories.private.password", check.Pass, "file reference resolves", ""},
		{check.KindChartRepo, "oci oci://" + reg.Host() + "/helm", check.Pass, "answers with basic auth (OCI: a registry token for the path, then /v2/); no chart file takes a chart from it", ""},
		{check.KindChartRepo, "ocibad oci://" + reg.Host() + "/charts", check.Fail, "401 Unauthorized; credentials rejected for ocibad", "correct repositories.ocibad"},
		{check.KindChartRepo, "acr oci://" + acr.Host() + "/helm", check.Pass, "with a login from the docker configuration or, for ACR, the Azure identity", ""},
		{check.KindChartRepo, "alias:lost", check.Fail, `alias unresolvable: repository "alias:lost" names the repository lost, which the configuration's repositories map does not have; it has: acr, demo, needy, oci, ocibad, private, unset, wrong`,
			"add lost with its URL to the configuration's repositories map"},
	} {
		var it check.Item
		found := false
		for _, x := range r.Items {
			if x.Kind == want.kind && x.Subject == want.subject {
				it, found = x, true
			}
		}
		if !found || it.Status != want.status || !strings.Contains(it.Detail, want.detail) || !strings.Contains(it.Fix, want.fix) {
			t.Errorf("%s %s: %+v, want %s with %q and fix %q", want.kind, want.subject, it, want.status, want.detail, want.fix)
		}
	}
	if r.ExitCode() != check.ExitFailed {
		t.Errorf("exit %d, want %d", r.ExitCode(), check.ExitFailed)
	}
	if t.Failed() || testing.Verbose() {
		t.Log(out)
	}
	for _, secret := range append([]string{repoPassword, "stale-password"}, id.IssuedTokens()...) {
		if strings.Contains(out, secret) {
			t.Errorf("the checklist shows a secret %.8s…", secret)
		}
	}
}
