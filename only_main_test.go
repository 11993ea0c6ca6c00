package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/headless"
)

// TestOnlyResolvesItsOwnSecrets: --only registry runs without the GitHub
// token (or App key) that only the charts need, and --only charts without
// the registry's password; each part's own secret is still required.
func TestOnlyResolvesItsOwnSecrets(t *testing.T) {
	reg := registrytest.Serve(t)
	const charts = "charts:\n  - repository: hub/deploy\n    file: chart/Chart.yaml\n"
	// GitHub at a closed loopback port: a charts run fails there, after its secret resolved
	const github = "github:\n  api_url: http://127.0.0.1:1/\n  token: env:HUB_GITHUB_TOKEN\n"
	const app = "github:\n  api_url: http://127.0.0.1:1/\n  app_id: 1\n  installation_id: 2\n  private_key: file:/nonexistent/hub-github-app.pem\n"
	anonymous := "registry:\n  url: " + reg.Host() + "\n"
	basic := "registry:\n  url: " + reg.Host() + "\n  auth: {type: basic, username: bot, password: env:HUB_REGISTRY_PASSWORD}\n"
	const retry = "retry: {max_attempts: 1}\n"
	for _, tc := range []struct {
		name   string
		config string
		env    map[string]string
		only   string
		code   int
		want   string // in stdout+stderr
		absent string // nor this
	}{
		{"registry without the token", anonymous + github + charts + retry, nil, "registry",
			headless.ExitOK, "registry " + reg.Host(), "HUB_GITHUB_TOKEN"},
		{"registry without the App's key", anonymous + app + charts + retry, nil, "registry",
			headless.ExitOK, "registry " + reg.Host(), "hub-github-app.pem"},
		{"registry still needs its password", basic + github + charts + retry, nil, "registry",
			headless.ExitUsage, "registry.auth.password: resolve env:HUB_REGISTRY_PASSWORD: environment variable HUB_REGISTRY_PASSWORD is not set", "HUB_GITHUB_TOKEN"},
		{"charts without the registry's password", basic + github + charts + retry, map[string]string{"HUB_GITHUB_TOKEN": "t"}, "charts",
			headless.ExitFailure, "hub/deploy chart/Chart.yaml", "HUB_REGISTRY_PASSWORD"},
		{"charts still need the token", basic + github + charts + retry, nil, "charts",
			headless.ExitUsage, "github.token: resolve env:HUB_GITHUB_TOKEN: environment variable HUB_GITHUB_TOKEN is not set", "HUB_REGISTRY_PASSWORD"},
		{"both need both", basic + github + charts + retry, map[string]string{"HUB_GITHUB_TOKEN": "t"}, "",
			headless.ExitUsage, "HUB_REGISTRY_PASSWORD is not set", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			if tc.only != "" {
				args = []string{"--only", tc.only}
			}
			code, stdout, stderr := runConfigHeadless(t, tc.config, tc.env, args...)
			out := stdout + stderr
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
			if tc.absent != "" && strings.Contains(out, tc.absent) {
				t.Errorf("output names %q, which this run does not need:\n%s", tc.absent, out)
			}
		})
	}
}

// runConfigHeadless runs --headless with args on config (written to hub.yaml in
// a directory of its own, which holds the state and cache too), the
// environment holding env's variables only.
func runConfigHeadless(t *testing.T, config string, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"HOME": dir, "XDG_STATE_HOME": filepath.Join(dir, "state"), "XDG_CACHE_HOME": filepath.Join(dir, "cache")}
	for k, v := range env {
		vars[k] = v
	}
	var out, errs bytes.Buffer
	code = run(context.Background(), append([]string{"--headless", "--config", path}, args...), &out, &errs, func(k string) string { return vars[k] })
	return code, out.String(), errs.String()
}
