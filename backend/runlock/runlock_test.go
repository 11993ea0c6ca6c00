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

// byConfig is Acquire under the configuration's own name, as a run with no
// registry takes it.
func byConfig(t *testing.T, state, cfg string) (*Lock, error) {
	t.Helper()
	name, err := ConfigName(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return Acquire(state, name, cfg)
}

func TestSecondAcquireIsRefusedNamingTheHolder(t *testing.T) {
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state")
	cfg := config(t, dir, "hub.yaml")
	before := time.Now()
	l, err := byConfig(t, state, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("lock directory: %v, %v; want mode 0700", fi, err)
	}

	_, err = byConfig(t, state, cfg)
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
	l2, err := byConfig(t, state, cfg)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

func TestKeyedByAbsolutePath(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	a, b := config(t, dir, "a.yaml"), config(t, dir, "b.yaml")
	la, err := byConfig(t, state, a)
	if err != nil {
		t.Fatal(err)
	}
	defer la.Release()
	lb, err := byConfig(t, state, b)
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
		if _, err := byConfig(t, state, p); !errors.As(err, &held) {
			t.Errorf("Acquire(%q): %v, want the lock on %s held", p, err, a)
		}
	}
	if fa := File(state, a); filepath.Dir(fa) != state || !strings.HasSuffix(fa, ".lock") {
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
	h := Holder{PID: 42, Started: time.Date(2026, 11, 26, 3, 15, 0, 0, time.UTC), Config: "/etc/hub.yaml", Name: "registry myacr.azurecr.io"}
	rec := h.format()
	got, ok := parse(rec)
	if !ok || got.PID != 42 || !got.Started.Equal(h.Started) || got.Config != h.Config || got.Name != h.Name {
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

	_, err := byConfig(t, state, cfg)
	var held *HeldError
	if !errors.As(err, &held) || held.Holder.PID != holder.Process.Pid {
		t.Fatalf("Acquire while PID %d holds the lock: %v", holder.Process.Pid, err)
	}

	if err := holder.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	holder.Wait()
	l, err := byConfig(t, state, cfg)
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
	cfg := os.Getenv("RUNLOCK_HELPER_CONFIG")
	name, err := ConfigName(cfg)
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(1)
	}
	l, err := Acquire(state, name, cfg)
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

func TestRegistryName(t *testing.T) {
	for _, tt := range []struct {
		host string
		acr  bool
		want string
	}{
		{"myacr.azurecr.io", true, "registry myacr.azurecr.io"},
		{"MyACR.AzureCR.io", true, "registry myacr.azurecr.io"},
		{"myacr.azurecr.io:443", true, "registry myacr.azurecr.io"},
		{"myacr.azurecr.io.", true, "registry myacr.azurecr.io"},
		{"myacr.azurecr.io/", true, "registry myacr.azurecr.io"},
		{"myacr.westeurope.geo.azurecr.io", true, "registry myacr.azurecr.io"},
		{"MyACR.ChinaEast2.geo.azurecr.cn:443", true, "registry myacr.azurecr.cn"},
		{"myacr.westeurope.data.azurecr.io", true, "registry myacr.westeurope.data.azurecr.io"},
		{"other.azurecr.io", true, "registry other.azurecr.io"},
		{"a.b.geo.example.com", false, "registry a.b.geo.example.com"},
		{"Registry.Example.com", false, "registry registry.example.com"},
		{"registry.example.com:443", false, "registry registry.example.com"},
		{"registry.example.com:80", false, "registry registry.example.com"},
		{"registry.example.com:0443", false, "registry registry.example.com"},
		{"registry.example.com:5000", false, "registry registry.example.com:5000"},
		{"127.0.0.1:5000", false, "registry 127.0.0.1:5000"},
		{"localhost:5000", false, "registry localhost:5000"},
		{"[::1]:5000", false, "registry [::1]:5000"},
		{"[::1]:443", false, "registry [::1]"},
		{"[::1]", false, "registry [::1]"},
	} {
		if got := RegistryName(tt.host, tt.acr); got != tt.want {
			t.Errorf("RegistryName(%q, %v) = %q, want %q", tt.host, tt.acr, got, tt.want)
		}
	}
}

// Two configuration files naming one registry share its lock: the second
// is refused naming the first's PID and configuration file; another
// registry's lock is another lock.
func TestOneLockPerRegistry(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	a, b, c := config(t, dir, "a.yaml"), config(t, dir, "b.yaml"), config(t, dir, "c.yaml")
	la, err := Acquire(state, RegistryName("myacr.azurecr.io", true), a)
	if err != nil {
		t.Fatal(err)
	}
	defer la.Release()

	_, err = Acquire(state, RegistryName("MYACR.azurecr.io:443", true), b)
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("a second configuration of the registry: %v, want a *HeldError", err)
	}
	if held.Holder.PID != os.Getpid() || held.Holder.Config != a || held.Holder.Name != "registry myacr.azurecr.io" || held.Path != la.Path() {
		t.Errorf("holder %+v at %s", held.Holder, held.Path)
	}
	msg := err.Error()
	for _, want := range []string{"PID " + strconv.Itoa(os.Getpid()), "registry myacr.azurecr.io", a, "one run at a time per registry"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}

	lc, err := Acquire(state, RegistryName("other.azurecr.io", true), c)
	if err != nil {
		t.Fatalf("another registry is locked out: %v", err)
	}
	lc.Release()
}

// A record written before locks had names (no name= line) still names its
// holder and configuration.
func TestOlderRecord(t *testing.T) {
	h, ok := parse("pid=7\nstarted=2026-11-26T03:15:00Z\nconfig=/etc/hub.yaml\nend\n")
	if !ok || h.PID != 7 || h.Config != "/etc/hub.yaml" || h.Name != "" {
		t.Fatalf("parse = %+v, %v", h, ok)
	}
	msg := (&HeldError{Path: "/s/run-x.lock", Name: "/etc/hub.yaml", Holder: h}).Error()
	if !strings.Contains(msg, "PID 7") || !strings.Contains(msg, "working on /etc/hub.yaml;") {
		t.Errorf("message %q", msg)
	}
	if msg := (&HeldError{Path: "/s/run-x.lock"}).Error(); !strings.Contains(msg, "another run is working on this configuration") {
		t.Errorf("message without a record or name: %q", msg)
	}
}
