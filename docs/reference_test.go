package docs

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/headless"
)

// TestConfigurationReference: docs/configuration.md's key tables (a table
// whose first header cell is "key") name every key backend/config decodes,
// and nothing else.
func TestConfigurationReference(t *testing.T) {
	want := keys(reflect.TypeFor[config.Config](), "yaml")
	got := tableKeys(t, "configuration.md", "key")
	compare(t, "configuration.md", "key", want, got)
}

// TestReportReference: docs/report.md's field tables (first header cell
// "field") name every field of headless.Report, recursively, and nothing
// else.
func TestReportReference(t *testing.T) {
	want := keys(reflect.TypeFor[headless.Report](), "json")
	got := tableKeys(t, "report.md", "field")
	compare(t, "report.md", "field", want, got)
}

func compare(t *testing.T, page, what string, want, got []string) {
	t.Helper()
	if len(got) == 0 {
		t.Fatalf("%s: no %s table found", page, what)
	}
	for _, k := range want {
		if !slices.Contains(got, k) {
			t.Errorf("%s: %s `%s` is not documented: add a row for it", page, what, k)
		}
	}
	for _, k := range got {
		if !slices.Contains(want, k) {
			t.Errorf("%s: documents %s `%s`, which the code no longer has", page, what, k)
		}
	}
	seen := map[string]bool{}
	for _, k := range got {
		if seen[k] {
			t.Errorf("%s: %s `%s` has two rows", page, what, k)
		}
		seen[k] = true
	}
}

var timeType = reflect.TypeFor[time.Time]()

// keys lists the dotted paths of every key the struct t is decoded from,
// by its tag (yaml or json), recursively: a list of mappings adds "[]", a
// map of mappings ".<name>". Mappings are listed as well as their keys. A
// struct none of whose fields carries the tag (config.Age, config.Size,
// config.Regexp: they decode themselves) and time.Time are values.
func keys(t reflect.Type, tag string) []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get(tag), ",")
			if name == "-" {
				continue
			}
			ft := deref(f.Type)
			inline := strings.Contains(","+opts+",", ",inline,") ||
				(tag == "json" && f.Anonymous && name == "")
			if inline && isMapping(ft, tag) {
				walk(ft, prefix)
				continue
			}
			if name == "" {
				if tag == "yaml" {
					name = strings.ToLower(f.Name)
				} else {
					name = f.Name
				}
			}
			path := prefix + name
			out = append(out, path)
			switch {
			case isMapping(ft, tag):
				walk(ft, path+".")
			case (ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array) && isMapping(deref(ft.Elem()), tag):
				walk(deref(ft.Elem()), path+"[].")
			case ft.Kind() == reflect.Map && isMapping(deref(ft.Elem()), tag):
				walk(deref(ft.Elem()), path+".<name>.")
			}
		}
	}
	walk(t, "")
	return out
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// isMapping: a struct decoded field by field, by tag.
func isMapping(t reflect.Type, tag string) bool {
	if t.Kind() != reflect.Struct || t == timeType {
		return false
	}
	for i := range t.NumField() {
		if _, ok := t.Field(i).Tag.Lookup(tag); ok {
			return true
		}
	}
	return false
}

var codeCell = regexp.MustCompile("^`([^`]+)`$")

// tableKeys reads the first column of every table in page whose first
// header cell is header. Each such cell must be one code span, the key's
// dotted path.
func tableKeys(t *testing.T, page, header string) []string {
	t.Helper()
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	fence := false
	for n, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		if fence {
			continue
		}
		cells := cells(line)
		switch {
		case cells == nil:
			in = false
		case !in && strings.EqualFold(cells[0], header):
			in = true
		case in && strings.Trim(cells[0], "-: ") == "":
			// the delimiter row
		case in:
			m := codeCell.FindStringSubmatch(cells[0])
			if m == nil {
				t.Errorf("%s:%d: the first cell of a %s table must be one code span, got %q", page, n+1, header, cells[0])
				continue
			}
			out = append(out, m[1])
		}
	}
	return out
}

// cells splits a table row into its trimmed cells; nil for a line that is
// not a table row.
func cells(line string) []string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") {
		return nil
	}
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	// A \| inside a cell is not a separator.
	parts := strings.Split(strings.ReplaceAll(line, `\|`, "\x00"), "|")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.TrimSpace(p), "\x00", `\|`)
	}
	return parts
}

// TestKeysWalk: the walk itself, on a struct with every shape it meets.
func TestKeysWalk(t *testing.T) {
	type leaf struct{ time.Duration } // decodes itself: a value
	type inner struct {
		A string `yaml:"a" json:"a"`
	}
	type Embedded struct {
		E int `yaml:"e" json:"e"`
	}
	type outer struct {
		Embedded `yaml:",inline"`
		Leaf     leaf             `yaml:"leaf" json:"leaf"`
		Ptr      *inner           `yaml:"ptr" json:"ptr,omitempty"`
		List     []inner          `yaml:"list" json:"list"`
		Map      map[string]inner `yaml:"map" json:"map"`
		Counts   map[string]int   `yaml:"counts" json:"counts"`
		When     time.Time        `yaml:"when" json:"when"`
		Hidden   string           `yaml:"-" json:"-"`
		unexp    string
	}
	_ = outer{}.unexp
	want := []string{"e", "leaf", "ptr", "ptr.a", "list", "list[].a", "map", "map.<name>.a", "counts", "when"}
	for _, tag := range []string{"yaml", "json"} {
		if got := keys(reflect.TypeFor[outer](), tag); !slices.Equal(got, want) {
			t.Errorf("%s: keys = %q, want %q", tag, got, want)
		}
	}
}
