package registrytest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The bytes of a planned image: its layers, configs and manifests (single-
// or multi-platform, Docker or OCI), and the blobs they are pushed as.

// plannedImage is an image ready to push: blobs first (layers and configs,
// platform images' included), then an index's platform manifests by
// digest, then the top manifest under each tag.
type plannedImage struct {
	truth    SeededImage
	blobs    []*blobLayer
	children []rawManifest
	top      rawManifest
}

// rawManifest is a manifest's exact bytes; it is a remote.Taggable.
type rawManifest struct {
	raw    []byte
	mt     types.MediaType
	digest v1.Hash
}

func newRawManifest(raw []byte, mt types.MediaType) rawManifest {
	return rawManifest{raw: raw, mt: mt, digest: sha256Hash(raw)}
}

// RawManifest implements remote.Taggable.
func (m rawManifest) RawManifest() ([]byte, error) { return m.raw, nil }

// MediaType tells remote the Content-Type to send.
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

type layerKey struct {
	id string
	mt types.MediaType
}

type layerBlob struct {
	data   []byte
	digest v1.Hash
}

// layerRef names a layer and its realistic size in MB.
type layerRef struct {
	id string
	mb float64
}

func layersFor(im *imagePlan, arch string) []layerRef {
	r := im.repo
	osr := osRelease(im.age)
	osLayer := layerRef{"ubuntu-" + osr, 29}
	if osr == "noble" {
		osLayer.mb = 30
	}
	per := func(kind string) string { return fmt.Sprintf("%s/%s/%d", kind, r.name, im.j) }
	switch r.kind {
	case kindHub:
		deps := 1
		if im.age > 150*day {
			deps = 0
		}
		return []layerRef{
			{"python-3.12-bookworm-" + arch, 45},
			{fmt.Sprintf("hub-deps-%s/%d", arch, deps), 150},
			{per("hub-app"), im.topMB}, // pure Python: the same bytes on every platform
		}
	case kindBase:
		return []layerRef{osLayer, {per("base-tools"), im.topMB}}
	}
	conda := layerRef{"conda-24", 380}
	if im.age > 120*day {
		conda = layerRef{"conda-23", 330}
	}
	nv := len(r.envMB)
	env := nv - 1 - min(nv-1, int(im.age*time.Duration(nv)/(365*day)))
	out := []layerRef{
		osLayer,
		{"r2d-apt-" + osr, 110},
		conda,
		{fmt.Sprintf("env/%s/%d", r.name, env), r.envMB[env]},
		{per("content"), im.topMB},
	}
	if im.postBuildMB > 0 {
		out = append(out, layerRef{per("postbuild"), im.postBuildMB})
	}
	return out
}

// imageConfig is the subset of an image config the population writes; its
// fields marshal in a fixed order, and Created is omitted when nil.
type imageConfig struct {
	Architecture string          `json:"architecture"`
	Config       containerConfig `json:"config"`
	Created      *time.Time      `json:"created,omitempty"`
	OS           string          `json:"os"`
	RootFS       rootFS          `json:"rootfs"`
}

type containerConfig struct {
	User       string            `json:"User,omitempty"`
	Env        []string          `json:"Env,omitempty"`
	Cmd        []string          `json:"Cmd,omitempty"`
	WorkingDir string            `json:"WorkingDir,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

func (b *builder) config(im *imagePlan, arch string) imageConfig {
	c := imageConfig{Architecture: arch, OS: "linux", RootFS: rootFS{Type: "layers"}}
	switch im.kind {
	case createdNormal:
		t := b.p.Now.Add(-im.age).Truncate(time.Second)
		c.Created = &t
	case createdEpoch:
		t := time.Unix(0, 0).UTC()
		c.Created = &t
	}
	switch im.repo.kind {
	case kindBinder:
		c.Config = containerConfig{
			User:       "jovyan",
			Env:        []string{"PATH=/srv/conda/envs/notebook/bin:/srv/conda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "REPO_DIR=/home/jovyan"},
			Cmd:        []string{"jupyter", "notebook", "--ip", "0.0.0.0"},
			WorkingDir: "/home/jovyan",
			Labels: map[string]string{
				"repo2docker.ref":     im.commit,
				"repo2docker.repo":    im.repo.source,
				"repo2docker.version": "2024.07.0",
			},
		}
	case kindHub:
		c.Config = containerConfig{
			User:       "jovyan",
			Cmd:        []string{"jupyterhub", "--config", "/usr/local/etc/jupyterhub/jupyterhub_config.py"},
			WorkingDir: "/srv/jupyterhub",
			Labels: map[string]string{
				"org.opencontainers.image.revision": im.commit,
				"org.opencontainers.image.source":   "https://github.com/jupyterhub/zero-to-jupyterhub-k8s",
				"org.opencontainers.image.version":  im.version,
			},
		}
	case kindBase:
		c.Config = containerConfig{
			Env:    []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd:    []string{"/bin/bash"},
			Labels: map[string]string{"org.opencontainers.image.revision": im.commit},
		}
	}
	return c
}

// layerBytes returns a layer's deterministic content: a header naming it,
// then pseudo-random bytes up to its scaled size.
func (b *builder) layerBytes(ref layerRef) *layerBlob {
	if lb, ok := b.blobs[ref.id]; ok {
		return lb
	}
	header := fmt.Sprintf("registrytest layer seed=%d id=%s\n", b.p.Seed, ref.id)
	size := max(int64(len(header)), int64(math.Round(ref.mb*float64(b.p.Scale))))
	data := make([]byte, size)
	n := copy(data, header)
	_, _ = rand.NewChaCha8(sha256.Sum256([]byte(header))).Read(data[n:])
	sum := sha256.Sum256(data)
	lb := &layerBlob{data: data, digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}}
	b.blobs[ref.id] = lb
	return lb
}

func (b *builder) layer(ref layerRef, mt types.MediaType) *blobLayer {
	k := layerKey{ref.id, mt}
	if l, ok := b.layers[k]; ok {
		return l
	}
	lb := b.layerBytes(ref)
	l := &blobLayer{data: lb.data, digest: lb.digest, mt: mt}
	b.layers[k] = l
	return l
}

// builtImage is one image manifest with everything it references.
type builtImage struct {
	manifest rawManifest
	uploads  []*blobLayer // config, then layers
	blobs    []Blob       // manifest, config, layers
}

func (b *builder) buildImage(im *imagePlan, arch string, oci bool) (*builtImage, error) {
	manifestMT, configMT, layerMT := types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer
	if oci {
		manifestMT, configMT, layerMT = types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer
	}
	cfg := b.config(im, arch)
	m := v1.Manifest{SchemaVersion: 2, MediaType: manifestMT}
	var layers []*blobLayer
	var layerBlobs []Blob
	for _, ref := range layersFor(im, arch) {
		l := b.layer(ref, layerMT)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.digest.String())
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: layerMT, Size: int64(len(l.data)), Digest: l.digest})
		layers = append(layers, l)
		layerBlobs = append(layerBlobs, Blob{Digest: l.digest.String(), Size: int64(len(l.data)), MediaType: string(layerMT)})
	}
	rawCfg, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	cfgLayer := &blobLayer{data: rawCfg, digest: sha256Hash(rawCfg), mt: configMT}
	m.Config = v1.Descriptor{MediaType: configMT, Size: int64(len(rawCfg)), Digest: cfgLayer.digest}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	mf := newRawManifest(raw, manifestMT)
	blobs := append([]Blob{
		{Digest: mf.digest.String(), Size: int64(len(raw)), MediaType: string(manifestMT)},
		{Digest: cfgLayer.digest.String(), Size: int64(len(rawCfg)), MediaType: string(configMT)},
	}, layerBlobs...)
	return &builtImage{manifest: mf, uploads: append([]*blobLayer{cfgLayer}, layers...), blobs: dedupeBlobs(blobs)}, nil
}

func (b *builder) build(im *imagePlan) (plannedImage, error) {
	truth := SeededImage{Repository: im.repo.name, Tags: im.tags, CreatedMissing: im.kind == createdMissing}
	switch im.kind {
	case createdNormal:
		truth.Created = b.p.Now.Add(-im.age).Truncate(time.Second)
	case createdEpoch:
		truth.Created = time.Unix(0, 0).UTC()
	}
	oci := im.repo.kind == kindHub
	if !im.index {
		bi, err := b.buildImage(im, "amd64", oci)
		if err != nil {
			return plannedImage{}, err
		}
		truth.Digest, truth.MediaType, truth.Blobs = bi.manifest.digest.String(), string(bi.manifest.mt), bi.blobs
		return plannedImage{truth: truth, blobs: bi.uploads, top: bi.manifest}, nil
	}

	pi := plannedImage{}
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	var childBlobs []Blob
	for _, arch := range []string{"amd64", "arm64"} {
		bi, err := b.buildImage(im, arch, true)
		if err != nil {
			return plannedImage{}, fmt.Errorf("%s image: %w", arch, err)
		}
		index.Manifests = append(index.Manifests, v1.Descriptor{
			MediaType: bi.manifest.mt,
			Size:      int64(len(bi.manifest.raw)),
			Digest:    bi.manifest.digest,
			Platform:  &v1.Platform{Architecture: arch, OS: "linux"},
		})
		pi.blobs = append(pi.blobs, bi.uploads...)
		pi.children = append(pi.children, bi.manifest)
		childBlobs = append(childBlobs, bi.blobs...)
		truth.Platforms = append(truth.Platforms, "linux/"+arch)
		truth.Children = append(truth.Children, bi.manifest.digest.String())
	}
	raw, err := json.Marshal(index)
	if err != nil {
		return plannedImage{}, fmt.Errorf("encode index: %w", err)
	}
	pi.top = newRawManifest(raw, types.OCIImageIndex)
	truth.Digest, truth.MediaType = pi.top.digest.String(), string(types.OCIImageIndex)
	truth.Blobs = dedupeBlobs(append([]Blob{{Digest: truth.Digest, Size: int64(len(raw)), MediaType: truth.MediaType}}, childBlobs...))
	pi.truth = truth
	return pi, nil
}

func dedupeBlobs(in []Blob) []Blob {
	seen := make(map[string]bool, len(in))
	out := in[:0]
	for _, b := range in {
		if !seen[b.Digest] {
			seen[b.Digest] = true
			out = append(out, b)
		}
	}
	return out
}

func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func (b *builder) hex(n int) string {
	buf := make([]byte, (n+1)/2)
	for i := range buf {
		buf[i] = byte(b.rng.Uint32())
	}
	return hex.EncodeToString(buf)[:n]
}

// blobLayer is a layer (or config) whose bytes are in memory. Its bytes are
// not gzip: the registry stores blobs without looking inside, and DiffID
// equals Digest as for go-containerregistry's static layers.
type blobLayer struct {
	data   []byte
	digest v1.Hash
	mt     types.MediaType
}

func (l *blobLayer) Digest() (v1.Hash, error) { return l.digest, nil }

func (l *blobLayer) DiffID() (v1.Hash, error) { return l.digest, nil }

func (l *blobLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.data)), nil
}

func (l *blobLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.data)), nil
}

func (l *blobLayer) Size() (int64, error) { return int64(len(l.data)), nil }

func (l *blobLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
