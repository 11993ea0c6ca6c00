package chartfile

import (
	"strings"
	"testing"
)

// A chart listed twice, one copy aliased: each row is found by its key
// (the alias, else the name) and only its own version line changes.
func TestSetVersionAliasedCopyOfTheSameChart(t *testing.T) {
	in := "dependencies:\n" +
		"- name: binderhub\n  version: 1.0.0\n  repository: https://example.org/charts\n" +
		"- name: binderhub\n  alias: binderhub-staging\n  version: 1.0.0\n  repository: https://example.org/charts\n"
	got, err := SetVersion([]byte(in), "binderhub", "1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(in, "version: 1.0.0", "version: 1.1.0", 1)
	if string(got) != want {
		t.Errorf("bump of the unaliased copy:\n got %q\nwant %q", got, want)
	}
	got, err = SetVersion([]byte(in), "binderhub-staging", "1.2.0")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndex(in, "version: 1.0.0")
	want = in[:i] + "version: 1.2.0" + in[i+len("version: 1.0.0"):]
	if string(got) != want {
		t.Errorf("bump of the aliased copy:\n got %q\nwant %q", got, want)
	}
}

// YAML aliases in any field and merge keys are resolved, so the file
// parses and every dependency is seen with its repository.
func TestParseResolvesAliasesAndMergeKeys(t *testing.T) {
	in := `apiVersion: v2
x-repo: &repo https://charts.example.org
x-common: &common
  repository: https://merged.example.org
  condition: common.enabled
x-more: &more
  repository: https://second.example.org
  tags: [x]
dependencies:
  - name: a
    version: 1.0.0
    repository: *repo
    condition: &cond a.enabled
  - <<: *common
    name: b
    version: "2.0.0"
  - <<: [*more, *common]
    name: c
    version: 3.0.0
  - <<: *common
    name: d
    version: 4.0.0
    repository: https://explicit.example.org
`
	f, err := Parse([]byte(in))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := map[string]string{
		"a": "https://charts.example.org",
		"b": "https://merged.example.org",
		"c": "https://second.example.org", // the first merged mapping wins
		"d": "https://explicit.example.org",
	}
	if len(f.Dependencies) != len(want) {
		t.Fatalf("got %d dependencies, want %d", len(f.Dependencies), len(want))
	}
	for _, d := range f.Dependencies {
		if d.Repository != want[d.Name] {
			t.Errorf("%s: repository %q, want %q", d.Name, d.Repository, want[d.Name])
		}
		if err := d.CanSetVersion(); err != nil {
			t.Errorf("%s: version cannot be set: %v", d.Name, err)
		}
		out, err := SetVersion([]byte(in), d.Name, "9.9.9")
		if err != nil {
			t.Errorf("%s: %v", d.Name, err)
			continue
		}
		if n := len(changedLines(t, []byte(in), out)); n != 1 {
			t.Errorf("%s: %d lines changed, want 1", d.Name, n)
		}
	}
	if f.Dependencies[1].Condition != "common.enabled" {
		t.Errorf("b: merged condition %q", f.Dependencies[1].Condition)
	}
}

// A version that other places share through an anchor is refused with a
// message naming the lines, never edited in the wrong place; the rest of
// the file still works.
func TestSharedVersionsRefused(t *testing.T) {
	tests := []struct {
		name, in, dep string
		want          []string
	}{
		{"alias version", "v: &v 1.0.0\ndependencies:\n- name: a\n  version: *v\n  repository: https://x\n- name: b\n  version: 1.0.0\n",
			"a", []string{"alias *v on line 4", "anchor &v on line 1"}},
		{"version from a merge key", "dependencies:\n- &base\n  name: a\n  version: 1.0.0\n  repository: https://x\n- <<: *base\n  alias: b\n",
			"b", []string{"version of b", "merge key << on line 6", "written on line 4"}},
		{"version inside a shared mapping", "dependencies:\n- &base\n  name: a\n  version: 1.0.0\n  repository: https://x\n- <<: *base\n  alias: b\n",
			"a", []string{"anchor &base", "line 2", "also used on line 6"}},
		{"aliased entry", "x: &d {name: a, version: 1.0.0}\ndependencies:\n- *d\n- name: b\n  version: 1.0.0\n",
			"a", []string{"alias *d", "line 3"}},
		{"anchored version used elsewhere", "dependencies:\n- name: a\n  version: &v 1.0.0\n- name: b\n  version: *v\n",
			"a", []string{"anchor &v", "also used on line 5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("the whole file failed: %v", err)
			}
			d, err := f.find(tt.dep)
			if err != nil {
				t.Fatal(err)
			}
			err = d.CanSetVersion()
			if err == nil {
				t.Fatalf("version of %s can be set; want a refusal", tt.dep)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if out, err := SetVersion([]byte(tt.in), tt.dep, "2.0.0"); err == nil {
				t.Errorf("SetVersion edited it:\n%s", out)
			}
		})
	}
}

func TestMergeKeyErrorsNameTheLine(t *testing.T) {
	in := "dependencies:\n- name: a\n  version: 1.0.0\n  <<: 5\n"
	f, err := Parse([]byte(in))
	if err != nil {
		t.Fatalf("Parse: %v; want the entry skipped, not the file", err)
	}
	err = f.Dependencies[0].Skipped()
	if err == nil || !strings.Contains(err.Error(), "line 4") || !strings.Contains(err.Error(), "<<") || f.Dependencies[0].Name != "a" {
		t.Fatalf("Skipped = %v (name %q); want an error naming the merge key's line 4", err, f.Dependencies[0].Name)
	}
}
