// Package chartfile reads the dependencies a deployment pins in its
// Chart.yaml (Helm 3) or requirements.yaml (Helm 2), and rewrites one
// dependency's version in place, leaving every other byte of the file as it
// was.
package chartfile

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Dependency is one entry of a chart file's dependencies list.
type Dependency struct {
	Name       string
	Version    string
	Repository string
	Alias      string
	Condition  string
	// Line is where the entry starts.
	Line int
	// VersionPos is where the version token starts (its opening quote, if
	// any); VersionEnd is the byte offset just past it (past the closing
	// quote). Both are zero when the entry has no version.
	VersionPos Position
	VersionEnd int
	// Quote is the version token's quote style.
	Quote QuoteStyle
	// versionErr says why the version cannot be rewritten in place.
	versionErr error
	// skip says why the entry cannot be read at all.
	skip error
}

// Skipped says why the entry cannot be read (it has no name, is not a
// mapping, or a field is not a string), or nil when it can. Helm skips
// such an entry; the file's other dependencies are unaffected. Name is
// set when it could be read.
func (d Dependency) Skipped() error { return d.skip }

// Key is the name a chart uses for the dependency: its alias when it has
// one, otherwise its name.
func (d Dependency) Key() string {
	if d.Alias != "" {
		return d.Alias
	}
	return d.Name
}

// CanSetVersion says why SetVersion cannot rewrite this dependency's
// version in place, or nil when it can.
func (d Dependency) CanSetVersion() error {
	if d.skip != nil {
		return d.skip
	}
	return d.versionErr
}

// File is a parsed chart file.
type File struct {
	// APIVersion is the chart's apiVersion ("v2" for Helm 3); empty for a
	// requirements.yaml.
	APIVersion   string
	Dependencies []Dependency
}

// Parse reads a Chart.yaml or requirements.yaml. A file without a
// dependencies key has no dependencies; a malformed file is an error that
// names the line. An entry of the list that cannot be read is kept, in its
// place, with Skipped saying why. YAML aliases (*name) and merge keys (<<)
// are resolved as Helm resolves them; a version that is shared through
// them is read but cannot be rewritten (CanSetVersion says why).
func Parse(content []byte) (*File, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(content, &doc); err != nil {
		return nil, fmt.Errorf("parse chart file: %w", err)
	}
	f := &File{}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return f, nil // empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("chart file line %d: top level is %s, want a mapping", root.Line, kindName(root))
	}
	if err := checkDuplicateKeys(root); err != nil {
		return nil, fmt.Errorf("chart file: %w", err)
	}
	p := &parser{content: content, lines: newLineIndex(content), uses: map[*yaml.Node][]int{}}
	p.findAliases(&doc)
	if v, err := lookup(root, "apiVersion"); err != nil {
		return nil, fmt.Errorf("chart file: %w", err)
	} else if v.node != nil && v.node.Kind == yaml.ScalarNode {
		f.APIVersion = v.node.Value
	}
	depsField, err := lookup(root, "dependencies")
	if err != nil {
		return nil, fmt.Errorf("chart file: %w", err)
	}
	deps := depsField.node
	if deps == nil || (deps.Kind == yaml.ScalarNode && deps.Tag == "!!null") {
		return f, nil
	}
	if deps.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("chart file line %d: dependencies is %s, want a list", deps.Line, kindName(deps))
	}
	for i, item := range deps.Content {
		d, err := p.dependency(item, depsField)
		if err != nil {
			d.skip = fmt.Errorf("chart file line %d: dependency %d: %w", item.Line, i+1, err)
		}
		f.Dependencies = append(f.Dependencies, d)
	}
	return f, nil
}

// parser holds what reading dependencies needs besides their nodes.
type parser struct {
	content []byte
	lines   lineIndex
	// uses maps each anchored node to the lines of the aliases to it.
	uses map[*yaml.Node][]int
}

func (p *parser) findAliases(n *yaml.Node) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		p.uses[n.Alias] = append(p.uses[n.Alias], n.Line)
	}
	for _, c := range n.Content {
		p.findAliases(c)
	}
}

// shared says why editing n in place would also change other places: it
// carries an anchor that aliases use.
func (p *parser) shared(n *yaml.Node) string {
	if n == nil || n.Anchor == "" || len(p.uses[n]) == 0 {
		return ""
	}
	return fmt.Sprintf("the anchor &%s on line %d is also used on %s", n.Anchor, n.Line, lineList(p.uses[n]))
}

func lineList(lines []int) string {
	s := make([]string, len(lines))
	for i, l := range lines {
		s[i] = fmt.Sprint(l)
	}
	if len(s) == 1 {
		return "line " + s[0]
	}
	return "lines " + strings.Join(s, ", ")
}

func (p *parser) dependency(item *yaml.Node, deps field) (Dependency, error) {
	entry := resolve(item)
	d := Dependency{Line: item.Line}
	if entry.Kind != yaml.MappingNode {
		return d, fmt.Errorf("is %s, want a mapping", kindName(entry))
	}
	// The name first, so that an entry skipped for another reason is
	// still named.
	d.Name, d.Alias = scalarOf(entry, "name"), scalarOf(entry, "alias")
	if err := checkDuplicateKeys(entry); err != nil {
		return d, err
	}
	str := func(key string) (string, error) {
		v, err := lookup(entry, key)
		if err != nil || v.node == nil {
			return "", err
		}
		if v.node.Kind != yaml.ScalarNode {
			return "", fmt.Errorf("%s is %s, want a string", key, kindName(v.node))
		}
		return v.node.Value, nil
	}
	var err error
	if d.Name, err = str("name"); err != nil {
		return d, err
	}
	if d.Name == "" {
		return d, errors.New("has no name")
	}
	if d.Repository, err = str("repository"); err != nil {
		return d, err
	}
	if d.Alias, err = str("alias"); err != nil {
		return d, err
	}
	if d.Condition, err = str("condition"); err != nil {
		return d, err
	}
	v, err := lookup(entry, "version")
	if err != nil {
		return d, err
	}
	if v.node == nil {
		d.versionErr = fmt.Errorf("dependency %s (line %d) has no version", d.Name, d.Line)
		return d, nil
	}
	if v.node.Kind != yaml.ScalarNode {
		return d, fmt.Errorf("version of %s is %s, want a string", d.Name, kindName(v.node))
	}
	if v.node.ShortTag() == "!!null" {
		d.versionErr = fmt.Errorf("dependency %s (line %d) has an empty version", d.Name, v.node.Line)
		return d, nil
	}
	d.Version = v.node.Value
	if why := p.sharedVersion(item, deps, entry, v); why != "" {
		d.versionErr = fmt.Errorf("version of %s cannot be changed for this dependency alone: %s; edit it by hand", d.Key(), why)
		return d, nil
	}
	d.VersionPos, d.VersionEnd, d.Quote, d.versionErr = locateScalar(p.content, p.lines, v.node)
	if d.versionErr != nil {
		d.versionErr = fmt.Errorf("version of %s (line %d): %w", d.Name, v.node.Line, d.versionErr)
	}
	return d, nil
}

// scalarOf is a mapping's string value for key, or "" when it has none
// that reads as one.
func scalarOf(m *yaml.Node, key string) string {
	if v, err := lookup(m, key); err == nil && v.node != nil && v.node.Kind == yaml.ScalarNode {
		return v.node.Value
	}
	return ""
}

// sharedVersion says why a dependency's version token is not its own: it
// is reached through an alias or a merge key, or sits in a node whose
// anchor aliases use, so that editing it would change other places too.
func (p *parser) sharedVersion(item *yaml.Node, deps field, entry *yaml.Node, v field) string {
	switch {
	case item.Kind == yaml.AliasNode:
		return fmt.Sprintf("the dependency is the YAML alias *%s on line %d, of the anchor on line %d", item.Value, item.Line, entry.Line)
	case deps.merged != nil:
		return fmt.Sprintf("the dependencies list comes through the YAML merge key << on line %d", deps.merged.Line)
	case deps.alias != nil:
		return fmt.Sprintf("the dependencies list is the YAML alias *%s on line %d", deps.alias.Value, deps.alias.Line)
	case v.merged != nil:
		return fmt.Sprintf("it is written on line %d, in the mapping merged by the YAML merge key << on line %d", v.node.Line, v.merged.Line)
	case v.alias != nil:
		return fmt.Sprintf("it is the YAML alias *%s on line %d, of the anchor &%s on line %d", v.alias.Value, v.alias.Line, v.node.Anchor, v.node.Line)
	}
	for _, n := range []*yaml.Node{deps.node, entry, v.node} {
		if why := p.shared(n); why != "" {
			return why
		}
	}
	return ""
}

// rangeChars are what a version range holds besides a version's
// characters (^1.2.3, >=1.2.3 <2, 1.x || 2.x).
const rangeChars = " <>=!^~*|,"

// SetVersion returns content with the version of the named dependency
// replaced by newVersion, a version or a range. dependency matches an
// alias first, then a name. Only the version token changes; its quote
// style is kept, except that a plain token that would not read back as
// newVersion (a range starting with > or *, or holding ", ") is written in
// double quotes. Every other dependency reads as before.
func SetVersion(content []byte, dependency, newVersion string) ([]byte, error) {
	f, err := Parse(content)
	if err != nil {
		return nil, err
	}
	d, err := f.find(dependency)
	if err != nil {
		return nil, err
	}
	if err := d.CanSetVersion(); err != nil {
		return nil, fmt.Errorf("cannot set version: %w", err)
	}
	styles := []QuoteStyle{d.Quote}
	if d.Quote == Plain {
		styles = append(styles, DoubleQuoted)
	}
	var last error
	for _, style := range styles {
		tok, err := scalarToken(newVersion, style, rangeChars)
		if err == nil {
			out := apply(content, []edit{{d.VersionPos.Offset, d.VersionEnd, tok}})
			if err = f.readsBack(out, d, newVersion); err == nil {
				return out, nil
			}
		}
		last = err
	}
	return nil, fmt.Errorf("set version of %s: %w", dependency, last)
}

// readsBack checks that out, f with the version of dependency d set,
// reads as f but for that version.
func (f *File) readsBack(out []byte, d Dependency, version string) error {
	bad := fmt.Errorf("new version %q would not read back in place", version)
	g, err := Parse(out)
	if err != nil || len(g.Dependencies) != len(f.Dependencies) {
		return bad
	}
	for i, got := range g.Dependencies {
		was := f.Dependencies[i]
		want := was.Version
		if was.Line == d.Line && was.VersionEnd == d.VersionEnd {
			want = version
		}
		if got.Key() != was.Key() || got.Version != want || (got.skip == nil) != (was.skip == nil) {
			return bad
		}
	}
	return nil
}

// find returns the dependency whose key (alias, else name) is key; when
// none has that key, the one dependency named key.
func (f *File) find(key string) (Dependency, error) {
	var byKey, byName []Dependency
	for _, d := range f.Dependencies {
		if d.Key() == key {
			byKey = append(byKey, d)
		}
		if d.Name == key {
			byName = append(byName, d)
		}
	}
	matches := byKey
	if len(matches) == 0 {
		matches = byName
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		var keys, skipped []string
		for _, d := range f.Dependencies {
			if d.Key() != "" {
				keys = append(keys, d.Key())
			} else if d.skip != nil {
				skipped = append(skipped, d.skip.Error())
			}
		}
		if len(f.Dependencies) == 0 {
			return Dependency{}, fmt.Errorf("dependency %q not found: the chart file has no dependencies", key)
		}
		has := "has no named dependencies"
		if len(keys) > 0 {
			has = "has: " + strings.Join(keys, ", ")
		}
		if len(skipped) > 0 {
			has += "; it cannot read " + strings.Join(skipped, "; ")
		}
		return Dependency{}, fmt.Errorf("dependency %q not found; the chart file %s", key, has)
	default:
		at := make([]string, len(matches))
		for i, d := range matches {
			at[i] = fmt.Sprint(d.Line)
		}
		return Dependency{}, fmt.Errorf("dependency %q appears %d times (lines %s); give each an alias and name it by that", key, len(matches), strings.Join(at, ", "))
	}
}

// field is a mapping's value for a key, with how it was reached.
type field struct {
	node   *yaml.Node // the value, aliases resolved; nil when the key is absent
	alias  *yaml.Node // the alias the value was written as, if any
	merged *yaml.Node // the << key it came through, if any
	from   *yaml.Node // the merged mapping holding it, if merged
}

// maxMergeDepth bounds merge keys within merged mappings.
const maxMergeDepth = 32

// lookup finds key in mapping m as YAML merge keys define it: m's own
// keys first, then the mappings merged with <<, earlier ones first.
func lookup(m *yaml.Node, key string) (field, error) {
	return lookupDepth(m, key, 0)
}

func lookupDepth(m *yaml.Node, key string, depth int) (field, error) {
	if depth > maxMergeDepth {
		return field{}, fmt.Errorf("line %d: merge keys (<<) nest more than %d deep", m.Line, maxMergeDepth)
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if isMergeKey(k) {
			merges = append(merges, k)
			continue
		}
		if k.Value == key {
			f := field{node: resolve(v)}
			if v.Kind == yaml.AliasNode {
				f.alias = v
			}
			return f, nil
		}
	}
	for _, k := range merges {
		sources, err := mergeSources(k, m)
		if err != nil {
			return field{}, err
		}
		for _, src := range sources {
			f, err := lookupDepth(src, key, depth+1)
			if err != nil {
				return field{}, err
			}
			if f.node != nil {
				if f.merged == nil {
					f.merged, f.from = k, src
				}
				return f, nil
			}
		}
	}
	return field{}, nil
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Tag == "!!merge" && k.Value == "<<"
}

// mergeSources returns the mappings a merge key k of mapping m merges in.
func mergeSources(k, m *yaml.Node) ([]*yaml.Node, error) {
	var v *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i] == k {
			v = resolve(m.Content[i+1])
		}
	}
	bad := func(n *yaml.Node) error {
		return fmt.Errorf("line %d: the merge key << merges %s, want a mapping or a list of mappings", k.Line, kindName(n))
	}
	switch v.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{v}, nil
	case yaml.SequenceNode:
		out := make([]*yaml.Node, 0, len(v.Content))
		for _, c := range v.Content {
			c = resolve(c)
			if c.Kind != yaml.MappingNode {
				return nil, bad(c)
			}
			out = append(out, c)
		}
		return out, nil
	}
	return nil, bad(v)
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < maxMergeDepth; i++ {
		n = n.Alias
	}
	return n
}

func checkDuplicateKeys(m *yaml.Node) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if first, dup := seen[k.Value]; dup {
			return fmt.Errorf("key %q appears twice (lines %d and %d)", k.Value, first, k.Line)
		}
		seen[k.Value] = k.Line
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "null"
		}
		return "a scalar"
	}
	return "a document"
}
