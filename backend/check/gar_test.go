package check_test

import (
	"context"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/check"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/gartest"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// TestGAR: --check-config logs in to the Artifact Registry stand-in with
// a service-account key from a secret reference, lists the root, and says
// that delete rights cannot be known; a wrong root fails with the fix.
// Nothing leaves loopback.
func TestGAR(t *testing.T) {
	ctx := context.Background()
	env := startDemo(t)
	reg, _ := registrytest.ServeSeeded(t, registrytest.Population{Repositories: 3, TagsPerRepository: 2, Seed: 3, Scale: 1, Prefix: "proj/"})
	srv := gartest.Serve(t, reg)
	guard := gartest.NewGuard(nil)
	vars := map[string]string{tokenVar: env.GitHub.Token(), "CHECK_TEST_GAR_KEY": string(srv.KeyFile())}
	opts := []engine.Option{getenv(vars), engine.WithRegistryOptions(registry.WithTransport(guard))}

	cases := []struct {
		root       string
		status     check.Status
		detail     string
		fix        string
		wantDelete bool
	}{
		{"proj", check.Pass, "3 repositories on the first page of Google's listing of proj", "", true},
		{"elsewhere", check.Fail, "404", "check registry.root", false},
	}
	for _, c := range cases {
		t.Run(c.root, func(t *testing.T) {
			cfg := demoConfig(env)
			cfg.Registry.URL, cfg.Registry.Flavor, cfg.Registry.Root = srv.Host(), config.FlavorGAR, c.root
			cfg.Registry.Auth = config.Auth{Type: config.AuthGoogle, Password: "env:CHECK_TEST_GAR_KEY"}
			r := check.Config(ctx, cfg, opts...)
			out := text(t, r)
			it, _ := find(r, check.KindRegistry, srv.Host())
			if it.Status != c.status || !strings.Contains(it.Detail, c.detail) || !strings.Contains(it.Fix, c.fix) {
				t.Errorf("registry item %+v\n%s", it, out)
			}
			del, ok := find(r, check.KindRegistry, "delete rights")
			if ok != c.wantDelete || (ok && (del.Status != check.Unknown || !strings.Contains(del.Detail, "repoAdmin"))) {
				t.Errorf("delete rights %v %+v\n%s", ok, del, out)
			}
			if strings.Contains(out, "PRIVATE KEY") {
				t.Error("the checklist shows the key")
			}
		})
	}
	if r := guard.Refused(); len(r) != 0 {
		t.Errorf("requests left loopback: %v", r)
	}
}
