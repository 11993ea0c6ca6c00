package values

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/helmupgradebot/helmupgradebot/backend/yamledit"
)

// SetTag: replacing one image's tag in place, checked by parsing the result
// again.

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
