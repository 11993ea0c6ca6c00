// Package values finds the container images a Helm values file pins, and
// changes one image's tag in place, leaving every other byte of the file
// as it was.
//
// An image reference is, under a key whose name ends in image (image,
// build_image, initImage, as Renovate's helm-values manager reads them):
//
//   - a string "host/path:tag" (or "host/path@sha256:…");
//   - a mapping with name and tag;
//
// and, under any key, a mapping with repository and tag (and optionally
// registry, and digest as Bitnami's charts write it). Names are
// normalised as go-containerregistry's name package does (nginx is
// index.docker.io/library/nginx). A reference by digest is reported and
// left alone; a tag that is a placeholder (set-by-chartpress, latest,
// empty, a {{ template }}) is skipped without an error.
package values

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	"gopkg.in/yaml.v3"

	"github.com/helmupgradebot/helmupgradebot/backend/yamledit"
)

// Kind is how a reference pins its image.
type Kind string

// Kinds of references.
const (
	// ByTag: the tag can be followed.
	ByTag Kind = "tag"
	// ByDigest: pinned by digest (with or without a tag); reported and
	// left alone.
	ByDigest Kind = "digest"
)

// Form is how a reference is written.
type Form string

// Forms of references.
const (
	FormString        Form = "string"         // image: host/path:tag
	FormRepositoryTag Form = "repository+tag" // {registry, repository, tag}
	FormNameTag       Form = "name+tag"       // {name, tag}
)

// Reference is one image a values file pins.
type Reference struct {
	// Path is the YAML path of the image: of the string, or of the
	// mapping (binderhub.config.BinderHub.build_image, image,
	// proxy.chp.image; list items as [0]; a key with other characters
	// than letters, digits, - and _ quoted: grafana."grafana.ini").
	Path string
	// Image is the normalised name (quay.io/jupyterhub/repo2docker,
	// index.docker.io/library/nginx); Registry is its host.
	Image, Registry string
	// Written is the name as the file writes it (registry/repository for
	// a mapping with a registry).
	Written string
	Tag     string
	// Digest is the pinned digest of a ByDigest reference.
	Digest string
	Kind   Kind
	Form   Form
	// Line is the line of the tag (of the string, for the string form).
	Line int

	edit    edit
	editErr error
}

// CanSetTag says why SetTag cannot change this reference's tag in place,
// or nil when it can.
func (r Reference) CanSetTag() error { return r.editErr }

// edit is where a tag's bytes are: [from, to) of the file, and how the
// token around them is quoted.
type edit struct {
	from, to int
	style    yamledit.QuoteStyle
	// whole: the bytes are the whole scalar token (a mapping's tag);
	// otherwise they are the tag inside a string.
	whole bool
}

// Skipped is an image whose tag is a placeholder: it is not followed,
// and not an error.
type Skipped struct {
	Path, Written, Tag string
	Line               int
	// Why is the placeholder: "set-by-chartpress", "latest", "empty",
	// "template", "no tag".
	Why string
}

// File is what a values file pins, in the order the file writes it.
type File struct {
	References []Reference
	Skipped    []Skipped
}

// Find returns the reference at path.
func (f *File) Find(path string) (Reference, bool) {
	for _, r := range f.References {
		if r.Path == path {
			return r, true
		}
	}
	return Reference{}, false
}

// maxVisits bounds the nodes a walk visits, aliases followed: a file of
// aliases to aliases would otherwise be walked exponentially often.
const maxVisits = 1 << 16

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse reads the image references of a values file; file names it in
// errors. A file that is not YAML is an error naming the file and line.
func Parse(file string, content []byte) (*File, error) {
	what := "values file"
	if file != "" {
		what += " " + file
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(content, &doc); err != nil {
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%s line %s: %s", what, m[1], m[2])
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	w := &walker{content: content, lines: yamledit.NewLines(content), uses: map[*yaml.Node][]int{}, tags: map[*yaml.Node][]int{}, onPath: map[*yaml.Node]bool{}}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &w.file, nil
	}
	w.findAliases(&doc)
	if err := w.walk(doc.Content[0], "", "", ""); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	w.refuseShared()
	return &w.file, nil
}

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

// imageKey reports whether a key names an image: image, or ending in
// image or Image (build_image, initImage, baseimage).
func imageKey(key string) bool {
	return strings.HasSuffix(key, "image") || strings.HasSuffix(key, "Image")
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

// placeholder names why tag is not followed, or "".
func placeholder(tag string) string {
	switch {
	case tag == "":
		return "empty"
	case strings.Contains(tag, "{{"):
		return "template"
	case strings.EqualFold(tag, "latest"):
		return "latest"
	case tag == "set-by-chartpress" || tag == "set.by.chartpress":
		return "set-by-chartpress"
	}
	return ""
}

// imageString reads a string under an image key.
func (w *walker) imageString(n *yaml.Node, path, shared string) {
	s := n.Value
	if s == "" {
		return
	}
	if strings.Contains(s, "{{") {
		w.file.Skipped = append(w.file.Skipped, Skipped{Path: path, Written: s, Line: n.Line, Why: "template"})
		return
	}
	written, digest, _ := strings.Cut(s, "@")
	written, tag, hasTag := cutTag(written)
	repo, ok := parseRepository(written)
	if !ok {
		return
	}
	r := Reference{Path: path, Image: repo.Name(), Registry: repo.RegistryStr(), Written: written, Tag: tag, Kind: ByTag, Form: FormString, Line: n.Line}
	if digest != "" {
		if _, err := name.NewDigest(repo.Name() + "@" + digest); err != nil {
			return
		}
		r.Kind, r.Digest = ByDigest, digest
		w.file.References = append(w.file.References, r)
		return
	}
	if !hasTag {
		w.file.Skipped = append(w.file.Skipped, Skipped{Path: path, Written: written, Line: n.Line, Why: "no tag"})
		return
	}
	if why := placeholder(tag); why != "" {
		w.file.Skipped = append(w.file.Skipped, Skipped{Path: path, Written: written, Tag: tag, Line: n.Line, Why: why})
		return
	}
	if _, err := name.NewTag(repo.Name() + ":" + tag); err != nil {
		return
	}
	r.edit, r.editErr = w.locate(n, shared)
	if r.editErr == nil {
		r.edit, r.editErr = w.tagInString(r.edit, n.Value, tag)
	}
	w.add(r, n)
}

// parseRepository reads an image name (no tag, no digest) as the
// distribution reference grammar defines it, normalised by
// go-containerregistry; ok is false for anything else (a URL, a word
// with capitals).
func parseRepository(s string) (name.Repository, bool) {
	n, err := reference.ParseNormalizedNamed(s)
	if err != nil || !reference.IsNameOnly(n) {
		return name.Repository{}, false
	}
	repo, err := name.NewRepository(s)
	return repo, err == nil
}

// cutTag splits "host/path:tag" at the tag's colon (not a port's).
func cutTag(s string) (repo, tag string, ok bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || strings.Contains(s[i+1:], "/") {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// mapping reads a mapping's entries as an image reference, if they are
// one.
func (w *walker) mapping(entries []entry, path, key string) {
	get := func(k string) (entry, bool) {
		for _, e := range entries {
			if e.key == k {
				if a := e.value; a.Kind == yaml.AliasNode && e.shared == "" {
					e.shared = fmt.Sprintf("it is the YAML alias *%s on line %d", a.Value, a.Line)
				}
				e.value = resolve(e.value)
				return e, e.value.Kind == yaml.ScalarNode
			}
		}
		return entry{}, false
	}
	str := func(k string) string {
		if e, ok := get(k); ok && e.value.ShortTag() == "!!str" {
			return strings.TrimSpace(e.value.Value)
		}
		return ""
	}
	tagEntry, hasTag := get("tag")
	if !hasTag {
		return
	}
	form, written := FormRepositoryTag, str("repository")
	if written == "" {
		if !imageKey(key) {
			return
		}
		form, written = FormNameTag, str("name")
	}
	if written == "" {
		return
	}
	if reg := strings.TrimRight(str("registry"), "/"); reg != "" && form == FormRepositoryTag {
		written = reg + "/" + written
	}
	tagNode := tagEntry.value
	tag := ""
	if tagNode.ShortTag() != "!!null" {
		tag = tagNode.Value
	}
	if strings.Contains(written, "{{") {
		w.file.Skipped = append(w.file.Skipped, Skipped{Path: path, Written: written, Tag: tag, Line: tagNode.Line, Why: "template"})
		return
	}
	repo, ok := parseRepository(written)
	if !ok {
		return
	}
	r := Reference{Path: path, Image: repo.Name(), Registry: repo.RegistryStr(), Written: written, Tag: tag, Kind: ByTag, Form: form, Line: tagNode.Line}
	if d := str("digest"); d != "" {
		if _, err := name.NewDigest(repo.Name() + "@" + d); err == nil {
			r.Kind, r.Digest = ByDigest, d
			w.file.References = append(w.file.References, r)
			return
		}
	}
	if why := placeholder(tag); why != "" {
		w.file.Skipped = append(w.file.Skipped, Skipped{Path: path, Written: written, Tag: tag, Line: tagNode.Line, Why: why})
		return
	}
	if _, err := name.NewTag(repo.Name() + ":" + tag); err != nil {
		return
	}
	r.edit, r.editErr = w.locate(tagNode, tagEntry.shared)
	r.edit.whole = true
	w.add(r, tagNode)
}

func (w *walker) add(r Reference, tagNode *yaml.Node) {
	w.tags[tagNode] = append(w.tags[tagNode], len(w.file.References))
	w.file.References = append(w.file.References, r)
}

// locate finds the token of a tag (or image string) n.
func (w *walker) locate(n *yaml.Node, shared string) (edit, error) {
	if shared != "" {
		return edit{}, fmt.Errorf("the tag on line %d cannot be changed for this image alone: %s; edit it by hand", n.Line, shared)
	}
	if why := w.sharedAnchor(n); why != "" {
		return edit{}, fmt.Errorf("the tag on line %d cannot be changed for this image alone: %s; edit it by hand", n.Line, why)
	}
	pos, end, style, err := yamledit.Locate(w.content, w.lines, n)
	if err != nil {
		return edit{}, fmt.Errorf("the tag on line %d %w", n.Line, err)
	}
	return edit{from: pos.Offset, to: end, style: style}, nil
}

func (w *walker) sharedAnchor(n *yaml.Node) string {
	if n.Anchor != "" && len(w.uses[n]) > 0 {
		return fmt.Sprintf("the YAML anchor &%s on line %d is also used on line %s", n.Anchor, n.Line, lineList(w.uses[n]))
	}
	return ""
}

// tagInString narrows a string token's edit to the tag at its end.
func (w *walker) tagInString(e edit, value, tag string) (edit, error) {
	from, to := e.from, e.to
	if e.style != yamledit.Plain {
		from, to = from+1, to-1 // inside the quotes
	}
	if string(w.content[from:to]) != value {
		return edit{}, errors.New("the image string is written with escapes; edit it by hand")
	}
	return edit{from: to - len(tag), to: to, style: e.style}, nil
}

// refuseShared: a tag node that several references read (through
// aliases) cannot be changed for one of them.
func (w *walker) refuseShared() {
	for n, refs := range w.tags {
		if len(refs) < 2 {
			continue
		}
		paths := make([]string, len(refs))
		for i, ri := range refs {
			paths[i] = w.file.References[ri].Path
		}
		for _, ri := range refs {
			r := &w.file.References[ri]
			if r.editErr == nil {
				r.editErr = fmt.Errorf("the tag on line %d is the tag of %s alike; edit it by hand", n.Line, strings.Join(paths, " and "))
			}
		}
	}
}

// validTag is a tag the distribution spec allows.
var validTag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// SetTag returns content with the tag of the image at path (a
// Reference's Path) replaced by newTag. Exactly the tag's bytes change, on
// its one line; quotes and comments stay. What cannot be done exactly (a
// block scalar, a tag shared through an anchor or alias, an image by
// digest, a placeholder) is an error saying why; the result is checked by
// reading it back.
func SetTag(content []byte, path, newTag string) ([]byte, error) {
	f, err := Parse("", content)
	if err != nil {
		return nil, err
	}
	r, ok := f.Find(path)
	if !ok {
		for _, s := range f.Skipped {
			if s.Path == path {
				return nil, fmt.Errorf("image at %s (line %d) has the placeholder tag %q (%s); it is not followed", path, s.Line, s.Tag, s.Why)
			}
		}
		paths := make([]string, len(f.References))
		for i, r := range f.References {
			paths[i] = r.Path
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("no image at %s: the values file pins none", path)
		}
		return nil, fmt.Errorf("no image at %s; the values file pins: %s", path, strings.Join(paths, ", "))
	}
	fail := func(err error) ([]byte, error) {
		return nil, fmt.Errorf("set the tag of %s at %s (line %d): %w", r.Written, path, r.Line, err)
	}
	switch {
	case r.Kind == ByDigest:
		return fail(fmt.Errorf("it is pinned by digest %s, which is left alone", r.Digest))
	case r.editErr != nil:
		return fail(r.editErr)
	case !validTag.MatchString(newTag):
		return fail(fmt.Errorf("new tag %q is not a tag: up to 128 letters, digits, _ . and -, not starting with . or -", newTag))
	}
	tok := newTag
	if r.edit.whole {
		if tok, err = yamledit.Token(newTag, r.edit.style, "tag", "._-"); err != nil {
			return fail(err)
		}
	}
	out := make([]byte, 0, len(content)+len(tok))
	out = append(append(append(out, content[:r.edit.from]...), tok...), content[r.edit.to:]...)
	if err := checkEdit(content, out, f, r, newTag); err != nil {
		return fail(fmt.Errorf("the edit would not be exact (%w); edit it by hand", err))
	}
	return out, nil
}

// checkEdit reads out back: the reference now has newTag, every other
// reference and skipped image is as before, and only its line changed.
func checkEdit(in, out []byte, before *File, r Reference, newTag string) error {
	after, err := Parse("", out)
	if err != nil {
		return err
	}
	if len(after.References) != len(before.References) || len(after.Skipped) != len(before.Skipped) {
		return errors.New("the images read back differ")
	}
	for i, a := range after.References {
		b := before.References[i]
		if b.Path == r.Path {
			b.Tag = newTag
		}
		if a.Path != b.Path || a.Image != b.Image || a.Tag != b.Tag || a.Kind != b.Kind || a.Digest != b.Digest {
			return fmt.Errorf("%s reads back as %s:%s", b.Path, a.Image, a.Tag)
		}
	}
	for i, a := range after.Skipped {
		if a != before.Skipped[i] {
			return fmt.Errorf("%s reads back differently", a.Path)
		}
	}
	changed, same := yamledit.ChangedLines(in, out)
	if !same || len(changed) != 1 || changed[0] != r.Line {
		return fmt.Errorf("lines %v changed", changed)
	}
	return nil
}
