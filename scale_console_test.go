//go:build linux

package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
)

// The console in a child process on a pseudo-terminal for the scale tests:
// watching the frames it draws, holding back its scan, and the test that it
// opens on the snapshot.

// What the console draws: the snapshot marked stale (ui/snapshot.go) and
// the fresh scan's message once it is swapped in (ui/registry.go).
var (
	snapshotFrame = regexp.MustCompile(`as of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, refreshing`)
	freshFrame    = regexp.MustCompile(`scanned \S+: (\d+) repositories, (\d+) images`)
	errorFrame    = regexp.MustCompile(`scan failed: |error: `)
)

// console is the program's interactive console in a child process on a
// pseudo-terminal, watched for the frames it draws.
type console struct {
	cmd    *exec.Cmd
	peak   func() float64 // MiB, once it has ended
	ptm    *os.File
	start  time.Time
	stderr string // the file its stderr goes to

	// What it has drawn: the snapshot, the fresh scan, an error.
	snapshot, fresh, failure *watch

	mu      sync.Mutex
	watches []*watch
	screen  []byte        // the last bytes drawn, for failure messages
	ended   chan struct{} // the pseudo-terminal closed: the child is gone
}

// watch waits for what a pattern matches in the text the console draws.
type watch struct {
	re    *regexp.Regexp
	at    time.Duration // since the process started
	match []string
	seen  chan struct{}
}

// startConsole starts the console (no --headless) with state and cache
// under dir on a 200×50 pseudo-terminal, TERM=xterm-256color, and env
// added to childCommand's environment.
func startConsole(tb testing.TB, acr *acrtest.Server, dir string, env ...string) *console {
	tb.Helper()
	ptm, tty, err := openPTY(50, 200)
	if err != nil {
		tb.Fatal(err)
	}
	c := &console{ptm: ptm, ended: make(chan struct{})}
	c.snapshot, c.fresh, c.failure = c.watch(snapshotFrame), c.watch(freshFrame), c.watch(errorFrame)
	c.cmd = childCommand(acr, dir, "--config", writeScaleConfig(tb, acr, dir))
	c.cmd.Env = append(append(c.cmd.Env, "TERM=xterm-256color"), env...)
	c.peak = measureRSS(tb, c.cmd)
	c.stderr = filepath.Join(tb.TempDir(), "stderr")
	stderr, err := os.Create(c.stderr)
	if err != nil {
		tb.Fatal(err)
	}
	defer stderr.Close()
	c.cmd.Stdin, c.cmd.Stdout, c.cmd.Stderr = tty, tty, stderr
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	c.start = time.Now()
	err = c.cmd.Start()
	tty.Close()
	if err != nil {
		ptm.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
		ptm.Close()
	})
	go c.read()
	return c
}

// read takes in what the console draws. Escape sequences are stripped
// from the last 16 KiB read, so text that the renderer wrote in one go is
// found even when the writes are split across reads.
func (c *console) read() {
	defer close(c.ended)
	const keep = 16 << 10
	var raw []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := c.ptm.Read(buf)
		if n > 0 {
			raw = append(raw, buf[:n]...)
			if len(raw) > keep {
				raw = append(raw[:0:0], raw[len(raw)-keep:]...)
			}
			text := ansi.Strip(string(raw))
			at := time.Since(c.start)
			c.mu.Lock()
			c.screen = raw
			for _, w := range c.watches {
				if w.match != nil {
					continue
				}
				if m := w.re.FindStringSubmatch(text); m != nil {
					w.at, w.match = at, m
					close(w.seen)
				}
			}
			c.mu.Unlock()
		}
		if err != nil { // EIO once the child and its terminal are gone
			return
		}
	}
}

// watch starts watching for re; startConsole calls it before the child
// can draw anything.
func (c *console) watch(re *regexp.Regexp) *watch {
	w := &watch{re: re, seen: make(chan struct{})}
	c.mu.Lock()
	c.watches = append(c.watches, w)
	c.mu.Unlock()
	return w
}

// wait waits for w's text, failing when an error is drawn, the console
// ends or timeout passes.
func (c *console) wait(w *watch, timeout time.Duration) (time.Duration, []string, error) {
	select {
	case <-w.seen:
		return w.at, w.match, nil
	case <-c.failure.seen:
		return 0, nil, fmt.Errorf("the console drew an error: %s", c.drawn())
	case <-c.ended:
		return 0, nil, fmt.Errorf("the console ended before %q: %s\nstderr: %s", w.re, c.drawn(), c.stderrText())
	case <-time.After(timeout):
		return 0, nil, fmt.Errorf("no %q within %v: %s", w.re, timeout, c.drawn())
	}
}

// stderrText is the end of what the console wrote on stderr.
func (c *console) stderrText() string {
	b, _ := os.ReadFile(c.stderr)
	return ending(string(b), 2000)
}

// drawn is the end of what the console drew, as text.
func (c *console) drawn() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ending(ansi.Strip(string(c.screen)), 1500)
}

// quit presses q and waits for the console to exit 0; it returns the
// console's peak RSS in MiB.
func (c *console) quit(tb testing.TB, timeout time.Duration) float64 {
	tb.Helper()
	if _, err := c.ptm.Write([]byte("q")); err != nil {
		tb.Fatalf("press q: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			tb.Fatalf("the console after q: %v: %s\nstderr: %s", err, c.drawn(), c.stderrText())
		}
		return c.peak()
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill()
		<-exited
		tb.Fatalf("the console did not exit within %v of q: %s", timeout, c.drawn())
		return 0
	}
}

// consoleRun is one console session.
type consoleRun struct {
	snapshotFrame time.Duration // start to the first frame from the snapshot
	fresh         time.Duration // start to the fresh scan swapped in
	images        int           // the fresh scan's, as the console says
	rssMiB        float64
}

// runConsole opens the console on the snapshot in dir, waits for the
// fresh scan to be swapped in and quits with q.
func runConsole(tb testing.TB, acr *acrtest.Server, dir string, timeout time.Duration) consoleRun {
	tb.Helper()
	c := startConsole(tb, acr, dir)
	var r consoleRun
	var err error
	if r.snapshotFrame, _, err = c.wait(c.snapshot, timeout); err != nil {
		tb.Fatal(err)
	}
	var m []string
	if r.fresh, m, err = c.wait(c.fresh, timeout); err != nil {
		tb.Fatal(err)
	}
	r.images, _ = strconv.Atoi(m[2])
	r.rssMiB = c.quit(tb, time.Minute)
	return r
}

// identityGate is a proxy in front of acr's managed-identity endpoint that
// holds every request until it is opened: a console started with env
// cannot begin its fresh scan (it needs a token first) until then.
type identityGate struct {
	env     string        // IDENTITY_ENDPOINT=the proxy, for startConsole
	entered chan struct{} // a request is waiting
	gate    chan struct{}
	once    sync.Once
}

func newIdentityGate(tb testing.TB, acr *acrtest.Server) *identityGate {
	tb.Helper()
	g := &identityGate{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	identity, err := url.Parse(acr.Identity().URL())
	if err != nil {
		tb.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(identity)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		select {
		case <-g.gate:
			proxy.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	}))
	tb.Cleanup(srv.Close)
	tb.Cleanup(g.open)
	g.env = "IDENTITY_ENDPOINT=" + srv.URL + azuretest.AppServiceTokenPath
	return g
}

func (g *identityGate) open() { g.once.Do(func() { close(g.gate) }) }

// waitEntered waits until the console has asked for a token.
func (g *identityGate) waitEntered(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	select {
	case <-g.entered:
	case <-time.After(timeout):
		tb.Fatalf("the console asked the identity for no token within %v", timeout)
	}
}

// TestConsoleOpensOnSnapshot drives the console in a process of its own on
// a pseudo-terminal, as BenchmarkProcess100k does: after a headless run it
// draws the snapshot, marked "as of …, refreshing…", while its fresh scan
// cannot end (the managed identity answers only once that frame is seen),
// then swaps in the fresh scan, and q ends it with exit 0.
func TestConsoleOpensOnSnapshot(t *testing.T) {
	azuretest.HermeticEnv(t)
	acr, _ := scaleACR(t, 300)
	dir := t.TempDir()
	want := runHeadless(t, acr, dir).report.Registry.Images

	g := newIdentityGate(t, acr)
	c := startConsole(t, acr, dir, g.env)
	if _, _, err := c.wait(c.snapshot, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	g.waitEntered(t, 30*time.Second) // the fresh scan waits for its token
	select {
	case <-c.fresh.seen:
		t.Fatal("the fresh scan ended before the identity answered")
	default:
	}
	g.open()
	_, m, err := c.wait(c.fresh, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := strconv.Atoi(m[2]); got != want {
		t.Errorf("the console's fresh scan has %s images, the headless run %d", m[2], want)
	}
	c.quit(t, 10*time.Second)
}
