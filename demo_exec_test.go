package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/headless"
)

// TestDemoLeftOut: a binary built without the demo (the default build)
// answers --demo with how to get one with it, and exits 2, without
// starting the Go toolchain.
func TestDemoLeftOut(t *testing.T) {
	saved := startDemo
	startDemo = nil
	t.Cleanup(func() { startDemo = saved })
	execDemo = func(string, []string, []string) error {
		t.Error("a built binary started the Go toolchain")
		return errors.New("stub")
	}
	t.Cleanup(func() { execDemo = execGo })

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--demo", "--headless"}, &stdout, &stderr, func(string) string { return "" })
	if code != headless.ExitUsage {
		t.Errorf("exit %d, want %d", code, headless.ExitUsage)
	}
	for _, want := range []string{"built without the demo", "go run . --demo", "go build -tags demo", "go install -tags demo github.com/helmupgradebot/helmupgradebot@latest"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout: %q", stdout.String())
	}
}

// TestDemoGoRun: `go run . --demo` on the default build runs the same
// command line with `go run -tags demo` in the source tree, saying so
// first; the build it starts, marked, never starts another.
func TestDemoGoRun(t *testing.T) {
	var gotArgv, gotEnv []string
	execDemo = func(path string, argv, env []string) error {
		gotArgv, gotEnv = argv, env
		return errors.New("stub: not replaced")
	}
	t.Cleanup(func() { execDemo = execGo })
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Dir(file)
	exe := filepath.Join(os.TempDir(), "go-build1234", "b001", "exe", "helmupgradebot")

	var stderr bytes.Buffer
	code := demoElsewhere(exe, []string{"--demo", "--headless", "--json"}, &stderr)
	if code != headless.ExitFailure {
		t.Errorf("exit %d after a failed exec, want %d", code, headless.ExitFailure)
	}
	want := []string{"go", "run", "-C", src, "-tags", "demo", ".", "--demo", "--headless", "--json"}
	if strings.Join(gotArgv, " ") != strings.Join(want, " ") {
		t.Errorf("argv %q, want %q", gotArgv, want)
	}
	if !strings.Contains(strings.Join(gotEnv, "\n"), reexecEnv+"=1") {
		t.Errorf("the demo build's environment lacks %s=1", reexecEnv)
	}
	if !strings.Contains(stderr.String(), "go run -tags demo") || !strings.Contains(stderr.String(), "minutes") {
		t.Errorf("stderr does not say what it runs, and that it takes a while:\n%s", stderr.String())
	}

	t.Setenv(reexecEnv, "1")
	gotArgv = nil
	stderr.Reset()
	if code := demoElsewhere(exe, []string{"--demo"}, &stderr); code != headless.ExitUsage || gotArgv != nil {
		t.Errorf("the marked build: exit %d, ran %q; want %d and nothing", code, gotArgv, headless.ExitUsage)
	}
}

// TestBuiltByGoRun: where `go run` puts the executable, and where a built
// or installed binary lies.
func TestBuiltByGoRun(t *testing.T) {
	hash := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct {
		exe  string
		want bool
	}{
		{"/tmp/go-build441841665/b001/exe/helmupgradebot", true},
		{"/root/.cache/go-build/63/" + hash + "-d/helmupgradebot", true},
		{"/tmp/tmp.XyZ/63/" + hash + "-d/helmupgradebot", true}, // GOCACHE=$(mktemp -d)
		{"/usr/local/bin/helmupgradebot", false},
		{"/root/go/bin/helmupgradebot", false},
		{"/work/main/helmupgradebot", false},
		{"/tmp/go-build441841665/b001/helmupgradebot.test", false},
		{"/opt/exe/helmupgradebot", false},
		{"/root/.cache/go-build/63/" + hash + "/helmupgradebot", false},
	} {
		if got := builtByGoRun(tc.exe); got != tc.want {
			t.Errorf("builtByGoRun(%s) = %v, want %v", tc.exe, got, tc.want)
		}
	}
}

// TestProductionBuildLeavesDemoOut: the default build of the command links
// none of the demo's stand-ins and so no embedded registry (distribution,
// its redis cache, OpenTelemetry); a build with -tags demo links the demo.
func TestProductionBuildLeavesDemoOut(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	deps := func(tags ...string) string {
		out, err := exec.Command(goTool, append(append([]string{"list", "-deps"}, tags...), ".")...).Output()
		if err != nil {
			t.Fatalf("go list -deps %v .: %v", tags, err)
		}
		return string(out)
	}
	const mod = "github.com/helmupgradebot/helmupgradebot/"
	prod := deps()
	for _, left := range []string{mod + "backend/demo", mod + "backend/registrytest", mod + "backend/acrtest", mod + "backend/githubtest", mod + "backend/azuretest", mod + "backend/faulttest", "github.com/distribution/distribution/v3", "github.com/redis/go-redis", "go.opentelemetry.io/otel", "github.com/gorilla/mux"} {
		if strings.Contains(prod, left+"\n") || strings.Contains(prod, left+"/") {
			t.Errorf("the production build links %s", left)
		}
	}
	if !strings.Contains(deps("-tags", "demo"), mod+"backend/demo\n") {
		t.Error("a build with -tags demo lacks the demo")
	}
}
