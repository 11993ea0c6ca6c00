package registry

import (
	"cmp"
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// Current re-reads a repository through the listing: each manifest's tags,
// the platform manifests of indexes the scan did not know, and the locks
// at every level (the repository's attributes, and its tags' when it has
// tags: one request more, and a page of the tag listing per thousand tags).
func (a *ACR) Current(ctx context.Context, repository string, known func(digest string) bool) (Current, error) {
	cur := Current{Tags: map[string][]string{}, Referenced: map[string]bool{}, Locked: map[string]string{}}
	es, err := a.listManifests(ctx, repository)
	if err != nil {
		return cur, err
	}
	var lk acrLocks
	if lk.repo, err = a.repositoryLock(ctx, repository); err != nil {
		return cur, err
	}
	if lk.tags, err = a.lockedTags(ctx, repository, es); err != nil {
		return cur, err
	}
	type newIndex struct{ children, platforms []string }
	fresh := map[string]newIndex{}
	for _, e := range es {
		if len(e.tags) > 0 {
			cur.Tags[e.digest] = e.tags
		}
		if known(e.digest) || !types.MediaType(e.mediaType).IsIndex() {
			continue
		}
		props, err := a.az.GetManifestProperties(ctx, repository, e.digest, nil)
		if err != nil {
			return cur, acrCallError(fmt.Sprintf("read new index %s@%s", repository, e.digest), err)
		}
		var ni newIndex
		if m := props.Manifest; m != nil {
			for _, r := range m.RelatedArtifacts {
				if r != nil && r.Digest != nil {
					cur.Referenced[*r.Digest] = true
					ni.children = append(ni.children, *r.Digest)
					if r.OperatingSystem != nil && r.Architecture != nil {
						ni.platforms = append(ni.platforms, string(*r.OperatingSystem)+"/"+string(*r.Architecture))
					}
				}
			}
		}
		fresh[e.digest] = ni
	}
	for d, why := range lockReasons(repository, es, lk, func(d string) ([]string, []string) { return fresh[d].children, fresh[d].platforms }) {
		cur.Locked[d] = cmp.Or(why, model.LockManifest)
	}
	return cur, nil
}
