package secrets_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

// TestErrorsNameReferencesWhole: an environment variable's name, a file's
// path, a vault's and a secret's name are what the operator has to fix, and
// no secret: every kind of reference's error shows them whole, never cut to
// "HELM…" or "hub2…".
func TestErrorsNameReferencesWhole(t *testing.T) {
	azuretest.HermeticEnv(t)
	dir := t.TempDir()
	open := writeFile(t, dir, "registry-password", "x\n", 0o644)
	empty := writeFile(t, dir, "github-token", "\n", 0o600)
	missing := filepath.Join(dir, "helmupgradebot", "github-app.pem")
	env := fakeEnv(map[string]string{"HELMUPGRADEBOT_EMPTY_PASSWORD": ""})
	local := secrets.WithLookupEnv(env)
	f := newFixture(t, "hub23-secrets")
	for _, tc := range []struct {
		name, ref string
		opts      []secrets.Option
		kind      secrets.ErrorKind
		want      string
	}{
		{"env unset", "env:HELMUPGRADEBOT_GITHUB_TOKEN", []secrets.Option{local}, secrets.ErrNotSet,
			"resolve env:HELMUPGRADEBOT_GITHUB_TOKEN: environment variable HELMUPGRADEBOT_GITHUB_TOKEN is not set"},
		{"env empty", "env:HELMUPGRADEBOT_EMPTY_PASSWORD", []secrets.Option{local}, secrets.ErrNotSet,
			"resolve env:HELMUPGRADEBOT_EMPTY_PASSWORD: environment variable HELMUPGRADEBOT_EMPTY_PASSWORD is empty"},
		{"file missing", "file:" + missing, []secrets.Option{local}, secrets.ErrNotFound,
			"resolve file:" + missing + ": secret file " + missing + " does not exist"},
		{"file open to others", "file:" + open, []secrets.Option{local}, secrets.ErrInsecureFile,
			"resolve file:" + open + ": secret file " + open + " has mode 0644"},
		{"file empty", "file:" + empty, []secrets.Option{local}, secrets.ErrNotSet,
			"resolve file:" + empty + ": secret file " + empty + " is empty"},
		{"file is a directory", "file:" + dir, []secrets.Option{local}, secrets.ErrBadReference,
			"resolve file:" + dir + ": secret file " + dir + " is not a regular file"},
		{"vault does not exist", "keyvault://hub23-vault/github-token", f.opts(), secrets.ErrNotFound,
			"resolve keyvault://hub23-vault/github-token: vault hub23-vault does not exist (no such host hub23-vault.vault.azure.net)"},
		{"secret missing", "keyvault://hub23-secrets/registry-password", f.opts(), secrets.ErrNotFound,
			"resolve keyvault://hub23-secrets/registry-password: secret registry-password not found in vault hub23-secrets"},
		{"secret empty", "keyvault://hub23-secrets/blank", f.opts(), secrets.ErrNotSet,
			"secret blank in vault hub23-secrets has an empty value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := secrets.NewResolver(tc.opts...).Resolve(ctx, tc.ref)
			if err == nil {
				t.Fatal("resolved")
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %q is not %v", err, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\ndoes not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "…") {
				t.Errorf("error %q shortens a name", err)
			}
		})
	}
}

// TestPastedCredentialStillShortened: what looks like a token where a name
// belongs is still refused showing at most its first four characters.
func TestPastedCredentialStillShortened(t *testing.T) {
	tok := "ghp_" + strings.Repeat("Zq7Lp2Vm9R", 3) + "t4Wk8Z" // built here: no token-shaped literal in the source
	for _, ref := range []string{"env:" + tok, "file:/run/secrets/" + tok, "keyvault://hubvault/" + tok} {
		_, err := secrets.NewResolver().Resolve(context.Background(), ref)
		if !errors.Is(err, secrets.ErrBadReference) {
			t.Fatalf("%s…: err = %v, want a refusal", ref[:8], err)
		}
		if strings.Contains(err.Error(), tok[4:12]) || !strings.Contains(err.Error(), "looks like a GitHub token") {
			t.Errorf("error %q shows the token", strings.ReplaceAll(err.Error(), tok, "<TOKEN>"))
		}
	}
}
