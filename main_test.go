package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
	"github.com/helmupgradebot/helmupgradebot/headless"
)

func TestFlagsAndExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("registry:\n  url: r.io\n  policy:\n    max_age: -1d\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missingSecret := filepath.Join(dir, "secret.yaml")
	if err := os.WriteFile(missingSecret, []byte("registry:\n  url: 127.0.0.1:1\n  auth: {type: basic, username: u, password: env:NOPE_NOT_SET}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		out  string // substring of stdout+stderr
	}{
		{"version", []string{"--version"}, headless.ExitOK, "helmupgradebot"},
		{"help", []string{"--help"}, headless.ExitOK, "Exit codes"},
		{"unknown flag", []string{"--bogus"}, headless.ExitUsage, "bogus"},
		{"stray argument", []string{"now"}, headless.ExitUsage, "unexpected argument"},
		{"apply without headless", []string{"--apply"}, headless.ExitUsage, "go with --headless"},
		{"force without apply", []string{"--headless", "--force"}, headless.ExitUsage, "--force goes with --apply"},
		{"bad only", []string{"--headless", "--only", "both"}, headless.ExitUsage, "want charts or registry"},
		{"demo and config", []string{"--demo", "--config", bad}, headless.ExitUsage, "drop --config"},
		{"bad config", []string{"--headless", "--config", bad}, headless.ExitUsage, "registry.policy.max_age"},
		{"missing config", []string{"--headless", "--config", filepath.Join(dir, "none.yaml")}, headless.ExitUsage, "none.yaml"},
		{"unresolvable secret", []string{"--headless", "--config", missingSecret}, headless.ExitUsage, "registry.auth.password: resolve env:NOPE_NOT_SET: environment variable NOPE_NOT_SET is not set"},
		{"no configuration at all", []string{"--headless"}, headless.ExitUsage, "no configuration found"},
	}
	t.Chdir(dir) // no ./helmupgradebot.yaml here, and HOME is dir
	env := map[string]string{"HOME": dir}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(context.Background(), tt.args, &out, &out, func(k string) string { return env[k] })
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s", code, tt.code, out.String())
			}
			if !strings.Contains(out.String(), tt.out) {
				t.Errorf("output lacks %q:\n%s", tt.out, out.String())
			}
		})
	}
}

// TestDemoHeadlessJSON runs the README's demo as a report, and checks that
// the GitHub token appears in neither the report nor the logs.
func TestDemoHeadlessJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--demo", "--headless", "--json", "--apply"}, &stdout, &stderr, func(string) string { return "" })
	if code != headless.ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	var rep headless.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not one JSON document: %v", err)
	}
	if rep.Registry == nil || len(rep.Registry.Deleted) == 0 || len(rep.Charts) != 5 { // four charts and the repo2docker image
		t.Errorf("demo report: %+v", rep)
	}
	if !strings.Contains(stderr.String(), "level=INFO") {
		t.Errorf("logs did not go to stderr: %q", stderr.String())
	}
	for _, s := range []string{stdout.String(), stderr.String()} {
		if strings.Contains(s, githubtest.DefaultToken) {
			t.Error("the GitHub token leaked into the output")
		}
	}
}
