package runlock

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func config(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("registry: {url: 127.0.0.1:1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSecondAcquireIsRefusedNamingTheHolder(t *testing.T) {
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state")
	cfg := config(t, dir, "hub.yaml")
	before := time.Now()
	l, err := Acquire(state, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("lock directory: %v, %v; want mode 0700", fi, err)
	}

	_, err = Acquire(state, cfg)
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second Acquire: %v, want a *HeldError", err)
	}
	if held.Holder.PID != os.Getpid() || held.Holder.Config != cfg || held.Path != l.Path() {
		t.Errorf("holder %+v at %s; want PID %d, config %s at %s", held.Holder, held.Path, os.Getpid(), cfg, l.Path())
	}
	if s := held.Holder.Started; s.Before(before.Add(-time.Second)) || s.After(time.Now()) {
		t.Errorf("start time %v, want about %v", s, before)
	}
	msg := err.Error()
	for _, want := range []string{"PID " + strconv.Itoa(os.Getpid()), held.Holder.Started.Local().Format(time.RFC3339), cfg, "one run at a time"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	l2, err := Acquire(state, cfg)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

func TestKeyedByAbsolutePath(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	a, b := config(t, dir, "a.yaml"), config(t, dir, "b.yaml")
	la, err := Acquire(state, a)
	if err != nil {
		t.Fatal(err)
	}
	defer la.Release()
	lb, err := Acquire(state, b)
	if err != nil {
		t.Fatalf("another configuration is not locked out: %v", err)
	}
	lb.Release()

	// The same file by a relative path and through a symbolic link.
	t.Chdir(dir)
	link := filepath.Join(t.TempDir(), "link.yaml")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir("sub", 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a.yaml", "./sub/../a.yaml", link} {
		var held *HeldError
		if _, err := Acquire(state, p); !errors.As(err, &held) {
			t.Errorf("Acquire(%q): %v, want the lock on %s held", p, err, a)
		}
	}
	if fa, _ := File(state, a); filepath.Dir(fa) != state || !strings.HasSuffix(fa, ".lock") {
		t.Errorf("lock file %s, want a .lock file in %s", fa, state)
	}
}

func TestDir(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_STATE_HOME": "/s", "HOME": "/h", "XDG_RUNTIME_DIR": "/run/user/1"}, "/s/helmupgradebot"},
		{map[string]string{"XDG_STATE_HOME": "rel", "HOME": "/h", "XDG_RUNTIME_DIR": "/run/user/1"}, "/h/.local/state/helmupgradebot"},
		{map[string]string{"HOME": "/h", "XDG_RUNTIME_DIR": "/run/user/1"}, "/h/.local/state/helmupgradebot"},
		{map[string]string{"XDG_RUNTIME_DIR": "/run/user/1"}, "/run/user/1/helmupgradebot"},
		{map[string]string{}, ""},
	} {
		got, err := Dir(func(k string) string { return tt.env[k] })
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("Dir(%v) = %q, %v; want %q", tt.env, got, err, tt.want)
		}
	}
}

func TestParseNeedsAWholeRecord(t *testing.T) {
	h := Holder{PID: 42, Started: time.Date(2026, 11, 26, 3, 15, 0, 0, time.UTC), Config: "/etc/hub.yaml"}
	rec := h.format()
	got, ok := parse(rec)
	if !ok || got.PID != 42 || !got.Started.Equal(h.Started) || got.Config != h.Config {
		t.Errorf("parse(format(h)) = %+v, %v", got, ok)
	}
	for i := 0; i < len(rec)-len("end\n"); i++ {
		if _, ok := parse(rec[:i]); ok {
			t.Errorf("parse accepted a record cut at %d: %q", i, rec[:i])
		}
	}
}

// A lock held by another process is refused naming that process; when that
// process is killed with SIGKILL, the lock is free at once.
func TestKilledHolderLeavesNoLock(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	cfg := config(t, dir, "hub.yaml")
	holder := startHolder(t, state, cfg)

	_, err := Acquire(state, cfg)
	var held *HeldError
	if !errors.As(err, &held) || held.Holder.PID != holder.Process.Pid {
		t.Fatalf("Acquire while PID %d holds the lock: %v", holder.Process.Pid, err)
	}

	if err := holder.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	holder.Wait()
	l, err := Acquire(state, cfg)
	if err != nil {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	l.Release()
}

// Processes started together: exactly one gets the lock.
func TestOneOfManyProcesses(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	cfg := config(t, dir, "hub.yaml")
	const n = 4
	type result struct {
		pid  int
		line string
	}
	results := make(chan result, n)
	for range n {
		cmd, out := helper(t, state, cfg)
		go func() {
			line, _ := out.ReadString('\n')
			results <- result{cmd.Process.Pid, strings.TrimSpace(line)}
		}()
	}
	var winner int
	var refused []string
	for range n {
		r := <-results
		switch {
		case r.line == "locked":
			if winner != 0 {
				t.Errorf("PIDs %d and %d both hold the lock", winner, r.pid)
			}
			winner = r.pid
		case strings.HasPrefix(r.line, "held "):
			refused = append(refused, r.line)
		default:
			t.Errorf("PID %d: %q", r.pid, r.line)
		}
	}
	if winner == 0 {
		t.Fatalf("nobody got the lock: %q", refused)
	}
	for _, line := range refused {
		if line != fmt.Sprintf("held %d", winner) {
			t.Errorf("a refused process says %q; want held %d", line, winner)
		}
	}
}

// startHolder starts a process that holds the lock until it is killed.
func startHolder(t *testing.T, state, cfg string) *exec.Cmd {
	t.Helper()
	cmd, out := helper(t, state, cfg)
	line, err := out.ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	return cmd
}

// helper re-runs this test binary as TestHelperProcess, which takes the lock
// and holds it (printing "locked") or reports who holds it ("held PID").
func helper(t *testing.T, state, cfg string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "RUNLOCK_HELPER_STATE="+state, "RUNLOCK_HELPER_CONFIG="+cfg)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, bufio.NewReader(out)
}

func TestHelperProcess(t *testing.T) {
	state := os.Getenv("RUNLOCK_HELPER_STATE")
	if state == "" {
		return // not a helper: nothing to do
	}
	l, err := Acquire(state, os.Getenv("RUNLOCK_HELPER_CONFIG"))
	var held *HeldError
	switch {
	case errors.As(err, &held):
		fmt.Printf("held %d\n", held.Holder.PID)
		os.Exit(0)
	case err != nil:
		fmt.Printf("error %v\n", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute) // killed by the test
	l.Release()
	os.Exit(0)
}
