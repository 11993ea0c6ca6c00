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
	"regexp"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// This file turns a Population into images: first a plan of repositories,
// images, ages and tags drawn from one seeded generator, then the bytes of
// every layer, config and manifest. Nothing here does I/O.

const day = 24 * time.Hour

// Repositories that are not repo2docker builds.
const (
	hubRepository  = "jupyterhub/k8s-hub"
	baseRepository = "base"
)

// binderSources are GitHub repositories of the kind people launch on
// mybinder.org, turned into repo2docker-style image names.
var binderSources = [][2]string{
	{"binder-examples", "requirements"}, {"binder-examples", "conda"},
	{"binder-examples", "r"}, {"binder-examples", "julia-python"},
	{"jupyterlab", "jupyterlab-demo"}, {"ipython", "ipython-in-depth"},
	{"norvig", "pytudes"}, {"jakevdp", "PythonDataScienceHandbook"},
	{"ageron", "handson-ml2"}, {"QuantEcon", "lecture-python.myst"},
	{"data-8", "materials-sp22"}, {"numpy", "numpy-tutorials"},
	{"pangeo-data", "pangeo-tutorial"}, {"holoviz", "panel"},
	{"bokeh", "bokeh-notebooks"}, {"spacetelescope", "jdaviz"},
	{"rasbt", "deeplearning-models"}, {"mybinder-org", "example"},
	{"jupyter-widgets", "ipywidgets"}, {"voila-dashboards", "voila-gallery"},
	{"executablebooks", "jupyter-book"}, {"scikit-image", "skimage-tutorials"},
	{"fastai", "fastbook"}, {"jupyterhub", "binder-examples"},
}

// extraBranches are second tags for binder images besides the newest.
var extraBranches = []string{"develop", "gh-pages", "stable", "latest", "dev", "binder", "staging", "v1.0", "v2.0", "release"}

type repoKind int

const (
	kindBinder repoKind = iota
	kindHub
	kindBase
)

type createdKind int

const (
	createdNormal createdKind = iota
	createdEpoch
	createdMissing
)

type repoPlan struct {
	name     string
	kind     repoKind
	source   string    // GitHub URL, binder only
	envMB    []float64 // environment layer versions, oldest first, binder only
	tagCount int
	images   []*imagePlan // newest first
}

type imagePlan struct {
	repo    *repoPlan
	j       int           // position in repo, 0 = newest
	age     time.Duration // build age, also for images whose config lies
	ntags   int
	tags    []string
	kind    createdKind
	index   bool
	commit  string // 40 hex, the image's revision label
	version string // k8s-hub only
	// sizes in MB of the image's own layers (postBuildMB 0: none)
	topMB, postBuildMB float64
}

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

type populationPlan struct {
	repositories []string
	images       []plannedImage
}

func (pl *populationPlan) seeded(p Population) *Seeded {
	out := &Seeded{Population: p, Repositories: pl.repositories}
	for _, im := range pl.images {
		out.Images = append(out.Images, im.truth)
	}
	return out
}

type builder struct {
	p      Population
	rng    *rand.Rand
	repos  []*repoPlan
	blobs  map[string]*layerBlob // by layer id
	layers map[layerKey]*blobLayer
}

type layerKey struct {
	id string
	mt types.MediaType
}

type layerBlob struct {
	data   []byte
	digest v1.Hash
}

func buildPopulation(p Population) (*populationPlan, error) {
	b := &builder{
		p:      p,
		rng:    rand.New(rand.NewPCG(uint64(p.Seed), 0x62696e646572)),
		blobs:  make(map[string]*layerBlob),
		layers: make(map[layerKey]*blobLayer),
	}
	b.planRepositories()
	b.planImages()
	b.planSpecials()
	b.planTags()

	out := &populationPlan{}
	for _, r := range b.repos {
		out.repositories = append(out.repositories, r.name)
		for _, im := range r.images {
			pi, err := b.build(im)
			if err != nil {
				return nil, fmt.Errorf("build image %d of %s: %w", im.j, r.name, err)
			}
			out.images = append(out.images, pi)
		}
	}
	return out, nil
}

var nonNameChars = regexp.MustCompile(`[^a-z0-9]+`)

func (b *builder) planRepositories() {
	n := b.p.Repositories
	nonBinder := 0
	switch {
	case n >= 6:
		nonBinder = 2
	case n >= 3:
		nonBinder = 1
	}
	sources := slices.Clone(binderSources)
	b.rng.Shuffle(len(sources), func(i, j int) { sources[i], sources[j] = sources[j], sources[i] })
	seen := make(map[string]bool)
	for i := 0; i < n-nonBinder; i++ {
		org, repo := sources[i%len(sources)][0], sources[i%len(sources)][1]
		if i >= len(sources) {
			repo = fmt.Sprintf("%s-%d", repo, i/len(sources))
		}
		slug := strings.Trim(nonNameChars.ReplaceAllString(strings.ToLower(org+"-"+repo), "-"), "-")
		var nm string
		for nm == "" || seen[nm] {
			nm = "binder-" + slug + "-" + b.hex(6)
		}
		seen[nm] = true
		envs := make([]float64, 1+b.rng.IntN(3))
		for k := range envs {
			envs[k] = 20 + 280*b.rng.Float64()
		}
		b.repos = append(b.repos, &repoPlan{name: nm, kind: kindBinder, source: "https://github.com/" + org + "/" + repo, envMB: envs})
	}
	if nonBinder >= 1 {
		b.repos = append(b.repos, &repoPlan{name: hubRepository, kind: kindHub})
	}
	if nonBinder >= 2 {
		b.repos = append(b.repos, &repoPlan{name: baseRepository, kind: kindBase})
	}
	for _, r := range b.repos {
		r.name = b.p.Prefix + r.name
	}
	slices.SortFunc(b.repos, func(x, y *repoPlan) int { return strings.Compare(x.name, y.name) })

	// Split the tags unevenly: a few busy repositories, many quiet ones.
	total := n * b.p.TagsPerRepository
	weights := make([]float64, n)
	var sum float64
	for i := range weights {
		weights[i] = 0.3 + b.rng.ExpFloat64()
		sum += weights[i]
	}
	spare := total - n
	given := 0
	type rem struct {
		i    int
		frac float64
	}
	rems := make([]rem, n)
	for i, r := range b.repos {
		share := float64(spare) * weights[i] / sum
		whole := int(math.Floor(share))
		r.tagCount = 1 + whole
		given += whole
		rems[i] = rem{i, share - float64(whole)}
	}
	slices.SortStableFunc(rems, func(x, y rem) int {
		switch {
		case x.frac > y.frac:
			return -1
		case x.frac < y.frac:
			return 1
		}
		return 0
	})
	for k := 0; k < spare-given; k++ {
		b.repos[rems[k].i].tagCount++
	}
}

func (b *builder) planImages() {
	for _, r := range b.repos {
		var counts []int
		for left := r.tagCount; left > 0; {
			n := 1
			if left >= 2 && (len(counts) == 0 || b.rng.Float64() < 0.12) {
				n = 2 // the newest image always carries a moving tag too
			}
			counts = append(counts, n)
			left -= n
		}
		ages := make([]time.Duration, len(counts))
		for k := range ages {
			if b.rng.Float64() < 0.8 {
				ages[k] = 10*time.Minute + time.Duration(b.rng.Int64N(int64(89*day)))
			} else {
				ages[k] = 91*day + time.Duration(b.rng.Int64N(int64(274*day)))
			}
		}
		slices.Sort(ages)
		for k, n := range counts {
			im := &imagePlan{repo: r, j: k, age: ages[k], ntags: n, commit: b.hex(40)}
			switch r.kind {
			case kindBinder:
				// repository contents: 50 kB to 20 MB, log-uniform
				im.topMB = math.Exp(math.Log(0.05) + b.rng.Float64()*math.Log(20/0.05))
				if b.rng.Float64() < 0.3 {
					im.postBuildMB = 1 + 59*b.rng.Float64()
				}
			case kindHub:
				im.topMB = 2 + 2*b.rng.Float64()
			case kindBase:
				im.topMB = 60 + 30*b.rng.Float64()
			}
			r.images = append(r.images, im)
		}
	}

	// At least one image past 90 days, whatever the draw: the oldest image
	// of the busiest repository (ages are sorted, so it stays the oldest).
	old := false
	total := 0
	for _, r := range b.repos {
		total += len(r.images)
		old = old || slices.ContainsFunc(r.images, func(im *imagePlan) bool { return im.age > 90*day })
	}
	if total >= 2 && !old {
		busiest := slices.MaxFunc(b.repos, func(x, y *repoPlan) int { return len(x.images) - len(y.images) })
		busiest.images[len(busiest.images)-1].age = 120*day + time.Duration(b.rng.Int64N(int64(200*day)))
	}
}

// planSpecials picks the multi-platform index, the 1970 image and the image
// without a created field.
func (b *builder) planSpecials() {
	if b.p.MultiPlatform {
		target := b.repos[0]
		for _, r := range b.repos {
			if r.kind == kindHub {
				target = r
			}
		}
		target.images[0].index = true
	}

	var epoch *imagePlan
	for _, r := range b.repos {
		if r.kind == kindBase {
			epoch = r.images[len(r.images)-1]
		}
	}
	if epoch == nil {
		for i := len(b.repos) - 1; i >= 0 && epoch == nil; i-- {
			for k := len(b.repos[i].images) - 1; k >= 0; k-- {
				if im := b.repos[i].images[k]; !im.index {
					epoch = im
					break
				}
			}
		}
	}

	var candidates []*imagePlan
	for _, r := range b.repos {
		if r.kind != kindBinder {
			continue
		}
		for _, im := range r.images {
			if !im.index && im != epoch {
				candidates = append(candidates, im)
			}
		}
	}
	if epoch != nil && len(candidates) > 0 {
		epoch.kind = createdEpoch
		candidates[b.rng.IntN(len(candidates))].kind = createdMissing
	}
}

func (b *builder) planTags() {
	for _, r := range b.repos {
		used := make(map[string]bool)
		switch r.kind {
		case kindBinder:
			b.binderTags(r, used)
		case kindHub:
			b.hubTags(r, used)
		case kindBase:
			b.baseTags(r, used)
		}
	}
}

func claim(used map[string]bool, tag string) string {
	t := tag
	for n := 2; used[t]; n++ {
		t = fmt.Sprintf("%s-%d", tag, n)
	}
	used[t] = true
	return t
}

func (b *builder) binderTags(r *repoPlan, used map[string]bool) {
	extras := slices.Clone(extraBranches)
	b.rng.Shuffle(len(extras), func(i, j int) { extras[i], extras[j] = extras[j], extras[i] })
	for _, im := range r.images {
		primary := im.commit
		if b.rng.Float64() < 0.1 {
			primary = im.commit[:7]
		}
		im.tags = []string{claim(used, primary)}
		if im.ntags < 2 {
			continue
		}
		var second string
		switch {
		case im.j == 0:
			second = []string{"main", "master"}[b.rng.IntN(2)]
		case len(extras) > 0:
			second, extras = extras[0], extras[1:]
		case len(primary) == 40:
			second = primary[:7]
		default:
			second = "ref-" + b.hex(8)
		}
		im.tags = append(im.tags, claim(used, second))
	}
}

// hubTags are chartpress versions, newest first: dev builds
// `X.Y.(Z+1)-0.dev.git.N.hHASH` between stable releases `X.Y.Z`.
func (b *builder) hubTags(r *repoPlan, used map[string]bool) {
	major, minor, patch := 4+len(r.images)/40, 1+b.rng.IntN(3), b.rng.IntN(4)
	build := 6800 + b.rng.IntN(400)
	for _, im := range r.images {
		var v string
		if im.j%5 == 1 {
			v = fmt.Sprintf("%d.%d.%d", major, minor, patch)
			if patch--; patch < 0 {
				patch = 3
				if minor--; minor < 0 {
					minor, major = 3, major-1
				}
			}
		} else {
			v = fmt.Sprintf("%d.%d.%d-0.dev.git.%d.h%s", major, minor, patch+1, build, im.commit[:8])
			build -= 1 + b.rng.IntN(25)
		}
		im.version = v
		im.tags = []string{claim(used, v)}
		if im.ntags < 2 {
			continue
		}
		second := "latest"
		if im.j > 0 {
			second = fmt.Sprintf("%d.%d", major, minor)
		}
		im.tags = append(im.tags, claim(used, second))
	}
}

func (b *builder) baseTags(r *repoPlan, used map[string]bool) {
	for _, im := range r.images {
		built := b.p.Now.Add(-im.age)
		im.tags = []string{claim(used, built.Format("2006-01-02"))}
		if im.ntags < 2 {
			continue
		}
		second := "latest"
		if im.j > 0 {
			second = im.tags[0] + "-" + osRelease(im.age)
		}
		im.tags = append(im.tags, claim(used, second))
	}
}

func osRelease(age time.Duration) string {
	if age > 200*day {
		return "jammy"
	}
	return "noble"
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
func (l *blobLayer) Size() (int64, error)                { return int64(len(l.data)), nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
