package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/chartrepo"
	"github.com/helmupgradebot/helmupgradebot/backend/check"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/demo/demotest"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
	"github.com/helmupgradebot/helmupgradebot/backend/starter/startertest"
	"github.com/helmupgradebot/helmupgradebot/headless"
)

var defaultIsTerminal = isTerminal

// loopbackOnly refuses, before any lookup or dial, every host that is not
// on loopback: the template's example hosts are never contacted.
type loopbackOnly struct{}

func (loopbackOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, errors.New("test: refusing to contact " + host)
	}
	return http.DefaultTransport.RoundTrip(req)
}

func keepOnLoopback(t *testing.T) {
	t.Helper()
	azuretest.HermeticEnv(t)
	hc := &http.Client{Transport: loopbackOnly{}}
	checkOptions = []engine.Option{
		engine.WithRegistryOptions(registry.WithTransport(loopbackOnly{})),
		engine.WithGitHubOptions(github.WithHTTPClient(hc)),
		engine.WithChartRepoOptions(chartrepo.WithTransport(loopbackOnly{})),
		engine.WithSecretOptions(secrets.WithTransport(hc)),
	}
	t.Cleanup(func() { checkOptions = nil })
}

func runMain(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, func(k string) string { return env[k] })
	return code, stdout.String(), stderr.String()
}

// TestInitThenCheckConfig: init without a terminal writes the commented
// template, which loads; it never overwrites without --force; and
// --check-config on it prints a readable checklist, without a panic, and
// contacts none of its example hosts.
func TestInitThenCheckConfig(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	env := map[string]string{"HOME": dir}
	code, out, errOut := runMain(t, env, "init")
	if code != headless.ExitOK || !strings.Contains(out, "Wrote helmupgradebot.yaml") || !strings.Contains(out, "--check-config") {
		t.Fatalf("init: exit %d\n%s%s", code, out, errOut)
	}
	first, err := os.ReadFile("helmupgradebot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load("helmupgradebot.yaml"); err != nil {
		t.Fatalf("the written file does not load: %v", err)
	}
	if err := os.WriteFile("helmupgradebot.yaml", []byte("# mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runMain(t, env, "init"); code != headless.ExitUsage || !strings.Contains(errOut, "exists; pass --force") {
		t.Errorf("init over a file: exit %d %s", code, errOut)
	}
	if b, _ := os.ReadFile("helmupgradebot.yaml"); string(b) != "# mine\n" {
		t.Errorf("overwritten without --force")
	}
	if code, _, _ := runMain(t, env, "init", "--force"); code != headless.ExitOK {
		t.Errorf("init --force: exit %d", code)
	}
	if b, _ := os.ReadFile("helmupgradebot.yaml"); !bytes.Equal(b, first) {
		t.Errorf("--force did not write the template")
	}
	if code, _, _ := runMain(t, env, "init", "a.yaml", "b.yaml"); code != headless.ExitUsage {
		t.Errorf("two paths: exit %d", code)
	}
	if code, _, _ := runMain(t, env, "init", "conf/hub.yaml"); code != headless.ExitOK {
		t.Errorf("init PATH: exit %d", code)
	} else if _, err := config.Load("conf/hub.yaml"); err != nil {
		t.Error(err)
	}

	keepOnLoopback(t)
	code, out, errOut = runMain(t, env, "--check-config")
	if code != check.ExitFailed || errOut != "" {
		t.Errorf("check the template: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"Checking helmupgradebot.yaml", "✓ config", "✗ secret", "github.token", "fix: give the secret a value", "✗ registry", "myregistry.azurecr.io", "- github", "failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("checklist lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runMain(t, env, "--check-config", "--json", "--config", "conf/hub.yaml")
	var r check.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != check.ExitFailed || r.OK || len(r.Items) < 3 {
		t.Errorf("--json: exit %d %v\n%s", code, err, out)
	}
	if code, _, errOut := runMain(t, env, "--check-config", "--headless"); code != headless.ExitUsage || !strings.Contains(errOut, "--check-config takes") {
		t.Errorf("--check-config --headless: exit %d %s", code, errOut)
	}
	if code, out, _ := runMain(t, env, "--check-config", "--config", "none.yaml"); code != check.ExitBadConfig || !strings.Contains(out, "✗ config") {
		t.Errorf("missing file: exit %d\n%s", code, out)
	}
}

// TestInitAsks: init on a terminal asks every question (here line by line,
// --accessible), refuses a bad answer with config's error, and writes a
// file that loads and keeps what BinderHub launches: the events read over
// keep_launched_within, and the running pods.
func TestInitAsks(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	isTerminal = func(io.Writer) bool { return true }
	t.Cleanup(func() { isTerminal, initInput = defaultIsTerminal, nil })
	initInput = startertest.NewLines("hub23.azurecr.io", "", "0a1b2c3d-0000-4000-8000-123456789abc", "2 potatoes", "2TB", "3",
		"events-*.jsonl", "binderhub", "", "alan-turing-institute/hub23-deploy", "hub23-chart/Chart.yaml", "")
	code, out, errOut := runMain(t, map[string]string{"NO_COLOR": "1"}, "init", "--accessible", "hub.yaml")
	if code != headless.ExitOK || !strings.Contains(out, "Wrote hub.yaml") {
		t.Fatalf("init: exit %d\n%s%s", code, out, errOut)
	}
	for _, q := range []string{"Azure identity (azure.client_id) [system-assigned]:", "Size cap (registry.policy.cap) [no cap]:",
		`size "2 potatoes"`, "Where BinderHub's launches come from", "Launch events:", "GitHub token reference [env:HELMUPGRADEBOT_GITHUB_TOKEN]:"} {
		if !strings.Contains(out, q) {
			t.Errorf("init did not say %q:\n%s", q, out)
		}
	}
	cfg, err := config.Load("hub.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Registry.Policy
	if cfg.Azure.ClientID != "0a1b2c3d-0000-4000-8000-123456789abc" || p.Cap.Bytes != 2e12 || p.KeepLaunchedWithin.Duration != 30*24*time.Hour ||
		len(p.Usage) != 2 || p.Usage[0].Events != "events-*.jsonl" || p.Usage[1].Kubernetes == nil || p.Usage[1].Kubernetes.Namespace != "binderhub" ||
		cfg.GitHub.Token != "env:HELMUPGRADEBOT_GITHUB_TOKEN" || cfg.Charts[0].File != "hub23-chart/Chart.yaml" {
		t.Errorf("loaded %+v", cfg)
	}
}

// TestCheckConfigStandIns: the template, its examples replaced by the
// stand-ins' addresses as an operator would edit them, checks out (exit
// 0); with a wrong token it fails (exit 1) naming GitHub and the fix.
func TestCheckConfigStandIns(t *testing.T) {
	d := demotest.Serve(t, demo.WithPopulation(demotest.SmallPopulation()))
	dir := t.TempDir()
	t.Chdir(dir)
	if code, out, errOut := runMain(t, nil, "init", "hub.yaml"); code != headless.ExitOK {
		t.Fatalf("init: %d %s%s", code, out, errOut)
	}
	data, err := os.ReadFile("hub.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.NewReplacer(
		"url: myregistry.azurecr.io", "url: "+d.RegistryServer.Host(),
		"type: azure", "type: anonymous",
		"# api_url: https://api.github.com/", "api_url: "+d.GitHub.URL(),
		"repository: my-org/my-hub-deploy", "repository: "+demo.Owner+"/"+demo.Repo,
		"file: deploy/Chart.yaml", "file: "+demo.File,
	).Replace(string(data))
	if err := os.WriteFile("hub.yaml", []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	keepOnLoopback(t)
	env := map[string]string{"HELMUPGRADEBOT_GITHUB_TOKEN": d.GitHub.Token()}
	code, out, _ := runMain(t, env, "--check-config", "--config", "hub.yaml")
	if code != check.ExitOK || !strings.Contains(out, "ready to run") || strings.Contains(out, "✗") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if strings.Contains(out, d.GitHub.Token()) {
		t.Error("the checklist shows the token")
	}

	env["HELMUPGRADEBOT_GITHUB_TOKEN"] = "ghp_not_the_right_one"
	code, out, _ = runMain(t, env, "--check-config", "--config", "hub.yaml")
	if code != check.ExitFailed || !strings.Contains(out, "✗ github") || !strings.Contains(out, "GitHub rejected the token") ||
		!strings.Contains(out, "fix: GitHub does not accept the token github.token points to") {
		t.Errorf("wrong token: exit %d\n%s", code, out)
	}
}
