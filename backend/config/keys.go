package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// A configuration's messages speak its YAML: key paths such as
// registry.policy.max_age, never the Go types the file decodes into.

// problem is one error at a line of the file.
type problem struct {
	line int
	msg  string // "registry.policy.max_agee: unknown key; did you mean max_age?"
}

func (p problem) String() string { return fmt.Sprintf("line %d: %s", p.line, p.msg) }

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// unknownKeys walks the document against the types it decodes into (from
// Config down) and reports every key that no field takes, each with its
// key path, its line and the closest known key, when one is close. Merge
// keys (<<) and aliases are followed; a map's keys (charts[].dependencies)
// are names, not checked.
func unknownKeys(root *yaml.Node) []problem {
	var out []problem
	seen := map[problem]bool{}
	var walk func(n *yaml.Node, t reflect.Type, path string, depth int)
	walk = func(n *yaml.Node, t reflect.Type, path string, depth int) {
		if n == nil || depth > 64 {
			return
		}
		for n.Kind == yaml.AliasNode && n.Alias != nil && depth <= 64 {
			n, depth = n.Alias, depth+1
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if (t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType)) && !tagged(t) {
			return // Age, Size, Regexp: a value, not keys (a Repository, which also takes a bare string, has keys)
		}
		// each key of a mapping, merge keys followed
		pairs := func(n *yaml.Node, fn func(k, v *yaml.Node)) {
			var each func(n *yaml.Node, depth int)
			each = func(n *yaml.Node, depth int) {
				for n != nil && n.Kind == yaml.AliasNode && depth <= 64 {
					n, depth = n.Alias, depth+1
				}
				if n == nil || depth > 64 {
					return
				}
				switch n.Kind {
				case yaml.SequenceNode: // <<: [*a, *b]
					for _, c := range n.Content {
						each(c, depth+1)
					}
				case yaml.MappingNode:
					for i := 0; i+1 < len(n.Content); i += 2 {
						k, v := n.Content[i], n.Content[i+1]
						if k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "" || k.Tag == "!" || k.ShortTag() == "!!merge") {
							each(v, depth+1)
							continue
						}
						fn(k, v)
					}
				}
			}
			each(n, depth)
		}
		switch t.Kind() {
		case reflect.Struct:
			if n.Kind != yaml.MappingNode {
				return // the decoder says what it wants instead
			}
			fields := yamlFields(t)
			pairs(n, func(k, v *yaml.Node) {
				at := join(path, k.Value)
				ft, ok := fields.types[k.Value]
				if !ok {
					p := problem{k.Line, at + ": unknown key; " + hint(k.Value, path, fields.names)}
					if !seen[p] {
						seen[p] = true
						out = append(out, p)
					}
					return
				}
				walk(v, ft, at, depth+1)
			})
		case reflect.Slice, reflect.Array:
			if n.Kind == yaml.SequenceNode {
				for i, c := range n.Content {
					walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1)
				}
			}
		case reflect.Map:
			if n.Kind == yaml.MappingNode {
				pairs(n, func(k, v *yaml.Node) { walk(v, t.Elem(), join(path, k.Value), depth+1) })
			}
		}
	}
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		walk(root.Content[0], reflect.TypeFor[Config](), "", 0)
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// tagged reports whether t is a struct with a field tagged yaml: a
// mapping of keys, even when it decodes itself.
func tagged(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := range t.NumField() {
		if _, ok := t.Field(i).Tag.Lookup("yaml"); ok {
			return true
		}
	}
	return false
}

// structFields are the keys a struct takes, in declaration order, and the
// type of each.
type structFields struct {
	names []string
	types map[string]reflect.Type
}

// yamlFields lists the keys yaml.v3 decodes into t: each exported field's
// yaml tag name (its lower-cased name without one), inlined structs' keys
// included, yaml:"-" left out.
func yamlFields(t reflect.Type) structFields {
	sf := structFields{types: map[string]reflect.Type{}}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("yaml")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			if strings.Contains(","+opts+",", ",inline,") {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					add(ft)
				}
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			sf.names = append(sf.names, name)
			sf.types[name] = f.Type
		}
	}
	add(t)
	return sf
}

// hint suggests the known key closest to key, else lists the known keys of
// the mapping at path.
func hint(key, path string, known []string) string {
	if s := closest(key, known); s != "" {
		return "did you mean " + s + "?"
	}
	where := path
	if where == "" {
		where = "the top level"
	}
	return fmt.Sprintf("%s takes %s", where, strings.Join(known, ", "))
}

// closest returns the known key nearest to key, or "": one within an edit
// distance of 2 (compared without case, underscores and hyphens, so maxAge
// and max-age find max_age), else the one sharing the longest prefix with
// key when one begins with the other (keep_launched: keep_launched_within)
// or they share at least 4 characters (untagged_age: untagged_max_age).
// Ties go to the key declared first.
func closest(key string, known []string) string {
	nk := normalizeKey(key)
	best, bestD := "", 3
	for _, k := range known {
		if d := levenshtein(nk, normalizeKey(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return best
	}
	bestP := 0
	for _, k := range known {
		nkk := normalizeKey(k)
		p := commonPrefix(nk, nkk)
		whole := p == min(len(nk), len(nkk)) && p >= 3
		if (whole || p >= 4) && p > bestP {
			best, bestP = k, p
		}
	}
	return best
}

func normalizeKey(s string) string {
	return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s))
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// levenshtein is the edit distance between a and b (insertions, deletions
// and substitutions of one rune each).
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

var (
	notFoundRE  = regexp.MustCompile(`^field (.+) not found in type \S+$`)
	unmarshalRE = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)$")
)

// yamlMessage rewrites one of yaml.v3's messages about a key into the
// file's words: "cannot unmarshal !!str `lots` into int" becomes "want a
// whole number, got "lots""; "field x not found in type config.Policy"
// becomes "unknown key".
func yamlMessage(msg string) string {
	if notFoundRE.MatchString(msg) {
		return "unknown key"
	}
	if m := unmarshalRE.FindStringSubmatch(msg); m != nil {
		return "want " + wantedValue(m[3]) + ", got " + givenValue(m[1], m[2])
	}
	return msg
}

// wantedValue words a Go type as the YAML value it takes.
func wantedValue(goType string) string {
	t := strings.TrimLeft(goType, "*")
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping of names to settings"
	}
	switch t {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "string":
		return "a single value (text)"
	}
	return "a mapping of keys" // a struct
}

// givenValue words what the file holds: the value, quoted when it is
// text, or its kind.
func givenValue(tag, value string) string {
	switch tag {
	case "map":
		return "a mapping"
	case "seq":
		return "a list"
	case "null":
		return "nothing"
	case "str":
		return fmt.Sprintf("%q", value)
	}
	if value == "" {
		return tag
	}
	return value
}

// collectionPaths maps each line to the mappings and lists that start on
// it as a key's (or a list item's) value, outermost first, each as its
// kind ("a mapping", "a list") and path.
func collectionPaths(root *yaml.Node) map[int][]collection {
	out := map[int][]collection{}
	var walk func(n *yaml.Node, path string, depth int)
	walk = func(n *yaml.Node, path string, depth int) {
		if depth > 64 {
			return
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path, depth+1)
			}
		case yaml.MappingNode, yaml.SequenceNode:
			if path != "" {
				out[n.Line] = append(out[n.Line], collection{kindOf(n), path})
			}
			if n.Kind == yaml.SequenceNode {
				for i, c := range n.Content {
					walk(c, fmt.Sprintf("%s[%d]", path, i), depth+1)
				}
				return
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], join(path, n.Content[i].Value), depth+1)
			}
		}
	}
	walk(root, "", 0)
	return out
}

type collection struct{ kind, path string }

// holder is the path of the key whose value is the mapping or list a
// message at line complains of ("..., got a list"): the innermost of that
// kind on the line.
func holder(collections map[int][]collection, line int, msg string) (string, bool) {
	cs := collections[line]
	for i := len(cs) - 1; i >= 0; i-- {
		if strings.HasSuffix(msg, "got "+cs[i].kind) {
			return cs[i].path, true
		}
	}
	return "", false
}

// kindOf words a node that is not a single value: "a mapping", "a list".
func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "not a single value"
}
