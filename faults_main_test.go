package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/audit"
	"github.com/helmupgradebot/helmupgradebot/backend/faulttest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/headless"
)

// deleteLog is the embedded registry's record of the DELETEs it carried
// out (answered 202), as repository@digest.
type deleteLog struct {
	mu      sync.Mutex
	deleted []string
}

func (d *deleteLog) list() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.deleted)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// seededRegistry is the real registry with the demo's population, its
// DELETEs recorded, and a fault proxy in front.
func seededRegistry(t *testing.T, fo faulttest.Options) (*deleteLog, *faulttest.Proxy) {
	t.Helper()
	dl := &deleteLog{}
	reg := registrytest.Serve(t, registrytest.WithHandler(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			h.ServeHTTP(sw, r)
			if r.Method == http.MethodDelete && sw.status == http.StatusAccepted {
				repo, digest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/")
				dl.mu.Lock()
				dl.deleted = append(dl.deleted, repo+"@"+digest)
				dl.mu.Unlock()
			}
		})
	}))
	pop := registrytest.DefaultPopulation()
	pop.Now = time.Now()
	if _, err := reg.Populate(t.Context(), pop); err != nil {
		t.Fatal(err)
	}
	return dl, faulttest.Serve(t, "http://"+reg.Host(), fo)
}

// binary is the program started as a process of its own on a
// configuration in dir, with its state and cache there too.
func binary(ctx context.Context, dir string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, os.Args[0], append(args, "--config", filepath.Join(dir, "hub.yaml"))...)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name != "HOME" && !strings.HasPrefix(name, "XDG_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HELMUPGRADEBOT_TEST_MAIN=1", "HOME="+dir,
		"XDG_STATE_HOME="+filepath.Join(dir, "state"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

func writeConfig(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "hub.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// TestKilledMidApply: a run applying a plan through a proxy that answers
// each DELETE 400ms after the registry carried it out is killed with
// SIGKILL midway. Every manifest the registry deleted has its attempt line
// in the audit log; the next run reports those without an outcome under
// recovered as deleted, and the attempts the registry never carried out
// as present.
func TestKilledMidApply(t *testing.T) {
	dl, proxy := seededRegistry(t, faulttest.Options{
		Rules: []faulttest.Rule{{Methods: []string{http.MethodDelete}, Rate: 1, Kinds: []faulttest.Kind{faulttest.Slow}}},
		Slow:  400 * time.Millisecond,
	})
	dir := t.TempDir()
	auditLog := filepath.Join(dir, "audit.jsonl")
	writeConfig(t, dir, "registry:\n  url: "+proxy.Host()+"\n  policy:\n    max_age: 30d\n    max_delete_fraction: 1\naudit_log: "+auditLog+"\n")

	cmd, _, stderr := binary(t.Context(), dir, "--headless", "--json", "--apply")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(dl.list()) < 6 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if cmd.ProcessState.Success() {
		t.Fatalf("the run ended before it was killed: %s", stderr)
	}
	time.Sleep(600 * time.Millisecond) // DELETEs the proxy had passed on land
	deleted := dl.list()
	if len(deleted) < 6 {
		t.Fatalf("the registry deleted %d manifests before the kill: %s", len(deleted), stderr)
	}

	// Every deletion the registry carried out is in the audit log.
	attempted, outcome := map[string]bool{}, map[string]bool{}
	f, err := os.Open(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e audit.Entry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue // a line torn by the kill
		}
		ref := e.Repository + "@" + e.Digest
		if e.Outcome == audit.OutcomeAttempt {
			attempted[ref] = true
			for _, c := range e.Children {
				attempted[e.Repository+"@"+c] = true
			}
		} else {
			outcome[ref] = true
		}
	}
	f.Close()
	var unrecorded []string
	for _, ref := range deleted {
		if !attempted[ref] {
			t.Errorf("the registry deleted %s, which the audit log does not have", ref)
		}
		if attempted[ref] && !outcome[ref] {
			unrecorded = append(unrecorded, ref)
		}
	}
	if len(unrecorded) == 0 {
		t.Fatalf("the kill left no deletion without its outcome; deleted %d, outcomes %d", len(deleted), len(outcome))
	}

	// The next run (a dry run) recovers them.
	if err := proxy.Set(0); err != nil {
		t.Fatal(err)
	}
	cmd, stdout, stderr := binary(t.Context(), dir, "--headless", "--json")
	code := exitCode(t, cmd.Run())
	var rep headless.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v (exit %d)\n%s", err, code, stderr)
	}
	recovered := map[string]string{}
	for _, r := range rep.Registry.Recovered {
		recovered[r.Repository+"@"+r.Digest] = r.Outcome
	}
	for _, ref := range unrecorded {
		if recovered[ref] != audit.OutcomeDeleted {
			t.Errorf("%s was deleted without an outcome line; recovered says %q", ref, recovered[ref])
		}
	}
	for ref, out := range recovered {
		if out == audit.OutcomeDeleted != slices.Contains(deleted, ref) {
			t.Errorf("recovered %s as %s; the registry deleted it: %v", ref, out, slices.Contains(deleted, ref))
		}
	}
	t.Logf("killed after the registry deleted %d; %d without an outcome; recovered %v", len(deleted), len(unrecorded), recovered)
	if pending, _, err := audit.Pending(auditLog, proxy.Host()); err != nil || len(pending) != 0 {
		t.Errorf("still pending after the recovering run: %d, %v", len(pending), err)
	}
}

// TestStalledRunBounded: connections that stall (no answer, the
// connection held open) do not hang a run: with retry.max_wait 4s it ends
// within three times that, whether one repository stalls (named, exit 3)
// or the whole registry does (exit 1).
func TestStalledRunBounded(t *testing.T) {
	const maxWait = 4 * time.Second
	tests := []struct {
		name  string
		rule  func(repo string) faulttest.Rule
		codes []int
	}{
		{"one repository", func(repo string) faulttest.Rule {
			return faulttest.Rule{Path: faulttest.RepositoryPath(repo), Rate: 1, Kinds: []faulttest.Kind{faulttest.Stall, faulttest.StallBody}}
		}, []int{headless.ExitPartial}},
		{"the whole registry", func(string) faulttest.Rule {
			return faulttest.Rule{Rate: 1, Kinds: []faulttest.Kind{faulttest.Stall}}
		}, []int{headless.ExitFailure}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, proxy := seededRegistry(t, faulttest.Options{Stall: time.Minute})
			const repo = "jupyterhub/k8s-hub"
			if err := proxy.Set(0, tc.rule(repo)); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			writeConfig(t, dir, "registry:\n  url: "+proxy.Host()+"\n  policy: {max_age: 30d}\nretry:\n  max_attempts: 10\n  max_wait: 4s\n")
			cmd, stdout, stderr := binary(t.Context(), dir, "--headless", "--json")
			start := time.Now()
			code := exitCode(t, cmd.Run())
			took := time.Since(start)
			t.Logf("exit %d after %s", code, took.Round(time.Millisecond))
			if took > 3*maxWait {
				t.Errorf("the run took %s, over 3×max_wait (%s)", took, 3*maxWait)
			}
			if !slices.Contains(tc.codes, code) {
				t.Errorf("exit %d, want one of %v: %s", code, tc.codes, stderr)
			}
			var rep headless.Report
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("report: %v\n%s", err, stderr)
			}
			if len(rep.Registry.Errors) == 0 || !strings.Contains(rep.Registry.Errors[0].Error, "retry.max_wait") {
				t.Errorf("errors %+v, want them to name retry.max_wait", rep.Registry.Errors)
			}
			if code == headless.ExitPartial && (len(rep.Registry.SkippedRepositories) != 1 || rep.Registry.SkippedRepositories[0].Repository != repo) {
				t.Errorf("skipped repositories %+v, want %s", rep.Registry.SkippedRepositories, repo)
			}
		})
	}
}

func TestDemoFaultsFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--demo-faults", "0.1", "--headless"}, "with --demo"},
		{[]string{"--demo", "--demo-faults", "1.5"}, "from 0 to 1"},
		{[]string{"--demo", "--demo-faults", "-0.1"}, "from 0 to 1"},
		{[]string{"--demo", "--demo-faults", "NaN"}, "from 0 to 1"},
		{[]string{"--demo-registry", "ecr", "--headless"}, "with --demo"},
		{[]string{"--demo", "--demo-registry", "quay"}, "one of acr, ecr, gar, harbor"},
	} {
		var out bytes.Buffer
		code := run(t.Context(), tc.args, &out, &out, func(string) string { return "" })
		if code != headless.ExitUsage || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: exit %d, %q; want %d saying %q", tc.args, code, out.String(), headless.ExitUsage, tc.want)
		}
	}
}
