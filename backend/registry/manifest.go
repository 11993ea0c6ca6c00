package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unique"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// maxConfigSize bounds the image config blobs a scan reads.
const maxConfigSize = 16 << 20

// bogusBefore: created times before it are written by reproducible builders
// (1970) and say nothing about an image's age.
var bogusBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// manifestInfo is what a scan learns from one manifest (with, for an index,
// its platform manifests).
type manifestInfo struct {
	mediaType string
	// table holds the blobs: the scan's (scanner.blobs) for a manifest
	// read, the last inventory's for one it described (seed.go). blobs
	// are rows of it: the manifest itself, its config and layers; for an
	// index, the union over its platform manifests too. No digest is held
	// as a string: at 100,000 manifests that was 70 MB.
	table    *model.BlobTable
	blobs    []int32
	created  time.Time
	problem  model.CreatedProblem
	platform string // an image's own os/arch[/variant], from its config
	// err: the manifest is unusable.
	err error
	// more is what most manifests lack (an index's platform manifests, a
	// referrer's subject, warnings): nil for them. Every manifest of a
	// scan is described at once, so its size counts: 128 bytes, where
	// these fields inline made 240 (at 100,000 manifests, 11 MB of the
	// scan's peak).
	more *manifestMore
}

// manifestMore is the rarer part of a manifestInfo.
type manifestMore struct {
	platforms []string
	children  []string
	// childBlobs, parallel to children, are each platform manifest's own
	// blobs (rows of the manifestInfo's table).
	childBlobs [][]int32
	subject    string // an OCI referrer's subject digest
	// warnings: parts that could not be read (a config, a platform
	// manifest); the rest is used.
	warnings []warning
}

// extra is m's rarer part, added when m has none, to be written.
func (m *manifestInfo) extra() *manifestMore {
	if m.more == nil {
		m.more = new(manifestMore)
	}
	return m.more
}

// The rarer part's fields, nil or "" when m has none.

func (m *manifestInfo) platforms() []string {
	if m.more == nil {
		return nil
	}
	return m.more.platforms
}

func (m *manifestInfo) children() []string {
	if m.more == nil {
		return nil
	}
	return m.more.children
}

func (m *manifestInfo) childBlobs() [][]int32 {
	if m.more == nil {
		return nil
	}
	return m.more.childBlobs
}

func (m *manifestInfo) subject() string {
	if m.more == nil {
		return ""
	}
	return m.more.subject
}

func (m *manifestInfo) warnings() []warning {
	if m.more == nil {
		return nil
	}
	return m.more.warnings
}

// childBlobsOrNil is childBlobs when it covers every child, else nil.
func (m *manifestInfo) childBlobsOrNil() [][]int32 {
	if len(m.children()) == 0 || len(m.childBlobs()) != len(m.children()) {
		return nil
	}
	return m.childBlobs()
}

// addTo adds im, described by m, to an inventory: its blobs, and its
// platform manifests' when they cover every child.
func (m *manifestInfo) addTo(b *model.InventoryBuilder, im model.Image) error {
	return b.AddImageFrom(im, m.table, m.blobs, m.childBlobsOrNil()...)
}

// rows are m's blobs as rows of the scan's table: m's own when m was
// read, else added to it (a platform manifest the last inventory
// described, of an index read afresh).
func (s *scanner) rows(m *manifestInfo, blobs []int32) []int32 {
	t := s.blobs.Table()
	if m.table == t {
		return blobs
	}
	out := make([]int32, len(blobs))
	for k, b := range blobs {
		out[k] = s.blobs.InternFrom(m.table, b)
	}
	return out
}

type warning struct {
	digest string // the manifest or blob concerned
	msg    string
	// soft: the image is known whole, only a detail (its config's created
	// time) is not; a platform manifest that could not be read is not soft.
	soft bool
}

// manifest returns what digest's manifest holds, reading it (from the
// digest cache, else repository r) the first time the digest is met
// anywhere. desc is the manifest when the caller already has it (fetched by
// tag), else nil. It returns nil only when ctx ends.
func (s *scanner) manifest(ctx context.Context, p *remote.Puller, r name.Repository, digest string, desc *remote.Descriptor) *manifestInfo {
	info, _ := s.manifests.do(ctx, digest, func() *manifestInfo {
		mt, body, err := s.manifestBytes(ctx, p, r, digest, desc)
		if err != nil {
			return &manifestInfo{err: err}
		}
		return s.readManifest(ctx, p, r, digest, mt, body)
	})
	return info
}

// rawManifest holds the fields that tell manifest kinds apart.
type rawManifest struct {
	MediaType string          `json:"mediaType"`
	Config    json.RawMessage `json:"config"`
	Layers    json.RawMessage `json:"layers"`
	Manifests json.RawMessage `json:"manifests"`
	FSLayers  json.RawMessage `json:"fsLayers"`
}

// shape is what tells manifest kinds apart when the Content-Type does
// not: the manifest's own mediaType, and which fields it has.
type shape struct {
	mediaType                           string
	config, layers, manifests, fsLayers bool
}

func (raw *rawManifest) shape() shape {
	return shape{raw.MediaType, raw.Config != nil, raw.Layers != nil, raw.Manifests != nil, raw.FSLayers != nil}
}

func (d *manifestDoc) shape() shape {
	return shape{d.MediaType, d.Config != nil, d.Layers != nil, d.Manifests != nil, d.FSLayers != nil}
}

// manifestKind resolves a manifest's media type from the Content-Type the
// registry sent and the manifest's own mediaType field (OCI allows leaving
// it out; then the fields decide).
func manifestKind(contentType string, raw shape) string {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.TrimSpace(ct)
	switch types.MediaType(ct) {
	case types.DockerManifestSchema2, types.OCIManifestSchema1, types.OCIImageIndex, types.DockerManifestList,
		types.DockerManifestSchema1, types.DockerManifestSchema1Signed:
		return ct
	}
	if ct != "" && ct != "application/json" && ct != "text/plain" && ct != "application/octet-stream" {
		return ct
	}
	switch {
	case raw.mediaType != "":
		return raw.mediaType
	case raw.manifests:
		return string(types.OCIImageIndex)
	case raw.config && raw.layers:
		return string(types.OCIManifestSchema1)
	case raw.fsLayers:
		return string(types.DockerManifestSchema1)
	}
	return ct
}

// manifestDoc is an image manifest or an index decoded in one pass: what
// tells the kinds apart, and what each kind needs.
type manifestDoc struct {
	SchemaVersion int64             `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        *v1.Descriptor    `json:"config"`
	Layers        []v1.Descriptor   `json:"layers"`
	Manifests     []v1.Descriptor   `json:"manifests"`
	Subject       *v1.Descriptor    `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
	FSLayers      json.RawMessage   `json:"fsLayers"`
}

// decodeManifest decodes body once. A body that does not decode so goes
// the long way, whose errors say what is wrong: not JSON at all, or not
// the manifest its kind says.
func decodeManifest(body []byte) (*manifestDoc, shape, error) {
	var d manifestDoc
	if json.Unmarshal(body, &d) == nil {
		return &d, d.shape(), nil
	}
	var raw rawManifest
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, shape{}, err
	}
	return nil, raw.shape(), nil
}

// readManifest parses a manifest and reads what it references.
func (s *scanner) readManifest(ctx context.Context, p *remote.Puller, r name.Repository, digest, contentType string, body []byte) *manifestInfo {
	ref := r.RepositoryStr() + "@" + digest
	doc, sh, err := decodeManifest(body)
	if err != nil {
		return &manifestInfo{err: fmt.Errorf("manifest %s is not valid JSON: %v", ref, err)}
	}
	mt := manifestKind(contentType, sh)
	self := s.blobs.Intern(digest, int64(len(body)))
	switch types.MediaType(mt) {
	case types.DockerManifestSchema2, types.OCIManifestSchema1:
		m := &v1.Manifest{}
		if doc != nil {
			m.SchemaVersion, m.MediaType, m.Layers, m.Subject, m.Annotations = doc.SchemaVersion, types.MediaType(doc.MediaType), doc.Layers, doc.Subject, doc.Annotations
			if doc.Config != nil {
				m.Config = *doc.Config
			}
		} else if m, err = v1.ParseManifest(bytes.NewReader(body)); err != nil {
			return &manifestInfo{err: fmt.Errorf("manifest %s (%s) does not parse: %v", ref, mt, err)}
		}
		return s.readImage(ctx, p, r, ref, mt, self, m)
	case types.OCIImageIndex, types.DockerManifestList:
		idx := &v1.IndexManifest{}
		if doc != nil {
			idx.SchemaVersion, idx.MediaType, idx.Manifests, idx.Subject, idx.Annotations = doc.SchemaVersion, types.MediaType(doc.MediaType), doc.Manifests, doc.Subject, doc.Annotations
		} else if idx, err = v1.ParseIndexManifest(bytes.NewReader(body)); err != nil {
			return &manifestInfo{err: fmt.Errorf("index %s (%s) does not parse: %v", ref, mt, err)}
		}
		return s.readIndex(ctx, p, r, ref, mt, self, idx)
	case types.DockerManifestSchema1, types.DockerManifestSchema1Signed:
		return &manifestInfo{err: fmt.Errorf("manifest %s is a Docker schema 1 manifest (%s), which records no sizes; not supported", ref, mt)}
	case "":
		return &manifestInfo{err: fmt.Errorf("manifest %s has no media type and is neither an image manifest nor an index", ref)}
	}
	return &manifestInfo{err: fmt.Errorf("manifest %s has unknown media type %q", ref, mt)}
}

func (s *scanner) readImage(ctx context.Context, p *remote.Puller, r name.Repository, ref, mt string, self int32, m *v1.Manifest) *manifestInfo {
	if m.Config.Digest.Hex == "" {
		return &manifestInfo{err: fmt.Errorf("manifest %s (%s) has no config", ref, mt)}
	}
	info := &manifestInfo{mediaType: unique.Make(mt).Value(), table: s.blobs.Table(), blobs: make([]int32, 0, 2+len(m.Layers))}
	if m.Subject != nil {
		info.extra().subject = m.Subject.Digest.String()
	}
	info.blobs = append(info.blobs, self, s.blobs.Intern(m.Config.Digest.String(), m.Config.Size))
	for _, l := range m.Layers {
		if !l.MediaType.IsDistributable() {
			continue // foreign layers live outside the registry
		}
		info.blobs = append(info.blobs, s.blobs.Intern(l.Digest.String(), l.Size))
	}
	if s.skipConfigs {
		info.problem = model.CreatedMissing
		return info
	}
	cfg := s.config(ctx, p, r, m.Config)
	if cfg == nil {
		return info // ctx ended
	}
	info.created, info.problem, info.platform = cfg.created, cfg.problem, cfg.platform
	if cfg.err != "" {
		x := info.extra()
		x.warnings = append(x.warnings, warning{digest: m.Config.Digest.String(), msg: cfg.err, soft: true})
	}
	return info
}

// attestation reports whether an index entry is a build attestation
// (BuildKit's "unknown/unknown" provenance manifests), not a platform.
func attestation(d v1.Descriptor) bool {
	if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
		return true
	}
	return d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown"
}

func platformString(os, arch, variant string) string {
	if os == "" && arch == "" {
		return ""
	}
	s := os + "/" + arch
	if variant != "" {
		s += "/" + variant
	}
	return s
}

func (s *scanner) readIndex(ctx context.Context, p *remote.Puller, r name.Repository, ref, mt string, self int32, idx *v1.IndexManifest) *manifestInfo {
	x := new(manifestMore)
	info := &manifestInfo{mediaType: mt, table: s.blobs.Table(), blobs: []int32{self}, problem: model.CreatedMissing, more: x}
	if idx.Subject != nil {
		x.subject = idx.Subject.Digest.String()
	}
	have := map[int32]bool{self: true}
	addBlobs := func(bs []int32) {
		for _, b := range bs {
			if !have[b] {
				have[b] = true
				info.blobs = append(info.blobs, b)
			}
		}
	}
	var bogus time.Time
	for _, d := range idx.Manifests {
		cd := d.Digest.String()
		child := s.manifest(ctx, p, r, cd, nil) // cached when listed twice
		if child == nil {
			return info // ctx ended
		}
		if child.err != nil {
			if !slices.ContainsFunc(x.warnings, func(w warning) bool { return w.digest == cd }) {
				x.warnings = append(x.warnings, warning{digest: cd, msg: fmt.Sprintf("platform manifest of index %s: %v", ref, child.err)})
			}
			continue
		}
		if !slices.Contains(x.children, cd) {
			x.children = append(x.children, cd)
			childBlobs := s.rows(child, child.blobs)
			x.childBlobs = append(x.childBlobs, childBlobs)
			for k, c := range child.children() { // a nested index
				if !slices.Contains(x.children, c) {
					x.children = append(x.children, c)
					x.childBlobs = append(x.childBlobs, s.rows(child, child.childBlobs()[k]))
				}
			}
			addBlobs(childBlobs)
			x.warnings = append(x.warnings, child.warnings()...)
		}
		if attestation(d) {
			continue
		}
		plats := child.platforms()
		if d.Platform != nil && d.Platform.OS != "" {
			plats = []string{platformString(d.Platform.OS, d.Platform.Architecture, d.Platform.Variant)}
		} else if child.platform != "" {
			plats = []string{child.platform}
		}
		for _, pl := range plats {
			if !slices.Contains(x.platforms, pl) {
				x.platforms = append(x.platforms, pl)
			}
		}
		switch child.problem {
		case model.CreatedOK:
			if info.problem != model.CreatedOK || child.created.After(info.created) {
				info.created, info.problem = child.created, model.CreatedOK
			}
		case model.CreatedBogus:
			if child.created.After(bogus) || bogus.IsZero() {
				bogus = child.created
			}
		}
	}
	if info.problem != model.CreatedOK && !bogus.IsZero() {
		info.created, info.problem = bogus, model.CreatedBogus
	}
	return info
}

// configInfo is what a scan reads from an image config.
type configInfo struct {
	created  time.Time
	problem  model.CreatedProblem
	platform string
	err      string
}

// config reads an image config once per digest over the whole scan. It
// returns nil only when ctx ends.
func (s *scanner) config(ctx context.Context, p *remote.Puller, r name.Repository, d v1.Descriptor) *configInfo {
	info, _ := s.configs.do(ctx, d.Digest.String(), func() *configInfo { return s.readConfig(ctx, p, r, d) })
	return info
}

func (s *scanner) readConfig(ctx context.Context, p *remote.Puller, r name.Repository, d v1.Descriptor) *configInfo {
	missing := &configInfo{problem: model.CreatedMissing}
	ref := r.RepositoryStr() + "@" + d.Digest.String()
	if !strings.HasSuffix(string(d.MediaType), "json") {
		return missing // not an image config: an artifact's, with no created time
	}
	if d.Size > maxConfigSize {
		missing.err = fmt.Sprintf("config %s is %d bytes, over the %d read for its created time", ref, d.Size, maxConfigSize)
		return missing
	}
	data, err := s.blob(ctx, p, r, d.Digest.String())
	if err != nil {
		if ctx.Err() == nil {
			missing.err = describe("get config "+ref, err).Error()
		}
		return missing
	}
	var cf struct {
		Created      *string `json:"created"`
		OS           string  `json:"os"`
		Architecture string  `json:"architecture"`
		Variant      string  `json:"variant"`
	}
	if err := json.Unmarshal(data, &cf); err != nil {
		missing.err = fmt.Sprintf("config %s is not valid JSON: %v", ref, err)
		return missing
	}
	info := &configInfo{problem: model.CreatedMissing, platform: unique.Make(platformString(cf.OS, cf.Architecture, cf.Variant)).Value()}
	if cf.Created == nil || *cf.Created == "" {
		return info
	}
	t, err := time.Parse(time.RFC3339Nano, *cf.Created)
	switch {
	case err != nil:
		info.err = fmt.Sprintf("config %s: created %q is not an RFC 3339 time", ref, *cf.Created)
	case t.IsZero():
	case t.Before(bogusBefore):
		info.created, info.problem = t, model.CreatedBogus
	default:
		info.created, info.problem = t, model.CreatedOK
	}
	return info
}

// readBlob reads a (small) blob, verifying its digest.
func readBlob(ctx context.Context, p *remote.Puller, ref name.Digest) ([]byte, error) {
	l, err := p.Layer(ctx, ref)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxConfigSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("blob is over %d bytes", maxConfigSize)
	}
	return data, nil
}
