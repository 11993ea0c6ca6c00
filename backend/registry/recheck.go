package registry

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
)

// Current is what a repository holds now, re-read just before deleting in
// it: a tag may have moved onto a planned digest since the scan (a
// rollback), or a new index may reference a planned platform manifest.
type Current struct {
	// Tags maps each tagged digest to its tags.
	Tags map[string][]string
	// Referenced holds the platform manifests of tagged indexes that the
	// scan did not know: deleting one would break that index.
	Referenced map[string]bool
	// Locked maps each digest a lock holds now to that lock: "manifest"
	// (its own), "tag repo:tag", "repository" (its writes disabled); an
	// index the scan did not know is in it for a locked platform manifest
	// ("platform os/arch", or that manifest's "tag repo:tag"). A locked
	// platform manifest of an index the scan knew is in it by its own
	// digest only: the caller holds that index with it. Nil where the
	// registry has no locks (the distribution API).
	Locked map[string]string
	// Cascade maps an index to the platform manifests the registry would
	// delete with it now (Harbor deletes an index's untagged children that
	// no other index references). Apply skips an index that would take one
	// the plan does not delete with it: one untagged since the scan. Nil
	// where deleting an index deletes nothing else.
	Cascade map[string][]string
}

// Current lists repository's tags and resolves each to its digest. For a
// tag on a digest that known reports false (not in the scan) and that is
// an index, it reads the index for its platform manifests.
func (c *Client) Current(ctx context.Context, repository string, known func(digest string) bool) (Current, error) {
	cur := Current{Tags: map[string][]string{}, Referenced: map[string]bool{}}
	p, err := c.puller(c.pageSize)
	if err != nil {
		return cur, fmt.Errorf("re-read tags of %s: %w", repository, err)
	}
	r := c.reg.Repo(repository)
	tags, err := p.List(ctx, r)
	if err != nil {
		if isNameUnknown(err) {
			return cur, nil // no tags left
		}
		return cur, describe("re-read tags of "+repository, err)
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.concurrency)
	for _, tag := range tags {
		g.Go(func() error {
			d, err := p.Head(gctx, r.Tag(tag))
			if err != nil {
				if isManifestUnknown(err) {
					return nil // untagged meanwhile
				}
				return describe(fmt.Sprintf("re-read tag %s:%s", repository, tag), err)
			}
			digest := d.Digest.String()
			var children []string
			if !known(digest) && d.MediaType.IsIndex() {
				got, err := p.Get(gctx, r.Digest(digest))
				if err != nil {
					return describe(fmt.Sprintf("read new index %s@%s", repository, digest), err)
				}
				idx, err := v1.ParseIndexManifest(bytes.NewReader(got.Manifest))
				if err != nil {
					return fmt.Errorf("new index %s@%s does not parse: %w", repository, digest, err)
				}
				for _, m := range idx.Manifests {
					children = append(children, m.Digest.String())
				}
			}
			mu.Lock()
			defer mu.Unlock()
			cur.Tags[digest] = append(cur.Tags[digest], tag)
			for _, ch := range children {
				cur.Referenced[ch] = true
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return cur, err
	}
	for _, ts := range cur.Tags {
		slices.Sort(ts)
	}
	return cur, nil
}
