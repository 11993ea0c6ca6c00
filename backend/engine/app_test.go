package engine_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/chartrepo"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

const (
	appID          = 314159
	installationID = 2718
)

// writeKey writes key as GitHub hands it out (PKCS #1 PEM) to a file only
// its owner may read, and returns the file: reference to it.
func writeKey(t *testing.T, key *rsa.PrivateKey) (ref string, pemText []byte) {
	t.Helper()
	pemText = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	path := filepath.Join(t.TempDir(), "app-key.pem")
	if err := os.WriteFile(path, pemText, 0o600); err != nil {
		t.Fatal(err)
	}
	return "file:" + path, pemText
}

// appEnv starts the demo, registers a GitHub App installed on the demo's
// deployment repository, and returns a configuration signing in as it with
// key (which may not be the App's).
func appEnv(t *testing.T, appKey, key *rsa.PrivateKey, apiSuffix string) (*demo.Env, *config.Config) {
	t.Helper()
	env := start(t, func(*config.Config) {})
	if err := env.GitHub.AddApp(githubtest.App{ID: appID, PublicKey: &appKey.PublicKey,
		Installations: map[int64][]string{installationID: {demo.Owner + "/" + demo.Repo}}}); err != nil {
		t.Fatal(err)
	}
	ref, _ := writeKey(t, key)
	cfg := *env.Config
	cfg.Registry = config.Registry{} // charts only
	cfg.GitHub = config.GitHub{APIURL: env.GitHub.URL() + apiSuffix, Mode: config.ModeBranch,
		AppID: appID, InstallationID: installationID, PrivateKey: ref}
	return env, &cfg
}

func buildCharts(t *testing.T, cfg *config.Config) *engine.Charts {
	t.Helper()
	_, charts, err := engine.FromConfig(context.Background(), cfg, engine.WithGetenv(func(string) string { return "" }),
		engine.WithChartRepoOptions(chartrepo.WithCacheDir(t.TempDir())), engine.WithDigestCacheDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return charts
}

// openFirstOutdated checks every dependency, failing t on an error, and
// opens a pull request for the first outdated one, failing t unless it
// opened; how says how charts signs in.
func openFirstOutdated(t *testing.T, ctx context.Context, charts *engine.Charts, how string) {
	t.Helper()
	var rows []model.DependencyStatus
	for _, r := range charts.Check(ctx) {
		if r.State == model.StateError {
			t.Fatalf("%s: %s", r.Dependency, r.Error)
		}
		if r.State == model.StateOutdated {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		t.Fatal("no outdated dependency to open a pull request for")
	}
	opened, err := charts.Open(ctx, rows[:1])
	if err != nil || opened[0].State != model.StatePROpened {
		t.Fatalf("open %s: %v %+v", how, err, opened)
	}
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestPullRequestAsGitHubApp: with github.app_id, installation_id and
// private_key the chart engine signs in as the App's installation
// (a JSON web token exchanged for an installation token, through
// ghinstallation) and opens a pull request; the token is fetched once and
// reused. Also through GitHub Enterprise's /api/v3/ root.
func TestPullRequestAsGitHubApp(t *testing.T) {
	key := rsaKey(t)
	for _, suffix := range []string{"", "api/v3/"} {
		t.Run("root="+suffix, func(t *testing.T) {
			ctx := context.Background()
			env, cfg := appEnv(t, key, key, suffix)
			charts := buildCharts(t, cfg)
			openFirstOutdated(t, ctx, charts, "as the App")
			prs := env.GitHub.PullRequests(demo.Owner, demo.Repo)
			if len(prs) != 1 || prs[0].User != "helmupgradebot-app[bot]" {
				t.Fatalf("pull requests: %+v", prs)
			}
			if log := env.GitHub.Log(demo.Owner, demo.Repo, prs[0].HeadRef); log[0].Author.Name != github.BotName {
				t.Errorf("commit by %+v", log[0].Author)
			}
			n := 0
			for _, r := range env.GitHub.Requests() {
				if strings.HasPrefix(r, "POST /app/installations/") {
					n++
					if r != "POST /app/installations/2718/access_tokens" {
						t.Errorf("token request %s", r)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d installation token requests, want 1 (the token is reused)", n)
			}
		})
	}
}

// TestGitHubAppWrongKey: a private key that is not the App's gives an
// error naming GitHub App authentication and the fix, on every row, and
// no key material or token in any text.
func TestGitHubAppWrongKey(t *testing.T) {
	ctx := context.Background()
	appKey, wrong := rsaKey(t), rsaKey(t)
	env, cfg := appEnv(t, appKey, wrong, "")
	_, pemText := writeKey(t, wrong)
	charts := buildCharts(t, cfg)
	rows := charts.Check(ctx)
	if len(rows) == 0 {
		t.Fatal("no rows")
	}
	for _, r := range rows {
		for _, want := range []string{"GitHub App authentication failed", "401", "github.private_key", "github.app_id", "generate a private key"} {
			if r.State != model.StateError || !strings.Contains(r.Error, want) {
				t.Errorf("row %s %s: %q lacks %q", r.Dependency, r.State, r.Error, want)
			}
		}
		noSecrets(t, r.Error, pemText, env.GitHub.InstallationTokens())
	}

	// The installation is not the App's: the message says to check the
	// installation ID.
	cfg.GitHub.InstallationID = 9999
	ref, _ := writeKey(t, appKey)
	cfg.GitHub.PrivateKey = ref
	rows = buildCharts(t, cfg).Check(ctx)
	if len(rows) == 0 || !strings.Contains(rows[0].Error, "github.installation_id") || !strings.Contains(rows[0].Error, "404") {
		t.Errorf("unknown installation: %+v", rows)
	}

	// Not a key at all: FromConfig refuses it, without quoting it.
	bad := filepath.Join(t.TempDir(), "not-a-key.pem")
	if err := os.WriteFile(bad, []byte("-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWJ1dC1icm9rZW4=\n-----END RSA PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.GitHub.PrivateKey = "file:" + bad
	_, _, err := engine.FromConfig(ctx, cfg, engine.WithGetenv(func(string) string { return "" }))
	if err == nil || !strings.Contains(err.Error(), "github.private_key") || !strings.Contains(err.Error(), "not an RSA private key") || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("a broken key: %v", err)
	}
}

// noSecrets fails when text shows a line of the key or a token.
func noSecrets(t *testing.T, text string, pemText []byte, tokens []string) {
	t.Helper()
	for _, line := range strings.Split(string(pemText), "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") && strings.Contains(text, line[:20]) {
			t.Errorf("text shows the private key: %q", text)
		}
	}
	if slices.ContainsFunc(tokens, func(tok string) bool { return strings.Contains(text, tok) }) || strings.Contains(text, "ghs_") || strings.Contains(text, "eyJ") {
		t.Errorf("text shows a token: %q", text)
	}
}
