package starter_test

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/starter"
)

// The template is held to config's types: every key path they take is in
// it (commented out or not), and every commented-out key where its section
// is on says the value config uses without it.

var unmarshaler = reflect.TypeFor[yaml.Unmarshaler]()

// leaf: a type written as one value (Age, Size, Regexp, strings, numbers).
func leaf(t reflect.Type) bool {
	return t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler)
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// field finds the struct field whose yaml tag is key.
func field(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); f.IsExported() && name == key && name != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// configKeys lists every key path t takes, recursively: a list's items
// as path[], a map's values as path.* ("charts[].dependencies.*.constraint").
func configKeys(t reflect.Type, path string, out map[string]bool) {
	t = deref(t)
	if leaf(t) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" || name == "" {
				continue
			}
			out[join(path, name)] = true
			configKeys(f.Type, join(path, name), out)
		}
	case reflect.Slice:
		configKeys(t.Elem(), path+"[]", out)
	case reflect.Map:
		configKeys(t.Elem(), path+".*", out)
	}
}

// keyLine: a key, or a list item's first key, once uncommented.
var keyLine = regexp.MustCompile(`^\s*(- )?[a-z_][a-z0-9_]*:(\s|$)`)

// uncomment turns every commented-out key into a key, at its indentation
// ("#   # insecure: false" in a section commented out is "  insecure:
// false"), and blanks the prose, keeping the lines where they were.
func uncomment(doc string) string {
	lines := strings.Split(doc, "\n")
	for i, l := range lines {
		for {
			body := strings.TrimLeft(l, " ")
			if !strings.HasPrefix(body, "#") {
				break
			}
			l = l[:len(l)-len(body)] + strings.TrimPrefix(body[1:], " ")
		}
		if !keyLine.MatchString(l) {
			l = ""
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

func parseNode(t *testing.T, doc string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatalf("%v in\n%s", err, doc)
	}
	if len(n.Content) == 0 {
		t.Fatalf("empty document\n%s", doc)
	}
	return n.Content[0]
}

// templateKeys lists the key paths of n, read as t, failing on a key t
// does not take and on a key given twice.
func templateKeys(t *testing.T, n *yaml.Node, typ reflect.Type, path string, out map[string]bool) {
	typ = deref(typ)
	if leaf(typ) {
		return
	}
	switch typ.Kind() {
	case reflect.Struct, reflect.Map:
		if n.Kind != yaml.MappingNode {
			t.Errorf("line %d: %s: want a mapping", n.Line, path)
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if seen[k.Value] {
				t.Errorf("line %d: %s given twice", k.Line, join(path, k.Value))
			}
			seen[k.Value] = true
			if typ.Kind() == reflect.Map {
				templateKeys(t, v, typ.Elem(), path+".*", out)
				continue
			}
			f, ok := field(typ, k.Value)
			if !ok {
				t.Errorf("line %d: %s is no key of config", k.Line, join(path, k.Value))
				continue
			}
			out[join(path, k.Value)] = true
			templateKeys(t, v, f.Type, join(path, k.Value), out)
		}
	case reflect.Slice:
		for _, c := range n.Content {
			templateKeys(t, c, typ.Elem(), path+"[]", out)
		}
	}
}

// renders are the files init writes for a range of answers: both chores,
// each alone, every choice of launches, basic auth.
func renders(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, a := range map[string]starter.Answers{
		"examples":    {},
		"charts only": {Repository: "o/r"},
		"registry only, basic, events": {RegistryHost: "registry.example.org", RegistryAuth: config.AuthBasic, Cap: "2TiB",
			Launches: starter.LaunchesEvents, Events: "/var/log/binderhub/events-*.jsonl"},
		"both sources, an identity": {RegistryHost: "hub23.azurecr.io", ClientID: "0a1b2c3d-0000-4000-8000-123456789abc", Repository: "o/r",
			Launches: starter.LaunchesBoth, Events: "https://archive.analytics.mybinder.org/events-{date}.jsonl", Namespace: "binderhub"},
		"no launches": {RegistryHost: "localhost:5000", Launches: starter.LaunchesNone, Repository: "o/r"},
	} {
		data, err := starter.Render(a, "helmupgradebot.yaml")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = string(data)
	}
	return out
}

// TestTemplateHasEveryKey walks config's types (their yaml tags, down
// through lists, maps and pointers) and finds each key path in the
// template, whatever was answered; and the template has no key config
// would refuse.
func TestTemplateHasEveryKey(t *testing.T) {
	want := map[string]bool{}
	configKeys(reflect.TypeFor[config.Config](), "", want)
	for _, p := range []string{"registry.policy.keep_launched_within", "registry.policy.usage[].kubernetes.selector", "retry.max_wait",
		"charts[].dependencies.*.constraint", "azure.client_id", "github.private_key"} {
		if !want[p] {
			t.Fatalf("the walk of config's types missed %s: %v", p, want)
		}
	}
	for name, data := range renders(t) {
		t.Run(name, func(t *testing.T) {
			got := map[string]bool{}
			templateKeys(t, parseNode(t, uncomment(data)), reflect.TypeFor[config.Config](), "", got)
			var missing []string
			for p := range want {
				if !got[p] {
					missing = append(missing, p)
				}
			}
			slices.Sort(missing)
			if len(missing) > 0 {
				t.Errorf("the template lacks %s:\n%s", strings.Join(missing, ", "), data)
			}
		})
	}
}

// TestTemplateCommentsDefaults: a key commented out in a section that is
// on shows what config takes without it (its comment says "an example"
// otherwise); uncommenting it changes nothing.
func TestTemplateCommentsDefaults(t *testing.T) {
	for name, data := range renders(t) {
		if strings.Contains(data, "chore is off") {
			continue // a section commented out whole holds examples
		}
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(data))
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			compareDefaults(t, parseNode(t, uncomment(data)), parseNode(t, data), reflect.ValueOf(cfg).Elem(), "", &checked)
			if checked < 15 {
				t.Errorf("only %d commented-out keys compared", checked)
			}
		})
	}
}

// compareDefaults walks the uncommented document u beside the file as
// written (a; nil where the file has nothing) and the configuration it
// loads to (v). Each key in u but not in a is compared with v.
func compareDefaults(t *testing.T, u, a *yaml.Node, v reflect.Value, path string, checked *int) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if leaf(v.Type()) {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i+1 < len(u.Content); i += 2 {
			k, uv := u.Content[i], u.Content[i+1]
			f, ok := field(v.Type(), k.Value)
			if !ok {
				continue // TestTemplateHasEveryKey says so
			}
			at := join(path, k.Value)
			av := lookup(a, k.Value)
			if av != nil {
				compareDefaults(t, uv, av, v.FieldByIndex(f.Index), at, checked)
				continue
			}
			if strings.HasPrefix(k.LineComment, "# an example") || strings.HasPrefix(uv.LineComment, "# an example") {
				continue
			}
			fv := v.FieldByIndex(f.Index)
			if uv.Kind == yaml.MappingNode {
				compareDefaults(t, uv, nil, fv, at, checked)
				continue
			}
			if uv.Kind == yaml.SequenceNode && len(uv.Content) > 0 {
				continue // commented-out list items: examples of entries
			}
			dst := reflect.New(fv.Type())
			if err := uv.Decode(dst.Interface()); err != nil {
				t.Errorf("line %d: %s: %v", k.Line, at, err)
				continue
			}
			*checked++
			got := dst.Elem()
			if !reflect.DeepEqual(got.Interface(), fv.Interface()) && !(got.Kind() == reflect.Slice && got.Len() == 0 && fv.Len() == 0) {
				t.Errorf("line %d: %s is commented out as %q, but config takes %v without it", k.Line, at, uv.Value, fv.Interface())
			}
		}
	case reflect.Slice:
		if a == nil {
			return
		}
		for _, item := range u.Content {
			// an item of the file is on the same line in both
			for j, ai := range a.Content {
				if ai.Line == item.Line && j < v.Len() {
					compareDefaults(t, item, ai, v.Index(j), path+"[]", checked)
				}
			}
		}
	}
}

// lookup is a mapping's value for key, or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
