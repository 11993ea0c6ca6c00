package registry

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// ACR keeps locks (changeable attributes deleteEnabled and writeEnabled)
// at three levels, each set on its own: a repository's, a tag's and a
// manifest's. A scan reads all three: the manifest listing gives each
// manifest's own; GET /acr/v1/<repo> the repository's (one request per
// repository); the tag listing the tags' (one page per thousand
// tags, only for a repository whose manifest listing shows tags, plus one
// GET per tag that listing hides with listEnabled false). What each holds
// is model.Image.Lock's: a manifest its own lock holds (Lock ""); a
// manifest a locked tag points at ("tag repo:tag"); an index whose
// platform manifest is locked by its own lock ("platform linux/arm64") or
// a tag's ("tag repo:tag"); with the repository's writes disabled,
// every image in it ("repository"). A repository whose deletes only are
// disabled holds none of its images (ACR deletes them one by one): it is
// in Inventory.RepositoryLocks, as a write-disabled one is.

// acrLocks is what a repository's own attributes and its tags' say.
type acrLocks struct {
	// repo is the repository's own lock; Repository "" when it could
	// not be read
	repo model.RepositoryLock
	// tags maps each digest to its tags that refuse deletes, sorted
	tags map[string][]string
}

// repositoryLock reads a repository's own attributes (GET /acr/v1/<repo>).
// A repository gone since it was listed locks nothing.
func (a *ACR) repositoryLock(ctx context.Context, repo string) (model.RepositoryLock, error) {
	p, err := a.az.GetRepositoryProperties(ctx, repo, nil)
	if err != nil {
		if isNotFound(err) {
			return model.RepositoryLock{Repository: repo}, nil
		}
		return model.RepositoryLock{}, acrCallError(fmt.Sprintf("read the locks of repository %s (nothing in it is deleted)", repo), err)
	}
	l := model.RepositoryLock{Repository: repo}
	if c := p.ChangeableAttributes; c != nil {
		l.DeleteDisabled = c.CanDelete != nil && !*c.CanDelete
		l.WriteDisabled = c.CanWrite != nil && !*c.CanWrite
	}
	return l, nil
}

func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

// lockedTags reads the attributes of the tags es shows (the tag listing,
// paged by 100; none when es shows no tag) and maps each digest to its
// tags that refuse deletes. A tag the listing hides (listEnabled false) is
// read on its own.
func (a *ACR) lockedTags(ctx context.Context, repo string, es []acrEntry) (map[string][]string, error) {
	unseen := map[string]bool{}
	for _, e := range es {
		for _, t := range e.tags {
			unseen[t] = true
		}
	}
	if len(unseen) == 0 {
		return nil, nil
	}
	var out map[string][]string
	add := func(t *azcontainerregistry.TagAttributes) {
		if t == nil || t.Name == nil || t.Digest == nil {
			return
		}
		delete(unseen, *t.Name)
		if c := t.ChangeableAttributes; c != nil && refuses(c.CanDelete, c.CanWrite) {
			if out == nil {
				out = map[string][]string{}
			}
			out[*t.Digest] = append(out[*t.Digest], *t.Name)
		}
	}
	n := 0
	pager := a.az.NewListTagsPager(repo, &azcontainerregistry.ClientListTagsOptions{MaxNum: a.page})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if isNotFound(err) {
				return nil, nil // gone since its manifests were listed
			}
			return nil, acrCallError(fmt.Sprintf("list the tags of %s after %d to read their locks (nothing in it is deleted)", repo, n), err)
		}
		for _, t := range page.Tags {
			n++
			add(t)
		}
	}
	for _, tag := range slices.Sorted(maps.Keys(unseen)) {
		p, err := a.az.GetTagProperties(ctx, repo, tag, nil)
		switch {
		case isNotFound(err):
			continue // untagged meanwhile
		case err != nil:
			return nil, acrCallError(fmt.Sprintf("read the lock of tag %s:%s (nothing in %s is deleted)", repo, tag, repo), err)
		}
		add(p.Tag)
	}
	for _, tags := range out {
		slices.Sort(tags)
	}
	return out, nil
}

// lockReasons says which lock holds each manifest of repo that one holds
// (model.Image.Lock: "" for its own), from its listing es, its locks lk
// and index, which gives an index's platform manifests and its platform
// strings (nil for a manifest that is no index). The first that applies
// is named: the manifest's own lock, a tag's, a locked platform
// manifest's (of an index: its tag's lock, else "platform os/arch"), the
// repository's write lock.
func lockReasons(repo string, es []acrEntry, lk acrLocks, index func(digest string) (children, platforms []string)) map[string]string {
	byDigest := make(map[string]*acrEntry, len(es))
	direct := map[string]string{}
	for i := range es {
		e := &es[i]
		byDigest[e.digest] = e
		switch tags := lk.tags[e.digest]; {
		case e.locked:
			direct[e.digest] = ""
		case len(tags) > 0:
			direct[e.digest] = model.LockTag + " " + repo + ":" + tags[0]
		}
	}
	held := maps.Clone(direct)
	for _, e := range es {
		if _, ok := held[e.digest]; ok {
			continue
		}
		children, platforms := index(e.digest)
		for _, c := range children {
			why, ok := direct[c]
			switch {
			case !ok:
				continue
			case why == "":
				why = model.LockPlatform + " " + childPlatform(byDigest[c], c, platforms)
			}
			held[e.digest] = why
			break
		}
	}
	if lk.repo.WriteDisabled {
		for _, e := range es {
			if _, ok := held[e.digest]; !ok {
				held[e.digest] = model.LockRepository
			}
		}
	}
	return held
}

// childPlatform names a platform manifest of an index: the index's
// platform string for it (matched by the listing's os/arch, which lacks a
// variant), else the listing's os/arch, else its digest.
func childPlatform(e *acrEntry, digest string, platforms []string) string {
	if e == nil || e.platform == "" {
		return digest
	}
	if slices.Contains(platforms, e.platform) {
		return e.platform
	}
	var match []string
	for _, p := range platforms {
		if strings.HasPrefix(p, e.platform+"/") {
			match = append(match, p)
		}
	}
	if len(match) == 1 {
		return match[0]
	}
	return e.platform
}

// LockCensus is what the locks of some repositories hold, read as a scan
// reads them but without reading any manifest (--check-config).
type LockCensus struct {
	// Repositories were read; Images are the images in them (an index's
	// platform manifests are part of it).
	Repositories, Images int
	// Locked counts the images a lock holds, by its level
	// (model.Image.LockLevel: manifest, tag, platform, repository).
	Locked map[string]int
	// RepositoryLocks are those repositories whose own attributes disable
	// deletes or writes.
	RepositoryLocks []model.RepositoryLock
}

// Locks reads the locks of repositories at every level and counts the
// images they hold. An index's platform manifests come from its
// properties (GET /acr/v1/<repo>/_manifests/<digest>, one per index).
func (a *ACR) Locks(ctx context.Context, repositories []string) (LockCensus, error) {
	c := LockCensus{Repositories: len(repositories), Locked: map[string]int{}}
	a.access.expect(repositories) // their tokens in batches
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.concurrency)
	for _, repo := range repositories {
		g.Go(func() error {
			es, err := a.listManifests(gctx, repo)
			if err != nil {
				return err
			}
			var lk acrLocks
			if lk.repo, err = a.repositoryLock(gctx, repo); err != nil {
				return err
			}
			if lk.tags, err = a.lockedTags(gctx, repo, es); err != nil {
				return err
			}
			children := map[string][]string{}
			child := map[string]bool{}
			for _, e := range es {
				if !types.MediaType(e.mediaType).IsIndex() {
					continue
				}
				props, err := a.az.GetManifestProperties(gctx, repo, e.digest, nil)
				if err != nil {
					return acrCallError(fmt.Sprintf("read index %s@%s", repo, e.digest), err)
				}
				if m := props.Manifest; m != nil {
					for _, r := range m.RelatedArtifacts {
						if r != nil && r.Digest != nil {
							children[e.digest] = append(children[e.digest], *r.Digest)
							child[*r.Digest] = true
						}
					}
				}
			}
			held := lockReasons(repo, es, lk, func(d string) ([]string, []string) { return children[d], nil })
			mu.Lock()
			defer mu.Unlock()
			if lk.repo.DeleteDisabled || lk.repo.WriteDisabled {
				c.RepositoryLocks = append(c.RepositoryLocks, lk.repo)
			}
			for _, e := range es {
				if child[e.digest] && len(e.tags) == 0 {
					continue // part of its index
				}
				c.Images++
				if why, ok := held[e.digest]; ok {
					im := model.Image{Locked: true, Lock: why}
					c.Locked[im.LockLevel()]++
				}
			}
			return nil
		})
	}
	err := g.Wait()
	slices.SortFunc(c.RepositoryLocks, func(x, y model.RepositoryLock) int { return strings.Compare(x.Repository, y.Repository) })
	return c, err
}
