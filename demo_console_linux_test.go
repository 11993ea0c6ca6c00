//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestDemoConsoleInAnyEnvironment starts the console demo in a process of
// its own on a pseudo-terminal in such shells: it draws its registry's
// scan, no error, and q ends it with exit 0.
func TestDemoConsoleInAnyEnvironment(t *testing.T) {
	for _, tc := range demoEnvs {
		switch tc.name {
		case "App Service", "Azure Arc", "Cloud Shell":
		default:
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := startDemoConsole(t, dir, tc.env)
			_, m, err := c.wait(c.fresh, 60*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("drew %q", m[0])
			c.quit(t, 10*time.Second)
		})
	}
}

// startDemoConsole is startConsole's demo: `--demo` on a 200×50
// pseudo-terminal, with HOME and the state and cache directories under dir
// and env added.
func startDemoConsole(t *testing.T, dir string, env map[string]string) *console {
	t.Helper()
	ptm, tty, err := openPTY(50, 200)
	if err != nil {
		t.Fatal(err)
	}
	c := &console{ptm: ptm, ended: make(chan struct{}), peak: func() float64 { return 0 }}
	c.snapshot, c.fresh, c.failure = c.watch(snapshotFrame), c.watch(freshFrame), c.watch(errorFrame)
	c.cmd = demoCommand(dir, "--demo")
	c.cmd.Env = append(c.cmd.Env, "TERM=xterm-256color")
	for k, v := range env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	c.stderr = filepath.Join(dir, "stderr")
	c.start = time.Now()
	startOnTTY(t, c, tty)
	return c
}

// startOnTTY starts c.cmd on the pseudo-terminal tty (its controlling
// terminal, stdin and stdout; stderr to c.stderr), as startConsole does,
// and reads what it draws.
func startOnTTY(t *testing.T, c *console, tty *os.File) {
	t.Helper()
	stderr, err := os.Create(c.stderr)
	if err != nil {
		tty.Close()
		c.ptm.Close()
		t.Fatal(err)
	}
	defer stderr.Close()
	c.cmd.Stdin, c.cmd.Stdout, c.cmd.Stderr = tty, tty, stderr
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = c.cmd.Start()
	tty.Close()
	if err != nil {
		c.ptm.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
		c.ptm.Close()
	})
	go c.read()
}

// demoCommand is this program as a process of its own (see TestMain) in
// the test's environment (the demo must not care what Azure variables it
// has), with HOME dir and the state and cache directories dir/state and
// dir/cache.
func demoCommand(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "HELMUPGRADEBOT_TEST_MAIN=1", "HOME="+dir,
		"XDG_STATE_HOME="+filepath.Join(dir, "state"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	return cmd
}
