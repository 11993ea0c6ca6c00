//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/headless"
)

// Targets of issue 11 for the program in a process of its own.
const (
	headlessRSSTarget   = 150 // MiB, a headless run over 100,000 images
	consoleRSSTarget    = 250 // MiB, the console over 100,000 images
	snapshotFrameTarget = time.Second
)

// benchManifests is the size of the registry BenchmarkProcess100k scans:
// HELMUPGRADEBOT_BENCH_MANIFESTS, 100,000 by default.
func benchManifests(b *testing.B) int {
	s := os.Getenv("HELMUPGRADEBOT_BENCH_MANIFESTS")
	if s == "" {
		return 100_000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 {
		b.Fatalf("HELMUPGRADEBOT_BENCH_MANIFESTS=%q: want a number of manifests, at least 100", s)
	}
	return n
}

// scaleACR is the synthetic ACR stand-in holding about n manifests in
// repositories of 100, with a managed identity of its own and no request
// log, and the number of manifests it lists.
func scaleACR(tb testing.TB, n int) (*acrtest.Server, int) {
	tb.Helper()
	spec := acrtest.Synthetic{Repositories: max(n/100, 1), ManifestsPerRepository: min(n, 100), Seed: 1}
	acr := acrtest.ServeSynthetic(tb, spec, acrtest.WithIdentity(azuretest.ServeIdentity(tb)), acrtest.WithoutRequestLog())
	return acr, spec.Repositories * spec.ManifestsPerRepository
}

// writeScaleConfig writes dir/hub.yaml for acr (a dry-run policy by age)
// and returns its path.
func writeScaleConfig(tb testing.TB, acr *acrtest.Server, dir string) string {
	tb.Helper()
	path := filepath.Join(dir, "hub.yaml")
	cfg := "registry:\n  url: " + acr.Host() + "\n  flavor: acr\n  auth: {type: azure}\n  policy:\n" +
		"    max_age: 90d\n    untagged_max_age: 7d\n    max_delete_fraction: 1\n" +
		"audit_log: " + filepath.Join(dir, "audit.jsonl") + "\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Peak RSS. Go starts a child with vfork (CLONE_VM), so at exec the child
// still shares this process's memory, and Linux carries the peak of the
// memory it leaves (ours) into the child's ru_maxrss: a child started from
// here reports at least this process's peak, the stand-in's 100,000
// manifests included (exec_mmap's setmax_mm_hiwater_rss; a 300 MiB parent
// running /bin/true reports 300 MiB). So the program runs one level
// further down: the child is this test binary as a small wrapper (init
// below), which starts the program as its own child and writes that
// child's ru_maxrss, max(the wrapper's peak, the program's own), which is
// the program's own: the wrapper is the same binary doing less.

// peakRSSEnv, set to a path, makes the test binary such a wrapper.
const peakRSSEnv = "HELMUPGRADEBOT_TEST_PEAK_RSS"

func init() {
	if path := os.Getenv(peakRSSEnv); path != "" {
		os.Exit(runMeasuringRSS(path))
	}
}

// runMeasuringRSS runs this binary again with the same arguments, standard
// files and environment (less peakRSSEnv), writes its ru_maxrss in KiB to
// path and returns its exit code.
func runMeasuringRSS(path string) int {
	os.Unsetenv(peakRSSEnv)
	runtime.LockOSThread() // Pdeathsig follows the thread that started the child
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "peak RSS wrapper:", err)
		return 1
	}
	_ = cmd.Wait()
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil || os.WriteFile(path, []byte(strconv.FormatInt(ru.Maxrss, 10)), 0o600) != nil {
		return 1
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()) // as a shell says it
	}
	return cmd.ProcessState.ExitCode()
}

// measureRSS makes cmd (from childCommand) run the program through the
// wrapper; after cmd has ended, peakMiB is the program's peak RSS.
func measureRSS(tb testing.TB, cmd *exec.Cmd) (peakMiB func() float64) {
	path := filepath.Join(tb.TempDir(), "maxrss")
	cmd.Env = append(cmd.Env, peakRSSEnv+"="+path)
	return func() float64 {
		b, err := os.ReadFile(path)
		kib, perr := strconv.ParseInt(string(b), 10, 64)
		if err != nil || perr != nil {
			tb.Fatalf("peak RSS of %v: %v %v", cmd.Args, err, perr)
		}
		return float64(kib) / 1024
	}
}

// childRun is one headless run in a process of its own.
type childRun struct {
	elapsed time.Duration
	rssMiB  float64
	report  headless.Report
}

// runHeadless runs the program as `--headless --json` (a dry run) with
// state and cache under dir.
func runHeadless(tb testing.TB, acr *acrtest.Server, dir string) childRun {
	tb.Helper()
	cmd := childCommand(acr, dir, "--headless", "--json", "--config", writeScaleConfig(tb, acr, dir))
	peak := measureRSS(tb, cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := childRun{elapsed: time.Since(start)}
	if err != nil {
		tb.Fatalf("headless run: %v\n%s", err, ending(stderr.String(), 2000))
	}
	r.rssMiB = peak()
	if err := json.Unmarshal(stdout.Bytes(), &r.report); err != nil || r.report.Registry == nil {
		tb.Fatalf("headless report: %v\n%s", err, ending(stderr.String(), 2000))
	}
	if n := len(r.report.Registry.Errors); n > 0 {
		tb.Fatalf("headless run: %d scan errors, first %+v", n, r.report.Registry.Errors[0])
	}
	return r
}

// ending is the last n bytes of s.
func ending(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

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

// BenchmarkProcess100k runs helmupgradebot in processes of its own against
// the synthetic ACR stand-in holding HELMUPGRADEBOT_BENCH_MANIFESTS
// manifests (100,000 by default) in repositories of 100, served from this
// process; only the program's own memory is measured (see peakRSSEnv):
//
//   - headless-cold: `--headless --json` (a dry run) with empty state and
//     cache directories;
//   - headless-warm: the same again, with the digest cache and the
//     snapshot the cold run left;
//   - console: the interactive console (no --headless) on a
//     pseudo-terminal, opening on that snapshot: the time from process
//     start to the first frame drawn from the snapshot ("as of …,
//     refreshing…", target < 1 s) and to the fresh scan swapped in
//     ("scanned …"), then q, which must end the process with exit 0;
//   - console-alone: the same start, but the fresh scan waits for its
//     token until the snapshot frame is drawn, so that neither the scan
//     nor the stand-in serving it (which shares these 2 cores, as a remote
//     registry would not) competes with opening the snapshot.
//
// Each reports wall time, manifests/s, requests per manifest and the
// program's peak RSS (ru_maxrss; targets 150 MiB headless, 250 MiB
// console), and logs a table with the targets. baseline-RSS-MiB is
// the program printing --version. Times are means, RSS the largest, over
// -benchtime iterations.
//
//	go test -run '^$' -bench Process100k -benchtime 1x -timeout 30m .
//	HELMUPGRADEBOT_BENCH_MANIFESTS=2000 go test -run '^$' -bench Process100k -benchtime 1x .
func BenchmarkProcess100k(b *testing.B) {
	azuretest.HermeticEnv(b)
	acr, manifests := scaleACR(b, benchManifests(b))
	var (
		runs, baseRSS, coldRSS, warmRSS, conRSS float64
		coldS, warmS, frameS, freshS, aloneS    float64
		coldReq, warmReq                        int
		images                                  int
	)
	for b.Loop() {
		dir := b.TempDir()
		version := childCommand(acr, dir, "--version")
		peak := measureRSS(b, version)
		if out, err := version.CombinedOutput(); err != nil {
			b.Fatalf("--version: %v: %s", err, out)
		}
		baseRSS = max(baseRSS, peak())

		n0 := acr.RequestCount()
		cold := runHeadless(b, acr, dir)
		n1 := acr.RequestCount()
		warm := runHeadless(b, acr, dir)
		coldReq, warmReq = n1-n0, acr.RequestCount()-n1
		images = cold.report.Registry.Images
		if warm.report.Registry.Images != images {
			b.Fatalf("the warm run found %d images, the cold one %d", warm.report.Registry.Images, images)
		}
		con := runConsole(b, acr, dir, 20*time.Minute)
		if con.images != images {
			b.Fatalf("the console's fresh scan has %d images, the headless run %d", con.images, images)
		}

		g := newIdentityGate(b, acr)
		c := startConsole(b, acr, dir, g.env)
		alone, _, err := c.wait(c.snapshot, 5*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		g.open()
		if _, _, err := c.wait(c.fresh, 20*time.Minute); err != nil {
			b.Fatal(err)
		}
		conRSS = max(conRSS, c.quit(b, time.Minute))

		runs++
		coldS += cold.elapsed.Seconds()
		warmS += warm.elapsed.Seconds()
		frameS += con.snapshotFrame.Seconds()
		freshS += con.fresh.Seconds()
		aloneS += alone.Seconds()
		coldRSS, warmRSS, conRSS = max(coldRSS, cold.rssMiB), max(warmRSS, warm.rssMiB), max(conRSS, con.rssMiB)
	}
	coldS, warmS, frameS, freshS, aloneS = coldS/runs, warmS/runs, frameS/runs, freshS/runs, aloneS/runs
	m := float64(manifests)
	b.ReportMetric(m, "manifests")
	b.ReportMetric(float64(images), "images")
	b.ReportMetric(baseRSS, "baseline-RSS-MiB")
	b.ReportMetric(coldS, "headless-cold-s")
	b.ReportMetric(m/coldS, "headless-cold-manifests/s")
	b.ReportMetric(float64(coldReq)/m, "headless-cold-req/manifest")
	b.ReportMetric(coldRSS, "headless-cold-RSS-MiB")
	b.ReportMetric(warmS, "headless-warm-s")
	b.ReportMetric(m/warmS, "headless-warm-manifests/s")
	b.ReportMetric(float64(warmReq)/m, "headless-warm-req/manifest")
	b.ReportMetric(warmRSS, "headless-warm-RSS-MiB")
	b.ReportMetric(frameS, "console-snapshot-frame-s")
	b.ReportMetric(aloneS, "console-alone-snapshot-frame-s")
	b.ReportMetric(freshS, "console-fresh-s")
	b.ReportMetric(conRSS, "console-RSS-MiB")

	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	var t bytes.Buffer
	fmt.Fprintf(&t, "%d manifests (%d images) on the synthetic ACR stand-in; each run a process of its own\n", manifests, images)
	fmt.Fprintf(&t, "| run | wall time | manifests/s | requests/manifest | peak RSS | targets |\n| --- | --- | --- | --- | --- | --- |\n")
	fmt.Fprintf(&t, "| --version (baseline) | | | | %.0f MiB | |\n", baseRSS)
	fmt.Fprintf(&t, "| headless, cold | %.1f s | %.0f | %.2f | %.0f MiB | RSS ≤ %d MiB: %s |\n",
		coldS, m/coldS, float64(coldReq)/m, coldRSS, headlessRSSTarget, verdict(coldRSS <= headlessRSSTarget))
	fmt.Fprintf(&t, "| headless, warm | %.1f s | %.0f | %.3f | %.0f MiB | RSS ≤ %d MiB: %s; ≥ 10× cold: %s (%.1f×) |\n",
		warmS, m/warmS, float64(warmReq)/m, warmRSS, headlessRSSTarget, verdict(warmRSS <= headlessRSSTarget), verdict(coldS >= 10*warmS), coldS/warmS)
	fmt.Fprintf(&t, "| console: start to the snapshot frame | %.2f s | | | | < %v: %s |\n", frameS, snapshotFrameTarget, verdict(frameS < snapshotFrameTarget.Seconds()))
	fmt.Fprintf(&t, "| console: the same, scan held back | %.2f s | | | | < %v: %s |\n", aloneS, snapshotFrameTarget, verdict(aloneS < snapshotFrameTarget.Seconds()))
	fmt.Fprintf(&t, "| console: start to the fresh scan swapped in | %.1f s | %.0f | | %.0f MiB | RSS ≤ %d MiB: %s |",
		freshS, m/freshS, conRSS, consoleRSSTarget, verdict(conRSS <= consoleRSSTarget))
	b.Log(t.String())
}
