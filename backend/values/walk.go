package values

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/helmupgradebot/helmupgradebot/backend/yamledit"
)

// Walking a values file's YAML tree: aliases and their anchors, merge keys,
// the path of each node.

// maxVisits bounds the nodes a walk visits, aliases followed: a file of
// aliases to aliases would otherwise be walked exponentially often.
const maxVisits = 1 << 16

type walker struct {
	content []byte
	lines   yamledit.Lines
	// uses maps each anchored node to the lines of the aliases to it.
	uses map[*yaml.Node][]int
	// tags maps each tag node to the references that read it.
	tags map[*yaml.Node][]int
	// onPath holds the nodes the walk is inside.
	onPath map[*yaml.Node]bool
	visits int
	file   File
}

func (w *walker) findAliases(n *yaml.Node) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		w.uses[n.Alias] = append(w.uses[n.Alias], n.Line)
	}
	for _, c := range n.Content {
		w.findAliases(c)
	}
}

// walk visits n at path, whose key is key. shared, when not empty, says
// why an edit under n would change other places too (n is reached through
// an alias or a merge key, or sits under an anchor aliases use).
func (w *walker) walk(n *yaml.Node, path, key, shared string) error {
	if w.visits++; w.visits > maxVisits {
		return fmt.Errorf("more than %d YAML nodes with aliases followed; the file's aliases nest too deep", maxVisits)
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil
		}
		if w.onPath[n.Alias] {
			return fmt.Errorf("line %d: the YAML alias *%s refers to a node that holds it", n.Line, n.Value)
		}
		if shared == "" {
			shared = fmt.Sprintf("it is reached through the YAML alias *%s on line %d", n.Value, n.Line)
		}
		n = n.Alias
	}
	w.onPath[n] = true
	defer delete(w.onPath, n)
	if shared == "" && n.Anchor != "" && len(w.uses[n]) > 0 {
		shared = fmt.Sprintf("the YAML anchor &%s on line %d is also used on line %s", n.Anchor, n.Line, lineList(w.uses[n]))
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := w.walk(c, path+"["+strconv.Itoa(i)+"]", "", shared); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		entries, err := mappingEntries(n, shared, 0)
		if err != nil {
			return err
		}
		w.mapping(entries, path, key)
		for _, e := range entries {
			if err := w.walk(e.value, join(path, e.key), e.key, e.shared); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		if imageKey(key) && n.ShortTag() == "!!str" {
			w.imageString(n, path, shared)
		}
	}
	return nil
}

// entry is one key of a mapping, merge keys resolved.
type entry struct {
	key    string
	value  *yaml.Node
	shared string
}

// maxMergeDepth bounds merge keys within merged mappings.
const maxMergeDepth = 32

// mappingEntries lists m's keys as YAML merge keys define them: m's own
// (of a key written twice, the last, as Helm reads it), then those the
// mappings merged with << add, earlier ones first. Keys that are not
// scalars are left out.
func mappingEntries(m *yaml.Node, shared string, depth int) ([]entry, error) {
	if depth > maxMergeDepth {
		return nil, fmt.Errorf("line %d: merge keys (<<) nest more than %d deep", m.Line, maxMergeDepth)
	}
	var own, merged []entry
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if isMerge(k) {
			why := shared
			if why == "" {
				why = fmt.Sprintf("it comes through the YAML merge key << on line %d", k.Line)
			}
			for _, src := range mergeSources(v) {
				es, err := mappingEntries(src, why, depth+1)
				if err != nil {
					return nil, err
				}
				merged = append(merged, es...)
			}
			continue
		}
		if seen[k.Value] { // a key written twice: the last counts, as Helm reads it
			own = slices.DeleteFunc(own, func(e entry) bool { return e.key == k.Value })
		}
		seen[k.Value] = true
		own = append(own, entry{key: k.Value, value: v, shared: shared})
	}
	for _, e := range merged {
		if !seen[e.key] {
			seen[e.key] = true
			own = append(own, e)
		}
	}
	return own, nil
}

func isMerge(k *yaml.Node) bool { return k.Tag == "!!merge" && k.Value == "<<" }

// mergeSources are the mappings a merge key's value v merges in.
func mergeSources(v *yaml.Node) []*yaml.Node {
	v = resolve(v)
	if v.Kind == yaml.MappingNode {
		return []*yaml.Node{v}
	}
	var out []*yaml.Node
	if v.Kind == yaml.SequenceNode {
		for _, c := range v.Content {
			if c = resolve(c); c.Kind == yaml.MappingNode {
				out = append(out, c)
			}
		}
	}
	return out
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < maxMergeDepth; i++ {
		n = n.Alias
	}
	return n
}

// simpleKey: a key written as is in a path.
var simpleKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func join(path, key string) string {
	if !simpleKey.MatchString(key) {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func lineList(lines []int) string {
	s := make([]string, len(lines))
	for i, l := range lines {
		s[i] = strconv.Itoa(l)
	}
	return strings.Join(s, ", ")
}
