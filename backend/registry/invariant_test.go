package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/helmupgradebot/helmupgradebot/backend/audit"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// The safety invariant, written once for every safety test: nothing
// reachable from what is kept is deleted, and what the registry lost is
// what the audit log and the report say it lost.

// repoDigest names a stored manifest by its repository and digest.
type repoDigest struct{ repo, digest string }

// storeState is what a registry holds, read from its storage (not through
// the client under test): every manifest, what each references, and
// every tag.
type storeState struct {
	manifests map[repoDigest]storedManifest
	tags      map[string]string // "repo:tag" -> digest
}

// storedManifest is one manifest: the manifests it references (an
// index's children) and the blobs it needs (itself, config, layers).
type storedManifest struct {
	children []string
	blobs    []string
}

// storage is a registry's storage, as registrytest.Registry.Storage runs it.
type storage func(ctx context.Context, fn func(ctx context.Context, ns distribution.Namespace, d driver.StorageDriver) error) error

// readStore reads every repository's manifests and tags from storage.
func readStore(ctx context.Context, st storage) (storeState, error) {
	s := storeState{manifests: map[repoDigest]storedManifest{}, tags: map[string]string{}}
	err := st(ctx, func(ctx context.Context, ns distribution.Namespace, _ driver.StorageDriver) error {
		var repos []string
		if err := ns.(distribution.RepositoryEnumerator).Enumerate(ctx, func(r string) error {
			repos = append(repos, r)
			return nil
		}); err != nil {
			return fmt.Errorf("enumerate repositories: %w", err)
		}
		for _, name := range repos {
			named, err := reference.WithName(name)
			if err != nil {
				return err
			}
			repo, err := ns.Repository(ctx, named)
			if err != nil {
				return err
			}
			ms, err := repo.Manifests(ctx)
			if err != nil {
				return err
			}
			var ds []digest.Digest
			if err := ms.(distribution.ManifestEnumerator).Enumerate(ctx, func(d digest.Digest) error {
				ds = append(ds, d)
				return nil
			}); err != nil && !errors.As(err, new(driver.PathNotFoundError)) {
				return fmt.Errorf("enumerate manifests of %s: %w", name, err)
			}
			for _, d := range ds {
				m, err := ms.Get(ctx, d)
				if err != nil {
					return fmt.Errorf("get %s@%s: %w", name, d, err)
				}
				sm := storedManifest{blobs: []string{d.String()}}
				for _, ref := range m.References() {
					if isManifestType(ref.MediaType) {
						sm.children = append(sm.children, ref.Digest.String())
					} else {
						sm.blobs = append(sm.blobs, ref.Digest.String())
					}
				}
				s.manifests[repoDigest{name, d.String()}] = sm
			}
			tags, err := repo.Tags(ctx).All(ctx)
			if err != nil && !errors.As(err, new(distribution.ErrRepositoryUnknown)) {
				return fmt.Errorf("tags of %s: %w", name, err)
			}
			for _, tag := range tags {
				desc, err := repo.Tags(ctx).Get(ctx, tag)
				if err != nil {
					continue // untagged meanwhile
				}
				s.tags[name+":"+tag] = desc.Digest.String()
			}
		}
		return nil
	})
	return s, err
}

func isManifestType(mt string) bool {
	return strings.Contains(mt, "manifest") || strings.Contains(mt, "index")
}

// pulls says what, if anything, keeps repo@d from being pulled whole:
// a missing manifest, a missing platform manifest, a missing blob.
func (s storeState) pulls(repo, d string, blobs map[string]bool) string {
	m, ok := s.manifests[repoDigest{repo, d}]
	if !ok {
		return fmt.Sprintf("%s@%s is gone", repo, d)
	}
	if blobs != nil {
		for _, b := range m.blobs {
			if !blobs[b] {
				return fmt.Sprintf("%s@%s: blob %s is gone", repo, d, b)
			}
		}
	}
	for _, c := range m.children {
		if why := s.pulls(repo, c, blobs); why != "" {
			return fmt.Sprintf("%s@%s: platform manifest: %s", repo, d, why)
		}
	}
	return ""
}

// applied is one apply, as the invariant judges it.
type applied struct {
	// before is the registry as apply found it (after any change made
	// between scan and apply); after, as apply left it.
	before, after storeState
	inv           *model.Inventory
	plan          model.Plan
	res           ApplyResult
	audit         []audit.Entry // this run's lines, and any recovery's
	// held are the images the plan keeps for a hard hold (protected,
	// locked, used, keep-latest...).
	held []int
	// blobsAfter, when known, is what the registry stores after garbage
	// collection; gcFreed the bytes that collection freed, -1 unknown.
	blobsAfter map[string]bool
	gcFreed    int64
}

// checkInvariant returns every way an apply broke the invariant:
//   - every manifest reachable from a tag that exists at the end, or from
//     a held image, still exists and pulls;
//   - every manifest the registry lost was planned, and is in the audit
//     log as deleted (or already gone);
//   - every manifest the audit log records deleted is gone, and every
//     deletion it records failed is still there;
//   - the result's deletions are the planned images the registry lost,
//     and its freed bytes what garbage collection freed.
func checkInvariant(a applied) []string {
	var bad []string
	badf := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	for _, rt := range sortedKeys(a.after.tags) {
		repo := rt[:strings.LastIndex(rt, ":")]
		if why := a.after.pulls(repo, a.after.tags[rt], a.blobsAfter); why != "" {
			badf("tag %s does not pull: %s", rt, why)
		}
	}
	for _, i := range a.held {
		im := &a.inv.Images[i]
		if _, was := a.before.manifests[repoDigest{im.Repository, im.Digest.String()}]; !was {
			continue
		}
		if why := a.after.pulls(im.Repository, im.Digest.String(), a.blobsAfter); why != "" {
			badf("held image %s (%s) does not pull: %s", im.Ref(), strings.Join(im.Tags, ","), why)
		}
	}

	planned := map[repoDigest]bool{}
	plannedImage := map[repoDigest]bool{}
	for _, d := range a.plan.Deletions {
		im := &a.inv.Images[d.Image]
		planned[repoDigest{im.Repository, im.Digest.String()}] = true
		plannedImage[repoDigest{im.Repository, im.Digest.String()}] = true
		for _, c := range d.Children {
			planned[repoDigest{im.Repository, c.String()}] = true
		}
	}
	outcome := map[repoDigest]string{}
	for _, e := range a.audit {
		k := repoDigest{e.Repository, e.Digest}
		switch e.Outcome {
		case audit.OutcomeAttempt:
			if _, ok := outcome[k]; !ok {
				outcome[k] = ""
			}
		case audit.OutcomeDeleted, audit.OutcomeAlreadyGone, audit.OutcomeFailed, audit.OutcomePresent:
			outcome[k] = e.Outcome
		}
	}
	lost := map[repoDigest]bool{}
	for _, k := range sortedKeys(a.before.manifests) {
		if _, still := a.after.manifests[k]; still {
			continue
		}
		lost[k] = true
		if !planned[k] {
			badf("%s@%s was lost but never planned", k.repo, k.digest)
		}
		if o := outcome[k]; o != audit.OutcomeDeleted && o != audit.OutcomeAlreadyGone {
			badf("%s@%s was lost; the audit log says %q", k.repo, k.digest, o)
		}
	}
	for _, k := range sortedKeys(outcome) {
		_, still := a.after.manifests[k]
		switch o := outcome[k]; {
		case (o == audit.OutcomeDeleted || o == audit.OutcomeAlreadyGone) && still:
			badf("the audit log records %s@%s %s, but it is still there", k.repo, k.digest, o)
		case (o == audit.OutcomeFailed || o == audit.OutcomePresent) && !still:
			badf("the audit log records %s@%s %s, but it is gone", k.repo, k.digest, o)
		}
	}
	for _, f := range a.res.Failed {
		if _, still := a.after.manifests[repoDigest{f.Repository, f.Digest}]; !still && !f.Unknown {
			badf("the result records %s@%s failed, but it is gone", f.Repository, f.Digest)
		}
	}
	var deleted, lostImages []string
	for _, d := range a.res.Deleted {
		deleted = append(deleted, d.Repository+"@"+d.Digest)
	}
	for k := range lost {
		if plannedImage[k] {
			lostImages = append(lostImages, k.repo+"@"+k.digest)
		}
	}
	slices.Sort(deleted)
	slices.Sort(lostImages)
	if !slices.Equal(deleted, lostImages) {
		badf("the result's deletions %v are not the planned images the registry lost %v", deleted, lostImages)
	}
	if a.gcFreed >= 0 && a.gcFreed != a.res.FreedBytes {
		badf("the result says %d bytes freed; garbage collection freed %d", a.res.FreedBytes, a.gcFreed)
	}
	return bad
}

func sortedKeys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
	return out
}

// hardHeld lists the images the plan keeps for a hard hold.
func hardHeld(inv *model.Inventory, req model.Request) []int {
	var out []int
	for i, h := range model.HoldsWithUsage(inv, req.Policy, req.Usage) {
		if h.Hard() {
			out = append(out, i)
		}
	}
	return out
}
