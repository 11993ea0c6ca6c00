package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/google"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// garDeleteRole is what an identity needs to delete on Google's registries.
const garDeleteRole = "the identity needs roles/artifactregistry.repoAdmin (Storage Admin on the bucket for gcr.io)"

// DeleteManifest deletes repository@digest as gcr-cleaner does: it lists
// the repository for the manifest's tags, deletes each tag by name, then
// the manifest by digest. A manifest the listing does not show (or a
// repository it does not find) gives an error matching ErrNotFound only
// when the registry, asked by digest, does not store it either. A tag pushed onto it between the untagging
// and the delete makes the registry refuse the delete
// (GOOGLE_MANIFEST_DANGLING_TAG): the manifest stays, with that tag.
func (g *GAR) DeleteManifest(ctx context.Context, repository, digest string) error {
	ref := repository + "@" + digest
	if _, err := v1.NewHash(digest); err != nil {
		return fmt.Errorf("delete %s: not a digest: %w", ref, err)
	}
	tr, err := g.ready(ctx)
	if err != nil {
		return err
	}
	tags, err := g.list(ctx, tr, g.reg.Repo(repository))
	if err != nil && !isNameUnknownErr(err) {
		return garDeleteError(err)
	}
	var m google.ManifestInfo
	ok := false
	if err == nil {
		m, ok = tags.Manifests[digest]
	}
	if !ok { // not listed, or the repository not found by the listing
		// Not listed is not gone: a listing behind the registry would make
		// a manifest that is still there (an index whose platform
		// manifests would then go) count as deleted. Only the registry's
		// own answer by digest says gone.
		there, err := g.Client.Exists(ctx, repository, digest)
		switch {
		case err != nil:
			return fmt.Errorf("delete %s: not listed, and whether it is stored is unknown: %w", ref, err)
		case there:
			return fmt.Errorf("delete %s: %w", ref, errListedNot)
		}
		return fmt.Errorf("delete %s: not listed, not stored: %w", ref, ErrNotFound)
	}
	for _, tag := range m.Tags {
		err := g.pusher.Delete(ctx, g.reg.Repo(repository).Tag(tag))
		if err != nil && !isManifestUnknown(err) { // a tag gone meanwhile is fine
			return garDeleteError(describe(fmt.Sprintf("untag %s:%s (before deleting %s)", repository, tag, digest), err))
		}
	}
	return garDeleteError(g.Client.DeleteManifest(ctx, repository, digest))
}

// errListedNot: Google's listing leaves out a manifest the registry
// still stores, so its tags are not known; nothing is deleted.
var errListedNot = errors.New("the registry stores it but its listing does not show it (the listing is behind); not deleted, the next run tries again")

// isNameUnknownErr reports whether err (described or not) is a registry's
// 404 for a repository.
func isNameUnknownErr(err error) bool {
	var ce *CallError
	return errors.As(err, &ce) && ce.Status == http.StatusNotFound
}

// garDeleteError gives Google's answers their hints.
func garDeleteError(err error) error {
	var ce *CallError
	if !errors.As(err, &ce) {
		return err
	}
	switch {
	case ce.HasCode("GOOGLE_MANIFEST_DANGLING_TAG"):
		ce.Hint = "a tag was pushed onto it while it was being deleted; it stays"
	case ce.Status == http.StatusForbidden || ce.Status == http.StatusUnauthorized:
		ce.Hint = "the credentials may not delete: " + garDeleteRole
	}
	return err
}

// Exists reports whether repository@digest is in the registry.
func (g *GAR) Exists(ctx context.Context, repository, digest string) (bool, error) {
	if _, err := g.ready(ctx); err != nil {
		return false, err
	}
	return g.Client.Exists(ctx, repository, digest)
}

// Current re-reads a repository through Google's listing: each manifest's
// tags, and the platform manifests of tagged indexes the scan did not
// know (one read each). Google's registries have no locks.
func (g *GAR) Current(ctx context.Context, repository string, known func(digest string) bool) (Current, error) {
	cur := Current{Tags: map[string][]string{}, Referenced: map[string]bool{}}
	tr, err := g.ready(ctx)
	if err != nil {
		return cur, err
	}
	r := g.reg.Repo(repository)
	tags, err := g.list(ctx, tr, r)
	if err != nil {
		if isNameUnknownErr(err) {
			return cur, nil // nothing left
		}
		return cur, fmt.Errorf("re-read %s: %w", repository, err)
	}
	for d, m := range tags.Manifests {
		if len(m.Tags) == 0 {
			continue
		}
		cur.Tags[d] = slices.Sorted(slices.Values(m.Tags))
		if known(d) || !types.MediaType(m.MediaType).IsIndex() {
			continue
		}
		pl, err := g.puller(g.pageSize)
		if err != nil {
			return cur, err
		}
		got, err := pl.Get(ctx, r.Digest(d))
		if err != nil {
			return cur, describe(fmt.Sprintf("read new index %s@%s", repository, d), err)
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(got.Manifest))
		if err != nil {
			return cur, fmt.Errorf("new index %s@%s does not parse: %w", repository, d, err)
		}
		for _, c := range idx.Manifests {
			cur.Referenced[c.Digest.String()] = true
		}
	}
	return cur, nil
}

// Probe logs in and lists the root, changing nothing. Google's registry
// token does not say what the identity may do.
func (g *GAR) Probe(ctx context.Context) (Probe, error) {
	tr, err := g.ready(ctx)
	if err != nil {
		return Probe{}, err
	}
	tags, err := g.list(ctx, tr, g.root)
	if err != nil {
		return Probe{}, err
	}
	p := Probe{Delete: DeleteUnknown, DeleteDetail: "Google's registry token does not say what the identity may do; to delete, " + garDeleteRole}
	if len(tags.Manifests) > 0 {
		p.Repositories = append(p.Repositories, g.root.RepositoryStr())
	}
	for _, c := range tags.Children {
		if len(p.Repositories) == ProbePage {
			break
		}
		p.Repositories = append(p.Repositories, g.root.RepositoryStr()+"/"+c)
	}
	return p, nil
}
