package registrytest

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"sync"
	"time"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// Manifest is a stored manifest as the stand-ins in front of the registry
// read it for their listings: what distribution says of it, and the parts
// of its JSON an image manifest or an index has.
type Manifest struct {
	// MediaType is the media type distribution stored it under.
	MediaType string `json:"-"`
	// Payload is the manifest's bytes.
	Payload []byte `json:"-"`
	// References is distribution's: an image's config and layers (and
	// an OCI subject), an index's manifests.
	References []distribution.Descriptor `json:"-"`
	// DeclaredMediaType is its own mediaType field; "" when it has none.
	DeclaredMediaType string `json:"mediaType"`
	// Config is an image's config; nil for an index.
	Config *Descriptor `json:"config"`
	// Layers are an image's layers.
	Layers []Descriptor `json:"layers"`
	// Manifests are an index's platform manifests.
	Manifests []IndexEntry `json:"manifests"`
}

// Descriptor is a manifest's reference to a blob or manifest.
type Descriptor struct {
	MediaType string        `json:"mediaType"`
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
}

// IndexEntry is a platform manifest of an index.
type IndexEntry struct {
	Descriptor
	Platform *Platform `json:"platform"`
}

// Platform is what an index says a platform manifest is for.
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant"`
	OSVersion    string `json:"os.version"`
}

// OpenRepository opens repository name of ns (from Registry.Storage) and
// its manifest service.
func OpenRepository(ctx context.Context, ns distribution.Namespace, name string) (distribution.Repository, distribution.ManifestService, error) {
	named, err := reference.WithName(name)
	if err != nil {
		return nil, nil, fmt.Errorf("open repository %q: %w", name, err)
	}
	rp, err := ns.Repository(ctx, named)
	if err != nil {
		return nil, nil, fmt.Errorf("open repository %s: %w", name, err)
	}
	ms, err := rp.Manifests(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("open the manifests of repository %s: %w", name, err)
	}
	return rp, ms, nil
}

// RepositoriesRoot is where the registry's storage keeps repositories.
const RepositoriesRoot = "/docker/registry/v2/repositories"

// PushTime is when manifest dg was pushed to repo: when distribution wrote
// its revision link in d (from Registry.Storage).
func PushTime(ctx context.Context, d storagedriver.StorageDriver, repo string, dg digest.Digest) (time.Time, error) {
	link := path.Join(RepositoriesRoot, repo, "_manifests/revisions", dg.Algorithm().String(), dg.Encoded(), "link")
	fi, err := d.Stat(ctx, link)
	if err != nil {
		return time.Time{}, fmt.Errorf("stat %s: %w", link, err)
	}
	return fi.ModTime(), nil
}

// ReadManifest reads manifest dg through ms (a repository's manifest
// service, from Registry.Storage).
func ReadManifest(ctx context.Context, ms distribution.ManifestService, dg digest.Digest) (*Manifest, error) {
	m, err := ms.Get(ctx, dg)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", dg, err)
	}
	mediaType, payload, err := m.Payload()
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", dg, err)
	}
	out := &Manifest{MediaType: mediaType, Payload: payload, References: m.References()}
	if err := json.Unmarshal(payload, out); err != nil {
		return nil, fmt.Errorf("parse manifest %s: %w", dg, err)
	}
	return out, nil
}

// ReadConfig reads blob dg of rp, an image config, into v (a pointer to
// the fields the caller wants of it).
func ReadConfig(ctx context.Context, rp distribution.Repository, dg digest.Digest, v any) error {
	raw, err := rp.Blobs(ctx).Get(ctx, dg)
	if err != nil {
		return fmt.Errorf("read config %s of %s: %w", dg, rp.Named(), err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("parse config %s of %s: %w", dg, rp.Named(), err)
	}
	return nil
}

// Contents keeps what a stand-in made of each manifest, by digest: a
// manifest never changes, so it is read once (two callers at once may both
// read it). The zero value is ready to use.
type Contents[T any] struct {
	mu sync.Mutex
	m  map[digest.Digest]*T
}

// Of is what made of manifest dg of ms, reading it (ReadManifest) the
// first time. made may call Of for other digests.
func (c *Contents[T]) Of(ctx context.Context, ms distribution.ManifestService, dg digest.Digest, made func(*Manifest) (*T, error)) (*T, error) {
	c.mu.Lock()
	v := c.m[dg]
	c.mu.Unlock()
	if v != nil {
		return v, nil
	}
	m, err := ReadManifest(ctx, ms, dg)
	if err != nil {
		return nil, err
	}
	if v, err = made(m); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[digest.Digest]*T{}
	}
	c.m[dg] = v
	return v, nil
}
