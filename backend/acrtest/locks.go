package acrtest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// ACR keeps changeable attributes (deleteEnabled, writeEnabled,
// readEnabled, listEnabled) at three levels, each set on its own (`az acr
// repository update --repository REPO`, `--image REPO:TAG`,
// `--image REPO@DIGEST`): a repository's, a tag's and a manifest's. Setting
// a tag's does not set its manifest's. What each refuses, as Microsoft's
// "Lock a container image in an Azure container registry" describes it:
//
//   - a repository with writeEnabled false is locked with every image in
//     it: deleting any of its manifests, untagging, pushing and updating
//     its manifests' or tags' attributes are refused;
//   - a repository with only deleteEnabled false cannot be deleted
//     (DELETE /acr/v1/<repo>), but its images can still be deleted one by
//     one;
//   - a tag or a manifest with deleteEnabled or writeEnabled false blocks
//     deleting the image: DELETE of the manifest (or of the manifest the
//     tag points at) and untagging that tag are refused; writeEnabled false
//     also refuses pushing over it.
//
// Every refusal is 405 REGISTRY_DISALLOWED_OPERATION, as for a manifest.

// repositoryProperties is what GET /acr/v1/<repo> answers.
type repositoryProperties struct {
	Registry             string     `json:"registry"`
	ImageName            string     `json:"imageName"`
	CreatedTime          acrTime    `json:"createdTime"`
	LastUpdateTime       acrTime    `json:"lastUpdateTime"`
	ManifestCount        int        `json:"manifestCount"`
	TagCount             int        `json:"tagCount"`
	ChangeableAttributes changeable `json:"changeableAttributes"`
}

// tagAttributes is one tag as /acr/v1/<repo>/_tags describes it.
type tagAttributes struct {
	Name                 string     `json:"name"`
	Digest               string     `json:"digest"`
	CreatedTime          acrTime    `json:"createdTime"`
	LastUpdateTime       acrTime    `json:"lastUpdateTime"`
	Signed               bool       `json:"signed"`
	ChangeableAttributes changeable `json:"changeableAttributes"`
}

// tagInfo is a tag as the registry's storage shows it: the manifest it
// points at and when it was last written (pushed or moved).
type tagInfo struct {
	name, digest string
	written      time.Time
}

type tagKey struct{ repo, tag string }

// LockRepository sets repo's own changeable attributes deleteEnabled and
// writeEnabled, as PATCH /acr/v1/<repo> does. writeEnabled false locks the
// repository and every image in it (deletes, untags, pushes and attribute
// updates in it answer 405); deleteEnabled false alone refuses only
// deleting the repository itself. The attributes of its tags and
// manifests are not changed.
func (s *Server) LockRepository(repo string, deleteEnabled, writeEnabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	patchAttrs(s.repoAttrs, repo, attrPatch{DeleteEnabled: &deleteEnabled, WriteEnabled: &writeEnabled})
}

// LockTag sets the changeable attributes deleteEnabled and writeEnabled of
// repo:tag (a tag that exists), as PATCH /acr/v1/<repo>/_tags/<tag> does. A
// tag with either false refuses deleting the manifest it points at and
// untagging it; writeEnabled false also refuses pushing over it. The
// manifest's own attributes are not changed.
func (s *Server) LockTag(repo, tag string, deleteEnabled, writeEnabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	patchAttrs(s.tagAttrs, tagKey{repo, tag}, attrPatch{DeleteEnabled: &deleteEnabled, WriteEnabled: &writeEnabled})
}

// repoWriteLocked reports whether repo's own writeEnabled is false.
func (s *Server) repoWriteLocked(repo string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.repoAttrs[repo]
	return st != nil && !st.attrs.WriteEnabled
}

// tagLocked reports whether a tag's own attributes refuse deleting it.
func (s *Server) tagLocked(key tagKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tagAttrs[key].locks()
}

// deleteRefused reports whether ACR refuses to delete repo@digest: its
// own lock, a lock on a tag pointing at it, or its repository's write lock.
func (s *Server) deleteRefused(ctx context.Context, repo, digest string) bool {
	if s.repoWriteLocked(repo) || s.locked(manifestKey{repo, digest}) {
		return true
	}
	for _, tag := range s.tagsWithAttrs(repo, true) {
		if s.store.digestOf(ctx, repo, tag) == digest {
			return true
		}
	}
	return false
}

// tagsWithAttrs lists the tags of repo whose attributes were set (only the
// locking ones with lockingOnly), sorted.
func (s *Server) tagsWithAttrs(repo string, lockingOnly bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k, st := range s.tagAttrs {
		if k.repo == repo && (!lockingOnly || st.locks()) {
			out = append(out, k.tag)
		}
	}
	slices.Sort(out)
	return out
}

// forgetTag drops an untagged tag's attributes: tagged again, it is new.
func (s *Server) forgetTag(key tagKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tagAttrs, key)
}

// forgetGoneTags drops the attributes of repo's tags that no longer exist
// (deleted with their manifest).
func (s *Server) forgetGoneTags(ctx context.Context, repo string) {
	for _, tag := range s.tagsWithAttrs(repo, false) {
		if s.store.digestOf(ctx, repo, tag) == "" {
			s.forgetTag(tagKey{repo, tag})
		}
	}
}

// serveLockable routes /acr/v1/<repo>, /acr/v1/<repo>/_tags and
// /acr/v1/<repo>/_tags/<tag> (p is the path after /acr/v1/); false when p
// is none of them. A repository name has no component starting with "_",
// so the first "/_tags" ends it.
func (s *Server) serveLockable(w http.ResponseWriter, r *http.Request, rec *Request, p string) bool {
	authorize := func(repo, action string) bool {
		return s.authorize(w, r, rec, &grant{Type: "repository", Name: repo, Actions: []string{action}})
	}
	if i := strings.Index(p, "/_tags"); i > 0 && (len(p) == i+len("/_tags") || p[i+len("/_tags")] == '/') {
		repo, tag := p[:i], strings.TrimPrefix(p[i+len("/_tags"):], "/")
		rec.Repository, rec.Reference = repo, tag
		if p[i+len("/_tags"):] == "" {
			rec.Kind = KindACRTags
			if r.Method != http.MethodGet {
				writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.", nil)
			} else if authorize(repo, "metadata_read") {
				s.serveTagList(w, r, repo)
			}
			return true
		}
		if tag == "" || strings.Contains(tag, "/") {
			return false
		}
		rec.Kind = KindACRTag
		if action := actionFor(r.Method, "delete"); action == "" {
			writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.", nil)
		} else if authorize(repo, action) {
			s.serveTag(w, r, repo, tag)
		}
		return true
	}
	if p == "" || strings.HasPrefix(p, "_") || strings.Contains(p, "/_") {
		return false
	}
	rec.Kind, rec.Repository = KindACRRepository, p
	if action := actionFor(r.Method, "delete"); action == "" {
		writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.", nil)
	} else if authorize(p, action) {
		s.serveRepository(w, r, p)
	}
	return true
}

// actionFor is the scope action a GET (metadata_read), PATCH
// (metadata_write) or DELETE (del) of ACR's metadata needs; "" for other
// methods.
func actionFor(method, del string) string {
	switch method {
	case http.MethodGet:
		return "metadata_read"
	case http.MethodPatch:
		return "metadata_write"
	case http.MethodDelete:
		return del
	}
	return ""
}

// readPatch decodes a PATCH body of changeable attributes (an empty body
// changes nothing), answering 400 when it is not one.
func readPatch(w http.ResponseWriter, r *http.Request) (attrPatch, bool) {
	var patch attrPatch
	if err := json.NewDecoder(r.Body).Decode(&patch); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "The request body is not a JSON object of changeable attributes: "+err.Error(), nil)
		return patch, false
	}
	return patch, true
}

// serveRepository answers GET, PATCH and DELETE /acr/v1/<repo>.
func (s *Server) serveRepository(w http.ResponseWriter, r *http.Request, repo string) {
	if r.Method == http.MethodDelete {
		s.serveDeleteRepository(w, r, repo)
		return
	}
	var patch attrPatch
	if r.Method == http.MethodPatch {
		var ok bool
		if patch, ok = readPatch(w, r); !ok {
			return
		}
	}
	snap, err := s.store.snapshot(r.Context(), repo, false)
	if err != nil {
		s.writeLookupError(w, err, repo, "")
		return
	}
	if r.Method == http.MethodPatch {
		s.mu.Lock()
		patchAttrs(s.repoAttrs, repo, patch)
		s.mu.Unlock()
	}
	entries := s.applyLive(repo, snap)
	props := repositoryProperties{Registry: s.login(), ImageName: repo, ManifestCount: len(entries), TagCount: len(snap.tags), ChangeableAttributes: defaultAttrs}
	var created, updated time.Time
	for i, e := range entries {
		c := time.Time(e.attrs.CreatedTime)
		if i == 0 || c.Before(created) {
			created = c
		}
		updated = latest(updated, e.updated)
	}
	for _, t := range snap.tags {
		updated = latest(updated, t.written)
	}
	s.mu.Lock()
	if st := s.repoAttrs[repo]; st != nil {
		props.ChangeableAttributes, updated = st.attrs, latest(updated, st.updated)
	}
	s.mu.Unlock()
	props.CreatedTime, props.LastUpdateTime = acrTime(created), acrTime(updated)
	writeJSON(w, http.StatusOK, props)
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// serveDeleteRepository answers DELETE /acr/v1/<repo>: every manifest
// and tag of the repository goes, unless the repository's deleteEnabled
// or writeEnabled is false, or one of its manifests or tags is locked
// (405, nothing deleted). It answers 202 with what it deleted.
func (s *Server) serveDeleteRepository(w http.ResponseWriter, r *http.Request, repo string) {
	s.mu.Lock()
	repoLocked := s.repoAttrs[repo].locks()
	s.mu.Unlock()
	if repoLocked || len(s.tagsWithAttrs(repo, true)) > 0 {
		writeDisallowed(w)
		return
	}
	entries, err := s.inventory(r.Context(), repo, false)
	if err != nil {
		s.writeLookupError(w, err, repo, "")
		return
	}
	for _, e := range entries {
		if s.locked(manifestKey{repo, e.attrs.Digest}) {
			writeDisallowed(w)
			return
		}
	}
	manifests, tags, err := s.store.deleteRepository(r.Context(), repo)
	s.invalidate(repo)
	if err != nil {
		s.writeLookupError(w, err, repo, "")
		return
	}
	for _, d := range manifests {
		s.forget(manifestKey{repo, d})
	}
	s.mu.Lock()
	for _, t := range tags {
		delete(s.tagAttrs, tagKey{repo, t})
	}
	delete(s.repoAttrs, repo)
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, struct {
		ManifestsDeleted []string `json:"manifestsDeleted"`
		TagsDeleted      []string `json:"tagsDeleted"`
	}{append([]string{}, manifests...), append([]string{}, tags...)})
}

// liveTags is snap's tags with their current attributes and times,
// remembering each one's sort time for paging past it once it is gone.
func (s *Server) liveTags(repo string, snap *repoSnapshot) []tagAttributes {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]tagAttributes, 0, len(snap.tags))
	for _, t := range snap.tags {
		key := tagKey{repo, t.name}
		ta := tagAttributes{Name: t.name, Digest: t.digest, CreatedTime: acrTime(t.written), LastUpdateTime: acrTime(t.written), ChangeableAttributes: defaultAttrs}
		if st := s.tagAttrs[key]; st != nil {
			ta.ChangeableAttributes = st.attrs
			ta.LastUpdateTime = acrTime(latest(t.written, st.updated))
		}
		s.tagSort[key] = time.Time(ta.LastUpdateTime)
		out = append(out, ta)
	}
	return out
}

// serveTagList answers GET /acr/v1/<repo>/_tags: the repository's tags
// (but those with listEnabled false), by name (lexically after last) or
// by lastUpdateTime (orderby timeasc, timedesc), only those pointing at
// digest when it is given, pages of n (100 without it, at most 1,000), continuing through a Link
// header as the manifest listing does.
func (s *Server) serveTagList(w http.ResponseWriter, r *http.Request, repo string) {
	q := r.URL.Query()
	n, less, ok := listing(w, q, func(t tagAttributes) string { return t.Name }, func(t tagAttributes) time.Time { return time.Time(t.LastUpdateTime) })
	if !ok {
		return
	}
	last := q.Get("last")
	snap, err := s.store.snapshot(r.Context(), repo, last != "")
	if err != nil {
		s.writeLookupError(w, err, repo, "")
		return
	}
	tags := s.liveTags(repo, snap)
	filter := q.Get("digest")
	tags = slices.DeleteFunc(tags, func(t tagAttributes) bool {
		return !t.ChangeableAttributes.ListEnabled || (filter != "" && t.Digest != filter)
	})
	slices.SortFunc(tags, less)
	start := 0
	if last != "" {
		pivot := tagAttributes{Name: last}
		s.mu.Lock()
		pivot.LastUpdateTime = acrTime(s.tagSort[tagKey{repo, last}])
		s.mu.Unlock()
		start = pageAfter(tags, less, pivot)
	}
	end := min(start+n, len(tags))
	page := slices.Clone(tags[start:end])
	if end < len(tags) {
		link := fmt.Sprintf(`</acr/v1/%s/_tags?last=%s&n=%d&orderby=%s`, url.PathEscape(repo), url.QueryEscape(page[len(page)-1].Name), n, url.QueryEscape(q.Get("orderby")))
		if filter != "" {
			link += "&digest=" + url.QueryEscape(filter)
		}
		w.Header().Set("Link", link+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, struct {
		Registry  string          `json:"registry"`
		ImageName string          `json:"imageName"`
		Tags      []tagAttributes `json:"tags"`
	}{s.login(), repo, page})
}

// listing reads the page size (n) and the order (orderby) a listing's
// query q asks for; it answers 400 and returns false for either that is
// not valid.
func listing[T any](w http.ResponseWriter, q url.Values, name func(T) string, updated func(T) time.Time) (int, func(a, b T) int, bool) {
	n, ok := pageSize(w, q)
	if !ok {
		return 0, nil, false
	}
	less, ok := listingOrder(w, q.Get("orderby"), name, updated)
	return n, less, ok
}

// listingOrder is the order orderby asks of a listing: by name (a
// manifest's digest, a tag's name: the default, also "none"), or by
// lastUpdateTime (timeasc, timedesc) and then by name. Another orderby is
// answered 400 (false).
func listingOrder[T any](w http.ResponseWriter, orderby string, name func(T) string, updated func(T) time.Time) (func(a, b T) int, bool) {
	byName := func(a, b T) int { return strings.Compare(name(a), name(b)) }
	switch orderby {
	case OrderByDigest, "none":
		return byName, true
	case OrderByTimeAsc:
		return func(a, b T) int { return cmp.Or(updated(a).Compare(updated(b)), byName(a, b)) }, true
	case OrderByTimeDesc:
		return func(a, b T) int { return cmp.Or(updated(b).Compare(updated(a)), byName(a, b)) }, true
	}
	writeError(w, http.StatusBadRequest, "UNSUPPORTED", fmt.Sprintf("orderby %q is not one of timedesc, timeasc, none.", orderby), nil)
	return nil, false
}

// pageAfter is where the page after pivot (the last item of the page
// before) starts in sorted items, even when pivot is gone (deleted while
// paging): pivot carries the sort time it was last listed with.
func pageAfter[T any](items []T, less func(a, b T) int, pivot T) int {
	if i := slices.IndexFunc(items, func(x T) bool { return less(x, pivot) > 0 }); i >= 0 {
		return i
	}
	return len(items)
}

// serveTag answers GET, PATCH and DELETE (untag) /acr/v1/<repo>/_tags/<tag>.
func (s *Server) serveTag(w http.ResponseWriter, r *http.Request, repo, tag string) {
	var patch attrPatch
	switch r.Method {
	case http.MethodDelete:
		s.serveUntag(w, r, repo, tag)
		return
	case http.MethodPatch:
		var ok bool
		if patch, ok = readPatch(w, r); !ok {
			return
		}
		if s.repoWriteLocked(repo) {
			writeDisallowed(w)
			return
		}
	}
	var found *repoSnapshot
	i := -1
	for _, reuse := range []bool{true, false} { // not in a snapshot: maybe pushed since
		snap, err := s.store.snapshot(r.Context(), repo, reuse)
		if err != nil {
			s.writeLookupError(w, err, repo, "")
			return
		}
		if i = slices.IndexFunc(snap.tags, func(t tagInfo) bool { return t.name == tag }); i >= 0 {
			found = snap
			break
		}
	}
	if found == nil {
		writeError(w, http.StatusNotFound, "TAG_UNKNOWN", errTagUnknown.Error(), map[string]string{"tag": tag})
		return
	}
	if r.Method == http.MethodPatch {
		s.mu.Lock()
		patchAttrs(s.tagAttrs, tagKey{repo, tag}, patch)
		s.mu.Unlock()
	}
	one := &repoSnapshot{tags: found.tags[i : i+1]}
	writeJSON(w, http.StatusOK, struct {
		Registry  string        `json:"registry"`
		ImageName string        `json:"imageName"`
		Tag       tagAttributes `json:"tag"`
	}{s.login(), repo, s.liveTags(repo, one)[0]})
}
