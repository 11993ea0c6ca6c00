package check_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/check"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

// startACR puts an ACR stand-in in front of the demo's registry (none of
// the demo's own locks), with a managed identity it trusts; both close
// with t.
func startACR(t *testing.T, env *demo.Env) (*acrtest.Server, *azuretest.Identity) {
	t.Helper()
	azuretest.HermeticEnv(t)
	id := azuretest.ServeIdentity(t)
	return acrtest.Serve(t, env.RegistryServer, acrtest.WithIdentity(id)), id
}

// TestACRLocks: on ACR the checklist says what the locks of the first
// repositories hold, at every level, and that they fail nothing.
func TestACRLocks(t *testing.T) {
	ctx := context.Background()
	env := startDemo(t)
	acr, id := startACR(t, env)
	cfg := demoConfig(env)
	cfg.Registry.URL, cfg.Registry.Flavor, cfg.Registry.Auth = acr.Host(), config.FlavorACR, config.Auth{Type: config.AuthAzure}
	opts := []engine.Option{getenv(map[string]string{tokenVar: env.GitHub.Token()}), engine.WithSecretOptions(secrets.WithTransport(id.Transport()))}
	locks := func() (check.Item, string) {
		t.Helper()
		r := check.Config(ctx, cfg, opts...)
		out := text(t, r)
		if r.ExitCode() != check.ExitOK {
			t.Fatalf("exit %d:\n%s", r.ExitCode(), out)
		}
		it, ok := find(r, check.KindRegistry, " locks")
		if !ok || it.Status != check.Pass {
			t.Fatalf("no passing locks item:\n%s", out)
		}
		return it, out
	}

	if it, out := locks(); !strings.HasPrefix(it.Detail, "no lock in the first ") {
		t.Errorf("before any lock:\n%s", out)
	}

	var repos []string
	tagged, index := -1, -1
	for k, im := range env.Seeded.Images {
		if !slices.Contains(repos, im.Repository) {
			repos = append(repos, im.Repository)
		}
		switch {
		case len(im.Children) > 0 && index < 0:
			index = k
		case len(im.Tags) > 0 && len(im.Children) == 0 && tagged < 0:
			tagged = k
		}
	}
	slices.Sort(repos)
	if len(repos) < 3 || tagged < 0 || index < 0 {
		t.Fatalf("population: repositories %v, tagged %d, index %d", repos, tagged, index)
	}
	tag, idx := env.Seeded.Images[tagged], env.Seeded.Images[index]
	acr.LockTag(tag.Repository, tag.Tags[0], false, true)
	acr.Lock(idx.Repository, idx.Children[0], false, true)
	var writeOff, deleteOff string
	for _, repo := range repos {
		switch {
		case repo == tag.Repository || repo == idx.Repository:
		case writeOff == "":
			writeOff = repo
		case deleteOff == "":
			deleteOff = repo
		}
	}
	if deleteOff == "" {
		deleteOff = tag.Repository
	}
	if writeOff != "" {
		acr.LockRepository(writeOff, true, false)
	}
	acr.LockRepository(deleteOff, false, true)

	it, out := locks()
	wants := []string{" locked in the first ", "by a tag", "by a platform manifest", "repository " + deleteOff + ": deletes disabled, its images can still be deleted",
		"locked images are never deleted"}
	if writeOff != "" {
		wants = append(wants, "by the repository", "repository "+writeOff+": writes disabled")
	}
	for _, want := range wants {
		if !strings.Contains(it.Detail, want) {
			t.Errorf("locks item lacks %q:\n%s", want, out)
		}
	}
}
