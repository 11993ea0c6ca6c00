package registry

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/helmupgradebot/helmupgradebot/backend/digestcache"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// maxConfigSize bounds the image config blobs a scan reads.
const maxConfigSize = 16 << 20

// bogusBefore: created times before it are written by reproducible builders
// (1970) and say nothing about an image's age.
var bogusBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Scan lists the registry's repositories and their tags and reads every
// tagged manifest, platform manifest and image config, with Concurrency
// workers (plus the catalog listing) sharing one HTTP transport.
//
// A repository or manifest that cannot be read is recorded in
// Inventory.Errors and the rest is used; Scan fails only when the catalog
// cannot be listed or ctx ends.
//
// Each tag costs one GET of its manifest: the distribution API has no other
// way to learn which digest a tag points at, and a GET by tag returns the
// manifest itself, so tags sharing a digest cost one request each (the
// manifest is processed once). Platform manifests and configs are fetched
// by digest, once per distinct digest over the whole registry. With a
// digest cache (WithDigestCache) a tag costs a HEAD instead, and only
// digests missing from the cache are fetched.
func (c *Client) Scan(ctx context.Context, progress func(Progress)) (*model.Inventory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	s := newScanner(c)
	defer s.endCache(nil)
	scannedAt := c.now()

	stopProgress := s.runProgress(progress)

	var workers sync.WaitGroup
	for range c.concurrency {
		workers.Go(func() {
			for {
				job, ok := s.queue.pop()
				if !ok {
					return
				}
				if ctx.Err() == nil {
					job(ctx)
				}
				s.pending.Done()
			}
		})
	}

	err := s.listCatalog(ctx)
	if err != nil {
		cancel()
	}
	s.pending.Wait()
	s.queue.close()
	workers.Wait()
	stopProgress()

	if err := parent.Err(); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	inv := s.assemble(scannedAt)
	s.endCache(inv)
	return inv, nil
}

// newScanner starts the state of one scan.
func newScanner(c *Client) *scanner {
	s := &scanner{
		c:       c,
		reg:     c.reg,
		pullers: map[int]*remote.Puller{},
		repos:   map[string]*repoState{},
		notify:  make(chan struct{}, 1),
		// Ended by endCache.
		cacheScan:  c.cache.BeginScan(),
		cacheStart: c.cache.Stats(),
	}
	s.catalogSize.Store(int64(c.pageSize))
	s.tagsSize.Store(int64(c.pageSize))
	return s
}

// scanner is the state of one Scan.
type scanner struct {
	c   *Client
	reg name.Registry

	pullerMu sync.Mutex
	pullers  map[int]*remote.Puller // by page size

	// Page sizes in use; they shrink when the registry rejects them.
	catalogSize, tagsSize atomic.Int64

	queue   jobQueue
	pending sync.WaitGroup

	// Manifests and configs are content-addressed: each digest is read
	// once over the whole scan, whichever repository meets it first.
	manifests onceMap[*manifestInfo]
	configs   onceMap[*configInfo]
	// cacheScan is this scan's use of the client's digest cache (nil
	// without one); headFailures counts tags whose HEAD failed.
	cacheScan    *digestcache.Scan
	cacheStart   digestcache.Stats // the cache's counts when the scan began
	headFailures atomic.Int32

	mu       sync.Mutex
	repoList []string
	repos    map[string]*repoState
	tags     []tagRef
	errs     []model.ScanError

	// Progress counters, read by the progress goroutine.
	nRepos, nReposDone, nImages, nImagesDone atomic.Int64
	notify                                   chan struct{}
}

type tagRef struct{ repo, tag, digest string }

type repoState struct {
	outstanding int
	listed      bool
}

// puller returns the shared puller asking for pages of n.
func (s *scanner) puller(n int) (*remote.Puller, error) {
	s.pullerMu.Lock()
	defer s.pullerMu.Unlock()
	if p, ok := s.pullers[n]; ok {
		return p, nil
	}
	p, err := s.c.puller(n)
	if err != nil {
		return nil, err
	}
	s.pullers[n] = p
	return p, nil
}

// smallerPage is the page size to try after n was rejected; 0 when there is
// nothing smaller to try.
func smallerPage(n int) int {
	switch {
	case n > 100:
		return 100
	case n > 1:
		return n / 2
	}
	return 0
}

func (s *scanner) push(job func(context.Context)) {
	s.pending.Add(1)
	s.queue.push(job)
}

func (s *scanner) addError(e model.ScanError) {
	s.mu.Lock()
	s.errs = append(s.errs, e)
	s.mu.Unlock()
}

// listCatalog lists the repositories page by page, queueing each for
// scanning as its page arrives. Only a failure of the first page fails the
// scan; a later one is recorded and the repositories listed so far are used.
func (s *scanner) listCatalog(ctx context.Context) error {
	var cat *remote.Catalogger
	for {
		n := int(s.catalogSize.Load())
		p, err := s.puller(n)
		if err != nil {
			return fmt.Errorf("list repositories: %w", err)
		}
		cat, err = p.Catalogger(ctx, s.reg)
		if err == nil {
			break
		}
		if isPageSizeRejected(err) {
			if m := smallerPage(n); m > 0 {
				s.catalogSize.Store(int64(m))
				continue
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return describe("list repositories of "+s.reg.RegistryStr(), err)
	}
	seen := map[string]bool{}
	for cat.HasNext() {
		page, err := cat.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.addError(model.ScanError{Error: describe(fmt.Sprintf("list repositories after %d", len(seen)), err).Error() +
				"; the repositories listed so far are scanned"})
			return nil
		}
		for _, repo := range page.Repos {
			if seen[repo] {
				continue
			}
			seen[repo] = true
			s.mu.Lock()
			s.repoList = append(s.repoList, repo)
			s.repos[repo] = &repoState{}
			s.mu.Unlock()
			s.nRepos.Add(1)
			s.push(func(ctx context.Context) { s.scanRepo(ctx, repo) })
		}
		s.bump()
	}
	return nil
}

// scanRepo lists a repository's tags and queues each for reading.
func (s *scanner) scanRepo(ctx context.Context, repo string) {
	defer s.repoListed(repo)
	r := s.reg.Repo(repo)
	var lister *remote.Lister
	var p *remote.Puller
	for {
		n := int(s.tagsSize.Load())
		var err error
		p, err = s.puller(n)
		if err == nil {
			lister, err = p.Lister(ctx, r)
		}
		if err == nil {
			break
		}
		if isPageSizeRejected(err) {
			if m := smallerPage(n); m > 0 {
				s.tagsSize.CompareAndSwap(int64(n), int64(m))
				continue
			}
		}
		if ctx.Err() != nil {
			return
		}
		msg := describe("list tags of "+repo, err).Error()
		if isNameUnknown(err) {
			msg += "; the catalog lists it, so it may hold only untagged manifests, which the distribution API cannot list"
		}
		s.addError(model.ScanError{Repository: repo, Error: msg})
		return
	}
	seen := map[string]bool{}
	for lister.HasNext() {
		page, err := lister.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.addError(model.ScanError{Repository: repo,
				Error: describe(fmt.Sprintf("list tags of %s after %d tags", repo, len(seen)), err).Error()})
			return
		}
		var fresh []string
		for _, t := range page.Tags {
			if !seen[t] {
				seen[t] = true
				fresh = append(fresh, t)
			}
		}
		s.mu.Lock()
		s.repos[repo].outstanding += len(fresh)
		s.mu.Unlock()
		s.nImages.Add(int64(len(fresh)))
		for _, t := range fresh {
			s.push(func(ctx context.Context) { s.scanTag(ctx, p, r, t) })
		}
		s.bump()
	}
}

func (s *scanner) repoListed(repo string) {
	s.mu.Lock()
	st := s.repos[repo]
	st.listed = true
	done := st.outstanding == 0
	s.mu.Unlock()
	if done {
		s.nReposDone.Add(1)
	}
	s.bump()
}

func (s *scanner) tagDone(repo string) {
	s.mu.Lock()
	st := s.repos[repo]
	st.outstanding--
	done := st.listed && st.outstanding == 0
	s.mu.Unlock()
	if done {
		s.nReposDone.Add(1)
	}
	s.nImagesDone.Add(1)
	s.bump()
}

// scanTag reads the manifest a tag points at.
func (s *scanner) scanTag(ctx context.Context, p *remote.Puller, r name.Repository, tag string) {
	defer s.tagDone(r.RepositoryStr())
	repo := r.RepositoryStr()
	digest, desc, err := s.tagDigest(ctx, p, r, tag)
	if err != nil {
		if ctx.Err() == nil {
			s.addError(model.ScanError{Repository: repo, Reference: repo + ":" + tag,
				Error: describe(fmt.Sprintf("get manifest %s:%s", repo, tag), err).Error()})
		}
		return
	}
	if s.manifest(ctx, p, r, digest, desc) == nil {
		return // ctx ended
	}
	s.mu.Lock()
	s.tags = append(s.tags, tagRef{repo: repo, tag: tag, digest: digest})
	s.mu.Unlock()
}

// manifestInfo is what a scan learns from one manifest (with, for an index,
// its platform manifests).
type manifestInfo struct {
	mediaType string
	// blobs: the manifest itself, its config and layers; for an index, the
	// union over its platform manifests too.
	blobs     []model.Blob
	created   time.Time
	problem   model.CreatedProblem
	platform  string // an image's own os/arch[/variant], from its config
	platforms []string
	children  []string
	// childBlobs, parallel to children, are each platform manifest's own
	// blobs.
	childBlobs [][]model.Blob
	subject    string // an OCI referrer's subject digest
	// err: the manifest is unusable.
	err error
	// warnings: parts that could not be read (a config, a platform
	// manifest); the rest is used.
	warnings []warning
}

// childBlobsOrNil is childBlobs when it covers every child, else nil.
func (m *manifestInfo) childBlobsOrNil() [][]model.Blob {
	if len(m.children) == 0 || len(m.childBlobs) != len(m.children) {
		return nil
	}
	return m.childBlobs
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
	self := model.Blob{Digest: digest, Size: int64(len(body))}
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

func (s *scanner) readImage(ctx context.Context, p *remote.Puller, r name.Repository, ref, mt string, self model.Blob, m *v1.Manifest) *manifestInfo {
	if m.Config.Digest.Hex == "" {
		return &manifestInfo{err: fmt.Errorf("manifest %s (%s) has no config", ref, mt)}
	}
	info := &manifestInfo{mediaType: unique.Make(mt).Value(), blobs: make([]model.Blob, 0, 2+len(m.Layers))}
	if m.Subject != nil {
		info.subject = m.Subject.Digest.String()
	}
	info.blobs = append(info.blobs, self, model.Blob{Digest: m.Config.Digest.String(), Size: m.Config.Size})
	for _, l := range m.Layers {
		if !l.MediaType.IsDistributable() {
			continue // foreign layers live outside the registry
		}
		// one copy of a layer's digest however many images share it
		info.blobs = append(info.blobs, model.Blob{Digest: unique.Make(l.Digest.String()).Value(), Size: l.Size})
	}
	cfg := s.config(ctx, p, r, m.Config)
	if cfg == nil {
		return info // ctx ended
	}
	info.created, info.problem, info.platform = cfg.created, cfg.problem, cfg.platform
	if cfg.err != "" {
		info.warnings = append(info.warnings, warning{digest: m.Config.Digest.String(), msg: cfg.err, soft: true})
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

func (s *scanner) readIndex(ctx context.Context, p *remote.Puller, r name.Repository, ref, mt string, self model.Blob, idx *v1.IndexManifest) *manifestInfo {
	info := &manifestInfo{mediaType: mt, blobs: []model.Blob{self}, problem: model.CreatedMissing}
	if idx.Subject != nil {
		info.subject = idx.Subject.Digest.String()
	}
	have := map[string]bool{self.Digest: true}
	addBlobs := func(bs []model.Blob) {
		for _, b := range bs {
			if !have[b.Digest] {
				have[b.Digest] = true
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
			if !slices.ContainsFunc(info.warnings, func(w warning) bool { return w.digest == cd }) {
				info.warnings = append(info.warnings, warning{digest: cd, msg: fmt.Sprintf("platform manifest of index %s: %v", ref, child.err)})
			}
			continue
		}
		if !slices.Contains(info.children, cd) {
			info.children = append(info.children, cd)
			info.childBlobs = append(info.childBlobs, child.blobs)
			for k, c := range child.children { // a nested index
				if !slices.Contains(info.children, c) {
					info.children = append(info.children, c)
					info.childBlobs = append(info.childBlobs, child.childBlobs[k])
				}
			}
			addBlobs(child.blobs)
			info.warnings = append(info.warnings, child.warnings...)
		}
		if attestation(d) {
			continue
		}
		plats := child.platforms
		if d.Platform != nil && d.Platform.OS != "" {
			plats = []string{platformString(d.Platform.OS, d.Platform.Architecture, d.Platform.Variant)}
		} else if child.platform != "" {
			plats = []string{child.platform}
		}
		for _, pl := range plats {
			if !slices.Contains(info.platforms, pl) {
				info.platforms = append(info.platforms, pl)
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

// assemble builds the inventory from the tags read.
func (s *scanner) assemble(scannedAt time.Time) *model.Inventory {
	b := model.NewInventoryBuilder(s.reg.RegistryStr(), scannedAt)
	b.SetRepositories(len(s.repoList))
	errs := s.errs
	slices.SortFunc(s.tags, func(a, b tagRef) int {
		return cmp.Or(cmp.Compare(a.repo, b.repo), cmp.Compare(a.digest, b.digest), cmp.Compare(a.tag, b.tag))
	})
	for i := 0; i < len(s.tags); {
		j := i
		var tags []string
		for ; j < len(s.tags) && s.tags[j].repo == s.tags[i].repo && s.tags[j].digest == s.tags[i].digest; j++ {
			tags = append(tags, s.tags[j].tag)
		}
		repo, digest := s.tags[i].repo, s.tags[i].digest
		i = j
		ref := repo + "@" + digest
		info := s.manifests.peek(digest)
		if info.err != nil {
			errs = append(errs, model.ScanError{Repository: repo, Reference: ref,
				Error: fmt.Sprintf("%v (tags %s)", info.err, strings.Join(tags, ", "))})
			continue
		}
		for _, w := range info.warnings {
			errs = append(errs, model.ScanError{Repository: repo, Reference: repo + "@" + w.digest, Error: w.msg, Warning: w.soft})
		}
		im := model.Image{
			Repository:     repo,
			Digest:         digest,
			Tags:           tags,
			MediaType:      info.mediaType,
			Created:        info.created,
			CreatedProblem: info.problem,
			Platform:       info.platform,
			Platforms:      slices.Clone(info.platforms),
			Children:       slices.Clone(info.children),
			Subject:        info.subject,
		}
		if err := b.AddImage(im, info.blobs, info.childBlobsOrNil()...); err != nil {
			errs = append(errs, model.ScanError{Repository: repo, Reference: ref, Error: err.Error()})
		}
	}
	slices.SortFunc(errs, func(a, b model.ScanError) int {
		return cmp.Or(cmp.Compare(a.Repository, b.Repository), cmp.Compare(a.Reference, b.Reference), cmp.Compare(a.Error, b.Error))
	})
	errs = slices.Compact(errs)
	for _, e := range errs {
		b.AddError(e)
	}
	return b.Inventory()
}

// bump tells the progress goroutine that counters changed.
func (s *scanner) bump() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *scanner) snapshot() Progress {
	return Progress{
		Repositories:     int(s.nRepos.Load()),
		RepositoriesDone: int(s.nReposDone.Load()),
		Images:           int(s.nImages.Load()),
		ImagesDone:       int(s.nImagesDone.Load()),
	}
}

// runProgress calls fn from a single goroutine as counters change
// (coalescing bursts) and returns a stop function that makes the final call
// once everything is counted.
func (s *scanner) runProgress(fn func(Progress)) (stop func()) {
	if fn == nil {
		return func() {}
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-s.notify:
				fn(s.snapshot())
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
		fn(s.snapshot())
	}
}

// jobQueue is an unbounded FIFO of jobs for the scan's workers: jobs queue
// more jobs (a repository its tags), so a bounded channel could deadlock.
type jobQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	jobs   []func(context.Context)
	closed bool
}

func (q *jobQueue) init() {
	if q.cond == nil {
		q.cond = sync.NewCond(&q.mu)
	}
}

func (q *jobQueue) push(job func(context.Context)) {
	q.mu.Lock()
	q.init()
	q.jobs = append(q.jobs, job)
	q.mu.Unlock()
	q.cond.Signal()
}

func (q *jobQueue) pop() (func(context.Context), bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.init()
	for len(q.jobs) == 0 && !q.closed {
		q.cond.Wait()
	}
	if len(q.jobs) == 0 {
		return nil, false
	}
	job := q.jobs[0]
	q.jobs[0] = nil
	q.jobs = q.jobs[1:]
	return job, true
}

func (q *jobQueue) close() {
	q.mu.Lock()
	q.init()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// onceMap loads a value once per key; callers that come while it loads
// wait for it. A cell makes its wait channel only when someone waits: a
// scan of 100,000 manifests has 200,000 cells and few waiters.
type onceMap[V any] struct {
	mu    sync.Mutex
	cells map[string]*onceCell[V]
}

type onceCell[V any] struct {
	v      V
	loaded bool
	wait   chan struct{} // made by the first waiter, closed when loaded
}

// do returns key's value, loading it with load the first time. When ctx
// ends first, or ended during the load, it returns the zero value and false.
func (o *onceMap[V]) do(ctx context.Context, key string, load func() V) (V, bool) {
	var zero V
	o.mu.Lock()
	if o.cells == nil {
		o.cells = map[string]*onceCell[V]{}
	}
	c, ok := o.cells[key]
	if !ok {
		c = &onceCell[V]{}
		o.cells[key] = c
		o.mu.Unlock()
		v := load()
		o.mu.Lock()
		c.v, c.loaded = v, true
		if c.wait != nil {
			close(c.wait)
		}
		o.mu.Unlock()
	} else if !c.loaded {
		if c.wait == nil {
			c.wait = make(chan struct{})
		}
		wait := c.wait
		o.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return zero, false
		}
	} else {
		o.mu.Unlock()
	}
	if ctx.Err() != nil {
		return zero, false
	}
	return c.v, true
}

// forget drops key's value, once nobody will ask for it again.
func (o *onceMap[V]) forget(key string) {
	o.mu.Lock()
	delete(o.cells, key)
	o.mu.Unlock()
}

// reset drops every value.
func (o *onceMap[V]) reset() {
	o.mu.Lock()
	o.cells = nil
	o.mu.Unlock()
}

// peek returns a loaded value (the caller knows the load finished), or
// the zero value when key was never asked for.
func (o *onceMap[V]) peek(key string) V {
	o.mu.Lock()
	defer o.mu.Unlock()
	if c := o.cells[key]; c != nil {
		return c.v
	}
	var zero V
	return zero
}
