package ecrtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/opencontainers/go-digest"
)

var (
	errRepositoryNotFound = errors.New("repository not found")
	errStop               = errors.New("stop")
)

// image is one manifest of a repository as DescribeImages shows it.
type image struct {
	digest    string
	tags      []string
	mediaType string
	// artifactMediaType is the config's media type of an image manifest.
	artifactMediaType string
	// size is the compressed layers' sum (an image) or the largest of its
	// platform manifests' (an index), as ECR documents imageSizeInBytes.
	size     int64
	children []string
	subject  string
	pushed   time.Time
}

// manifestDoc is what the stand-in reads of a manifest.
type manifestDoc struct {
	MediaType string `json:"mediaType"`
	Config    struct {
		MediaType string `json:"mediaType"`
	} `json:"config"`
	Layers []struct {
		Size int64 `json:"size"`
	} `json:"layers"`
	Manifests []struct {
		Digest string `json:"digest"`
	} `json:"manifests"`
	Subject *struct {
		Digest string `json:"digest"`
	} `json:"subject"`
}

// repositories lists, sorted, the repositories of the storage that hold a
// manifest.
func (s *Server) repositories(ctx context.Context) ([]string, error) {
	var out []string
	err := s.reg.Storage(ctx, func(ctx context.Context, ns distribution.Namespace, _ storagedriver.StorageDriver) error {
		names, err := registrytest.RepositoryNames(ctx, ns)
		if err != nil {
			return err
		}
		for _, name := range names {
			rp, err := openRepo(ctx, ns, name)
			if err != nil {
				continue
			}
			ms, err := rp.Manifests(ctx)
			if err != nil {
				return err
			}
			found := false
			err = ms.(distribution.ManifestEnumerator).Enumerate(ctx, func(digest.Digest) error { found = true; return errStop })
			if found {
				out = append(out, name)
			} else if err != nil && !registrytest.IsPathNotFound(err) {
				return err
			}
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

// images describes every manifest of repo, sorted by digest
// (errRepositoryNotFound when it holds none).
func (s *Server) images(ctx context.Context, repo string) ([]image, error) {
	var out []image
	err := s.withRepo(ctx, repo, func(ctx context.Context, rp distribution.Repository, d storagedriver.StorageDriver) error {
		ms, err := rp.Manifests(ctx)
		if err != nil {
			return err
		}
		digests, err := registrytest.ManifestDigests(ctx, ms)
		if err != nil {
			return err
		}
		if len(digests) == 0 {
			return errRepositoryNotFound
		}
		tags := map[string][]string{}
		ts := rp.Tags(ctx)
		all, err := ts.All(ctx)
		var unknown distribution.ErrRepositoryUnknown
		if err != nil && !errors.As(err, &unknown) && !registrytest.IsPathNotFound(err) {
			return err
		}
		for _, tag := range all {
			if desc, err := ts.Get(ctx, tag); err == nil {
				tags[desc.Digest.String()] = append(tags[desc.Digest.String()], tag)
			}
		}
		byDigest := map[string]*image{}
		for _, dg := range digests {
			im, ok, err := s.readManifest(ctx, ms, repo, dg)
			if err != nil {
				return err
			}
			if !ok {
				continue // deleted meanwhile
			}
			im.tags = slices.Clone(tags[dg.String()])
			slices.Sort(im.tags)
			im.pushed, err = s.pushedAt(ctx, d, repo, dg)
			if err != nil {
				return err
			}
			byDigest[im.digest] = &im
		}
		for _, dg := range digests {
			im := byDigest[dg.String()]
			if im == nil {
				continue
			}
			for _, c := range im.children {
				if ci := byDigest[c]; ci != nil {
					im.size = max(im.size, ci.size)
				}
			}
			out = append(out, *im)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b image) int { return cmpString(a.digest, b.digest) })
	return out, err
}

// readManifest is what DescribeImages shows of manifest dg read whole
// (its tags and push time aside): parsed once per digest, as a digest's
// manifest never changes. ok is false for a manifest deleted meanwhile.
func (s *Server) readManifest(ctx context.Context, ms distribution.ManifestService, repo string, dg digest.Digest) (image, bool, error) {
	s.mu.Lock()
	im, ok := s.parsed[dg.String()]
	s.mu.Unlock()
	if ok {
		im.children = slices.Clone(im.children)
		return im, true, nil
	}
	m, err := ms.Get(ctx, dg)
	if err != nil {
		return image{}, false, nil
	}
	mt, payload, err := m.Payload()
	if err != nil {
		return image{}, false, fmt.Errorf("payload of %s@%s: %w", repo, dg, err)
	}
	var doc manifestDoc
	if err := json.Unmarshal(payload, &doc); err != nil {
		return image{}, false, fmt.Errorf("manifest %s@%s: %w", repo, dg, err)
	}
	im = image{digest: dg.String(), mediaType: mt, artifactMediaType: doc.Config.MediaType}
	for _, l := range doc.Layers {
		im.size += l.Size
	}
	for _, c := range doc.Manifests {
		im.children = append(im.children, c.Digest)
	}
	if doc.Subject != nil {
		im.subject = doc.Subject.Digest
	}
	s.mu.Lock()
	if s.parsed == nil {
		s.parsed = map[string]image{}
	}
	s.parsed[im.digest] = im
	s.mu.Unlock()
	im.children = slices.Clone(im.children)
	return im, true, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pushedAt is repo@dg's push time: SetPushed's, else when distribution
// wrote its revision link.
func (s *Server) pushedAt(ctx context.Context, d storagedriver.StorageDriver, repo string, dg digest.Digest) (time.Time, error) {
	key := imageKey{repo, dg.String()}
	s.mu.Lock()
	t, ok := s.pushed[key]
	s.mu.Unlock()
	if ok {
		return t, nil
	}
	pushed, err := registrytest.PushTime(ctx, d, repo, dg)
	if err != nil {
		return time.Time{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.pushed[key]; ok {
		return t, nil
	}
	s.pushed[key] = pushed.UTC()
	return s.pushed[key], nil
}

// deleteImage deletes repo@dg and its tags (as DescribeImages just read
// them: looking them up among all the repository's tags, per image, is
// what made a call of 100 slow) from the storage.
func (s *Server) deleteImage(ctx context.Context, repo string, dg digest.Digest, tags []string) error {
	return s.withRepo(ctx, repo, func(ctx context.Context, rp distribution.Repository, _ storagedriver.StorageDriver) error {
		ts := rp.Tags(ctx)
		for _, tag := range tags {
			if err := ts.Untag(ctx, tag); err != nil {
				return fmt.Errorf("untag %s:%s: %w", repo, tag, err)
			}
		}
		ms, err := rp.Manifests(ctx)
		if err != nil {
			return err
		}
		return ms.Delete(ctx, dg)
	})
}

// untag removes tag from repo.
func (s *Server) untag(ctx context.Context, repo, tag string) error {
	return s.withRepo(ctx, repo, func(ctx context.Context, rp distribution.Repository, _ storagedriver.StorageDriver) error {
		return rp.Tags(ctx).Untag(ctx, tag)
	})
}

func (s *Server) withRepo(ctx context.Context, name string, fn func(context.Context, distribution.Repository, storagedriver.StorageDriver) error) error {
	return s.reg.Storage(ctx, func(ctx context.Context, ns distribution.Namespace, d storagedriver.StorageDriver) error {
		rp, err := openRepo(ctx, ns, name)
		if err != nil {
			return err
		}
		return fn(ctx, rp, d)
	})
}

func openRepo(ctx context.Context, ns distribution.Namespace, name string) (distribution.Repository, error) {
	named, err := reference.WithName(name)
	if err != nil {
		return nil, errRepositoryNotFound
	}
	return ns.Repository(ctx, named)
}
