package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/headless"
)

// writeFile writes body to dir/name and returns its path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLockPerRegistry: the run lock is taken as run takes it (config.Load,
// then lockRun) for two configuration files. Two files naming one registry,
// however they spell it, share one lock: the second is refused with
// ExitBusy naming the holder's PID and configuration file. Other
// registries, and charts-only configurations (locked by their file), do not
// meet. Nothing here reaches a registry.
func TestLockPerRegistry(t *testing.T) {
	const charts = "github: {token: env:GITHUB_TOKEN}\ncharts:\n  - {repository: o/deploy, file: Chart.yaml}\n"
	acr := func(url string) string { return "registry:\n  url: " + url + "\n" }
	tests := []struct {
		name       string
		held, next string // configuration files' bodies; next "" is the held file again
		busy       bool
	}{
		{"same file", acr("myacr.azurecr.io"), "", true},
		{"same login server", acr("myacr.azurecr.io"), acr("myacr.azurecr.io"), true},
		{"upper case", acr("myacr.azurecr.io"), acr("MyACR.AzureCR.io"), true},
		{"default port", acr("myacr.azurecr.io"), acr("MYACR.azurecr.io:443"), true},
		{"regional endpoint", acr("myacr.azurecr.io"), acr("myacr.westeurope.geo.azurecr.io"), true},
		{"other flavor and auth", acr("myacr.azurecr.io"),
			"registry:\n  url: myacr.azurecr.io\n  flavor: distribution\n  auth: {type: basic, username: u, password: env:PW}\n", true},
		{"registry and charts", acr("registry.example.com:5000") + charts, acr("Registry.Example.COM:5000"), true},
		{"distribution default port", acr("registry.example.com"), acr("registry.example.com:443"), true},
		{"other registry", acr("myacr.azurecr.io"), acr("other.azurecr.io"), false},
		{"other port", acr("registry.example.com"), acr("registry.example.com:5000"), false},
		{"charts only, same file", charts, "", true},
		{"charts only, two files", charts, charts, false},
		{"charts only beside a registry", acr("myacr.azurecr.io"), charts, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			getenv := func(k string) string { return map[string]string{"XDG_STATE_HOME": filepath.Join(dir, "state")}[k] }
			load := func(path string) *config.Config {
				t.Helper()
				cfg, err := config.Load(path)
				if err != nil {
					t.Fatal(err)
				}
				return cfg
			}
			held := writeFile(t, dir, "ops/hub.yaml", tc.held)
			next := held
			if tc.next != "" {
				next = writeFile(t, dir, "team/other.yaml", tc.next)
			}
			var out bytes.Buffer
			l, code := lockRun(load(held), held, &out, getenv)
			if l == nil {
				t.Fatalf("the first run: exit %d: %s", code, out.String())
			}
			defer l.Release()

			out.Reset()
			l2, code := lockRun(load(next), next, &out, getenv)
			if !tc.busy {
				if l2 == nil {
					t.Fatalf("refused beside the first run: exit %d: %s", code, out.String())
				}
				l2.Release()
				return
			}
			if l2 != nil {
				l2.Release()
				t.Fatalf("%s and %s hold the lock at once", held, next)
			}
			msg := out.String()
			if code != headless.ExitBusy || !strings.Contains(msg, "PID "+strconv.Itoa(os.Getpid())) || !strings.Contains(msg, held) {
				t.Errorf("exit %d, %q: want %d naming PID %d and %s", code, msg, headless.ExitBusy, os.Getpid(), held)
			}
		})
	}
}

// TestTwoConfigsOneRegistry: a run of one configuration file works on a
// registry (a process of its own, held at the registry); the console and a
// headless run of another file naming that registry, spelled otherwise,
// exit 4 naming it, while a run on another registry goes ahead.
func TestTwoConfigsOneRegistry(t *testing.T) {
	g := startGatedRegistry(t)
	other := startGatedRegistry(t)
	other.Open()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	port := g.Host()[strings.LastIndexByte(g.Host(), ':')+1:]
	first := writeFile(t, dir, "ops/hub.yaml", "registry:\n  url: localhost:"+port+"\n")
	second := writeFile(t, dir, "team/hub.yaml", "registry:\n  url: LocalHost:"+port+"/\n")
	third := writeFile(t, dir, "team/other.yaml", "registry:\n  url: "+other.Host()+"\n")

	cmd, stdout, stderr := startRun(t, state, "--headless", "--json", "--config", first)
	select {
	case <-g.entered:
	case <-time.After(30 * time.Second):
		t.Fatalf("the first run never reached the registry: %s", stderr)
	}

	env := map[string]string{"XDG_STATE_HOME": state, "XDG_CACHE_HOME": filepath.Join(dir, "cache")}
	getenv := func(k string) string { return env[k] }
	for _, args := range [][]string{{"--headless", "--config", second}, {"--config", second}} {
		var out bytes.Buffer
		start := time.Now()
		code := run(t.Context(), args, &out, &out, getenv)
		msg := out.String()
		if code != headless.ExitBusy {
			t.Fatalf("%v beside a run of %s: exit %d, want %d\n%s", args, first, code, headless.ExitBusy, msg)
		}
		for _, want := range []string{"PID " + strconv.Itoa(cmd.Process.Pid), first, "registry localhost:" + port} {
			if !strings.Contains(msg, want) {
				t.Errorf("%v: refusal %q lacks %q", args, msg, want)
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%v: refused after %v", args, d)
		}
	}

	var out bytes.Buffer
	if code := run(t.Context(), []string{"--headless", "--json", "--config", third}, &out, &out, getenv); code != headless.ExitOK {
		t.Errorf("a run on another registry: exit %d\n%s", code, out.String())
	}

	g.Open()
	if err := waitTimeout(cmd, 60*time.Second); err != nil {
		t.Fatalf("the first run: %v\nstdout %s\nstderr %s", err, stdout, stderr)
	}
}

// waitTimeout waits for cmd, killing it after d.
func waitTimeout(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		_ = cmd.Process.Kill()
		return <-done
	}
}
