package chartrepo

import (
	"bytes"
	"encoding/gob"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// indent puts text under an entry's annotations, as helm writes them.
func indent(text string) string {
	return "      " + strings.ReplaceAll(strings.TrimRight(text, "\n"), "\n", "\n      ")
}

func TestChangesAnnotation(t *testing.T) {
	tests := []struct {
		name        string
		annotations string // the entry's annotations mapping, "" for none
		want        []model.Change
		problem     string // substring of ChangesProblem; "" for none
	}{
		{name: "no annotations"},
		{name: "other annotations only", annotations: "artifacthub.io/license: Apache-2.0"},
		{
			name:        "plain strings",
			annotations: "artifacthub.io/changes: |\n" + indent("- 'Make: Add `helm-test` target. (#13659)'\n- Update Ingress-Nginx version controller-v1.13.1"),
			want:        []model.Change{{Description: "Make: Add `helm-test` target. (#13659)"}, {Description: "Update Ingress-Nginx version controller-v1.13.1"}},
		},
		{
			name: "kinds, descriptions and links",
			annotations: "artifacthub.io/changes: |\n" + indent(`- kind: added
  description: Cool feature
- kind: Fixed
  description: Minor bug
  links:
    - name: GitHub Issue
      url: https://github.com/org/repo/issues/1
    - url: https://example.org/x
- kind: security
  description: CVE-2024-1`),
			want: []model.Change{
				{Kind: "added", Description: "Cool feature"},
				{Kind: "fixed", Description: "Minor bug", Links: []model.ChangeLink{{Name: "GitHub Issue", URL: "https://github.com/org/repo/issues/1"}, {URL: "https://example.org/x"}}},
				{Kind: "security", Description: "CVE-2024-1"},
			},
		},
		{
			name:        "a list written directly instead of in a string",
			annotations: "artifacthub.io/changes:\n  - kind: removed\n    description: Old flag",
			want:        []model.Change{{Kind: "removed", Description: "Old flag"}},
		},
		{name: "empty string", annotations: `artifacthub.io/changes: ""`},
		{name: "not YAML", annotations: "artifacthub.io/changes: \"- [unclosed\"", problem: "not YAML"},
		{name: "not a list", annotations: "artifacthub.io/changes: just a sentence", problem: "not a YAML list"},
		{name: "unknown kind", annotations: "artifacthub.io/changes: |\n" + indent("- kind: feature\n  description: x"), problem: `entry 1 (line 1): kind "feature" is not one of added, changed`},
		{name: "no description", annotations: "artifacthub.io/changes: |\n" + indent("- a\n- kind: added"), problem: "entry 2 (line 2): it has no description"},
		{name: "link without url", annotations: "artifacthub.io/changes: |\n" + indent("- kind: added\n  description: x\n  links: [{name: n}]"), problem: "link 1 has no url"},
		{name: "nested list", annotations: "artifacthub.io/changes: |\n" + indent("- [a, b]"), problem: "neither a string nor a mapping"},
		{name: "annotations not a mapping", annotations: "", problem: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entry := "  - version: 1.1.0\n    sources: [https://github.com/o/r]\n"
			if tt.annotations != "" {
				entry += "    annotations:\n" + "      " + strings.ReplaceAll(tt.annotations, "\n", "\n      ") + "\n"
			}
			if tt.name == "annotations not a mapping" {
				entry += "    annotations: [not, a, mapping]\n"
			}
			ix, err := ParseIndex([]byte("apiVersion: v1\nentries:\n  app:\n" + entry + "  - version: 1.0.0\n"))
			if err != nil {
				t.Fatal(err)
			}
			vs := ix.Entries["app"]
			if len(vs) != 2 || vs[0].Version != "1.1.0" || len(vs[0].Sources) != 1 {
				t.Fatalf("the entry was not kept whole: %+v", vs)
			}
			v := vs[0]
			if !reflect.DeepEqual(v.Changes, tt.want) {
				t.Errorf("changes = %+v, want %+v", v.Changes, tt.want)
			}
			switch {
			case tt.problem == "" && v.ChangesProblem != "":
				t.Errorf("problem %q, want none", v.ChangesProblem)
			case tt.problem != "" && !strings.Contains(v.ChangesProblem, tt.problem):
				t.Errorf("problem %q, want it to say %q", v.ChangesProblem, tt.problem)
			case tt.problem != "" && !strings.HasPrefix(v.ChangesProblem, "its artifacthub.io/changes annotation was skipped: "):
				t.Errorf("problem %q does not name the annotation", v.ChangesProblem)
			}
		})
	}
}

// TestParsedCacheFormat: a parsed index kept by a version that did not
// read annotations is parsed again.
func TestParsedCacheFormat(t *testing.T) {
	c := &Client{cacheDir: t.TempDir()}
	meta := cacheMeta{URL: "https://charts.example.org/index.yaml", ETag: `"1"`}
	ix := &Index{Entries: map[string][]model.ChartVersion{"app": {{Version: "1.0.0", Changes: []model.Change{{Description: "x"}}}}}}
	if err := c.writeParsed(meta.URL, meta, ix); err != nil {
		t.Fatal(err)
	}
	got := c.readParsed(meta.URL, meta)
	if got == nil || len(got.Entries["app"]) != 1 || got.Entries["app"][0].Changes[0].Description != "x" {
		t.Fatalf("current format not read back: %+v", got)
	}
	old := parsedIndex{Meta: meta, Entries: ix.Entries} // Format 0
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(old); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.cacheDir, cacheKey(meta.URL)+".gob"), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := c.readParsed(meta.URL, meta); got != nil {
		t.Errorf("an older format was used: %+v", got)
	}
}
