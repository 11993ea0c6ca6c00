package secrets_test

import (
	"context"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

const (
	base62      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	hexLow      = "0123456789abcdef"
	base64Chars = base62 + "+/"
)

// randomString draws n characters of alphabet from a fixed seed, so samples
// are the same on every run and no token-shaped literal sits in the source.
func randomString(rng *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// credentialSample is a credential pasted where a reference's name belongs.
type credentialSample struct {
	shape, value string
}

// credentialSamples has one sample of each shape that must be refused.
func credentialSamples() []credentialSample {
	rng := rand.New(rand.NewPCG(7, 7))
	b64 := base64URL
	jwt := b64(`{"alg":"RS256","typ":"JWT"}`) + "." + b64(`{"sub":"helmupgradebot","iat":1767225600}`) + "." + randomString(rng, base62+"-_", 43)
	return []credentialSample{
		{"GitHub token", "ghp_" + randomString(rng, base62, 36)},
		{"GitHub token", "gho_" + randomString(rng, base62, 36)},
		{"GitHub token", "ghu_" + randomString(rng, base62, 36)},
		{"GitHub token", "ghs_" + randomString(rng, base62, 36)},
		{"GitHub token", "ghr_" + randomString(rng, base62, 36)},
		{"GitHub token", "github_pat_" + randomString(rng, base62, 22) + "_" + randomString(rng, base62, 59)},
		{"GitHub token", "ghp_R3alT0ken"}, // the example, cut short as pasted
		{"JSON Web Token", jwt},
		{"random secret", randomString(rng, base62, 32)},
		{"random secret", randomString(rng, base62, 52)},
		{"random secret", randomString(rng, base64Chars, 40)}, // slashes and all, like a cloud key
		{"hexadecimal key", randomString(rng, hexLow, 40)},
	}
}

func base64URL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// leaks says whether text shows more of a sample than its first four
// characters: the whole, or any eight characters after the fourth.
func leaks(text, sample string) bool {
	if strings.Contains(text, sample) {
		return true
	}
	for i := 4; i+8 <= len(sample); i++ {
		if strings.Contains(text, sample[i:i+8]) {
			return true
		}
	}
	return false
}

// TestCredentialShapedNamesRefused: a credential pasted after env:, file:
// or into a keyvault:// reference is refused, says what it looks like, and
// is not shown.
func TestCredentialShapedNamesRefused(t *testing.T) {
	for _, sample := range credentialSamples() {
		refs := []string{
			"env:" + sample.value,
			"file:" + sample.value,
			"file:///run/secrets/" + sample.value,
			"file:/etc/helmupgradebot/" + sample.value + "/token",
			"keyvault://hubvault/" + sample.value,
			"keyvault://" + sample.value + "/github-token",
			"keyvault://hubvault/github-token/" + sample.value,
		}
		for _, ref := range refs {
			_, err := secrets.ParseReference(ref)
			if err == nil {
				t.Errorf("%s accepted, want a refusal: it looks like a %s", strings.Replace(ref, sample.value, "<"+sample.shape+">", 1), sample.shape)
				continue
			}
			if !errors.Is(err, secrets.ErrBadReference) {
				t.Errorf("error %q is not ErrBadReference", err)
			}
			if !strings.Contains(err.Error(), "looks like") || !strings.Contains(err.Error(), sample.shape) {
				t.Errorf("error %q does not say it looks like a %s", err, sample.shape)
			}
			if leaks(err.Error(), sample.value) {
				t.Errorf("error %q shows the %s", err, sample.shape)
			}
		}
	}
}

// TestRealNamesAccepted: real variable names, paths and Key Vault names,
// long ones included, are not mistaken for credentials.
func TestRealNamesAccepted(t *testing.T) {
	for _, ref := range []string{
		"env:HELMUPGRADEBOT_GITHUB_TOKEN_FOR_PRODUCTION_DEPLOYMENTS",
		"env:AZURE_FEDERATED_TOKEN_FILE_FOR_HELMUPGRADEBOT_2024",
		"env:MyApp2GitHubTokenForProductionDeployV3",
		"env:HelmUpgradeBot2024ProductionGitHubToken",
		"env:K8S_V1_API_TOKEN_FOR_HUB2_AND_HUB3_V2_0_1",
		"env:GHP_TOKEN",
		"env:github_token",
		"file:/etc/helmupgradebot/secrets/github-token",
		"file:/var/run/secrets/kubernetes.io/serviceaccount/token",
		"file:/var/run/secrets/tokens/..2024_05_01_10_20_30.1234567890/token",
		"file:/var/lib/kubelet/pods/3f1c2a9e-8b7d-4c6e-a5f4-0e9d8c7b6a51/volumes/kubernetes.io~secret/gh/token",
		"file:/home/Ops2/Secrets/GitHub-Token-2024.txt",
		"file:/Users/jdoe2/Library/Application Support/hub23/GH_TOKEN",
		"file:C:/Users/JaneDoe/AppData/Roaming/helmupgradebot/token.txt",
		"file:///run/secrets/ghp-token",
		"keyvault://hub-vault/helmupgradebot-github-token-production-2024",
		"keyvault://hub-vault/github-token/0123456789abcdef0123456789abcdef",
		"keyvault://hub-vault/github-token/9F8E7D6C5B4A39281706F5E4D3C2B1A0",
	} {
		if _, err := secrets.ParseReference(ref); err != nil {
			t.Errorf("ParseReference(%s): %v", ref, err)
		}
	}
}

// TestRandomSecretsRecognised measures the random-string rule on fresh
// draws: nearly every generated secret of 32 characters or more is refused.
func TestRandomSecretsRecognised(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		alphabet string
		n        int
		min      float64 // share refused
	}{
		{base62, 32, 0.97},
		{base62, 40, 0.98},
		{base64Chars, 44, 0.98},
		{base62 + "-_", 43, 0.98},
		{hexLow, 32, 1},
		{hexLow, 64, 1},
	} {
		const draws = 2000
		refused := 0
		for range draws {
			if _, err := secrets.ParseReference("env:" + randomString(rng, tc.alphabet, tc.n)); err != nil && strings.Contains(err.Error(), "looks like") {
				refused++
			}
		}
		if share := float64(refused) / draws; share < tc.min {
			t.Errorf("%d characters of %.20q…: %.1f%% refused, want at least %.1f%%", tc.n, tc.alphabet, 100*share, 100*tc.min)
		}
	}
}

// TestResolveReferenceRefusesCredentials: a Reference built without
// ParseReference is checked too, before anything is looked up.
func TestResolveReferenceRefusesCredentials(t *testing.T) {
	looked := false
	r := secrets.NewResolver(secrets.WithLookupEnv(func(string) (string, bool) { looked = true; return "", false }))
	for _, sample := range credentialSamples() {
		for _, ref := range []secrets.Reference{
			{Kind: secrets.KindEnv, EnvVar: sample.value},
			{Kind: secrets.KindFile, Path: "/run/secrets/" + sample.value},
			{Kind: secrets.KindKeyVault, Vault: "hubvault", VaultHost: "hubvault.vault.azure.net", SecretName: sample.value},
		} {
			_, err := r.ResolveReference(context.Background(), ref)
			if !errors.Is(err, secrets.ErrBadReference) || leaks(err.Error(), sample.value) {
				t.Errorf("ResolveReference(<%s as %s>): %v", sample.shape, ref.Kind, err)
			}
		}
	}
	if looked {
		t.Error("the environment was read for a credential-shaped name")
	}
}
