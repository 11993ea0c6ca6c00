package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// keySite is a key of some struct of the configuration, with a document
// builder that puts a mapping where that struct goes.
type keySite struct {
	path  string // of the struct: "registry.policy", "charts[0]", "" (the top)
	key   string
	doc   func(inner map[string]any) map[string]any
	known []string
	typ   reflect.Type // of the key's value
}

// keySites lists every key of every struct the configuration decodes
// into, so that a struct added later is covered without touching the test.
func keySites() []keySite {
	var out []keySite
	var walk func(t reflect.Type, path string, doc func(map[string]any) map[string]any)
	walk = func(t reflect.Type, path string, doc func(map[string]any) map[string]any) {
		fields := yamlFields(t)
		for _, k := range fields.names {
			ft := fields.types[k]
			out = append(out, keySite{path, k, doc, fields.names, ft})
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if (ft.Implements(unmarshalerType) || reflect.PointerTo(ft).Implements(unmarshalerType)) && !tagged(ft) {
				continue
			}
			elem := ft
			if ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map {
				elem = ft.Elem()
			}
			if (elem.Implements(unmarshalerType) || reflect.PointerTo(elem).Implements(unmarshalerType)) && !tagged(elem) {
				continue // protect: [Regexp]
			}
			switch {
			case ft.Kind() == reflect.Struct:
				walk(ft, join(path, k), func(in map[string]any) map[string]any { return doc(map[string]any{k: in}) })
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), join(path, k)+"[0]", func(in map[string]any) map[string]any { return doc(map[string]any{k: []any{in}}) })
			case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), join(path, k)+".hub", func(in map[string]any) map[string]any { return doc(map[string]any{k: map[string]any{"hub": in}}) })
			}
		}
	}
	walk(reflect.TypeFor[Config](), "", func(in map[string]any) map[string]any { return in })
	return out
}

// goWords are what a message must never say: Go's types and package.
var goWords = regexp.MustCompile(`config\.|\b(u?int(8|16|32|64)?|float(32|64)|bool|string|struct)\b|\[\]|map\[|not found in`)

// TestUnknownKeySuggestsClosest: a misspelt key of any struct of the
// configuration is named by its YAML path and line, with the key it was
// meant to be, and no Go type.
func TestUnknownKeySuggestsClosest(t *testing.T) {
	sites := keySites()
	if len(sites) < 40 {
		t.Fatalf("only %d keys found", len(sites))
	}
	for _, s := range sites {
		typo := s.key + s.key[len(s.key)-1:] // max_age: max_agee
		t.Run(join(s.path, typo), func(t *testing.T) {
			data, err := yaml.Marshal(s.doc(map[string]any{typo: 1}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(data)
			if err == nil {
				t.Fatalf("accepted\n%s", data)
			}
			line := 0
			for i, l := range strings.Split(string(data), "\n") {
				if strings.Contains(l, typo+":") {
					line = i + 1
				}
			}
			want := fmt.Sprintf("line %d: %s: unknown key; did you mean %s?", line, join(s.path, typo), s.key)
			if err.Error() != want {
				t.Errorf("error\n  %s\nwant\n  %s\nfor\n%s", err, want, data)
			}
		})
	}
}

func TestUnknownKeyMessages(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"the user's typo", "registry:\n  url: r.io\n  policy:\n    max_agee: 90d\n",
			"line 4: registry.policy.max_agee: unknown key; did you mean max_age?"},
		{"camel case", "registry:\n  url: r.io\n  policy:\n    keepLatest: 2\n",
			"line 4: registry.policy.keepLatest: unknown key; did you mean keep_latest?"},
		{"a prefix", "registry:\n  url: r.io\n  policy:\n    keep_launched: 30d\n",
			"line 4: registry.policy.keep_launched: unknown key; did you mean keep_launched_within?"},
		{"a shared prefix", "registry:\n  url: r.io\n  policy:\n    untagged_age: 7d\n",
			"line 4: registry.policy.untagged_age: unknown key; did you mean untagged_max_age?"},
		{"capitalised", "Registry:\n  url: r.io\n",
			"line 1: Registry: unknown key; did you mean registry?"},
		{"nothing close", "registry:\n  url: r.io\n  bogus: 1\n",
			"line 3: registry.bogus: unknown key; registry takes url, insecure, flavor, root, age_from, auth, concurrency, projects, policy"},
		{"nothing close at the top", "registry:\n  url: r.io\nzzz: 1\n",
			"line 3: zzz: unknown key; the top level takes registry, audit_log, github, charts, repositories, azure, retry, metrics"},
		{"in a list", "registry:\n  url: r.io\n  policy:\n    keep_launched_within: 1d\n    usage:\n      - events: /x\n      - kubernetes: {namspace: x}\n",
			"line 7: registry.policy.usage[1].kubernetes.namspace: unknown key; did you mean namespace?"},
		{"in a map", "github:\n  token: env:T\ncharts:\n  - repository: a/b\n    file: C.yaml\n    dependencies:\n      binderhub: {prerelease: true}\n",
			"line 7: charts[0].dependencies.binderhub.prerelease: unknown key; did you mean prereleases?"},
		{"through a merge key", "registry:\n  url: r.io\n  <<: {insecur: true}\n",
			"line 3: registry.insecur: unknown key; did you mean insecure?"},
		{"two, in line order", "registry:\n  url: r.io\n  concurency: 2\n  policy:\n    cap: 10\n",
			"line 3: registry.concurency: unknown key; did you mean concurrency?; line 5: registry.policy.cap: 10: a size needs a unit, e.g. 10GiB or 10GB"},
		{"wrong type", "registry:\n  url: r.io\n  concurrency: lots\n",
			`line 3: registry.concurrency: want a whole number, got "lots"`},
		{"wrong type, a flag", "registry:\n  url: r.io\n  insecure: maybe\n",
			`line 3: registry.insecure: want true or false, got "maybe"`},
		{"a mapping for a number", "registry:\n  url: r.io\n  concurrency: {a: 1}\n",
			"line 3: registry.concurrency: want a whole number, got a mapping"},
		{"a value for a list", "registry:\n  url: r.io\n  policy:\n    protect: x\n",
			`line 4: registry.policy.protect: want a list, got "x"`},
		{"a list for a mapping", "registry: [r.io]\n",
			"line 1: registry: want a mapping of keys, got a list"},
		{"a list for a duration", "registry:\n  url: r.io\nretry: {max_wait: [1m]}\n",
			"line 3: retry.max_wait: want a duration such as 90d, 2w or 36h, got a list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Error() != tc.want {
				t.Errorf("error\n  %s\nwant\n  %s", err, tc.want)
			}
			if m := goWords.FindString(err.Error()); m != "" {
				t.Errorf("error %q speaks Go (%q)", err, m)
			}
		})
	}
}

func TestClosestKey(t *testing.T) {
	known := []string{"max_age", "untagged_max_age", "keep_latest", "protect", "cap", "aggressive", "max_delete_fraction", "keep_launched_within", "usage"}
	for _, tc := range []struct{ in, want string }{
		{"max_agee", "max_age"},
		{"maxage", "max_age"},
		{"MaxAge", "max_age"},
		{"max-age", "max_age"},
		{"cap_size", "cap"},
		{"size", ""},
		{"caps", "cap"},
		{"protected", "protect"},
		{"agressive", "aggressive"},
		{"max_delete", "max_delete_fraction"},
		{"keep_launched", "keep_launched_within"},
		{"untagged", "untagged_max_age"},
		{"zzz", ""},
		{"", ""},
	} {
		if got := closest(tc.in, known); got != tc.want {
			t.Errorf("closest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"max_agee", "max_age", 1}, {"flaw", "lawn", 2}, {"größe", "grösse", 2}} {
		if got := levenshtein(tc.a, tc.b); got != tc.d {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}
