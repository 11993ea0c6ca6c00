package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

// TestTokenFromKeyVault follows the production path: the VM's user-assigned
// managed identity reads the GitHub token from Key Vault, and the chart
// engine opens a pull request with it.
func TestTokenFromKeyVault(t *testing.T) {
	azuretest.HermeticEnv(t)
	ctx := context.Background()
	const clientID = "5c1b3a9e-0000-4000-8000-00000000c11d"
	env := start(t, func(*config.Config) {})
	id := azuretest.ServeIdentity(t, azuretest.WithUserAssigned(clientID))
	kv := azuretest.ServeKeyVault(t, azuretest.WithVaultName("hubvault"), azuretest.WithIdentity(id))
	kv.SetSecret("github-token", env.GitHub.Token())

	cfg := *env.Config
	cfg.GitHub.Token = "keyvault://hubvault/github-token"
	cfg.Azure.ClientID = clientID

	build := func() (*engine.Charts, error) {
		_, charts, err := engine.FromConfig(ctx, &cfg, engine.WithSecretOptions(secrets.WithTransport(id.Transport())),
			engine.WithGetenv(func(string) string { return "" }))
		return charts, err
	}
	// Without get permission on the vault the run stops with a message
	// that says so, and no token.
	if _, err := build(); err == nil || !strings.Contains(err.Error(), "github.token") || !strings.Contains(err.Error(), "permission") {
		t.Fatalf("without permission: %v", err)
	}
	kv.Grant(clientID)
	charts, err := build()
	if err != nil {
		t.Fatal(err)
	}
	openFirstOutdated(t, ctx, charts, "with the vault's token")
}
