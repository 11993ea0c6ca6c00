package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
)

// TestWithOnlyResolvesThatPartsSecrets: WithOnly builds one part and
// resolves that part's secrets alone; without it both are needed.
func TestWithOnlyResolvesThatPartsSecrets(t *testing.T) {
	doc := "registry:\n  url: 127.0.0.1:1\n  auth: {type: basic, username: bot, password: env:REGISTRY_PASSWORD}\n" +
		"github:\n  token: env:GITHUB_TOKEN\ncharts:\n  - {repository: hub/deploy, file: Chart.yaml}\n"
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		env       map[string]string
		opts      []engine.Option
		reg, ch   bool   // built
		wantError string // "" none
	}{
		{"registry without the token", map[string]string{"REGISTRY_PASSWORD": "p"}, []engine.Option{engine.WithOnly(engine.PartRegistry)}, true, false, ""},
		{"charts without the password", map[string]string{"GITHUB_TOKEN": "t"}, []engine.Option{engine.WithOnly(engine.PartCharts)}, false, true, ""},
		{"registry needs its password", map[string]string{"GITHUB_TOKEN": "t"}, []engine.Option{engine.WithOnly(engine.PartRegistry)}, false, false, "registry.auth.password: resolve env:REGISTRY_PASSWORD"},
		{"charts need the token", map[string]string{"REGISTRY_PASSWORD": "p"}, []engine.Option{engine.WithOnly(engine.PartCharts)}, false, false, "github.token: resolve env:GITHUB_TOKEN"},
		{"both need both", map[string]string{"REGISTRY_PASSWORD": "p"}, nil, false, false, "github.token: resolve env:GITHUB_TOKEN"},
		{"both", map[string]string{"REGISTRY_PASSWORD": "p", "GITHUB_TOKEN": "t"}, nil, true, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"HOME": t.TempDir()}
			for k, v := range tc.env {
				env[k] = v
			}
			opts := append([]engine.Option{engine.WithGetenv(func(k string) string { return env[k] }), engine.WithoutDigestCache()}, tc.opts...)
			reg, ch, err := engine.FromConfig(context.Background(), cfg, opts...)
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("err = %v, want %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (reg != nil) != tc.reg || (ch != nil) != tc.ch {
				t.Errorf("built registry %v, charts %v; want %v, %v", reg != nil, ch != nil, tc.reg, tc.ch)
			}
		})
	}
}
