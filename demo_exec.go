package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/helmupgradebot/helmupgradebot/headless"
)

// The production binary leaves the demo out: the demo's stand-ins link the
// whole distribution registry (its storage drivers, redis cache,
// OpenTelemetry, gorilla: some 340 packages, 40% of a cold build and 21 MB
// of the binary) into a command that needs none of it. A build with
// -tags demo has it (demo_linked.go).

// reexecEnv marks the demo build that demoElsewhere started, so that a
// build which still lacks the demo says so instead of starting itself again.
const reexecEnv = "HELMUPGRADEBOT_DEMO_REEXEC"

// execDemo replaces this process with the Go toolchain running the demo's
// build (exec_unix.go, exec_other.go); tests stub it.
var execDemo = execGo

// demoElsewhere is --demo in a build without the demo. Started by `go run`
// from a source tree, which has the toolchain and the source by definition,
// it runs the same command line again with `go run -tags demo`, saying so
// first: that build compiles the embedded registry, minutes the first time.
// A built binary never starts the toolchain: it says how to get a build
// with the demo, and exits 2. exe is the running executable.
func demoElsewhere(exe string, args []string, stderr io.Writer) int {
	dir, ok := goRunSource(exe)
	goPath, err := exec.LookPath("go")
	if ok && err == nil && os.Getenv(reexecEnv) == "" {
		fmt.Fprintf(stderr, "helmupgradebot: --demo: the default build leaves the demo out; running it with `go run -tags demo .` in %s (its first build compiles an embedded registry: minutes)\n", dir)
		argv := append([]string{"go", "run", "-C", dir, "-tags", "demo", "."}, args...)
		err = execDemo(goPath, argv, append(os.Environ(), reexecEnv+"=1"))
		fmt.Fprintln(stderr, "helmupgradebot: --demo: run the demo:", err)
		return headless.ExitFailure
	}
	fmt.Fprint(stderr, `helmupgradebot: --demo: this binary was built without the demo (it would link an embedded registry the production command does not need). Get one with it:
  from a clone of the source:  go run . --demo   or   go build -tags demo -o helmupgradebot . && ./helmupgradebot --demo
  installed:                   go install -tags demo `+modulePath()+`@latest
`)
	return headless.ExitUsage
}

// goRunSource is the source tree this program was built from, when `go run`
// built it: exe, the running executable, lies where `go run` puts one (its
// work directory, go-build*/b001/exe/NAME, or the build cache's
// XX/HASH-d/NAME), and the directory this file was compiled from still
// holds this module's go.mod. A binary built with -trimpath, or by
// `go build` or `go install`, is none of that.
func goRunSource(exe string) (string, bool) {
	if !builtByGoRun(exe) {
		return "", false
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return "", false
	}
	dir := filepath.Dir(file)
	if moduleOf(filepath.Join(dir, "go.mod")) != modulePath() {
		return "", false
	}
	return dir, true
}

var cachedExeDir = regexp.MustCompile(`^[0-9a-f]{64}-d$`)

// builtByGoRun tells whether exe lies where `go run` puts the executable it
// runs: $WORK/b001/exe/NAME for a fresh build, GOCACHE/XX/HASH-d/NAME for
// one taken from the build cache (Go 1.24 on).
func builtByGoRun(exe string) bool {
	parent := filepath.Dir(exe)
	grand := filepath.Dir(parent)
	if filepath.Base(parent) == "exe" && strings.HasPrefix(filepath.Base(filepath.Dir(grand)), "go-build") {
		return true
	}
	g := filepath.Base(grand)
	return cachedExeDir.MatchString(filepath.Base(parent)) && len(g) == 2 && strings.Trim(g, "0123456789abcdef") == ""
}

// modulePath is this program's module path, as its build recorded it.
func modulePath() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path != "" {
		return bi.Main.Path
	}
	return "github.com/helmupgradebot/helmupgradebot"
}

// moduleOf is the module path a go.mod declares, "" without one.
func moduleOf(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
