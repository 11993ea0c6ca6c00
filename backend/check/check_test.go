package check_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/check"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/demo/demotest"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

const tokenVar = "CHECK_TEST_GITHUB_TOKEN"

// startDemo starts the demo with a small registry for the test.
func startDemo(t *testing.T) *demo.Env {
	t.Helper()
	return demotest.Serve(t, demo.WithPopulation(demotest.SmallPopulation()))
}

// demoConfig is the demo's configuration with the token in tokenVar, and
// the embedded registry read through the distribution API.
func demoConfig(env *demo.Env) *config.Config {
	cfg := *env.Config
	cfg.GitHub.Token = "env:" + tokenVar
	cfg.Registry.URL, cfg.Registry.Flavor = env.RegistryServer.Host(), config.FlavorDistribution
	cfg.Registry.Auth = config.Auth{Type: config.AuthAnonymous}
	cfg.Path = "demo.yaml"
	return &cfg
}

func getenv(vars map[string]string) engine.Option {
	return engine.WithGetenv(func(k string) string { return vars[k] })
}

func find(r *check.Report, kind, subject string) (check.Item, bool) {
	for _, it := range r.Items {
		if it.Kind == kind && strings.Contains(it.Subject, subject) {
			return it, true
		}
	}
	return check.Item{}, false
}

func text(t *testing.T, r *check.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestAllPass: the demo's registry, GitHub stand-in and chart repositories
// (index.yaml and OCI) with a correct configuration: every check passes.
func TestAllPass(t *testing.T) {
	env := startDemo(t)
	r := check.Config(context.Background(), demoConfig(env), getenv(map[string]string{tokenVar: env.GitHub.Token()}))
	out := text(t, r)
	if r.ExitCode() != check.ExitOK || !r.OK || r.Summary.Failed != 0 || r.Summary.Skipped != 0 {
		t.Fatalf("exit %d:\n%s", r.ExitCode(), out)
	}
	for _, want := range []struct{ kind, subject, detail string }{
		{check.KindConfig, "demo.yaml", "decodes"},
		{check.KindSecret, "github.token", "env reference resolves"},
		{check.KindRegistry, env.RegistryServer.Host(), "lists: 3 repositories"},
		{check.KindGitHub, "token of helmupgradebot", "accepts"},
		{check.KindGitHub, demo.Owner + "/" + demo.Repo, "can push"},
		{check.KindFile, demo.File, "exists on main: 4 dependencies"},
		{check.KindChartRepo, env.ChartRepository, "index.yaml"},
		{check.KindChartRepo, env.OCIChartRepository, "OCI tags"},
	} {
		it, ok := find(r, want.kind, want.subject)
		if !ok || it.Status != check.Pass || !strings.Contains(it.Detail, want.detail) {
			t.Errorf("%s %s: %+v, want pass with %q\n%s", want.kind, want.subject, it, want.detail, out)
		}
	}
	if strings.Contains(out, env.GitHub.Token()) {
		t.Error("the checklist shows the token")
	}
	// Nothing was changed: no write reached GitHub.
	for _, req := range env.GitHub.Requests() {
		if !strings.HasPrefix(req, "GET ") {
			t.Errorf("check-config sent %s", req)
		}
	}
	var js struct {
		OK     bool
		Checks []check.Item
	}
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil || json.Unmarshal(b.Bytes(), &js) != nil || !js.OK || len(js.Checks) != len(r.Items) {
		t.Errorf("JSON: %v\n%s", err, b.String())
	}
}

// TestWrongToken: GitHub refuses the token: exit 1, the GitHub item says
// so with the fix, and what needs GitHub is skipped.
func TestWrongToken(t *testing.T) {
	env := startDemo(t)
	r := check.Config(context.Background(), demoConfig(env), getenv(map[string]string{tokenVar: "not-the-token"}))
	out := text(t, r)
	it, ok := find(r, check.KindGitHub, "")
	if r.ExitCode() != check.ExitFailed || !ok || it.Status != check.Fail ||
		!strings.Contains(it.Detail, "GitHub rejected the token (401)") || !strings.Contains(it.Fix, "github.token") || !strings.Contains(it.Fix, "create a new one") {
		t.Fatalf("exit %d:\n%s", r.ExitCode(), out)
	}
	if !strings.Contains(out, "✗ github") || !strings.Contains(out, "fix: GitHub does not accept the token") || strings.Contains(out, "not-the-token") {
		t.Errorf("checklist:\n%s", out)
	}
	if reg, _ := find(r, check.KindRegistry, ""); reg.Status != check.Pass {
		t.Errorf("the registry check depends not on GitHub: %+v", reg)
	}
}

// TestFailures: each problem is a ✗ with a fix, and the rest is still
// checked.
func TestFailures(t *testing.T) {
	env := startDemo(t)
	ctx := context.Background()
	vars := map[string]string{tokenVar: env.GitHub.Token()}
	for _, tc := range []struct {
		name      string
		edit      func(*config.Config)
		vars      map[string]string
		kind      string
		status    check.Status
		detail    string
		fix       string
		exit      int
		unchanged string // a kind still checked and passing
	}{
		{"token unset", func(*config.Config) {}, map[string]string{}, check.KindSecret, check.Fail, "not set", "set the variable", 1, check.KindRegistry},
		{"file missing", func(c *config.Config) { c.Charts[0].File = "nope/Chart.yaml" }, vars, check.KindFile, check.Fail, "not found", "correct charts[].file", 1, check.KindRegistry},
		{"base missing", func(c *config.Config) { c.Charts[0].Base = "release" }, vars, check.KindFile, check.Fail, "release", "charts[].base", 1, check.KindGitHub},
		{"repository invisible", func(c *config.Config) { c.Charts[0].Repository = demo.Owner + "/nope" }, vars, check.KindGitHub, check.Fail, "not found", "correct charts[].repository", 1, check.KindRegistry},
		{"registry down", func(c *config.Config) { c.Registry.URL = "127.0.0.1:1" }, vars, check.KindRegistry, check.Fail, "127.0.0.1:1", "registry.url", 1, check.KindFile},
		{"fork mode, no fork yet", func(c *config.Config) { c.GitHub.Mode = config.ModeFork }, vars, check.KindGitHub, check.Pass, "no fork", "", 0, check.KindFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := demoConfig(env)
			cfg.Charts = append([]config.Chart(nil), cfg.Charts...)
			tc.edit(cfg)
			r := check.Config(ctx, cfg, getenv(tc.vars))
			out := text(t, r)
			var hit bool
			for _, it := range r.Items {
				if it.Kind == tc.kind && it.Status == tc.status && strings.Contains(it.Detail, tc.detail) && strings.Contains(it.Fix, tc.fix) {
					hit = true
				}
			}
			if !hit || r.ExitCode() != tc.exit {
				t.Errorf("exit %d, no %s %s item with %q and fix %q:\n%s", r.ExitCode(), tc.status, tc.kind, tc.detail, tc.fix, out)
			}
			if it, ok := find(r, tc.unchanged, ""); !ok || it.Status != check.Pass {
				t.Errorf("%s not checked on its own: %+v\n%s", tc.unchanged, it, out)
			}
		})
	}
	// The permission to push: a read-only repository.
	if err := env.GitHub.ReadOnly(demo.Owner, demo.Repo); err != nil {
		t.Fatal(err)
	}
	r := check.Config(ctx, demoConfig(env), getenv(vars))
	if it, _ := find(r, check.KindGitHub, demo.Repo); it.Status != check.Fail || !strings.Contains(it.Fix, "permissions.push") {
		t.Errorf("read-only: %+v\n%s", it, text(t, r))
	}
}

// TestBadConfig: a file that does not load is exit 2 with one ✗.
func TestBadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("registry:\n  url: r.example\n  polcy: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := check.File(context.Background(), path)
	out := text(t, r)
	if r.ExitCode() != check.ExitBadConfig || len(r.Items) != 1 || !strings.Contains(out, "line 3") || !strings.Contains(out, "helmupgradebot init") {
		t.Errorf("exit %d:\n%s", r.ExitCode(), out)
	}
}

// TestBadConfigHidesSignedEventsURL: a configuration error about a signed
// events URL names it redacted, in the text and the JSON checklist alike.
func TestBadConfigHidesSignedEventsURL(t *testing.T) {
	const secret = "U0FTc2lnbmF0dXJl"
	for _, events := range []string{
		"https:///binderhub/events-{date}.jsonl?sv=2022-11-02&sp=r&sig=" + secret,
		"s3://bucket/events-{date}.jsonl?X-Amz-Credential=" + secret + "&X-Amz-Signature=" + secret,
	} {
		path := filepath.Join(t.TempDir(), "bad.yaml")
		doc := "registry:\n  url: r.example\n  policy:\n    keep_launched_within: 30d\n    usage:\n      - events: " + events + "\n"
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		r := check.File(context.Background(), path)
		var js bytes.Buffer
		if err := r.WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		out := text(t, r) + js.String()
		if r.ExitCode() != check.ExitBadConfig || !strings.Contains(out, "REDACTED") || strings.Contains(out, secret) {
			t.Errorf("exit %d:\n%s", r.ExitCode(), out)
		}
	}
}

// TestACRAndKeyVault: the production shape. An Azure Container Registry
// (the stand-in in front of the embedded registry) read with the VM's
// managed identity, whose ACR token says it may delete; the GitHub token
// read from Key Vault with the same identity.
func TestACRAndKeyVault(t *testing.T) {
	ctx := context.Background()
	env := startDemo(t)
	acr, id := startACR(t, env)
	kv := azuretest.ServeKeyVault(t, azuretest.WithVaultName("hubvault"), azuretest.WithIdentity(id))
	kv.SetSecret("github-token", env.GitHub.Token())

	cfg := demoConfig(env)
	cfg.GitHub.Token = "keyvault://hubvault/github-token"
	cfg.Registry.URL, cfg.Registry.Flavor, cfg.Registry.Auth = acr.Host(), config.FlavorACR, config.Auth{Type: config.AuthAzure}
	opts := []engine.Option{getenv(nil), engine.WithSecretOptions(secrets.WithTransport(id.Transport()))}

	// Without a grant on the vault: the secret fails with the fix, GitHub
	// is skipped, the registry still passes.
	r := check.Config(ctx, cfg, opts...)
	sec, _ := find(r, check.KindSecret, "github.token")
	if r.ExitCode() != check.ExitFailed || sec.Status != check.Fail || !strings.Contains(sec.Fix, "Key Vault Secrets User") {
		t.Errorf("without a grant: %+v\n%s", sec, text(t, r))
	}
	if it, _ := find(r, check.KindGitHub, ""); it.Status != check.Skipped {
		t.Errorf("GitHub without its token: %+v", it)
	}

	kv.Grant(id.SystemAssignedClientID())
	r = check.Config(ctx, cfg, opts...)
	out := text(t, r)
	if r.ExitCode() != check.ExitOK {
		t.Fatalf("exit %d:\n%s", r.ExitCode(), out)
	}
	reg, _ := find(r, check.KindRegistry, acr.Host())
	del, _ := find(r, check.KindRegistry, "delete rights")
	if !strings.Contains(reg.Detail, "ACR listing") || del.Status != check.Pass || !strings.Contains(del.Detail, "grants delete") {
		t.Errorf("ACR:\n%s", out)
	}
	if sec, _ := find(r, check.KindSecret, "github.token"); !strings.Contains(sec.Detail, "keyvault reference resolves") {
		t.Errorf("secret: %+v", sec)
	}
	for _, tok := range append(id.IssuedTokens(), env.GitHub.Token()) {
		if strings.Contains(out, tok) {
			t.Error("the checklist shows a token")
		}
	}
}

// TestGitHubApp: signed in as a GitHub App, the check reports the
// installation token's permissions and whether they allow pushing; a key
// that is not the App's fails naming GitHub App authentication.
func TestGitHubApp(t *testing.T) {
	env := startDemo(t)
	ctx := context.Background()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	repo := demo.Owner + "/" + demo.Repo
	if err := env.GitHub.AddApp(githubtest.App{ID: 5, PublicKey: &key.PublicKey, Installations: map[int64][]string{50: {repo}}}); err != nil {
		t.Fatal(err)
	}
	if err := env.GitHub.AddApp(githubtest.App{ID: 6, PublicKey: &key.PublicKey, Installations: map[int64][]string{60: {repo}},
		Permissions: map[string]string{"contents": "read", "pull_requests": "write", "metadata": "read"}}); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"CHECK_TEST_APP_KEY": pemText}
	appConfig := func(app, inst int64) *config.Config {
		cfg := demoConfig(env)
		cfg.GitHub.Token, cfg.GitHub.AppID, cfg.GitHub.InstallationID, cfg.GitHub.PrivateKey = "", app, inst, "env:CHECK_TEST_APP_KEY"
		return cfg
	}

	r := check.Config(ctx, appConfig(5, 50), getenv(vars))
	out := text(t, r)
	app, _ := find(r, check.KindGitHub, "GitHub App 5, installation 50")
	if r.ExitCode() != check.ExitOK || app.Status != check.Pass || !strings.Contains(app.Detail, "contents: write") {
		t.Errorf("App:\n%s", out)
	}
	if sec, _ := find(r, check.KindSecret, "github.private_key"); sec.Status != check.Pass {
		t.Errorf("key: %+v", sec)
	}

	r = check.Config(ctx, appConfig(6, 60), getenv(vars))
	if it, _ := find(r, check.KindGitHub, repo); r.ExitCode() != check.ExitFailed || it.Status != check.Fail || !strings.Contains(it.Fix, "Contents: read and write") {
		t.Errorf("App without contents write:\n%s", text(t, r))
	}

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	vars["CHECK_TEST_APP_KEY"] = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)}))
	r = check.Config(ctx, appConfig(5, 50), getenv(vars))
	out = text(t, r)
	if it, _ := find(r, check.KindGitHub, ""); r.ExitCode() != check.ExitFailed || it.Status != check.Fail ||
		!strings.Contains(it.Detail, "GitHub App authentication failed") || !strings.Contains(it.Detail, "generate a private key") {
		t.Errorf("wrong key:\n%s", out)
	}
	for _, tok := range env.GitHub.InstallationTokens() {
		if strings.Contains(out, tok) {
			t.Error("the checklist shows an installation token")
		}
	}
	if strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, "eyJ") {
		t.Errorf("the checklist shows key material or a JWT:\n%s", out)
	}
}
