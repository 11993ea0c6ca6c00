// This file is over 500 lines: ACR's metadata API (/acr/v1: the manifest
// and tag listings, their paging and ordering, and the changeable
// attributes behind locks at three levels) is one API surface whose
// answers share their rules.

package acrtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/opencontainers/go-digest"
)

// Page sizes of the /acr/v1 listings: DefaultPageSize entries when n is
// absent (Get-AzContainerRegistryTag returned 100 tags of more,
// Azure/azure-powershell#16032), at most MaxPageSize whatever n asks (the
// tag listing answered 1,000 to n=10000, Azure/acr#749; the catalog and
// the manifest listing are taken to hold the same).
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// Sort orders of /acr/v1/<repo>/_manifests (the orderby parameter).
const (
	OrderByDigest   = ""         // default (also "none"): by digest
	OrderByTimeDesc = "timedesc" // lastUpdateTime, newest first
	OrderByTimeAsc  = "timeasc"  // lastUpdateTime, oldest first
)

// acrTime marshals as ACR writes times: UTC with 7 fractional digits.
type acrTime time.Time

func (t acrTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.0000000Z") + `"`), nil
}

// changeable is a manifest's changeableAttributes.
type changeable struct {
	DeleteEnabled bool `json:"deleteEnabled"`
	WriteEnabled  bool `json:"writeEnabled"`
	ReadEnabled   bool `json:"readEnabled"`
	ListEnabled   bool `json:"listEnabled"`
}

// attrPatch is the body of PATCH /acr/v1/<repo>/_manifests/<digest>.
type attrPatch struct {
	DeleteEnabled *bool `json:"deleteEnabled"`
	WriteEnabled  *bool `json:"writeEnabled"`
	ReadEnabled   *bool `json:"readEnabled"`
	ListEnabled   *bool `json:"listEnabled"`
}

// attrState is a manifest's changed attributes and when they changed.
type attrState struct {
	attrs   changeable
	updated time.Time
}

var defaultAttrs = changeable{DeleteEnabled: true, WriteEnabled: true, ReadEnabled: true, ListEnabled: true}

// platformRef is an entry of "references": a platform manifest of an index.
type platformRef struct {
	Digest       string `json:"digest"`
	Architecture string `json:"architecture,omitempty"`
	OS           string `json:"os,omitempty"`
}

// manifestAttributes is one manifest as /acr/v1 describes it.
type manifestAttributes struct {
	Digest               string        `json:"digest"`
	ImageSize            int64         `json:"imageSize"`
	CreatedTime          acrTime       `json:"createdTime"`
	LastUpdateTime       acrTime       `json:"lastUpdateTime"`
	Architecture         string        `json:"architecture,omitempty"`
	OS                   string        `json:"os,omitempty"`
	MediaType            string        `json:"mediaType,omitempty"`
	ConfigMediaType      string        `json:"configMediaType,omitempty"`
	Tags                 []string      `json:"tags,omitempty"`
	ChangeableAttributes changeable    `json:"changeableAttributes"`
	References           []platformRef `json:"references,omitempty"`
}

// contentInfo is what a manifest's content says; it never changes for a digest.
type contentInfo struct {
	mediaType       string
	configMediaType string
	arch, os        string
	size            int64 // config and layers; 0 for an index
	children        []platformRef
}

// entry is a manifest of a repository with everything the listing shows.
type entry struct {
	attrs    manifestAttributes
	children []platformRef
	updated  time.Time
}

var (
	errNameUnknown     = errors.New("repository name not known to registry")
	errManifestUnknown = errors.New("manifest unknown")
	errTagUnknown      = errors.New("the specified tag does not exist")
	errStop            = errors.New("stop")
)

// serveACR routes /acr/v1/.
func (s *Server) serveACR(w http.ResponseWriter, r *http.Request, rec *Request) {
	p := strings.TrimPrefix(r.URL.Path, "/acr/v1/")
	if p == "_catalog" {
		rec.Kind = KindACRCatalog
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.", nil)
			return
		}
		if s.authorize(w, r, rec, &grant{Type: "registry", Name: "catalog", Actions: []string{"*"}}) {
			s.serveCatalog(w, r)
		}
		return
	}
	if repo, rest, ok := cutLast(p, "/_manifests"); ok && (rest == "" || strings.HasPrefix(rest, "/")) {
		rec.Repository, rec.Reference = repo, strings.TrimPrefix(rest, "/")
		if rest == "" {
			rec.Kind = KindACRManifests
			if r.Method != http.MethodGet {
				writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.", nil)
				return
			}
			if s.authorize(w, r, rec, &grant{Type: "repository", Name: repo, Actions: []string{"metadata_read"}}) {
				s.serveManifests(w, r, repo)
			}
			return
		}
		rec.Kind = KindACRManifest
		action := "metadata_read"
		switch r.Method {
		case http.MethodGet:
		case http.MethodPatch:
			action = "metadata_write"
		default:
			writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.", nil)
			return
		}
		if s.authorize(w, r, rec, &grant{Type: "repository", Name: repo, Actions: []string{action}}) {
			s.serveManifest(w, r, repo, rec.Reference)
		}
		return
	}
	if s.serveLockable(w, r, rec, p) {
		return
	}
	writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "This stand-in does not serve "+r.Method+" "+r.URL.Path+".", nil)
}

// pageSize reads n: absent or 0 means DefaultPageSize, more than
// MaxPageSize is clamped to it.
func pageSize(w http.ResponseWriter, q url.Values) (int, bool) {
	v := q.Get("n")
	if v == "" {
		return DefaultPageSize, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		writeError(w, http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", "invalid number of results requested", map[string]string{"n": v})
		return 0, false
	}
	switch {
	case n == 0:
		n = DefaultPageSize
	case n > MaxPageSize:
		n = MaxPageSize
	}
	return n, true
}

// serveCatalog answers GET /acr/v1/_catalog: repositories holding at least
// one manifest, sorted, paged after last.
func (s *Server) serveCatalog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, ok := pageSize(w, q)
	if !ok {
		return
	}
	page, err := s.store.repositories(r.Context(), q.Get("last"), n+1)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error(), nil)
		return
	}
	more := len(page) > n
	if more {
		page = page[:n]
		w.Header().Set("Link", fmt.Sprintf(`</acr/v1/_catalog?last=%s&n=%d&orderby=>; rel="next"`, url.QueryEscape(page[len(page)-1]), n))
	}
	if page == nil {
		page = []string{}
	}
	writeJSON(w, http.StatusOK, map[string][]string{"repositories": page})
}

// hasManifests reports whether repository name has a manifest: ACR lists
// only those, distribution keeps emptied repositories' directories.
func hasManifests(ctx context.Context, ns distribution.Namespace, name string) (bool, error) {
	rp, err := openRepo(ctx, ns, name)
	if err != nil {
		return false, err
	}
	_, en, err := manifestsOf(ctx, rp)
	if err != nil {
		return false, err
	}
	found := false
	err = en.Enumerate(ctx, func(digest.Digest) error { found = true; return errStop })
	if found {
		return true, nil // err is errStop, wrapped by the driver without Unwrap
	}
	if err != nil && !registrytest.IsPathNotFound(err) {
		return false, err
	}
	return false, nil
}

// openRepo opens repository name; a name distribution refuses is unknown.
func openRepo(ctx context.Context, ns distribution.Namespace, name string) (distribution.Repository, error) {
	named, err := reference.WithName(name)
	if err != nil {
		return nil, errNameUnknown
	}
	return ns.Repository(ctx, named)
}

// manifestsOf is a repository's manifest service, which distribution's
// storage can enumerate.
func manifestsOf(ctx context.Context, rp distribution.Repository) (distribution.ManifestService, distribution.ManifestEnumerator, error) {
	ms, err := rp.Manifests(ctx)
	if err != nil {
		return nil, nil, err
	}
	en, ok := ms.(distribution.ManifestEnumerator)
	if !ok {
		return nil, nil, fmt.Errorf("manifest service %T cannot enumerate", ms)
	}
	return ms, en, nil
}

// serveManifests answers GET /acr/v1/<repo>/_manifests.
func (s *Server) serveManifests(w http.ResponseWriter, r *http.Request, repo string) {
	q := r.URL.Query()
	n, less, ok := listing(w, q, func(e entry) string { return e.attrs.Digest }, func(e entry) time.Time { return e.updated })
	if !ok {
		return
	}
	entries, err := s.inventory(r.Context(), repo, q.Get("last") != "")
	if err != nil {
		s.writeLookupError(w, err, repo, "")
		return
	}
	entries = slices.DeleteFunc(entries, func(e entry) bool { return !e.attrs.ChangeableAttributes.ListEnabled })
	slices.SortFunc(entries, less)

	start := 0
	if last := q.Get("last"); last != "" {
		pivot := entry{attrs: manifestAttributes{Digest: last}}
		s.mu.Lock()
		pivot.updated = s.sortKey[manifestKey{repo, last}]
		s.mu.Unlock()
		start = pageAfter(entries, less, pivot)
	}
	end := min(start+n, len(entries))
	page := make([]manifestAttributes, 0, end-start)
	for _, e := range entries[start:end] {
		page = append(page, e.attrs)
	}
	if end < len(entries) {
		w.Header().Set("Link", fmt.Sprintf(`</acr/v1/%s/_manifests?last=%s&n=%d&orderby=%s>; rel="next"`,
			url.PathEscape(repo), url.QueryEscape(page[len(page)-1].Digest), n, url.QueryEscape(q.Get("orderby"))))
	}
	writeJSON(w, http.StatusOK, struct {
		Registry  string               `json:"registry"`
		ImageName string               `json:"imageName"`
		Manifests []manifestAttributes `json:"manifests"`
	}{s.login(), repo, page})
}

// serveManifest answers GET and PATCH /acr/v1/<repo>/_manifests/<digest>.
func (s *Server) serveManifest(w http.ResponseWriter, r *http.Request, repo, dgst string) {
	var patch attrPatch
	if r.Method == http.MethodPatch {
		var ok bool
		if patch, ok = readPatch(w, r); !ok {
			return
		}
	}
	var entries []entry
	i := -1
	for _, reuse := range []bool{true, false} { // not in a snapshot: maybe pushed since
		var err error
		if entries, err = s.inventory(r.Context(), repo, reuse); err != nil {
			s.writeLookupError(w, err, repo, dgst)
			return
		}
		if i = slices.IndexFunc(entries, func(e entry) bool { return e.attrs.Digest == dgst }); i >= 0 {
			break
		}
	}
	if i < 0 {
		s.writeLookupError(w, errManifestUnknown, repo, dgst)
		return
	}
	e := &entries[i]
	if r.Method == http.MethodPatch {
		if s.repoWriteLocked(repo) {
			writeDisallowed(w)
			return
		}
		st := s.updateAttrs(manifestKey{repo, dgst}, patch)
		e.attrs.ChangeableAttributes = st.attrs
		if st.updated.After(e.updated) {
			e.attrs.LastUpdateTime = acrTime(st.updated)
		}
	}
	e.attrs.References = e.children
	writeJSON(w, http.StatusOK, struct {
		Registry  string             `json:"registry"`
		ImageName string             `json:"imageName"`
		Manifest  manifestAttributes `json:"manifest"`
	}{s.login(), repo, e.attrs})
}

// serveUntag answers DELETE /acr/v1/<repo>/_tags/<tag>: the tag goes, its
// manifest stays (untagged if it was the last tag).
func (s *Server) serveUntag(w http.ResponseWriter, r *http.Request, repo, tag string) {
	if s.repoWriteLocked(repo) || s.tagLocked(tagKey{repo, tag}) {
		writeDisallowed(w)
		return
	}
	err := s.store.untag(r.Context(), repo, tag)
	switch {
	case err == nil:
		s.invalidate(repo)
		s.forgetTag(tagKey{repo, tag})
		w.WriteHeader(http.StatusAccepted)
	case errors.Is(err, errTagUnknown):
		writeError(w, http.StatusNotFound, "TAG_UNKNOWN", "the specified tag does not exist", map[string]string{"tag": tag})
	case errors.Is(err, errNameUnknown):
		writeError(w, http.StatusNotFound, "NAME_UNKNOWN", errNameUnknown.Error(), map[string]string{"name": repo})
	default:
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error(), nil)
	}
}

func (s *Server) writeLookupError(w http.ResponseWriter, err error, repo, dgst string) {
	switch {
	case errors.Is(err, errNameUnknown):
		writeError(w, http.StatusNotFound, "NAME_UNKNOWN", err.Error(), map[string]string{"name": repo})
	case errors.Is(err, errManifestUnknown):
		writeError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", err.Error(), map[string]string{"name": repo, "reference": dgst})
	default:
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error(), nil)
	}
}

// snapshotTTL bounds how long a listing's later pages (and property
// reads) may reuse what an earlier request read from storage without
// checking the repository's fingerprint.
const snapshotTTL = 30 * time.Second

// repoSnapshot is what the storage said about a repository's manifests and
// tags, described: the part of a listing that costs storage reads per
// manifest and per tag. Attributes and times are applied afresh on every
// request (applyLive).
type repoSnapshot struct {
	fingerprint uint64
	entries     []*entry
	// tags, sorted by name, with when each was last written
	tags  []tagInfo
	taken time.Time
	// live is entries as applyLive last made them, at liveVersion
	live        []entry
	liveVersion uint64
}

// invalidate drops repo's snapshot after a write through the stand-in.
func (s *Server) invalidate(repo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.snapshots, repo)
}

// fingerprint hashes which revision links of repo exist and where and
// when each tag's current link was written: any push, tag move, untag or
// delete, through the stand-in or not, changes it. It costs a storage
// operation per manifest and per tag, much less than enumerating and
// reading them through distribution's storage API.
func fingerprint(ctx context.Context, d storagedriver.StorageDriver, repo string) (uint64, error) {
	h := fnv.New64a()
	base := path.Join(registrytest.RepositoriesRoot, repo, "_manifests")
	list := func(dir string) ([]string, error) {
		names, err := d.List(ctx, dir)
		if registrytest.IsPathNotFound(err) {
			return nil, nil
		}
		slices.Sort(names)
		return names, err
	}
	stat := func(p string) error {
		fi, err := d.Stat(ctx, p)
		switch {
		case registrytest.IsPathNotFound(err):
			return nil // deleted; its directory stays
		case err != nil:
			return err
		}
		fmt.Fprintf(h, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
		return nil
	}
	algorithms, err := list(base + "/revisions")
	if err != nil {
		return 0, err
	}
	for _, alg := range algorithms {
		revisions, err := list(alg)
		if err != nil {
			return 0, err
		}
		for _, rev := range revisions {
			if err := stat(rev + "/link"); err != nil {
				return 0, err
			}
		}
	}
	tags, err := list(base + "/tags")
	if err != nil {
		return 0, err
	}
	for _, tag := range tags {
		if err := stat(tag + "/current/link"); err != nil {
			return 0, err
		}
	}
	return h.Sum64(), nil
}

// inventory describes every manifest of repo, tagged or not, index
// children included, from the registry's storage. It reuses the last
// description while the repository's fingerprint is unchanged, and with
// reuse (a listing's later pages, a property read) without checking it for
// up to snapshotTTL after a check, unless a write through the stand-in
// invalidated it. The entries are the caller's to change.
func (s *Server) inventory(ctx context.Context, repo string, reuse bool) ([]entry, error) {
	snap, err := s.store.snapshot(ctx, repo, reuse)
	if err != nil {
		return nil, err
	}
	return s.applyLive(repo, snap), nil
}

// read enumerates repo's manifests and tags through distribution's storage
// API and describes each manifest.
func (s *Server) read(ctx context.Context, rp distribution.Repository, d storagedriver.StorageDriver, repo string) (*repoSnapshot, error) {
	ms, _, err := manifestsOf(ctx, rp)
	if err != nil {
		return nil, err
	}
	digests, err := registrytest.ManifestDigests(ctx, ms)
	if err != nil {
		return nil, err
	}
	if len(digests) == 0 {
		return nil, errNameUnknown
	}
	tags, tagList, err := tagsOf(ctx, rp.Tags(ctx), d, repo)
	if err != nil {
		return nil, err
	}
	infos := make(map[digest.Digest]*contentInfo, len(digests))
	for _, dg := range digests {
		if infos[dg], err = s.contentOf(ctx, rp, ms, dg); err != nil {
			return nil, err
		}
	}
	snap := &repoSnapshot{taken: time.Now(), tags: tagList}
	slices.Sort(digests) // the default order; sorting it again is cheap
	for _, dg := range digests {
		e, err := s.describe(ctx, d, repo, dg, infos, rp, ms)
		if err != nil {
			return nil, err
		}
		e.attrs.Tags = tags[dg]
		snap.entries = append(snap.entries, e)
	}
	return snap, nil
}

// applyLive returns a copy of snap's entries with their current
// changeable attributes, created time (SetCreated) and lastUpdateTime, and
// remembers each one's sort time, for paging past it once it is gone. The
// result is cached in snap until the next change of attributes or times.
func (s *Server) applyLive(repo string, snap *repoSnapshot) []entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if snap.live != nil && snap.liveVersion == s.liveVersion {
		return slices.Clone(snap.live)
	}
	out := make([]entry, len(snap.entries))
	for i, e := range snap.entries {
		out[i] = *e
		key := manifestKey{repo, e.attrs.Digest}
		created := time.Time(e.attrs.CreatedTime)
		if c, ok := s.created[key]; ok {
			created = c
		}
		attrs, updated := defaultAttrs, created
		if st := s.attrs[key]; st != nil {
			attrs = st.attrs
			if st.updated.After(updated) {
				updated = st.updated
			}
		}
		out[i].attrs.CreatedTime, out[i].attrs.LastUpdateTime = acrTime(created), acrTime(updated)
		out[i].attrs.ChangeableAttributes, out[i].updated = attrs, updated
		s.sortKey[key] = updated
	}
	snap.live, snap.liveVersion = out, s.liveVersion
	return slices.Clone(out)
}

// tagsOf maps each digest to its tags, sorted, and lists the tags by name
// with when each was last written (its current link's modification time:
// a push or a move rewrites it).
func tagsOf(ctx context.Context, ts distribution.TagService, d storagedriver.StorageDriver, repo string) (map[digest.Digest][]string, []tagInfo, error) {
	all, err := ts.All(ctx)
	var unknown distribution.ErrRepositoryUnknown
	if errors.As(err, &unknown) || registrytest.IsPathNotFound(err) {
		return nil, nil, nil // no tags at all
	}
	if err != nil {
		return nil, nil, err
	}
	out := map[digest.Digest][]string{}
	var list []tagInfo
	for _, tag := range all {
		desc, err := ts.Get(ctx, tag)
		if err != nil {
			continue // untagged meanwhile
		}
		out[desc.Digest] = append(out[desc.Digest], tag)
		ti := tagInfo{name: tag, digest: desc.Digest.String()}
		if fi, err := d.Stat(ctx, path.Join(registrytest.RepositoriesRoot, repo, "_manifests/tags", tag, "current/link")); err == nil {
			ti.written = fi.ModTime()
		}
		list = append(list, ti)
	}
	for _, tags := range out {
		slices.Sort(tags)
	}
	slices.SortFunc(list, func(a, b tagInfo) int { return strings.Compare(a.name, b.name) })
	return out, list, nil
}

// describe puts together what /acr/v1 says about repo@dg but for what can
// change without a write to storage (see applyLive).
func (s *Server) describe(ctx context.Context, d storagedriver.StorageDriver, repo string, dg digest.Digest, infos map[digest.Digest]*contentInfo, rp distribution.Repository, ms distribution.ManifestService) (*entry, error) {
	info := infos[dg]
	size := info.size
	for _, c := range info.children {
		ci, ok := infos[digest.Digest(c.Digest)]
		if !ok {
			var err error
			if ci, err = s.contentOf(ctx, rp, ms, digest.Digest(c.Digest)); err != nil {
				continue // a child that is not in this repository adds nothing
			}
		}
		size += ci.size
	}
	key := manifestKey{repo, dg.String()}
	s.mu.Lock()
	created, ok := s.created[key]
	s.mu.Unlock()
	if !ok {
		// the push time: when distribution wrote the revision link
		var err error
		if created, err = registrytest.PushTime(ctx, d, repo, dg); err != nil {
			return nil, err
		}
		s.mu.Lock()
		if _, ok := s.created[key]; !ok {
			s.created[key] = created
		}
		s.mu.Unlock()
	}
	return &entry{
		attrs: manifestAttributes{
			Digest:          dg.String(),
			ImageSize:       size,
			CreatedTime:     acrTime(created),
			Architecture:    info.arch,
			OS:              info.os,
			MediaType:       info.mediaType,
			ConfigMediaType: info.configMediaType,
		},
		children: info.children,
	}, nil
}

// contentOf reads (once per digest) what manifest dg and its image config say.
func (s *Server) contentOf(ctx context.Context, rp distribution.Repository, ms distribution.ManifestService, dg digest.Digest) (*contentInfo, error) {
	return s.content.Of(ctx, ms, dg, func(m *registrytest.Manifest) (*contentInfo, error) {
		ci := &contentInfo{mediaType: cmp.Or(m.DeclaredMediaType, m.MediaType)}
		for _, c := range m.Manifests {
			ref := platformRef{Digest: c.Digest.String()}
			if c.Platform != nil {
				ref.Architecture, ref.OS = c.Platform.Architecture, c.Platform.OS
			}
			ci.children = append(ci.children, ref)
		}
		if m.Config != nil {
			ci.configMediaType = m.Config.MediaType
			ci.size = m.Config.Size
			for _, l := range m.Layers {
				ci.size += l.Size
			}
			switch m.Config.MediaType {
			case "application/vnd.docker.container.image.v1+json", "application/vnd.oci.image.config.v1+json":
				var cfg struct {
					Architecture string `json:"architecture"`
					OS           string `json:"os"`
				}
				if registrytest.ReadConfig(ctx, rp, m.Config.Digest, &cfg) == nil {
					ci.arch, ci.os = cfg.Architecture, cfg.OS
				}
			}
		}
		return ci, nil
	})
}

// updateAttrs applies p to repo@digest's changeable attributes.
func (s *Server) updateAttrs(key manifestKey, p attrPatch) attrState {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.liveVersion++
	return patchAttrs(s.attrs, key, p)
}

// patchAttrs applies p to the changeable attributes m holds for key (the
// defaults when it holds none) and moves their update time; s.mu held.
func patchAttrs[K comparable](m map[K]*attrState, key K, p attrPatch) attrState {
	st := m[key]
	if st == nil {
		st = &attrState{attrs: defaultAttrs}
		m[key] = st
	}
	for _, f := range []struct {
		v   *bool
		dst *bool
	}{{p.DeleteEnabled, &st.attrs.DeleteEnabled}, {p.WriteEnabled, &st.attrs.WriteEnabled}, {p.ReadEnabled, &st.attrs.ReadEnabled}, {p.ListEnabled, &st.attrs.ListEnabled}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	st.updated = time.Now()
	return *st
}

// locked reports whether repo@digest's own attributes refuse its delete.
func (s *Server) locked(key manifestKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attrs[key].locks()
}

// locks reports whether attributes refuse a delete: deleteEnabled or
// writeEnabled false.
func (st *attrState) locks() bool {
	return st != nil && (!st.attrs.DeleteEnabled || !st.attrs.WriteEnabled)
}

// writeLocked reports whether pushing to ref (a digest, or a tag that now
// points at a manifest) would overwrite a manifest with writeEnabled false,
// move a tag with writeEnabled false, or write to a repository with
// writeEnabled false.
func (s *Server) writeLocked(ctx context.Context, repo, ref string) bool {
	if s.repoWriteLocked(repo) {
		return true
	}
	s.mu.Lock()
	if st := s.tagAttrs[tagKey{repo, ref}]; st != nil && !st.attrs.WriteEnabled && !strings.Contains(ref, ":") {
		s.mu.Unlock()
		return true
	}
	someLocked := false
	for k, st := range s.attrs {
		if k.repo == repo && !st.attrs.WriteEnabled {
			someLocked = true
			break
		}
	}
	s.mu.Unlock()
	if !someLocked {
		return false
	}
	dgst := ref
	if !strings.Contains(ref, ":") {
		if d := s.store.digestOf(ctx, repo, ref); d != "" {
			dgst = d
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.attrs[manifestKey{repo, dgst}]
	return st != nil && !st.attrs.WriteEnabled
}

// forget drops the attributes and push time (SetCreated's too) of a
// deleted manifest: pushed again, it is new. Its sort key stays, so that a
// listing can page on past it.
func (s *Server) forget(key manifestKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.attrs, key)
	delete(s.created, key)
	s.liveVersion++
}
