package registry

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/helmupgradebot/helmupgradebot/backend/digestcache"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// WithDigestCache keeps the manifests and configs a scan reads by digest in
// c, and reads them from it on later scans: a scan over a warm cache lists,
// asks each tag's digest with a HEAD, and GETs only digests it has not met.
// A nil c is no cache (the default).
func WithDigestCache(c *digestcache.Cache) Option {
	return func(o *options) error {
		o.cache = c
		return nil
	}
}

// endCache ends the scan's use of the digest cache. inv is the scan's
// inventory, nil when the scan failed; only a scan that read the whole
// registry (no error but warnings) counts as a generation, since what it
// did not use is then truly unused. Later calls do nothing.
func (s *scanner) endCache(inv *model.Inventory) {
	s.endCacheAs(inv != nil && !slices.ContainsFunc(inv.Errors, func(e model.ScanError) bool { return !e.Warning }))
}

// endCacheAs is endCache where the caller knows whether the scan is
// complete before its inventory is made: the cache's index can go before
// the inventory grows (listedComplete).
func (s *scanner) endCacheAs(complete bool) {
	if st := s.c.cache.Stats(); st.Hits == s.cacheStart.Hits && st.Misses == s.cacheStart.Misses && st.Stored == s.cacheStart.Stored {
		// A scan the cache played no part in (a seeded one that met no new
		// digest) is no generation: it would age every entry out, and its
		// collection walks the whole cache for nothing.
		complete = false
	}
	_, _ = s.cacheScan.End(complete) // a failed collection costs disk, not results
}

// headGiveUp: after this many tags whose HEAD failed where the GET worked,
// a scan stops asking HEADs.
const headGiveUp = 3

// tagDigest learns the digest a tag points at. Without a digest cache, or
// with one that is still cold (no complete scan has ended in it), it GETs
// the manifest by tag and returns it too (desc): a HEAD first would only
// add a request. With a warm cache it asks with a HEAD, so that a manifest
// already cached costs no GET; when the HEAD fails (some registries do not
// answer it whole) it falls back to the GET, and a registry whose HEADs
// keep failing where the GETs work is not asked HEADs again this scan.
func (s *scanner) tagDigest(ctx context.Context, p *remote.Puller, r name.Repository, tag string) (string, *remote.Descriptor, error) {
	headFailed := false
	if s.cacheScan.Warm() && s.headFailures.Load() < headGiveUp {
		d, err := p.Head(ctx, r.Tag(tag))
		if err == nil {
			return d.Digest.String(), nil, nil
		}
		if ctx.Err() != nil {
			return "", nil, err
		}
		headFailed = true
	}
	desc, err := p.Get(ctx, r.Tag(tag))
	if err != nil {
		return "", nil, err
	}
	if headFailed {
		s.headFailures.Add(1)
	}
	return desc.Digest.String(), desc, nil
}

// manifestBytes returns digest's manifest and the media type it was served
// with: desc's when the caller fetched it already, else the digest cache's,
// else a GET by digest (verified by go-containerregistry). What was read is
// stored in the cache, which verifies it again.
func (s *scanner) manifestBytes(ctx context.Context, p *remote.Puller, r name.Repository, digest string, desc *remote.Descriptor) (string, []byte, error) {
	cache := s.c.cache
	if desc == nil {
		if mt, body, ok := cache.Get(digest); ok {
			return mt, body, nil
		}
		d, err := p.Get(ctx, r.Digest(digest))
		if err != nil {
			if ctx.Err() != nil {
				return "", nil, ctx.Err()
			}
			return "", nil, describe(fmt.Sprintf("get manifest %s@%s", r.RepositoryStr(), digest), err)
		}
		desc = d
	}
	_ = cache.Put(digest, string(desc.MediaType), desc.Manifest)
	return string(desc.MediaType), desc.Manifest, nil
}

// blob reads a small blob by digest: from the digest cache when it holds
// it, else from the registry (verified), storing it in the cache.
func (s *scanner) blob(ctx context.Context, p *remote.Puller, r name.Repository, digest string) ([]byte, error) {
	if _, data, ok := s.c.cache.Get(digest); ok {
		return data, nil
	}
	data, err := readBlob(ctx, p, r.Digest(digest))
	if err != nil {
		return nil, err
	}
	_ = s.c.cache.Put(digest, "", data)
	return data, nil
}
