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
	"fmt"
	"regexp"

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
