package values

import (
	"errors"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	"gopkg.in/yaml.v3"

	"github.com/helmupgradebot/helmupgradebot/backend/yamledit"
)

// Recognising image references (an image string, a mapping of name or
// repository and tag) and recording where each tag's bytes are; a tag that
// several references share (through an anchor) is not edited.

// imageKey reports whether a key names an image: image, or ending in
// image or Image (build_image, initImage, baseimage).
func imageKey(key string) bool {
	return strings.HasSuffix(key, "image") || strings.HasSuffix(key, "Image")
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
