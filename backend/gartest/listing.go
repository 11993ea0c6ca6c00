package gartest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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

var (
	errUnknown = errors.New("unknown")
)

// manifestInfo is one entry of the extended listing's "manifest" map.
type manifestInfo struct {
	ImageSizeBytes string   `json:"imageSizeBytes"`
	LayerID        string   `json:"layerId"`
	MediaType      string   `json:"mediaType"`
	Tag            []string `json:"tag"`
	TimeCreatedMs  string   `json:"timeCreatedMs"`
	TimeUploadedMs string   `json:"timeUploadedMs"`
}

// tagsList is Google's extended answer to tags/list.
type tagsList struct {
	Child    []string                `json:"child"`
	Manifest map[string]manifestInfo `json:"manifest"`
	Name     string                  `json:"name"`
	Tags     []string                `json:"tags"`
}

// content is what a manifest says; it never changes for a digest.
type content struct {
	mediaType string
	size      int64 // config and layers; 0 for an index
	created   time.Time
	children  []digest.Digest
}

func (s *Server) serveTagsList(w http.ResponseWriter, r *http.Request, name string) {
	var out tagsList
	err := s.reg.Storage(r.Context(), func(ctx context.Context, ns distribution.Namespace, d storagedriver.StorageDriver) error {
		var err error
		if out.Child, err = childrenOf(ctx, ns, name); err != nil {
			return err
		}
		out.Manifest, out.Tags, err = s.manifestsOf(ctx, ns, d, name)
		return err
	})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	if len(out.Child) == 0 && len(out.Manifest) == 0 {
		writeError(w, http.StatusNotFound, "NAME_UNKNOWN", "Repository \""+name+"\" not found")
		return
	}
	out.Name = name
	if out.Child == nil {
		out.Child = []string{}
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	writeJSON(w, http.StatusOK, out)
}

// childrenOf lists the next path component of every repository under
// name that holds a manifest.
func childrenOf(ctx context.Context, ns distribution.Namespace, name string) ([]string, error) {
	names, err := registrytest.RepositoryNames(ctx, ns)
	if err != nil {
		return nil, err
	}
	var under []string
	for _, n := range names {
		if strings.HasPrefix(n, name+"/") {
			under = append(under, n)
		}
	}
	var out []string
	for _, n := range under {
		first, _, _ := strings.Cut(strings.TrimPrefix(n, name+"/"), "/")
		if slices.Contains(out, first) {
			continue
		}
		has, err := hasManifests(ctx, ns, n)
		if err != nil {
			return nil, err
		}
		if has {
			out = append(out, first)
		}
	}
	slices.Sort(out)
	return out, nil
}

func openRepo(ctx context.Context, ns distribution.Namespace, name string) (distribution.Repository, error) {
	named, err := reference.WithName(name)
	if err != nil {
		return nil, errUnknown
	}
	return ns.Repository(ctx, named)
}

func enumerate(ctx context.Context, rp distribution.Repository) (distribution.ManifestService, []digest.Digest, error) {
	ms, err := rp.Manifests(ctx)
	if err != nil {
		return nil, nil, err
	}
	out, err := registrytest.ManifestDigests(ctx, ms)
	if err != nil {
		return nil, nil, fmt.Errorf("list %s: %w", rp.Named(), err)
	}
	return ms, out, nil
}

func hasManifests(ctx context.Context, ns distribution.Namespace, name string) (bool, error) {
	rp, err := openRepo(ctx, ns, name)
	if err != nil {
		return false, nil
	}
	_, ds, err := enumerate(ctx, rp)
	return len(ds) > 0, err
}

// goneMeanwhile reports whether err says a manifest the walk found was
// deleted before it was read.
func goneMeanwhile(err error) bool {
	var unknown distribution.ErrManifestUnknownRevision
	return errors.As(err, &unknown) || registrytest.IsPathNotFound(err)
}

// tagMap maps each digest of repository rp to its tags, sorted.
func tagMap(ctx context.Context, rp distribution.Repository) (map[digest.Digest][]string, error) {
	ts := rp.Tags(ctx)
	all, err := ts.All(ctx)
	var unknown distribution.ErrRepositoryUnknown
	if errors.As(err, &unknown) || registrytest.IsPathNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[digest.Digest][]string{}
	for _, tag := range all {
		desc, err := ts.Get(ctx, tag)
		if err != nil {
			continue // untagged meanwhile
		}
		out[desc.Digest] = append(out[desc.Digest], tag)
	}
	for _, t := range out {
		slices.Sort(t)
	}
	return out, nil
}

// manifestsOf describes every manifest of repository name, and lists its
// tags.
func (s *Server) manifestsOf(ctx context.Context, ns distribution.Namespace, d storagedriver.StorageDriver, name string) (map[string]manifestInfo, []string, error) {
	rp, err := openRepo(ctx, ns, name)
	if err != nil {
		return nil, nil, nil
	}
	ms, digests, err := enumerate(ctx, rp)
	if err != nil || len(digests) == 0 {
		return nil, nil, err
	}
	tags, err := tagMap(ctx, rp)
	if err != nil {
		return nil, nil, err
	}
	infos := map[digest.Digest]*content{}
	for _, dg := range digests {
		c, err := s.contentOf(ctx, rp, ms, dg)
		switch {
		case goneMeanwhile(err):
			continue // deleted since the walk: not listed, as Google would not
		case err != nil:
			return nil, nil, err
		}
		infos[dg] = c
	}
	out := make(map[string]manifestInfo, len(digests))
	var allTags []string
	for _, dg := range digests {
		c := infos[dg]
		if c == nil || s.isHidden(name, dg.String()) {
			continue
		}
		size := c.size
		for _, ch := range c.children {
			if ci := infos[ch]; ci != nil {
				size += ci.size
			}
		}
		uploaded, err := s.uploadedAt(ctx, d, name, dg)
		switch {
		case goneMeanwhile(err):
			continue
		case err != nil:
			return nil, nil, err
		}
		created := "0"
		if !c.created.IsZero() {
			created = strconv.FormatInt(c.created.UnixMilli(), 10)
		}
		t := tags[dg]
		if t == nil {
			t = []string{}
		}
		allTags = append(allTags, t...)
		out[dg.String()] = manifestInfo{ImageSizeBytes: strconv.FormatInt(size, 10), MediaType: c.mediaType, Tag: t,
			TimeCreatedMs: created, TimeUploadedMs: strconv.FormatInt(uploaded.UnixMilli(), 10)}
	}
	slices.Sort(allTags)
	return out, allTags, nil
}

// uploadedAt is repo@dg's push time: SetUploaded's, else when
// distribution wrote its revision link.
func (s *Server) uploadedAt(ctx context.Context, d storagedriver.StorageDriver, repo string, dg digest.Digest) (time.Time, error) {
	s.mu.Lock()
	t, ok := s.uploaded[repo+"@"+dg.String()]
	s.mu.Unlock()
	if ok {
		return t, nil
	}
	return registrytest.PushTime(ctx, d, repo, dg)
}

// contentOf reads (once per digest) what manifest dg and its config say:
// an image's references are its config and layers, an index's its
// platform manifests.
func (s *Server) contentOf(ctx context.Context, rp distribution.Repository, ms distribution.ManifestService, dg digest.Digest) (*content, error) {
	return s.content.Of(ctx, ms, dg, func(m *registrytest.Manifest) (*content, error) {
		c := &content{mediaType: m.MediaType}
		refs := m.References
		if strings.Contains(m.MediaType, "index") || strings.Contains(m.MediaType, "manifest.list") {
			for _, r := range refs {
				c.children = append(c.children, r.Digest)
			}
		} else if len(refs) > 0 {
			for _, r := range refs {
				if r.MediaType != "" && !strings.Contains(r.MediaType, "manifest") { // not an OCI subject
					c.size += r.Size
				}
			}
			if cfg := refs[0]; strings.HasSuffix(cfg.MediaType, "json") {
				c.created = configCreated(ctx, rp, cfg.Digest)
			}
		}
		return c, nil
	})
}

// configCreated is an image config's created time; zero when it has none
// (or one before 1970) or cannot be read.
func configCreated(ctx context.Context, rp distribution.Repository, dg digest.Digest) time.Time {
	var cfg struct {
		Created time.Time `json:"created"`
	}
	if registrytest.ReadConfig(ctx, rp, dg, &cfg) != nil || !cfg.Created.After(time.Unix(0, 0)) {
		return time.Time{}
	}
	return cfg.Created
}

// tagsOn lists the tags of repo that point at dgst.
func (s *Server) tagsOn(ctx context.Context, repo, dgst string) ([]string, error) {
	var out []string
	err := s.reg.Storage(ctx, func(ctx context.Context, ns distribution.Namespace, _ storagedriver.StorageDriver) error {
		rp, err := openRepo(ctx, ns, repo)
		if err != nil {
			return nil
		}
		m, err := tagMap(ctx, rp)
		out = m[digest.Digest(dgst)]
		return err
	})
	return out, err
}

// untag removes tag from repo (errUnknown when it is not there).
func (s *Server) untag(ctx context.Context, repo, tag string) error {
	return s.reg.Storage(ctx, func(ctx context.Context, ns distribution.Namespace, _ storagedriver.StorageDriver) error {
		rp, err := openRepo(ctx, ns, repo)
		if err != nil {
			return err
		}
		ts := rp.Tags(ctx)
		if _, err := ts.Get(ctx, tag); err != nil {
			return errUnknown
		}
		return ts.Untag(ctx, tag)
	})
}
