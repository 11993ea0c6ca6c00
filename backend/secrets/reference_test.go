package secrets_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

func TestParseReference(t *testing.T) {
	tests := []struct {
		in   string
		want secrets.Reference
	}{
		{"env:GITHUB_TOKEN", secrets.Reference{Kind: secrets.KindEnv, EnvVar: "GITHUB_TOKEN"}},
		{"  env:_x1  ", secrets.Reference{Kind: secrets.KindEnv, EnvVar: "_x1"}},
		{"ENV:TOKEN", secrets.Reference{Kind: secrets.KindEnv, EnvVar: "TOKEN"}},
		{"file:/etc/bot/token", secrets.Reference{Kind: secrets.KindFile, Path: "/etc/bot/token"}},
		{"file:relative/token", secrets.Reference{Kind: secrets.KindFile, Path: "relative/token"}},
		{"file:///etc/bot/token", secrets.Reference{Kind: secrets.KindFile, Path: "/etc/bot/token"}},
		{"keyvault://myvault/github-token", secrets.Reference{Kind: secrets.KindKeyVault, Vault: "myvault", VaultHost: "myvault.vault.azure.net", SecretName: "github-token"}},
		{"keyvault://MyVault/github-token/", secrets.Reference{Kind: secrets.KindKeyVault, Vault: "myvault", VaultHost: "myvault.vault.azure.net", SecretName: "github-token"}},
		{"keyvault://myvault.vault.azure.net/github-token", secrets.Reference{Kind: secrets.KindKeyVault, Vault: "myvault", VaultHost: "myvault.vault.azure.net", SecretName: "github-token"}},
		{"keyvault://my-vault.vault.azure.cn/t", secrets.Reference{Kind: secrets.KindKeyVault, Vault: "my-vault", VaultHost: "my-vault.vault.azure.cn", SecretName: "t"}},
		{"keyvault://myvault/github-token/0123456789abcdef0123456789abcdef", secrets.Reference{Kind: secrets.KindKeyVault, Vault: "myvault", VaultHost: "myvault.vault.azure.net", SecretName: "github-token", Version: "0123456789abcdef0123456789abcdef"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := secrets.ParseReference(tc.in)
			if err != nil {
				t.Fatalf("ParseReference: %v", err)
			}
			if got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
			// the canonical form parses back to the same reference
			again, err := secrets.ParseReference(got.String())
			if err != nil || again != got {
				t.Errorf("round trip of %q: %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseReferenceErrors(t *testing.T) {
	tests := []struct {
		in       string
		wantMsg  string
		mustHide string // part of the input the message must not echo
	}{
		{"ghp_16C7e42F292c6912E7710c838347Ae178B4a", "not a secret reference (use env:NAME, file:PATH or keyvault://VAULT/SECRET)", "ghp_16C7e42F"},
		{"s3cr3t:with-colon", "not a secret reference", "s3cr3t"},
		{"https://myvault.vault.azure.net/secrets/x", "not a secret reference", "myvault"},
		{"", "not a secret reference", ""},
		{"env:", "env: reference needs a variable name", ""},
		{"env:ghp-token-with-dash", "env: reference needs a variable name", "ghp-token"},
		{"env:1ABC", "env: reference needs a variable name", "1ABC"},
		{"file:", "file: reference has no path", ""},
		{"file://host/path", "file:// reference must name an absolute path", ""},
		{"keyvault:myvault/x", "keyvault reference must look like keyvault://VAULT/SECRET", ""},
		{"keyvault://myvault", "keyvault reference must look like", ""},
		{"keyvault://myvault/a/b/c", "keyvault reference must look like", ""},
		{"keyvault:///x", "keyvault reference must look like", ""},
		{"keyvault://my_vault/x", `invalid vault name "my_v…"`, "my_vault"},
		{"keyvault://ab/x", `invalid vault name "ab"`, ""},
		{"keyvault://vault--x/x", `invalid vault name`, ""},
		{"keyvault://myvault.example.com/x", `"myvault.example.com" is not a Key Vault host`, ""},
		{"keyvault://myvault/bad_name", "invalid secret name in vault myvault:", "bad_name"},
		{"keyvault://myvault/x/ver-sion", "invalid version of secret x in vault myvault:", "ver-sion"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := secrets.ParseReference(tc.in)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, secrets.ErrBadReference) {
				t.Errorf("error %v is not ErrBadReference", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not say %q", err, tc.wantMsg)
			}
			if tc.mustHide != "" && strings.Contains(err.Error(), tc.mustHide) {
				t.Errorf("error %q echoes the input", err)
			}
		})
	}
}
