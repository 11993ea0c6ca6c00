package harbortest

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/opencontainers/go-digest"
)

// stored is one manifest of a repository as the registry's storage holds
// it.
type stored struct {
	digest   string
	pushed   time.Time // when its revision link was written
	content  *content
	tags     []string
	children []string // an index's, in order
}

// content is what a manifest says, fixed by its digest.
type content struct {
	mediaType       string
	configMediaType string
	size            int64 // manifest, config and layers; an index: itself and its children's
	own             int64 // the manifest's own bytes
	children        []child
	os, arch        string
	variant         string
	author          string
	created         string
	config          map[string]any
}

type child struct {
	digest                 string
	mediaType              string
	os, arch, variant, ver string
}

// errNoRepository: the storage holds no manifest of the repository.
var errNoRepository = errors.New("repository not found")

// repositories lists, sorted, the repositories of the storage that hold a
// manifest.
func (s *Server) repositories(ctx context.Context) ([]string, error) {
	var out []string
	err := s.reg.Storage(ctx, func(ctx context.Context, ns distribution.Namespace, _ storagedriver.StorageDriver) error {
		names, err := registrytest.RepositoryNames(ctx, ns)
		if err != nil {
			return err
		}
		for _, n := range names {
			ds, err := digestsOf(ctx, ns, n)
			if err != nil {
				return err
			}
			if len(ds) > 0 {
				out = append(out, n)
			}
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

// digestsOf lists the manifests stored in repository name.
func digestsOf(ctx context.Context, ns distribution.Namespace, name string) ([]digest.Digest, error) {
	named, err := reference.WithName(name)
	if err != nil {
		return nil, nil
	}
	rp, err := ns.Repository(ctx, named)
	if err != nil {
		return nil, err
	}
	ms, err := rp.Manifests(ctx)
	if err != nil {
		return nil, err
	}
	return registrytest.ManifestDigests(ctx, ms)
}

// repository reads every manifest of repo with its tags (errNoRepository
// when it holds none).
func (s *Server) repository(ctx context.Context, repo string) ([]*stored, error) {
	var out []*stored
	err := s.reg.Storage(ctx, func(ctx context.Context, ns distribution.Namespace, d storagedriver.StorageDriver) error {
		ds, err := digestsOf(ctx, ns, repo)
		if err != nil || len(ds) == 0 {
			return cmpErr(err, errNoRepository)
		}
		rp, ms, err := registrytest.OpenRepository(ctx, ns, repo)
		if err != nil {
			return err
		}
		byDigest := map[string]*stored{}
		for _, dg := range ds {
			c, err := s.contentOf(ctx, rp, ms, dg)
			if err != nil {
				return err
			}
			m := &stored{digest: dg.String(), content: c}
			if t, err := registrytest.PushTime(ctx, d, repo, dg); err == nil {
				m.pushed = t.UTC()
			}
			for _, ch := range c.children {
				m.children = append(m.children, ch.digest)
			}
			byDigest[m.digest] = m
			out = append(out, m)
		}
		ts := rp.Tags(ctx)
		tags, err := ts.All(ctx)
		if err != nil && !errors.As(err, new(distribution.ErrRepositoryUnknown)) && !registrytest.IsPathNotFound(err) {
			return err
		}
		for _, t := range tags {
			desc, err := ts.Get(ctx, t)
			if err != nil {
				continue // untagged meanwhile
			}
			if m := byDigest[desc.Digest.String()]; m != nil {
				m.tags = append(m.tags, t)
			}
		}
		return nil
	})
	for _, m := range out {
		slices.Sort(m.tags)
	}
	slices.SortFunc(out, func(a, b *stored) int { return strings.Compare(a.digest, b.digest) })
	return out, err
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// contentOf reads (once per digest) what manifest dg of rp says: its media
// type, children, size and, for an image, its config's platform and
// created time.
func (s *Server) contentOf(ctx context.Context, rp distribution.Repository, ms distribution.ManifestService, dg digest.Digest) (*content, error) {
	return s.contents.Of(ctx, ms, dg, func(m *registrytest.Manifest) (*content, error) {
		mt := m.MediaType
		c := &content{mediaType: mt, own: int64(len(m.Payload)), size: int64(len(m.Payload))}
		if len(m.Manifests) > 0 || strings.Contains(mt, "index") || strings.Contains(mt, "list") {
			c.configMediaType = mt
			for _, x := range m.Manifests {
				ch := child{digest: x.Digest.String(), mediaType: x.MediaType}
				if p := x.Platform; p != nil {
					ch.os, ch.arch, ch.variant, ch.ver = p.OS, p.Architecture, p.Variant, p.OSVersion
				}
				c.children = append(c.children, ch)
				if cc, err := s.contentOf(ctx, rp, ms, x.Digest); err == nil {
					c.size += cc.size
				}
			}
			return c, nil
		}
		config := cmp.Or(m.Config, &registrytest.Descriptor{})
		c.configMediaType = config.MediaType
		c.size += config.Size
		for _, l := range m.Layers {
			c.size += l.Size
		}
		if config.Digest != "" {
			var cfg struct {
				OS           string         `json:"os"`
				Architecture string         `json:"architecture"`
				Variant      string         `json:"variant"`
				Author       string         `json:"author"`
				Created      string         `json:"created"`
				Config       map[string]any `json:"config"`
			}
			if registrytest.ReadConfig(ctx, rp, config.Digest, &cfg) == nil {
				c.os, c.arch, c.variant, c.author, c.created, c.config = cfg.OS, cfg.Architecture, cfg.Variant, cfg.Author, cfg.Created, cfg.Config
			}
		}
		return c, nil
	})
}
