package registrytest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"
)

// DefaultScale is the default Population.Scale: 1 KiB per "MB", so the
// default population holds a few MB.
const DefaultScale = 1024

// DefaultConcurrency is how many images Seed pushes at once by default.
const DefaultConcurrency = 8

// Population describes a registry's worth of BinderHub images. The same
// Population (same Seed and Now) always gives the same repositories, tags,
// contents and digests.
//
// Repositories are repo2docker-style `binder-<org>-<repo>-<hash>` names plus,
// from 3 repositories up, `jupyterhub/k8s-hub` (OCI manifests, chartpress
// version tags) and, from 6 up, `base` (shares the OS layer with the binder
// images, date tags). Binder images are Docker schema 2 manifests over a
// shared OS layer, a shared repo2docker apt layer and a shared conda layer
// (older images use older variants of each), a per-repository environment
// layer (a few versions per repository) and small per-image layers; tags are
// commit shas (mostly 40 hex, some 7), with a branch-like or short-sha second
// tag on some images, always on the newest one. Created times spread over
// the year before Now, about a fifth of them older than 90 days (at least
// one image when there are two or more). Given enough images, one image's
// config says created 1970-01-01 (a reproducible builder) and one binder
// image's config has no created field.
type Population struct {
	// Repositories is the number of repositories (at least 1).
	Repositories int
	// TagsPerRepository is the average number of tags per repository (at
	// least 1). The total is exactly Repositories*TagsPerRepository; the
	// split between repositories is uneven, every repository gets one.
	TagsPerRepository int
	// Seed selects the population.
	Seed int64
	// Now anchors created times; zero means time.Now().
	Now time.Time
	// Scale is the number of bytes per "MB" of realistic size (0 means
	// DefaultScale). Each layer is at least a few dozen bytes, so a tiny
	// Scale gives tiny images that push fast.
	Scale int64
	// MultiPlatform makes one image (the newest of jupyterhub/k8s-hub, else
	// of the first repository) an OCI image index of linux/amd64 and
	// linux/arm64 images.
	MultiPlatform bool
	// Concurrency bounds the images pushed at once (0 means
	// DefaultConcurrency).
	Concurrency int
	// Prefix goes before every repository name: "" (top level), or a
	// path ending in "/": "my-project/" for a registry whose repositories
	// live under a project (gcr.io/PROJECT/...), "binder/" for a Harbor
	// project.
	Prefix string
}

// DefaultPopulation is the interactive demo's registry: 12 repositories,
// 96 tags, one multi-platform image, a few MB, created times relative to
// the current time.
func DefaultPopulation() Population {
	return Population{
		Repositories:      12,
		TagsPerRepository: 8,
		Seed:              1,
		Scale:             DefaultScale,
		MultiPlatform:     true,
		Concurrency:       DefaultConcurrency,
	}
}

func (p Population) withDefaults() (Population, error) {
	if p.Repositories < 1 {
		return p, fmt.Errorf("population: Repositories is %d, want at least 1", p.Repositories)
	}
	if p.TagsPerRepository < 1 {
		return p, fmt.Errorf("population: TagsPerRepository is %d, want at least 1", p.TagsPerRepository)
	}
	if p.Scale < 0 {
		return p, fmt.Errorf("population: Scale is %d, want 0 (default) or more", p.Scale)
	}
	if p.Concurrency < 0 {
		return p, fmt.Errorf("population: Concurrency is %d, want 0 (default) or more", p.Concurrency)
	}
	if p.Prefix != "" && (!strings.HasSuffix(p.Prefix, "/") || !validPrefix(p.Prefix)) {
		return p, fmt.Errorf("population: Prefix %q is not a repository path ending in /", p.Prefix)
	}
	if p.Scale == 0 {
		p.Scale = DefaultScale
	}
	if p.Concurrency == 0 {
		p.Concurrency = DefaultConcurrency
	}
	if p.Now.IsZero() {
		p.Now = time.Now()
	}
	p.Now = p.Now.UTC().Truncate(time.Second)
	return p, nil
}

// Blob is one content-addressed object an image references.
type Blob struct {
	Digest    string
	Size      int64
	MediaType string
}

// SeededImage is the truth about one pushed image (manifest or index).
type SeededImage struct {
	Repository string
	// Digest is the manifest's (or index's) digest.
	Digest    string
	MediaType string
	Tags      []string
	// Created is what the image config says; for an index, the newest of
	// its platform images. Zero when the config has no created field.
	Created time.Time
	// CreatedMissing is true when the config has no created field.
	CreatedMissing bool
	// Platforms ("os/arch") and Children (manifest digests), for an index.
	Platforms []string
	Children  []string
	// Blobs are every blob the image references, each once: its manifest
	// first, then config and layers; for an index, the index manifest and
	// then each platform manifest with its config and layers.
	Blobs []Blob
}

// Ref returns "repository@digest".
func (im *SeededImage) Ref() string { return im.Repository + "@" + im.Digest }

// Size is the sum of the image's blobs, shared ones counted in full.
func (im *SeededImage) Size() int64 {
	var n int64
	for _, b := range im.Blobs {
		n += b.Size
	}
	return n
}

// Seeded is what Seed pushed.
type Seeded struct {
	// Population is the population pushed, defaults filled in.
	Population Population
	// Repositories are the repository names, sorted.
	Repositories []string
	// Images are grouped by repository in Repositories order, newest first
	// within a repository.
	Images []SeededImage
}

// Tags counts the tags over all images.
func (s *Seeded) Tags() int {
	n := 0
	for i := range s.Images {
		n += len(s.Images[i].Tags)
	}
	return n
}

// Find returns the index in Images of the image in repository that has
// reference ref (a tag or a digest), or -1.
func (s *Seeded) Find(repository, ref string) int {
	for i := range s.Images {
		im := &s.Images[i]
		if im.Repository != repository {
			continue
		}
		if im.Digest == ref || slices.Contains(im.Tags, ref) {
			return i
		}
	}
	return -1
}

// Blobs returns every distinct blob over all images, sorted by digest: on a
// registry that holds only this population, exactly what is stored.
func (s *Seeded) Blobs() []Blob {
	seen := make(map[string]Blob)
	for i := range s.Images {
		for _, b := range s.Images[i].Blobs {
			seen[b.Digest] = b
		}
	}
	return sortedBlobs(seen)
}

// StoredBytes is the sum of Blobs' sizes: what Registry.BlobBytes reports
// on a registry that holds only this population.
func (s *Seeded) StoredBytes() int64 {
	var n int64
	for _, b := range s.Blobs() {
		n += b.Size
	}
	return n
}

// Exclusive returns the blobs that the images at the given indexes (into
// Images) reference and no other image does, sorted by digest: what garbage
// collection frees once those images are deleted. For an index that holds
// only if its platform manifests are deleted too (distribution keeps them
// otherwise, see the package doc).
func (s *Seeded) Exclusive(images ...int) []Blob {
	gone := make(map[int]bool, len(images))
	for _, i := range images {
		gone[i] = true
	}
	candidates := make(map[string]Blob)
	kept := make(map[string]bool)
	for i := range s.Images {
		for _, b := range s.Images[i].Blobs {
			if gone[i] {
				candidates[b.Digest] = b
			} else {
				kept[b.Digest] = true
			}
		}
	}
	for d := range kept {
		delete(candidates, d)
	}
	return sortedBlobs(candidates)
}

func sortedBlobs(m map[string]Blob) []Blob {
	out := make([]Blob, 0, len(m))
	for _, b := range m {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b Blob) int { return cmp.Compare(a.Digest, b.Digest) })
	return out
}

// Seed pushes the population p to the registry at host (plain http on
// loopback, e.g. Registry.Host()) with go-containerregistry, concurrently,
// and returns exactly what it pushed. opts are passed to remote (for a
// transport or auth, say). Registry.Populate leaves the same result much
// faster when the registry is one of ours.
func Seed(ctx context.Context, host string, p Population, opts ...remote.Option) (*Seeded, error) {
	if host == "" {
		return nil, errors.New("seed registry: empty host")
	}
	p, err := p.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("seed registry %s: %w", host, err)
	}
	reg, err := name.NewRegistry(host)
	if err != nil {
		return nil, fmt.Errorf("seed registry %s: %w", host, err)
	}
	plan, err := buildPopulation(p)
	if err != nil {
		return nil, fmt.Errorf("seed registry %s: %w", host, err)
	}
	pusher, err := remote.NewPusher(opts...)
	if err != nil {
		return nil, fmt.Errorf("seed registry %s: remote options: %w", host, err)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.Concurrency)
	for _, im := range plan.images {
		g.Go(func() error {
			// Upload and Put rather than Push: Push asks whether each
			// manifest exists first, which only costs requests here.
			repo := reg.Repo(im.truth.Repository)
			for _, l := range im.blobs {
				if err := pusher.Upload(gctx, repo, l); err != nil {
					d, _ := l.Digest()
					return fmt.Errorf("push blob %s to %s: %w", d, im.truth.Repository, err)
				}
			}
			for _, c := range im.children {
				if err := pusher.Put(gctx, repo.Digest(c.digest.String()), c); err != nil {
					return fmt.Errorf("push %s@%s: %w", im.truth.Repository, c.digest, err)
				}
			}
			for _, tag := range im.truth.Tags {
				if err := pusher.Put(gctx, repo.Tag(tag), im.top); err != nil {
					return fmt.Errorf("push %s:%s: %w", im.truth.Repository, tag, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("seed registry %s: %w", host, err)
	}

	return plan.seeded(p), nil
}

// validPrefix reports whether prefix ("path/") names repositories well.
func validPrefix(prefix string) bool {
	_, err := name.NewRepository("example.com/"+prefix+"x", name.StrictValidation)
	return err == nil
}
