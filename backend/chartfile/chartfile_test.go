package chartfile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/yamledit"
)

func mybinderChart(t testing.TB) []byte {
	t.Helper()
	// mybinder.org's real Chart.yaml, kept in testdata/ at the repository's root.
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mybinder-Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// changedLines returns the indexes of the lines that differ between a and
// b, which must have the same number of lines. Lines are split after "\n",
// so a CRLF line keeps its "\r".
func changedLines(t *testing.T, a, b []byte) []int {
	t.Helper()
	la, lb := bytes.SplitAfter(a, []byte("\n")), bytes.SplitAfter(b, []byte("\n"))
	if len(la) != len(lb) {
		t.Fatalf("line count changed from %d to %d", len(la), len(lb))
	}
	var out []int
	for i := range la {
		if !bytes.Equal(la[i], lb[i]) {
			out = append(out, i)
		}
	}
	return out
}

func TestParseMybinder(t *testing.T) {
	data := mybinderChart(t)
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if f.APIVersion != "v2" {
		t.Errorf("APIVersion = %q, want v2", f.APIVersion)
	}
	want := []struct {
		name, version, repo string
		quote               QuoteStyle
	}{
		{"binderhub", "1.0.0-0.dev.git.3983.h383374de", "https://jupyterhub.github.io/helm-chart", DoubleQuoted},
		{"traefik", "41.1.1", "oci://ghcr.io/traefik/helm", DoubleQuoted},
		{"prometheus", "29.20.0", "https://prometheus-community.github.io/helm-charts", DoubleQuoted},
		{"grafana", "10.5.15", "https://grafana.github.io/helm-charts", DoubleQuoted},
		{"cryptnono", "0.3.2-0.dev.git.267.h766bf8f", "https://cryptnono.github.io/cryptnono/", DoubleQuoted},
		{"cluster-autoscaler", "9.21.1", "https://kubernetes.github.io/autoscaler", Plain},
	}
	if len(f.Dependencies) < len(want) {
		t.Fatalf("got %d dependencies, want at least %d", len(f.Dependencies), len(want))
	}
	lines := bytes.Split(data, []byte("\n"))
	for i, w := range want {
		d := f.Dependencies[i]
		if d.Name != w.name || d.Version != w.version || d.Repository != w.repo || d.Quote != w.quote {
			t.Errorf("dependency %d = %+v, want %+v", i, d, w)
		}
		// The recorded position points at the version token in the file.
		line := string(lines[d.VersionPos.Line-1])
		if !strings.HasPrefix(line[d.VersionPos.Column-1:], string(data[d.VersionPos.Offset:d.VersionEnd])) {
			t.Errorf("%s: line/column %d:%d disagree with offset %d", d.Name, d.VersionPos.Line, d.VersionPos.Column, d.VersionPos.Offset)
		}
		tok := string(data[d.VersionPos.Offset:d.VersionEnd])
		if strings.Trim(tok, `"'`) != w.version {
			t.Errorf("%s: token at offset is %q", d.Name, tok)
		}
	}
}

func TestSetVersionMybinder(t *testing.T) {
	lf := mybinderChart(t)
	crlf := bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n"))
	f, err := Parse(lf)
	if err != nil {
		t.Fatal(err)
	}
	for _, input := range []struct {
		name string
		data []byte
	}{{"LF", lf}, {"CRLF", crlf}} {
		for _, d := range f.Dependencies {
			t.Run(input.name+"/"+d.Name, func(t *testing.T) {
				const newVersion = "99.1.0-0.dev.git.1.habcdef1"
				out, err := SetVersion(input.data, d.Name, newVersion)
				if err != nil {
					t.Fatal(err)
				}
				changed := changedLines(t, input.data, out)
				if len(changed) != 1 || changed[0] != d.VersionPos.Line-1 {
					t.Fatalf("changed lines %v, want only the version line %d", changed, d.VersionPos.Line)
				}
				line := string(bytes.SplitAfter(out, []byte("\n"))[changed[0]])
				if !strings.Contains(line, "version: ") || !strings.Contains(line, newVersion) {
					t.Errorf("changed line %q is not the version line", line)
				}
				q := map[QuoteStyle]string{Plain: "", DoubleQuoted: `"`, SingleQuoted: "'"}[d.Quote]
				if !strings.Contains(line, q+newVersion+q) {
					t.Errorf("changed line %q lost its quote style %q", line, q)
				}
				if input.name == "CRLF" {
					if bytes.Count(out, []byte("\r\n")) != bytes.Count(out, []byte("\n")) {
						t.Error("a line lost its CRLF ending")
					}
				}
				g, err := Parse(out)
				if err != nil {
					t.Fatalf("re-parse: %v", err)
				}
				for i, gd := range g.Dependencies {
					wantV := f.Dependencies[i].Version
					if gd.Name == d.Name {
						wantV = newVersion
					}
					if gd.Version != wantV {
						t.Errorf("after bump %s has version %q, want %q", gd.Name, gd.Version, wantV)
					}
				}
			})
		}
	}
}

func TestSetVersionStyles(t *testing.T) {
	tests := []struct {
		name, in, dep, version, want string
	}{
		{
			name: "single quotes kept",
			in:   "dependencies:\n  - name: a\n    version: '1.0.0' # pinned\n",
			dep:  "a", version: "1.1.0",
			want: "dependencies:\n  - name: a\n    version: '1.1.0' # pinned\n",
		},
		{
			name: "double quotes kept",
			in:   "dependencies:\n- version: \"1.0.0\"\n  name: a\n",
			dep:  "a", version: "1.1.0",
			want: "dependencies:\n- version: \"1.1.0\"\n  name: a\n",
		},
		{
			name: "plain kept, comment and spacing kept",
			in:   "dependencies:\n  - name: a\n    version:   1.0.0    # keep\n",
			dep:  "a", version: "2.0.0-beta.1",
			want: "dependencies:\n  - name: a\n    version:   2.0.0-beta.1    # keep\n",
		},
		{
			name: "flow style",
			in:   "dependencies: [{name: a, version: 1.0.0, repository: x}, {name: b, version: 2.0.0}]\n",
			dep:  "b", version: "2.1.0",
			want: "dependencies: [{name: a, version: 1.0.0, repository: x}, {name: b, version: 2.1.0}]\n",
		},
		{
			name: "alias picks one of two entries of the same chart",
			in:   "dependencies:\n- name: a\n  alias: one\n  version: 1.0.0\n- name: a\n  alias: two\n  version: 1.0.0\n",
			dep:  "two", version: "1.2.0",
			want: "dependencies:\n- name: a\n  alias: one\n  version: 1.0.0\n- name: a\n  alias: two\n  version: 1.2.0\n",
		},
		{
			name: "non-ASCII before the token on the same line",
			in:   "dependencies:\n- {name: é, version: 1.0.0}\n",
			dep:  "é", version: "1.0.1",
			want: "dependencies:\n- {name: é, version: 1.0.1}\n",
		},
		{
			name: "byte order mark and tabs in comments",
			in:   "\ufeffapiVersion: v2\n#\tnote\ndependencies:\n- name: a\n  version: \"1.0.0\"\n",
			dep:  "a", version: "1.0.1",
			want: "\ufeffapiVersion: v2\n#\tnote\ndependencies:\n- name: a\n  version: \"1.0.1\"\n",
		},
		{
			name: "unicode line separator in a comment",
			in:   "# a\u2028\ndependencies:\n- name: a\n  version: 1.0.0\n",
			dep:  "a", version: "1.0.1",
			want: "# a\u2028\ndependencies:\n- name: a\n  version: 1.0.1\n",
		},
		{
			name: "lone CR line endings",
			in:   "dependencies:\r- name: a\r  version: 1.0.0\r",
			dep:  "a", version: "1.0.1",
			want: "dependencies:\r- name: a\r  version: 1.0.1\r",
		},
		{
			name: "requirements.yaml",
			in:   "dependencies:\n- name: jupyterhub\n  version: 0.8.2\n  repository: https://jupyterhub.github.io/helm-chart\n",
			dep:  "jupyterhub", version: "0.9.0",
			want: "dependencies:\n- name: jupyterhub\n  version: 0.9.0\n  repository: https://jupyterhub.github.io/helm-chart\n",
		},
		{
			name: "escaped double-quoted token",
			in:   "dependencies:\n- name: a\n  version: \"\\x31.0.0\"\n",
			dep:  "a", version: "2.0.0",
			want: "dependencies:\n- name: a\n  version: \"2.0.0\"\n",
		},
		// Ranges: quotes and comments kept; a plain token YAML would read
		// otherwise is double-quoted.
		{
			name: "caret stays plain",
			in:   "dependencies:\n- name: a\n  version: ^1.2.3 # minor updates\n",
			dep:  "a", version: "^2.1.0",
			want: "dependencies:\n- name: a\n  version: ^2.1.0 # minor updates\n",
		},
		{
			name: "tilde in single quotes",
			in:   "dependencies:\n- name: a\n  version: '~1.7.0'\n",
			dep:  "a", version: "~1.8.0",
			want: "dependencies:\n- name: a\n  version: '~1.8.0'\n",
		},
		{
			name: "comparisons in double quotes",
			in:   "dependencies:\n- name: a\n  version: \">=1.2.3 <2\"\n",
			dep:  "a", version: ">=2.1.0 <3",
			want: "dependencies:\n- name: a\n  version: \">=2.1.0 <3\"\n",
		},
		{
			name: "a plain > would start a folded scalar: quoted",
			in:   "dependencies:\n- name: a\n  version: 1.7.1   # pinned\n",
			dep:  "a", version: ">=1.8.0 <2",
			want: "dependencies:\n- name: a\n  version: \">=1.8.0 <2\"   # pinned\n",
		},
		{
			name: "a plain * would be an alias: quoted",
			in:   "dependencies:\n- name: a\n  version: 1.x\n",
			dep:  "a", version: "*",
			want: "dependencies:\n- name: a\n  version: \"*\"\n",
		},
		{
			name: "|| is plain in block style",
			in:   "dependencies:\n- name: a\n  version: ^1.0.0\n",
			dep:  "a", version: "^1.0.0 || ^2.0.0",
			want: "dependencies:\n- name: a\n  version: ^1.0.0 || ^2.0.0\n",
		},
		{
			name: "a comma in a flow mapping: quoted",
			in:   "dependencies: [{name: a, version: ^1.0.0, repository: x}]\n",
			dep:  "a", version: ">=2.0.0, <3.0.0",
			want: "dependencies: [{name: a, version: \">=2.0.0, <3.0.0\", repository: x}]\n",
		},
		{
			name: "x-range in a flow mapping stays plain",
			in:   "dependencies: [{name: a, version: 1.x}]\n",
			dep:  "a", version: "2.x",
			want: "dependencies: [{name: a, version: 2.x}]\n",
		},
		{
			name: "a version that reads as a number: quoted",
			in:   "dependencies:\n- name: a\n  version: 1.0.0\n",
			dep:  "a", version: "1.5",
			want: "dependencies:\n- name: a\n  version: \"1.5\"\n",
		},
		{
			name: "a v version",
			in:   "dependencies:\n- name: cert-manager\n  version: v1.7.1\n",
			dep:  "cert-manager", version: "v1.8.0",
			want: "dependencies:\n- name: cert-manager\n  version: v1.8.0\n",
		},
		{
			name: "integer version",
			in:   "dependencies:\n- name: a\n  version: 1\n",
			dep:  "a", version: "1.0.1",
			want: "dependencies:\n- name: a\n  version: 1.0.1\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SetVersion([]byte(tt.in), tt.dep, tt.version)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("SetVersion:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestSetVersionErrors(t *testing.T) {
	tests := []struct {
		name, in, dep, version, wantInErr string
	}{
		{"unknown dependency", "dependencies:\n- name: a\n  version: 1.0.0\n- name: b\n  version: 1.0.0\n", "c", "1.0.1",
			`dependency "c" not found; the chart file has: a, b`},
		{"no dependencies", "apiVersion: v2\nname: x\n", "a", "1.0.1", "has no dependencies"},
		{"duplicate name", "dependencies:\n- name: a\n  version: 1.0.0\n- name: a\n  version: 2.0.0\n", "a", "1.0.1",
			`dependency "a" appears 2 times (lines 2, 4)`},
		{"no version", "dependencies:\n- name: a\n", "a", "1.0.1", "has no version"},
		{"empty version", "dependencies:\n- name: a\n  version:\n", "a", "1.0.1", "has an empty version"},
		{"block scalar", "dependencies:\n- name: a\n  version: |\n    1.0.0\n", "a", "1.0.1", "block scalar"},
		{"multi-line plain", "dependencies:\n- name: a\n  version: 1.0\n    .0\n", "a", "1.0.1", "more than one line"},
		{"multi-line quoted", "dependencies:\n- name: a\n  version: \"1.0\n    .0\"\n", "a", "1.0.1", "more than one line"},
		{"tagged", "dependencies:\n- name: a\n  version: !!str 1.0.0\n", "a", "1.0.1", "explicit YAML tag"},
		{"anchored", "dependencies:\n- name: a\n  version: &v 1.0.0\n", "a", "1.0.1", "anchor"},
		{"alias version", "v: &v 1.0.0\ndependencies:\n- name: a\n  version: *v\n", "a", "1.0.1", "it is the YAML alias *v on line 4"},
		{"version is a list", "dependencies:\n- name: a\n  version: [1]\n", "a", "1.0.1", "version of a is a list"},
		{"duplicate key", "dependencies:\n- name: a\n  version: 1.0.0\n  version: 1.0.1\n", "a", "1.0.2", `key "version" appears twice (lines 3 and 4)`},
		{"dependencies not a list", "dependencies: {a: 1}\n", "a", "1.0.1", "line 1: dependencies is a mapping, want a list"},
		{"entry not a mapping", "dependencies:\n- a\n", "a", "1.0.1", "line 2: dependency 1: is a scalar, want a mapping"},
		{"nameless entry", "dependencies:\n- version: 1.0.0\n- name: b\n  version: 1.0.0\n", "a", "1.0.1",
			`dependency "a" not found; the chart file has: b; it cannot read chart file line 2: dependency 1: has no name`},
		{"not YAML", "dependencies: [\n", "a", "1.0.1", "parse chart file"},
		{"top level list", "- a\n", "a", "1.0.1", "top level is a list"},
		{"bad new version", "dependencies:\n- name: a\n  version: 1.0.0\n", "a", "1.0.0 # x", "a version holds only letters, digits and . - + _ space < > = ! ^ ~ * | ,"},
		{"empty new version", "dependencies:\n- name: a\n  version: 1.0.0\n", "a", "", "new version is empty"},
		{"skipped entry named", "dependencies:\n- name: a\n  version: 1.0.0\n  repository: [x]\n", "a", "1.0.1", "cannot set version: chart file line 2: dependency 1: repository is a list"},
		{"digest characters", "dependencies:\n- name: a\n  version: 1.0.0\n", "a", "sha256:00", `has ':'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := SetVersion([]byte(tt.in), tt.dep, tt.version)
			if err == nil {
				t.Fatalf("SetVersion succeeded with %q, want an error", out)
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("error %q does not mention %q", err, tt.wantInErr)
			}
		})
	}
}

func FuzzSetVersion(f *testing.F) {
	f.Add([]byte("dependencies:\n  - name: a\n    version: \"1.0.0\" # c\n"), "a", "1.2.3")
	f.Add([]byte("dependencies:\r\n- name: a\r\n  version: '1.0.0'\r\n"), "a", "1.2.3-rc.1")
	f.Add([]byte("dependencies: [{name: a, version: 1.0.0}]\n"), "a", "2.0.0+x")
	f.Add([]byte("\ufeff# é\u2028\ndependencies:\n- name: a\n  alias: b\n  version: \"\\t1\"\n"), "b", "0.0.1")
	f.Add(mybinderChart(f), "traefik", "42.0.0")
	f.Add([]byte("dependencies:\n- name: a\n  version: 1.0.0 # c\n- version: 2\n"), "a", ">=1.0.0 <2")
	f.Add([]byte("dependencies: [{name: a, version: ^1.0.0}]\n"), "a", "^1.0.0 || ^2.0.0")
	f.Fuzz(func(t *testing.T, in []byte, dep, version string) {
		out, err := SetVersion(in, dep, version)
		if err != nil {
			return
		}
		g, err := Parse(out)
		if err != nil {
			t.Fatalf("output does not parse: %v\nin:  %q\nout: %q", err, in, out)
		}
		d, err := g.find(dep)
		if err != nil {
			t.Fatalf("dependency lost: %v\nout: %q", err, out)
		}
		if d.Version != version {
			t.Fatalf("version reads back as %q, want %q\nin:  %q\nout: %q", d.Version, version, in, out)
		}
		// Exactly one line differs (lines split on any YAML line break).
		changed, same := yamledit.ChangedLines(in, out)
		if !same {
			t.Fatalf("line count changed\nin:  %q\nout: %q", in, out)
		}
		if len(changed) != 1 && !bytes.Equal(in, out) {
			t.Fatalf("%d lines changed\nin:  %q\nout: %q", len(changed), in, out)
		}
	})
}
