//go:build linux

package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

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

// programEnv, set to a path, makes the wrapper run that program instead of
// this binary: helmupgradebot as built for operators (see buildProgram).
const programEnv = "HELMUPGRADEBOT_TEST_PROGRAM"

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
	prog := cmp.Or(os.Getenv(programEnv), os.Args[0])
	os.Unsetenv(programEnv)
	runtime.LockOSThread() // Pdeathsig follows the thread that started the child
	cmd := exec.Command(prog, os.Args[1:]...)
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
	// cpu: the program's CPU time, user and system (the wrapper's, which
	// counts the program it waited for); steadier than wall time on a
	// shared machine, and the stand-in serving it is not in it.
	cpu    time.Duration
	rssMiB float64
	report headless.Report
}

// buildProgram builds helmupgradebot as deploy/Dockerfile does (static,
// stripped), and makes the children the wrapper starts run it
// (programEnv): the test binary carries the tests' code beside it and
// links libc, 14 MB more text and 10 MiB more RSS for --version (35 MiB
// against 25). HELMUPGRADEBOT_BENCH_PROGRAM=test measures the test binary
// instead, as before; it returns "" then.
func buildProgram(b *testing.B) string {
	b.Helper()
	if os.Getenv("HELMUPGRADEBOT_BENCH_PROGRAM") == "test" {
		return ""
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	path := filepath.Join(b.TempDir(), "helmupgradebot")
	build := exec.Command(goTool, "build", "-trimpath", "-ldflags", "-s -w", "-o", path, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	b.Setenv(programEnv, path)
	return path
}

// runHeadless runs the program as `--headless --json` (a dry run) with
// state and cache under dir.
func runHeadless(tb testing.TB, acr *acrtest.Server, dir string, flags ...string) childRun {
	tb.Helper()
	cmd := childCommand(acr, dir, append([]string{"--headless", "--json", "--config", writeScaleConfig(tb, acr, dir)}, flags...)...)
	peak := measureRSS(tb, cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := childRun{elapsed: time.Since(start)}
	if err != nil {
		tb.Fatalf("headless run: %v\n%s", err, ending(stderr.String(), 2000))
	}
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
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

// BenchmarkProcess100k runs helmupgradebot in processes of its own against
// the synthetic ACR stand-in holding HELMUPGRADEBOT_BENCH_MANIFESTS
// manifests (100,000 by default) in repositories of 100, served from this
// process; only the program's own memory is measured (see peakRSSEnv):
//
//   - headless-nocache: `--headless --json --no-cache` with empty state,
//     what a first run is compared with (target: a first run within 10%);
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
	prog := buildProgram(b)
	acr, manifests := scaleACR(b, benchManifests(b))
	var (
		runs, baseRSS, coldRSS, warmRSS, conRSS   float64
		coldS, warmS, frameS, freshS, aloneS      float64
		nocacheS, nocacheRSS, nocacheCPU, coldCPU float64
		coldReq, warmReq                          int
		images                                    int
	)
	for b.Loop() {
		dir := b.TempDir()
		version := childCommand(acr, dir, "--version")
		peak := measureRSS(b, version)
		if out, err := version.CombinedOutput(); err != nil {
			b.Fatalf("--version: %v: %s", err, out)
		}
		baseRSS = max(baseRSS, peak())

		nocache := runHeadless(b, acr, b.TempDir(), "--no-cache")
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
		nocacheS += nocache.elapsed.Seconds()
		nocacheCPU += nocache.cpu.Seconds()
		coldCPU += cold.cpu.Seconds()
		nocacheRSS = max(nocacheRSS, nocache.rssMiB)
		coldS += cold.elapsed.Seconds()
		warmS += warm.elapsed.Seconds()
		frameS += con.snapshotFrame.Seconds()
		freshS += con.fresh.Seconds()
		aloneS += alone.Seconds()
		coldRSS, warmRSS, conRSS = max(coldRSS, cold.rssMiB), max(warmRSS, warm.rssMiB), max(conRSS, con.rssMiB)
	}
	coldS, warmS, frameS, freshS, aloneS, nocacheS = coldS/runs, warmS/runs, frameS/runs, freshS/runs, aloneS/runs, nocacheS/runs
	nocacheCPU, coldCPU = nocacheCPU/runs, coldCPU/runs
	m := float64(manifests)
	b.ReportMetric(m, "manifests")
	b.ReportMetric(float64(images), "images")
	b.ReportMetric(baseRSS, "baseline-RSS-MiB")
	b.ReportMetric(nocacheS, "headless-nocache-s")
	b.ReportMetric(nocacheRSS, "headless-nocache-RSS-MiB")
	b.ReportMetric(nocacheCPU, "headless-nocache-cpu-s")
	b.ReportMetric(coldCPU, "headless-cold-cpu-s")
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
	what := "helmupgradebot as go build makes it"
	if prog == "" {
		what = "the test binary as helmupgradebot (HELMUPGRADEBOT_BENCH_PROGRAM=test)"
	}
	fmt.Fprintf(&t, "%d manifests (%d images) on the synthetic ACR stand-in; each run a process of its own: %s\n", manifests, images, what)
	fmt.Fprintf(&t, "| run | wall time | manifests/s | requests/manifest | peak RSS | targets |\n| --- | --- | --- | --- | --- | --- |\n")
	fmt.Fprintf(&t, "| --version (baseline) | | | | %.0f MiB | |\n", baseRSS)
	fmt.Fprintf(&t, "| headless, cold, --no-cache | %.1f s (CPU %.1f s) | %.0f | | %.0f MiB | |\n", nocacheS, nocacheCPU, m/nocacheS, nocacheRSS)
	fmt.Fprintf(&t, "| headless, cold (filling the digest cache) | %.1f s (CPU %.1f s) | %.0f | %.2f | %.0f MiB | RSS ≤ %d MiB: %s; ≤ 1.1× --no-cache: %s (%.2f× the time, %.2f× the CPU) |\n",
		coldS, coldCPU, m/coldS, float64(coldReq)/m, coldRSS, headlessRSSTarget, verdict(coldRSS <= headlessRSSTarget), verdict(coldS <= 1.1*nocacheS), coldS/nocacheS, coldCPU/nocacheCPU)
	fmt.Fprintf(&t, "| headless, warm | %.1f s | %.0f | %.3f | %.0f MiB | RSS ≤ %d MiB: %s; ≥ 10× cold: %s (%.1f×) |\n",
		warmS, m/warmS, float64(warmReq)/m, warmRSS, headlessRSSTarget, verdict(warmRSS <= headlessRSSTarget), verdict(coldS >= 10*warmS), coldS/warmS)
	fmt.Fprintf(&t, "| console: start to the snapshot frame | %.2f s | | | | < %v: %s |\n", frameS, snapshotFrameTarget, verdict(frameS < snapshotFrameTarget.Seconds()))
	fmt.Fprintf(&t, "| console: the same, scan held back | %.2f s | | | | < %v: %s |\n", aloneS, snapshotFrameTarget, verdict(aloneS < snapshotFrameTarget.Seconds()))
	fmt.Fprintf(&t, "| console: start to the fresh scan swapped in | %.1f s | %.0f | | %.0f MiB | RSS ≤ %d MiB: %s |",
		freshS, m/freshS, conRSS, consoleRSSTarget, verdict(conRSS <= consoleRSSTarget))
	b.Log(t.String())
}
