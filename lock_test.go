package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/backend/runlock"
	"github.com/helmupgradebot/helmupgradebot/headless"
)

// TestMain lets a test start this program as a process of its own: with
// HELMUPGRADEBOT_TEST_MAIN=1 the test binary is helmupgradebot.
func TestMain(m *testing.M) {
	if os.Getenv("HELMUPGRADEBOT_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// gatedRegistry is the real registry on loopback whose requests wait until
// the gate opens: a run that reaches it holds its lock until then.
type gatedRegistry struct {
	*registrytest.Registry
	entered  chan struct{} // a request arrived
	open     chan struct{}
	openOnce sync.Once
}

func startGatedRegistry(t *testing.T) *gatedRegistry {
	t.Helper()
	g := &gatedRegistry{entered: make(chan struct{}, 1), open: make(chan struct{})}
	reg := registrytest.Serve(t, registrytest.WithHandler(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case g.entered <- struct{}{}:
			default:
			}
			select {
			case <-g.open:
			case <-r.Context().Done():
				return
			}
			h.ServeHTTP(w, r)
		})
	}))
	t.Cleanup(g.Open)
	g.Registry = reg
	return g
}

func (g *gatedRegistry) Open() { g.openOnce.Do(func() { close(g.open) }) }

// lockEnv is a configuration on the gated registry and a state directory.
func lockEnv(t *testing.T, g *gatedRegistry) (cfg, state string) {
	t.Helper()
	dir := t.TempDir()
	cfg = filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(cfg, []byte("registry:\n  url: "+g.Host()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, filepath.Join(dir, "state")
}

// startRun starts helmupgradebot as a process.
func startRun(t *testing.T, state string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "HELMUPGRADEBOT_TEST_MAIN=1", "XDG_STATE_HOME="+state,
		"XDG_CACHE_HOME="+filepath.Join(state, "cache")) // no digest cache in the user's home
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, &stdout, &stderr
}

type exited struct {
	i    int
	code int
	at   time.Time
}

// Two headless runs started together on one configuration: one does the
// work, the other exits 4 within a second naming the first's PID and start
// time.
func TestTwoRunsOneWorks(t *testing.T) {
	g := startGatedRegistry(t)
	cfg, state := lockEnv(t, g)
	args := []string{"--headless", "--json", "--config", cfg}

	var cmds [2]*exec.Cmd
	var stdouts, stderrs [2]*bytes.Buffer
	done := make(chan exited, 2)
	start := time.Now()
	for i := range cmds {
		cmds[i], stdouts[i], stderrs[i] = startRun(t, state, args...)
	}
	for i, cmd := range cmds {
		go func() {
			cmd.Wait()
			done <- exited{i, cmd.ProcessState.ExitCode(), time.Now()}
		}()
	}

	var loser exited
	select {
	case loser = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("neither run exited while the other held the registry")
	}
	winner := 1 - loser.i
	if loser.code != headless.ExitBusy {
		t.Fatalf("the first run to exit: code %d, want %d\nstderr: %s", loser.code, headless.ExitBusy, stderrs[loser.i])
	}
	d := loser.at.Sub(start)
	t.Logf("the refused run exited after %v: %s", d, strings.TrimSpace(stderrs[loser.i].String()))
	if d > time.Second {
		t.Errorf("the refused run took %v to exit, want under a second", d)
	}
	msg := stderrs[loser.i].String()
	wantPID := "PID " + strconv.Itoa(cmds[winner].Process.Pid)
	if !strings.Contains(msg, wantPID) || !strings.Contains(msg, "started "+start.Format("2006-01-02T")) || !strings.Contains(msg, cfg) {
		t.Errorf("refusal %q does not name %s, its start time and %s", msg, wantPID, cfg)
	}
	if stdouts[loser.i].Len() != 0 {
		t.Errorf("the refused run printed a report: %s", stdouts[loser.i])
	}
	select { // the refused run may exit before the winner has got this far
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Error("the winning run never reached the registry")
	}

	g.Open()
	var w exited
	select {
	case w = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the working run did not finish")
	}
	if w.code != headless.ExitOK {
		t.Fatalf("the working run: exit %d\nstderr: %s", w.code, stderrs[winner])
	}
	var rep headless.Report
	if err := json.Unmarshal(stdouts[winner].Bytes(), &rep); err != nil || rep.Registry == nil || rep.Registry.URL != g.Host() {
		t.Errorf("the working run's report (%v): %s", err, stdouts[winner])
	}
}

// A run killed with SIGKILL while it works leaves no lock behind: the next
// run goes ahead at once.
func TestKilledRunLeavesNoLock(t *testing.T) {
	g := startGatedRegistry(t)
	cfg, state := lockEnv(t, g)
	cmd, _, stderr := startRun(t, state, "--headless", "--config", cfg)
	select {
	case <-g.entered:
	case <-time.After(30 * time.Second):
		t.Fatalf("the run never reached the registry: %s", stderr)
	}
	// It holds the lock: a run now is refused.
	env := map[string]string{"XDG_STATE_HOME": state}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if code := run(t.Context(), []string{"--headless", "--config", cfg}, &out, &out, getenv); code != headless.ExitBusy {
		t.Fatalf("a run beside a working one: exit %d, want %d\n%s", code, headless.ExitBusy, out.String())
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	g.Open()
	out.Reset()
	if code := run(t.Context(), []string{"--headless", "--config", cfg}, &out, &out, getenv); code != headless.ExitOK {
		t.Fatalf("a run after the holder was killed: exit %d, want 0\n%s", code, out.String())
	}
}

// The console is refused as a headless run is, before it takes the terminal;
// the demo takes no lock.
func TestConsoleRefusedWhileARunWorks(t *testing.T) {
	g := startGatedRegistry(t)
	g.Open()
	cfg, state := lockEnv(t, g)
	getenv := func(k string) string { return map[string]string{"XDG_STATE_HOME": state}[k] }
	dir, err := runlock.Dir(getenv)
	if err != nil {
		t.Fatal(err)
	}
	l, err := runlock.Acquire(dir, runlock.RegistryName(g.Host(), false), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if code := run(ctx, []string{"--config", cfg}, &out, &out, getenv); code != headless.ExitBusy {
		t.Fatalf("console: exit %d, want %d\n%s", code, headless.ExitBusy, out.String())
	}
	if want := "PID " + strconv.Itoa(os.Getpid()); !strings.Contains(out.String(), want) {
		t.Errorf("console refusal %q lacks %q", out.String(), want)
	}

	out.Reset()
	if code := run(ctx, []string{"--demo", "--headless"}, &out, &out, getenv); code != headless.ExitOK {
		t.Errorf("demo beside a locked configuration: exit %d\n%s", code, out.String())
	}
}
