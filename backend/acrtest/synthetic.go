// This file is over 500 lines: the synthetic registry's generator and its
// answers to every endpoint, which must agree with each other digest for
// digest, side by side.

package acrtest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Synthetic describes the registry [NewSynthetic] makes up: BinderHub-like
// repositories of single-platform images with one tag each (a 12-hex-digit
// ref, as BinderHub names its builds), every tenth manifest untagged (a
// rebuild's leftover), and, in every repository of at least 10 manifests,
// one multi-platform index of two platform manifests. Layers come from a
// few shared base images plus layers of each image's own; push times are
// spread over the two years before Now.
type Synthetic struct {
	// Repositories is the number of repositories (at least 1).
	Repositories int
	// ManifestsPerRepository is the number of manifests each repository
	// lists, index and platform manifests and untagged ones included (at
	// least 1).
	ManifestsPerRepository int
	// Seed selects the population: the same Synthetic gives the same
	// names, digests, sizes and times.
	Seed uint64
	// Now is the newest push time; zero means time.Now() at start.
	Now time.Time
}

// Media types of the synthetic manifests and configs.
const (
	synthManifestType = "application/vnd.oci.image.manifest.v1+json"
	synthIndexType    = "application/vnd.oci.image.index.v1+json"
	synthConfigType   = "application/vnd.oci.image.config.v1+json"
	synthLayerType    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// NewSynthetic starts the stand-in on 127.0.0.1 with a registry it makes
// up rather than reads: spec's manifests and image configs are generated
// deterministically when asked for, and none is stored, so that 100,000
// manifests cost tens of megabytes rather than a populated registry. It
// serves every request of [New] the same way, with the same tokens, locks
// and errors, except that it takes no pushes (405 UNSUPPORTED) and holds
// no layer content (a layer GET answers 404 BLOB_UNKNOWN; its HEAD, the
// layer's size). Deletes and untags change what it serves from then on.
func NewSynthetic(ctx context.Context, spec Synthetic, opts ...Option) (*Server, error) {
	if spec.Repositories < 1 || spec.ManifestsPerRepository < 1 {
		return nil, fmt.Errorf("acrtest: synthetic registry of %d repositories of %d manifests: want at least 1 of each", spec.Repositories, spec.ManifestsPerRepository)
	}
	if spec.Repositories > 1<<20 || spec.ManifestsPerRepository > 1<<20 {
		return nil, fmt.Errorf("acrtest: synthetic registry of %d repositories of %d manifests: at most %d of each", spec.Repositories, spec.ManifestsPerRepository, 1<<20)
	}
	if spec.Now.IsZero() {
		spec.Now = time.Now()
	}
	return start(ctx, func(*Server) (store, error) { return newSynthStore(ctx, spec) }, opts)
}

// synthKind is what a synthetic manifest is.
type synthKind uint8

const (
	synthImage synthKind = iota
	synthIndex
	synthChild // a platform manifest of the index at position 0
)

// synthManifest is what the store keeps of one manifest: enough to list
// it and to find it again; its content is made anew when asked for.
type synthManifest struct {
	digest  string
	config  string // the config's digest; "" for an index
	tag     string // "" when untagged
	pushed  time.Time
	size    int64 // config and layers; 0 for an index
	layers  []synthLayer
	kind    synthKind
	arch    string
	deleted bool
}

type synthLayer struct {
	digest string
	size   int64
}

type synthRepo struct {
	name      string
	manifests []synthManifest
}

// synthRef locates a manifest or config: repository and position.
type synthRef struct {
	repo, pos int32
	config    bool
}

type synthStore struct {
	spec     Synthetic
	base     [][]synthLayer // shared base images' layers
	mu       sync.Mutex     // guards deleted and tag of every manifest
	repos    []synthRepo    // sorted by name
	byName   map[string]int
	byDigest map[string][]synthRef // a digest may be in several repositories
	layers   map[string]int64      // every layer's size
}

func newSynthStore(ctx context.Context, spec Synthetic) (*synthStore, error) {
	g := &synthStore{spec: spec, byName: make(map[string]int, spec.Repositories), layers: map[string]int64{}}
	rng := rand.New(rand.NewPCG(spec.Seed, 0x5eed))
	for b := range 4 { // base images: 5 layers of 2-80 MB each
		var ls []synthLayer
		for l := range 5 {
			ls = append(ls, synthLayer{digest: fakeDigest(spec.Seed, "base", uint64(b), uint64(l)), size: (2 + rng.Int64N(78)) << 20})
		}
		g.base = append(g.base, ls)
	}
	names := make([]string, 0, spec.Repositories)
	for r := range spec.Repositories {
		name := fmt.Sprintf("binder-prod/r2d-%s", fakeDigest(spec.Seed, "repo", uint64(r), 0)[7:23])
		names = append(names, name)
	}
	slices.Sort(names)
	g.repos = make([]synthRepo, len(names))
	g.byDigest = make(map[string][]synthRef, 2*spec.Repositories*spec.ManifestsPerRepository)
	for r, name := range names {
		if r%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		g.byName[name] = r
		g.repos[r] = synthRepo{name: name, manifests: g.makeRepo(r)}
		for i := range g.repos[r].manifests {
			m := &g.repos[r].manifests[i]
			g.byDigest[m.digest] = append(g.byDigest[m.digest], synthRef{repo: int32(r), pos: int32(i)})
			if m.config != "" {
				g.byDigest[m.config] = append(g.byDigest[m.config], synthRef{repo: int32(r), pos: int32(i), config: true})
			}
			for _, l := range m.layers {
				g.layers[l.digest] = l.size
			}
		}
	}
	return g, nil
}

// makeRepo decides repository r's manifests and computes their digests.
func (g *synthStore) makeRepo(r int) []synthManifest {
	n := g.spec.ManifestsPerRepository
	rng := rand.New(rand.NewPCG(g.spec.Seed, uint64(r)+1))
	out := make([]synthManifest, n)
	withIndex := n >= 10
	base := g.base[rng.IntN(len(g.base))]
	for i := range out {
		m := &out[i]
		m.kind, m.arch = synthImage, "amd64"
		age := time.Duration(rng.Int64N(int64(730 * 24 * time.Hour)))
		m.pushed = g.spec.Now.Add(-age).Truncate(time.Second)
		switch {
		case withIndex && i == 0:
			m.kind = synthIndex
		case withIndex && i <= 2:
			m.kind = synthChild
			m.pushed = out[0].pushed
			if i == 2 {
				m.arch = "arm64"
			}
		}
		if m.kind != synthIndex {
			m.layers = append(slices.Clip(base), synthLayer{}, synthLayer{}, synthLayer{})
			for l := range 3 {
				m.layers[len(base)+l] = synthLayer{digest: fakeDigest(g.spec.Seed, "layer", uint64(r)<<20|uint64(i), uint64(l)), size: 1<<20 + rng.Int64N(200<<20)}
			}
			cfg := g.configOf(m)
			m.config = digestOf(cfg)
			m.size = int64(len(cfg))
			for _, l := range m.layers {
				m.size += l.size
			}
		}
		switch {
		case m.kind == synthIndex:
			m.tag = "multi-" + fakeDigest(g.spec.Seed, "tag", uint64(r), uint64(i))[7:13]
		case m.kind == synthImage && i%10 != 9:
			m.tag = fakeDigest(g.spec.Seed, "tag", uint64(r), uint64(i))[7:19]
		}
	}
	for i := range out { // children first: an index's content names them
		if out[i].kind != synthIndex {
			out[i].digest = digestOf(g.manifestOf(out, i))
		}
	}
	for i := range out {
		if out[i].kind == synthIndex {
			out[i].digest = digestOf(g.manifestOf(out, i))
		}
	}
	return out
}

// configOf is m's image config.
func (g *synthStore) configOf(m *synthManifest) []byte {
	diffIDs := make([]string, len(m.layers))
	for i, l := range m.layers {
		diffIDs[i] = l.digest
	}
	b, _ := json.Marshal(struct {
		Architecture string    `json:"architecture"`
		OS           string    `json:"os"`
		Created      time.Time `json:"created"`
		Config       struct{}  `json:"config"`
		RootFS       struct {
			Type    string   `json:"type"`
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}{Architecture: m.arch, OS: "linux", Created: m.pushed.Add(-3 * time.Minute).UTC(), RootFS: struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	}{"layers", diffIDs}})
	return b
}

type synthDescriptor struct {
	MediaType string         `json:"mediaType"`
	Digest    string         `json:"digest"`
	Size      int64          `json:"size"`
	Platform  *synthPlatform `json:"platform,omitempty"`
}

type synthPlatform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// manifestOf is the content of manifest i of a repository's ms.
func (g *synthStore) manifestOf(ms []synthManifest, i int) []byte {
	m := &ms[i]
	if m.kind == synthIndex {
		var children []synthDescriptor
		for c := range ms {
			if ms[c].kind == synthChild {
				children = append(children, synthDescriptor{MediaType: synthManifestType, Digest: ms[c].digest,
					Size: int64(len(g.manifestOf(ms, c))), Platform: &synthPlatform{ms[c].arch, "linux"}})
			}
		}
		b, _ := json.Marshal(struct {
			SchemaVersion int               `json:"schemaVersion"`
			MediaType     string            `json:"mediaType"`
			Manifests     []synthDescriptor `json:"manifests"`
		}{2, synthIndexType, children})
		return b
	}
	layers := make([]synthDescriptor, len(m.layers))
	for l, ly := range m.layers {
		layers[l] = synthDescriptor{MediaType: synthLayerType, Digest: ly.digest, Size: ly.size}
	}
	cfg := g.configOf(m)
	b, _ := json.Marshal(struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		Config        synthDescriptor   `json:"config"`
		Layers        []synthDescriptor `json:"layers"`
	}{2, synthManifestType, synthDescriptor{MediaType: synthConfigType, Digest: digestOf(cfg), Size: int64(len(cfg))}, layers})
	return b
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// fakeDigest is a well-formed digest standing for content nobody reads.
func fakeDigest(seed uint64, what string, a, b uint64) string {
	var buf [24]byte
	binary.LittleEndian.PutUint64(buf[0:], seed)
	binary.LittleEndian.PutUint64(buf[8:], a)
	binary.LittleEndian.PutUint64(buf[16:], b)
	return digestOf(append([]byte(what), buf[:]...))
}

func (g *synthStore) repositories(_ context.Context, last string, n int) ([]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var page []string
	i, _ := slices.BinarySearchFunc(g.repos, last, func(r synthRepo, name string) int { return strings.Compare(r.name, name) })
	for ; i < len(g.repos) && len(page) < n; i++ {
		if g.repos[i].name > last && g.live(i) > 0 {
			page = append(page, g.repos[i].name)
		}
	}
	return page, nil
}

// live counts repository r's manifests not deleted; g.mu held.
func (g *synthStore) live(r int) int {
	n := 0
	for i := range g.repos[r].manifests {
		if !g.repos[r].manifests[i].deleted {
			n++
		}
	}
	return n
}

func (g *synthStore) snapshot(_ context.Context, repo string, _ bool) (*repoSnapshot, error) {
	r, ok := g.byName[repo]
	if !ok {
		return nil, errNameUnknown
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := g.repos[r].manifests
	snap := &repoSnapshot{taken: time.Now()}
	for i := range ms {
		m := &ms[i]
		if m.deleted {
			continue
		}
		e := &entry{attrs: manifestAttributes{Digest: m.digest, ImageSize: m.size, CreatedTime: acrTime(m.pushed), MediaType: synthManifestType}}
		if m.tag != "" {
			e.attrs.Tags = []string{m.tag}
			snap.tags = append(snap.tags, tagInfo{name: m.tag, digest: m.digest, written: m.pushed})
		}
		if m.kind == synthIndex {
			e.attrs.MediaType = synthIndexType
			for c := range ms {
				if ms[c].kind == synthChild {
					e.children = append(e.children, platformRef{Digest: ms[c].digest, Architecture: ms[c].arch, OS: "linux"})
					if !ms[c].deleted {
						e.attrs.ImageSize += ms[c].size
					}
				}
			}
		} else {
			e.attrs.Architecture, e.attrs.OS, e.attrs.ConfigMediaType = m.arch, "linux", synthConfigType
		}
		snap.entries = append(snap.entries, e)
	}
	if len(snap.entries) == 0 {
		return nil, errNameUnknown
	}
	slices.SortFunc(snap.entries, func(a, b *entry) int { return strings.Compare(a.attrs.Digest, b.attrs.Digest) })
	slices.SortFunc(snap.tags, func(a, b tagInfo) int { return strings.Compare(a.name, b.name) })
	return snap, nil
}

func (g *synthStore) deleteRepository(_ context.Context, repo string) (manifests, tags []string, err error) {
	r, ok := g.byName[repo]
	if !ok {
		return nil, nil, errNameUnknown
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range g.repos[r].manifests {
		m := &g.repos[r].manifests[i]
		if m.deleted {
			continue
		}
		manifests = append(manifests, m.digest)
		if m.tag != "" {
			tags = append(tags, m.tag)
		}
		m.deleted, m.tag = true, ""
	}
	if len(manifests) == 0 {
		return nil, nil, errNameUnknown
	}
	slices.Sort(manifests)
	slices.Sort(tags)
	return manifests, tags, nil
}

func (g *synthStore) untag(_ context.Context, repo, tag string) error {
	r, ok := g.byName[repo]
	if !ok {
		return errNameUnknown
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if i := g.tagged(r, tag); i >= 0 {
		g.repos[r].manifests[i].tag = ""
		return nil
	}
	if g.live(r) == 0 {
		return errNameUnknown
	}
	return errTagUnknown
}

// tagged is the position of the manifest of repository r tagged tag, or
// -1; g.mu held.
func (g *synthStore) tagged(r int, tag string) int {
	return slices.IndexFunc(g.repos[r].manifests, func(m synthManifest) bool { return !m.deleted && m.tag == tag && tag != "" })
}

func (g *synthStore) digestOf(_ context.Context, repo, tag string) string {
	r, ok := g.byName[repo]
	if !ok {
		return ""
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if i := g.tagged(r, tag); i >= 0 {
		return g.repos[r].manifests[i].digest
	}
	return ""
}

// find locates ref (a tag or digest) in repository r: the position of its
// manifest, whether it is that manifest's config, and whether it exists.
func (g *synthStore) find(r int, ref string) (int, bool, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !strings.Contains(ref, ":") {
		i := g.tagged(r, ref)
		return i, false, i >= 0
	}
	for _, at := range g.byDigest[ref] {
		if int(at.repo) == r && !g.repos[r].manifests[at.pos].deleted {
			return int(at.pos), at.config, true
		}
	}
	return -1, false, false
}

func (g *synthStore) serveV2(w http.ResponseWriter, r *http.Request, rt v2Route) {
	switch rt.kind {
	case KindBase:
		writeJSON(w, http.StatusOK, struct{}{})
		return
	case KindCatalog:
		q := r.URL.Query()
		n, ok := v2PageSize(w, q)
		if !ok {
			return
		}
		page, _ := g.repositories(r.Context(), q.Get("last"), n+1)
		if len(page) > n {
			page = page[:n]
			w.Header().Set("Link", fmt.Sprintf(`</v2/_catalog?last=%s&n=%d>; rel="next"`, url.QueryEscape(page[n-1]), n))
		}
		writeJSON(w, http.StatusOK, map[string][]string{"repositories": append([]string{}, page...)})
		return
	}
	repo, ok := g.byName[rt.repo]
	if !ok {
		writeError(w, http.StatusNotFound, "NAME_UNKNOWN", errNameUnknown.Error(), map[string]string{"name": rt.repo})
		return
	}
	switch {
	case rt.kind == KindTagsList && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		g.serveTags(w, r, repo, rt.repo)
	case rt.kind == KindDelete:
		g.serveDelete(w, repo, rt)
	case (rt.kind == KindManifestByTag || rt.kind == KindManifestByDigest) && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		i, isConfig, ok := g.find(repo, rt.ref)
		if !ok || isConfig {
			writeError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", errManifestUnknown.Error(), map[string]string{"name": rt.repo, "reference": rt.ref})
			return
		}
		ms := g.repos[repo].manifests
		mt := synthManifestType
		if ms[i].kind == synthIndex {
			mt = synthIndexType
		}
		serveContent(w, r, mt, ms[i].digest, g.manifestOf(ms, i))
	case rt.kind == KindBlob && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		if i, isConfig, ok := g.find(repo, rt.ref); ok && isConfig {
			serveContent(w, r, "application/octet-stream", rt.ref, g.configOf(&g.repos[repo].manifests[i]))
			return
		}
		if size, ok := g.layers[rt.ref]; ok && r.Method == http.MethodHead {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			w.Header().Set("Docker-Content-Digest", rt.ref)
			w.Header().Set("Content-Type", "application/octet-stream")
			w.WriteHeader(http.StatusOK)
			return
		}
		writeError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry (this synthetic registry holds image configs only)", map[string]string{"digest": rt.ref})
	case rt.kind == KindReferrers && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", synthIndexType)
		writeJSON(w, http.StatusOK, map[string]any{"schemaVersion": 2, "mediaType": synthIndexType, "manifests": []any{}})
	default:
		writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "This synthetic registry does not serve "+r.Method+" "+r.URL.Path+": it takes no pushes.", nil)
	}
}

func (g *synthStore) serveTags(w http.ResponseWriter, r *http.Request, repo int, name string) {
	q := r.URL.Query()
	n, ok := v2PageSize(w, q)
	if !ok {
		return
	}
	g.mu.Lock()
	var tags []string
	for _, m := range g.repos[repo].manifests {
		if !m.deleted && m.tag != "" {
			tags = append(tags, m.tag)
		}
	}
	g.mu.Unlock()
	if len(tags) == 0 {
		writeError(w, http.StatusNotFound, "NAME_UNKNOWN", errNameUnknown.Error(), map[string]string{"name": name})
		return
	}
	slices.Sort(tags)
	last := q.Get("last")
	start, _ := slices.BinarySearch(tags, last)
	for start < len(tags) && tags[start] <= last {
		start++
	}
	page := tags[start:min(start+n, len(tags))]
	if start+n < len(tags) {
		w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?last=%s&n=%d>; rel="next"`, name, url.QueryEscape(page[len(page)-1]), n))
	}
	writeJSON(w, http.StatusOK, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, append([]string{}, page...)})
}

func (g *synthStore) serveDelete(w http.ResponseWriter, repo int, rt v2Route) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, at := range g.byDigest[rt.ref] {
		if m := &g.repos[repo].manifests[at.pos]; int(at.repo) == repo && !at.config && !m.deleted {
			m.deleted, m.tag = true, ""
			w.WriteHeader(http.StatusAccepted)
			return
		}
	}
	writeError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", errManifestUnknown.Error(), map[string]string{"name": rt.repo, "reference": rt.ref})
}

// v2PageSize reads n of a /v2/ listing: absent means 100, at most 1000.
func v2PageSize(w http.ResponseWriter, q url.Values) (int, bool) {
	v := q.Get("n")
	if v == "" {
		return 100, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		writeError(w, http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", "invalid number of results requested", map[string]string{"n": v})
		return 0, false
	}
	return min(n, 1000), true
}

// serveContent answers a manifest or blob read as a registry does.
func serveContent(w http.ResponseWriter, r *http.Request, mediaType, dgst string, body []byte) {
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Docker-Content-Digest", dgst)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func (g *synthStore) close() {}
