package chartfile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/chartfile/chartfiletest"
)

// Lock files that Helm itself wrote (helm's own test charts), with the
// chart files they lock: the digest must come out the same.
func TestDigestReproducesHelm(t *testing.T) {
	tests := []struct{ name, chart, lock string }{
		{"import-values, tags, conditions, ranges",
			`apiVersion: v2
name: parent-chart
version: v0.1.0
dependencies:
  - name: dev
    repository: "file://envs/dev"
    version: ">= 0.0.1"
    condition: dev.enabled,global.dev.enabled
    tags:
      - dev
    import-values:
      - data

  - name: prod
    repository: "file://envs/prod"
    version: ">= 0.0.1"
    condition: prod.enabled,global.prod.enabled
    tags:
      - prod
    import-values:
      - data`,
			`dependencies:
- name: dev
  repository: file://envs/dev
  version: v0.1.0
- name: prod
  repository: file://envs/prod
  version: v0.1.0
digest: sha256:9403fc24f6cf9d6055820126cf7633b4bd1fed3c77e4880c674059f536346182
generated: "2020-02-03T10:38:51.180474+01:00"
`},
		{"pinned version",
			"apiVersion: v2\nname: x\nversion: 0.1.0\ndependencies:\n- name: subchart-with-notes\n  version: 0.0.1\n  repository: file://../chart-with-subchart-notes/charts/subchart-with-notes\n",
			`dependencies:
- name: subchart-with-notes
  repository: file://../chart-with-subchart-notes/charts/subchart-with-notes
  version: 0.0.1
digest: sha256:8ca45f73ae3f6170a09b64a967006e98e13cd91eb51e5ab0599bb87296c7df0a
generated: "2021-05-02T15:07:22.1099921+02:00"
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := parseLock([]byte(tt.lock))
			if err != nil {
				t.Fatal(err)
			}
			got := recomputeDigest(l.digest, []byte(tt.chart), []byte(tt.chart), []byte(tt.lock), []byte(tt.lock))
			if got != l.digest {
				t.Fatalf("digest %q, helm wrote %q", got, l.digest)
			}
		})
	}
}

const lockedChart = `apiVersion: v2
name: hub
version: 0.1.0
dependencies:
  - name: binderhub
    version: "1.0.0-0.dev.git.3478.habc1234"
    repository: https://hub.jupyter.org/helm-chart/
  - name: binderhub
    alias: staging
    version: "1.0.0-0.dev.git.3478.habc1234"
    repository: https://hub.jupyter.org/helm-chart/
  - name: ingress-nginx
    version: 4.11.3
    repository: https://kubernetes.github.io/ingress-nginx
    condition: ingress-nginx.enabled
`

// helmLock writes a lock file the way helm does (chartfiletest.Lock).
func helmLock(t *testing.T, chart string, versions ...string) string {
	t.Helper()
	lock, err := chartfiletest.Lock(chart, versions...)
	if err != nil {
		t.Fatal(err)
	}
	return lock
}

func TestUpdateLock(t *testing.T) {
	old := "1.0.0-0.dev.git.3478.habc1234"
	lock := helmLock(t, lockedChart, old, old, "4.11.3")
	after, err := SetVersion([]byte(lockedChart), "staging", "1.0.0-0.dev.git.3500.hdef5678")
	if err != nil {
		t.Fatal(err)
	}
	up, err := UpdateLock([]byte(lock), []byte(lockedChart), after, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !up.DigestUpdated || up.Problem != "" {
		t.Fatalf("digest not updated: %s", up.Problem)
	}
	want := helmLock(t, string(after), old, "1.0.0-0.dev.git.3500.hdef5678", "4.11.3")
	if string(up.Content) != want {
		t.Errorf("lock:\n%s\nwant:\n%s", up.Content, want)
	}
	if n := len(changedLines(t, []byte(lock), up.Content)); n != 2 {
		t.Errorf("%d lines changed, want the staging version and the digest", n)
	}
	// Bumping again from there works the same way.
	again, err := SetVersion(after, "ingress-nginx", "4.12.0")
	if err != nil {
		t.Fatal(err)
	}
	up2, err := UpdateLock(up.Content, after, again, nil)
	if err != nil || !up2.DigestUpdated {
		t.Fatalf("second bump: %+v, %v", up2, err)
	}
	if string(up2.Content) != helmLock(t, string(again), old, "1.0.0-0.dev.git.3500.hdef5678", "4.12.0") {
		t.Errorf("second bump:\n%s", up2.Content)
	}
}

// A lock whose digest cannot be reproduced keeps its digest, gets the new
// versions, and says it must be regenerated.
func TestUpdateLockUnverifiableDigest(t *testing.T) {
	old := "1.0.0-0.dev.git.3478.habc1234"
	// The chart names its repository as `helm repo add` did; helm hashed
	// the URL it stands for, which this tool cannot know.
	chart := strings.Replace(lockedChart, "https://kubernetes.github.io/ingress-nginx", `"@ingress"`, 1)
	lock := helmLock(t, lockedChart, old, old, "4.11.3")
	after, err := SetVersion([]byte(chart), "ingress-nginx", "4.12.0")
	if err != nil {
		t.Fatal(err)
	}
	up, err := UpdateLock([]byte(lock), []byte(chart), after, nil)
	if err != nil {
		t.Fatal(err)
	}
	if up.DigestUpdated || up.Problem == "" {
		t.Fatalf("claims a digest it cannot know: %+v", up)
	}
	if n := changedLines(t, []byte(lock), up.Content); len(n) != 1 || !strings.Contains(strings.Split(string(up.Content), "\n")[n[0]], "4.12.0") {
		t.Errorf("want only the version line changed:\n%s", up.Content)
	}
}

func TestUpdateLockMismatch(t *testing.T) {
	lock := "dependencies:\n- name: binderhub\n  repository: x\n  version: 1.0.0\ndigest: sha256:00\n"
	after, err := SetVersion([]byte(lockedChart), "ingress-nginx", "4.12.0")
	if err != nil {
		t.Fatal(err)
	}
	up, err := UpdateLock([]byte(lock), []byte(lockedChart), after, nil)
	if err != nil {
		t.Fatal(err)
	}
	if up.DigestUpdated || !strings.Contains(up.Problem, "locks 1 dependencies where the chart file has 3") || string(up.Content) != lock {
		t.Errorf("mismatched lock: %+v", up)
	}
}

// A requirements.lock written by Helm 2 is hashed over the requirements
// alone; Helm 3 accepts that, so the same hash is kept.
func TestUpdateLockHelm2(t *testing.T) {
	req := "dependencies:\n- name: jupyterhub\n  version: 0.8.2\n  repository: https://jupyterhub.github.io/helm-chart\n"
	type dep struct {
		Name       string `json:"name"`
		Version    string `json:"version,omitempty"`
		Repository string `json:"repository"`
	}
	digest := func(version string) string {
		data, _ := json.Marshal(map[string][]dep{"dependencies": {{"jupyterhub", version, "https://jupyterhub.github.io/helm-chart"}}})
		sum := sha256.Sum256(data)
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	lock := "dependencies:\n- name: jupyterhub\n  repository: https://jupyterhub.github.io/helm-chart\n  version: 0.8.2\ndigest: " + digest("0.8.2") + "\n"
	after, err := SetVersion([]byte(req), "jupyterhub", "0.9.0")
	if err != nil {
		t.Fatal(err)
	}
	up, err := UpdateLock([]byte(lock), []byte(req), after, nil)
	if err != nil || !up.DigestUpdated {
		t.Fatalf("%+v, %v", up, err)
	}
	want := "dependencies:\n- name: jupyterhub\n  repository: https://jupyterhub.github.io/helm-chart\n  version: 0.9.0\ndigest: " + digest("0.9.0") + "\n"
	if string(up.Content) != want {
		t.Errorf("got\n%s\nwant\n%s", up.Content, want)
	}
}

func TestLockPath(t *testing.T) {
	for in, want := range map[string]string{
		"hub/Chart.yaml":        "hub/Chart.lock",
		"Chart.yaml":            "Chart.lock",
		"a/b/requirements.yaml": "a/b/requirements.lock",
	} {
		if got := LockPath(in); got != want {
			t.Errorf("LockPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// digestLine is a lock file's digest line.
func digestLine(t *testing.T, lock string) string {
	t.Helper()
	for _, l := range strings.Split(lock, "\n") {
		if strings.HasPrefix(l, "digest: ") {
			return l
		}
	}
	t.Fatalf("no digest in\n%s", lock)
	return ""
}

// TestUpdateLockResolvedVersions: the lock gets the version a bump
// resolves to, as the repository spells it, never a range; the digest is
// helm's over the chart file with the range.
func TestUpdateLockResolvedVersions(t *testing.T) {
	chart := strings.Replace(lockedChart, "version: 4.11.3", `version: "~4.11.0"`, 1)
	tests := []struct {
		name, chart, dep, pin string
		locked                map[string]string
		lockedBefore          [3]string
		want                  [3]string
	}{
		{"a range locks the version it resolves to", chart, "ingress-nginx", "~4.12.0", map[string]string{"ingress-nginx": "4.12.0"},
			[3]string{"1.0.0-0.dev.git.3478.habc1234", "1.0.0-0.dev.git.3478.habc1234", "4.11.3"},
			[3]string{"1.0.0-0.dev.git.3478.habc1234", "1.0.0-0.dev.git.3478.habc1234", "4.12.0"}},
		{"a bare pin locks the repository's v", lockedChart, "ingress-nginx", "4.12.0", map[string]string{"ingress-nginx": "v4.12.0"},
			[3]string{"1.0.0-0.dev.git.3478.habc1234", "1.0.0-0.dev.git.3478.habc1234", "v4.11.3"},
			[3]string{"1.0.0-0.dev.git.3478.habc1234", "1.0.0-0.dev.git.3478.habc1234", "v4.12.0"}},
		{"an alias is looked up by its key", lockedChart, "staging", "1.0.0-0.dev.git.3500.hdef5678", map[string]string{"staging": "1.0.0-0.dev.git.3500.hdef5678"},
			[3]string{"1.0.0-0.dev.git.3478.habc1234", "1.0.0-0.dev.git.3478.habc1234", "4.11.3"},
			[3]string{"1.0.0-0.dev.git.3478.habc1234", "1.0.0-0.dev.git.3500.hdef5678", "4.11.3"}},
		{"a range that admits the newest already: only the lock moves", chart, "ingress-nginx", "~4.11.0", map[string]string{"ingress-nginx": "4.11.5"},
			[3]string{"1.0.0-0.dev.git.3478.habc1234", "1.0.0-0.dev.git.3478.habc1234", "4.11.3"},
			[3]string{"1.0.0-0.dev.git.3478.habc1234", "1.0.0-0.dev.git.3478.habc1234", "4.11.5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lock := helmLock(t, tt.chart, tt.lockedBefore[:]...)
			after, err := SetVersion([]byte(tt.chart), tt.dep, tt.pin)
			if err != nil {
				t.Fatal(err)
			}
			up, err := UpdateLock([]byte(lock), []byte(tt.chart), after, tt.locked)
			if err != nil || !up.DigestUpdated {
				t.Fatalf("%+v, %v", up, err)
			}
			if want := helmLock(t, string(after), tt.want[:]...); string(up.Content) != want {
				t.Errorf("lock:\n%s\nwant:\n%s", up.Content, want)
			}
		})
	}
	// A range with no resolved version is refused, never locked.
	lock := helmLock(t, chart, "1.0.0-0.dev.git.3478.habc1234", "1.0.0-0.dev.git.3478.habc1234", "4.11.3")
	after, err := SetVersion([]byte(chart), "ingress-nginx", "~4.12.0")
	if err != nil {
		t.Fatal(err)
	}
	if up, err := UpdateLock([]byte(lock), []byte(chart), after, nil); err == nil || !strings.Contains(err.Error(), `ingress-nginx is now "~4.12.0", not a version`) {
		t.Errorf("a range locked without its version: %+v, %v", up, err)
	}
}

// TestUpdateLockHelmRanges: helm's own test chart pins ranges (">= 0.0.1")
// and locks v versions; bumping one range keeps the digest helm's.
func TestUpdateLockHelmRanges(t *testing.T) {
	chart := "apiVersion: v2\nname: parent-chart\nversion: v0.1.0\ndependencies:\n" +
		"  - name: dev\n    repository: \"file://envs/dev\"\n    version: \">= 0.0.1\"\n    condition: dev.enabled,global.dev.enabled\n    tags:\n      - dev\n    import-values:\n      - data\n\n" +
		"  - name: prod\n    repository: \"file://envs/prod\"\n    version: \">= 0.0.1\"\n    condition: prod.enabled,global.prod.enabled\n    tags:\n      - prod\n    import-values:\n      - data"
	lock := "dependencies:\n- name: dev\n  repository: file://envs/dev\n  version: v0.1.0\n- name: prod\n  repository: file://envs/prod\n  version: v0.1.0\n" +
		"digest: sha256:9403fc24f6cf9d6055820126cf7633b4bd1fed3c77e4880c674059f536346182\ngenerated: \"2020-02-03T10:38:51.180474+01:00\"\n"
	after, err := SetVersion([]byte(chart), "dev", ">= 0.2.0")
	if err != nil {
		t.Fatal(err)
	}
	up, err := UpdateLock([]byte(lock), []byte(chart), after, map[string]string{"dev": "v0.2.0"})
	if err != nil || !up.DigestUpdated {
		t.Fatalf("%+v, %v", up, err)
	}
	if got, want := digestLine(t, string(up.Content)), digestLine(t, helmLock(t, string(after), "v0.2.0", "v0.1.0")); got != want {
		t.Errorf("digest %s, helm computes %s", got, want)
	}
	if n := changedLines(t, []byte(lock), up.Content); len(n) != 2 || !strings.Contains(string(up.Content), "version: v0.2.0\n- name: prod") {
		t.Errorf("lines %v changed:\n%s", n, up.Content)
	}
}
