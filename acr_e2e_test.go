package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/headless"
)

// childCommand is this program as a process of its own (see TestMain),
// logging in to acr with the App Service managed-identity endpoint of
// acr's identity: the real azidentity code, with no secret anywhere and
// never the real instance metadata service. HOME is dir, and the state and
// cache directories are dir/state and dir/cache; no Azure, managed-identity,
// HOME or XDG variable of the test's own environment reaches the child.
func childCommand(acr *acrtest.Server, dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AZURE_") || strings.HasPrefix(name, "IDENTITY_") || strings.HasPrefix(name, "MSI_") ||
			name == "IMDS_ENDPOINT" || name == "HOME" || strings.HasPrefix(name, "XDG_") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, acr.Identity().AppServiceEnv()...)
	cmd.Env = append(cmd.Env, "HELMUPGRADEBOT_TEST_MAIN=1", "HOME="+dir, "AZURE_TOKEN_CREDENTIALS=prod",
		"XDG_STATE_HOME="+filepath.Join(dir, "state"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	if v := os.Getenv("HELMUPGRADEBOT_BENCH_GOMEMLIMIT"); v != "" { // the program's, not this process's
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+v)
	}
	return cmd
}

// acrRun runs the binary against the ACR stand-in (see childCommand) with
// dir/hub.yaml and decodes its JSON report.
func acrRun(t *testing.T, env *demo.Env, dir string, args ...string) (headless.Report, int, string, string) {
	t.Helper()
	cmd := childCommand(env.ACR, dir, append(args, "--config", filepath.Join(dir, "hub.yaml"))...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var rep headless.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\nstdout %s\nstderr %s", err, stdout.String(), stderr.String())
	}
	return rep, code, stdout.String(), stderr.String()
}

// TestACREndToEnd: the binary on the demo's ACR with managed identity. A
// cold scan fetches no manifest by tag and reads each digest once; a
// second run reads no manifest or config; untagged, locked, index and
// signature cases are planned as documented; a lock set during the apply
// fails that image alone (exit 3); no token is printed, logged, audited or
// cached.
func TestACREndToEnd(t *testing.T) {
	var (
		mu      sync.Mutex
		acr     *acrtest.Server
		lockOn  []string // repo@digest to lock at the first delete
		locked  bool
		deletes int
	)
	env, err := demo.Start(t.Context(), demo.WithRegistryHandler(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodDelete {
				mu.Lock()
				deletes++
				if !locked && acr != nil {
					locked = true
					for _, ref := range lockOn {
						repo, digest, _ := strings.Cut(ref, "@")
						acr.Lock(repo, digest, false, true)
					}
				}
				mu.Unlock()
			}
			h.ServeHTTP(w, r)
		})
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	mu.Lock()
	acr = env.ACR
	mu.Unlock()

	dir := t.TempDir()
	cfg := "registry:\n  url: " + env.ACR.Host() + "\n  flavor: acr\n  auth: {type: azure}\n  policy:\n" +
		"    max_age: 90d\n    untagged_max_age: 7d\n    protect: [\"^jupyterhub/\", \"^base:latest$\"]\n    max_delete_fraction: 1\n" +
		"audit_log: " + filepath.Join(dir, "audit.jsonl") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "hub.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	// Cold dry run.
	rep, code, out1, err1 := acrRun(t, env, dir, "--headless", "--json")
	if code != headless.ExitOK {
		t.Fatalf("dry run exit %d: %s", code, err1)
	}
	r := rep.Registry
	// the demo locks at every ACR level: a manifest, a tag, a platform
	// manifest (its index held) and a write-disabled repository; a
	// headless run reads repository and tag locks only where its plan
	// deletes, so the write-disabled repository, where nothing is
	// planned, is among those it did not read
	if r.Flavor != "acr" || r.UntaggedImages == 0 || r.Held["locked"] != len(r.Locked) || r.Held["protected"] == 0 {
		t.Errorf("report: flavor %q, %d untagged, held %v, locked %d", r.Flavor, r.UntaggedImages, r.Held, len(r.Locked))
	}
	for _, level := range []string{"manifest", "tag", "platform"} {
		if r.LockedBy[level] == 0 {
			t.Errorf("no image held by a %s lock: locked_by %v", level, r.LockedBy)
		}
	}
	planned := map[string]bool{}
	for _, p := range r.Plan {
		planned[p.Repository] = true
	}
	if r.LockedBy["repository"] != 0 || r.LocksUnread != r.Repositories-len(planned) || r.LocksUnread == 0 {
		t.Errorf("locked_by %v, locks unread in %d of %d repositories, the plan deletes in %d", r.LockedBy, r.LocksUnread, r.Repositories, len(planned))
	}
	reasons := map[string]int{}
	for _, p := range r.Plan {
		reasons[p.Reason]++
	}
	if reasons["age"] == 0 || reasons["untagged"] == 0 {
		t.Errorf("plan reasons %v, want age and untagged", reasons)
	}
	reads := map[string]int{}
	for _, q := range env.ACR.Requests() {
		if q.Kind == acrtest.KindManifestByTag {
			t.Errorf("cold scan fetched a manifest by tag: %s %s", q.Method, q.Path)
		}
		if (q.Kind == acrtest.KindManifestByDigest || q.Kind == acrtest.KindBlob) && q.Method == http.MethodGet && q.Status == http.StatusOK {
			reads[q.Repository+"@"+q.Reference]++
		}
	}
	if len(reads) == 0 {
		t.Fatal("the cold scan read no manifest")
	}
	for ref, n := range reads {
		if n > 1 {
			t.Errorf("cold scan read %s %d times", ref, n)
		}
	}

	// Warm dry run: the listing and the digest cache say everything.
	before := len(env.ACR.Requests())
	rep2, code, out2, err2 := acrRun(t, env, dir, "--headless", "--json")
	if code != headless.ExitOK || len(rep2.Registry.Plan) != len(r.Plan) || rep2.Registry.TotalBytes != r.TotalBytes {
		t.Errorf("warm run: exit %d, %d planned (cold %d), %d bytes (cold %d)", code, len(rep2.Registry.Plan), len(r.Plan), rep2.Registry.TotalBytes, r.TotalBytes)
	}
	for _, q := range env.ACR.Requests()[before:] {
		if q.Kind == acrtest.KindManifestByDigest || q.Kind == acrtest.KindManifestByTag || q.Kind == acrtest.KindBlob {
			t.Errorf("warm run read %s %s", q.Method, q.Path)
		}
	}

	// Apply; at the first delete, the last planned repository's images are
	// locked (after the scan).
	last := r.Plan[len(r.Plan)-1].Repository
	mu.Lock()
	for _, p := range r.Plan {
		if p.Repository == last {
			lockOn = append(lockOn, p.Repository+"@"+p.Digest.String())
		}
	}
	mu.Unlock()
	rep3, code, out3, err3 := acrRun(t, env, dir, "--headless", "--json", "--apply")
	r3 := rep3.Registry
	if code != headless.ExitPartial {
		t.Errorf("apply exit %d, want %d: %s", code, headless.ExitPartial, err3)
	}
	// The locks are seen when the repository is re-read before its first
	// deletion: its images are skipped as locked since the scan (a lock
	// set later still would make the DELETE fail, naming it).
	if len(r3.Failed)+len(r3.Skipped) == 0 || len(r3.Deleted) == 0 {
		t.Fatalf("deleted %d, failed %+v, skipped %+v", len(r3.Deleted), r3.Failed, r3.Skipped)
	}
	for _, f := range r3.Failed {
		if f.Repository != last || !strings.Contains(f.Error, "locked") {
			t.Errorf("failed %+v, want only %s's images, naming the lock", f, last)
		}
	}
	for _, sk := range r3.Skipped {
		if sk.Repository != last || !strings.Contains(sk.Reason, "locked") {
			t.Errorf("skipped %+v, want only %s's images, naming the lock", sk, last)
		}
	}
	if got := len(r3.Deleted) + len(r3.Failed) + len(r3.Skipped) + r3.NotStarted; got != len(r3.Plan) {
		t.Errorf("deleted %d + failed %d + skipped %d + not started %d != planned %d", len(r3.Deleted), len(r3.Failed), len(r3.Skipped), r3.NotStarted, len(r3.Plan))
	}

	// No token anywhere: output, logs, the audit log, the cache.
	texts := map[string]string{"stdout 1": out1, "stderr 1": err1, "stdout 2": out2, "stderr 2": err2, "stdout 3": out3, "stderr 3": err3}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(p); err == nil {
				texts[p] = string(b)
			}
		}
		return nil
	})
	secrets := append(env.ACR.IssuedTokens(), env.ACR.Identity().IssuedTokens()...)
	secrets = append(secrets, env.ACR.Identity().AppServiceHeader())
	if len(secrets) < 3 {
		t.Fatalf("only %d tokens issued", len(secrets))
	}
	for where, text := range texts {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("%s holds a token", where)
			}
		}
	}
}
