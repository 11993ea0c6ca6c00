package chartfile

import (
	"strings"
	"testing"
)

// withSkipped is a chart file whose entries include ones helm skips,
// between ones that are fine.
const withSkipped = `apiVersion: v2
name: hub
version: 0.1.0
dependencies:
  - name: jupyterhub
    version: 3.3.7
    repository: https://jupyterhub.github.io/helm-chart
  - version: 1.0.0            # no name
    repository: https://example.com/charts
  - just-a-string
  -
  - name: [not, a, string]
    version: 1.0.0
  - name: redis
    version: 17.0.0
    repository: {url: https://charts.bitnami.com/bitnami}
  - name: dup
    version: 1.0.0
    version: 1.0.1
  - name: ingress-nginx
    version: '4.11.3'   # keep
    repository: https://kubernetes.github.io/ingress-nginx
`

// TestParseSkipsUnreadableEntries: each unreadable entry is kept in its
// place with Skipped saying why (named when its name reads); the others
// read and edit as if it were not there.
func TestParseSkipsUnreadableEntries(t *testing.T) {
	f, err := Parse([]byte(withSkipped))
	if err != nil {
		t.Fatalf("one unreadable entry failed the file: %v", err)
	}
	want := []struct {
		name, skip string // skip "" means readable
	}{
		{"jupyterhub", ""},
		{"", "line 8: dependency 2: has no name"},
		{"", "line 10: dependency 3: is a scalar, want a mapping"},
		{"", "dependency 4: is null, want a mapping"},
		{"", "line 12: dependency 5: name is a list, want a string"},
		{"redis", "line 14: dependency 6: repository is a mapping, want a string"},
		{"dup", `line 17: dependency 7: key "version" appears twice (lines 18 and 19)`},
		{"ingress-nginx", ""},
	}
	if len(f.Dependencies) != len(want) {
		t.Fatalf("%d entries, want %d", len(f.Dependencies), len(want))
	}
	for i, w := range want {
		d := f.Dependencies[i]
		err := d.Skipped()
		switch {
		case d.Name != w.name:
			t.Errorf("entry %d: name %q, want %q", i+1, d.Name, w.name)
		case w.skip == "" && err != nil:
			t.Errorf("entry %d (%s) skipped: %v", i+1, d.Name, err)
		case w.skip != "" && (err == nil || !strings.Contains(err.Error(), w.skip)):
			t.Errorf("entry %d: Skipped = %v, want %q", i+1, err, w.skip)
		case w.skip != "" && d.CanSetVersion() == nil:
			t.Errorf("entry %d: skipped but its version can be set", i+1)
		}
	}
	for dep, version := range map[string]string{"jupyterhub": "3.3.8", "ingress-nginx": "^4.12.0"} {
		out, err := SetVersion([]byte(withSkipped), dep, version)
		if err != nil {
			t.Fatalf("%s: %v", dep, err)
		}
		if lines := changedLines(t, []byte(withSkipped), out); len(lines) != 1 || !strings.Contains(string(out), version) {
			t.Errorf("%s: changed lines %v:\n%s", dep, lines, out)
		}
	}
	for _, dep := range []string{"redis", "dup"} {
		if _, err := SetVersion([]byte(withSkipped), dep, "9.9.9"); err == nil || !strings.Contains(err.Error(), "cannot set version") {
			t.Errorf("%s, a skipped entry: SetVersion: %v", dep, err)
		}
	}
}
