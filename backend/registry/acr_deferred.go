package registry

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// WithDeferredLocks makes an ACR scan read each manifest's own lock (its
// listing gives it) but leave a repository's own attributes and its tags'
// locks unread, two requests a repository: the inventory lists those
// repositories (Inventory.LocksUnread) for ReadLocks to read where a plan
// deletes. Deleting re-reads every lock of a repository first either way.
// Other kinds read their locks as before.
func WithDeferredLocks() Option {
	return func(o *options) error { o.deferLocks = true; return nil }
}

// LockReader reads the locks a scan left unread (WithDeferredLocks).
type LockReader interface {
	// ReadLocks reads the repository and tag locks of repositories, all
	// in inv.LocksUnread, into inv (Inventory.SetLocks). A repository
	// whose locks cannot be read gets a scan error, so that no plan
	// deletes in it; the error returned is the context's only.
	ReadLocks(ctx context.Context, inv *model.Inventory, repositories []string) error
}

var _ LockReader = (*ACR)(nil)

// ReadPlannedLocks reads the locks inv left unread in every repository
// plan's plan deletes in, and plans again until it deletes only where
// they were read: a lock found holds an image, and a cap may then pick
// others elsewhere. A repository is asked once: one whose locks could
// not be read has a scan error, and no plan deletes in it.
func ReadPlannedLocks(ctx context.Context, lr LockReader, inv *model.Inventory, plan func(*model.Inventory) model.Plan) error {
	asked := map[string]bool{}
	for len(inv.LocksUnread) > 0 {
		need := slices.DeleteFunc(inv.LocksUnreadIn(plan(inv)), func(repo string) bool { return asked[repo] })
		if len(need) == 0 {
			return nil
		}
		for _, repo := range need {
			asked[repo] = true
		}
		if err := lr.ReadLocks(ctx, inv, need); err != nil {
			return fmt.Errorf("read the locks of %d repositories the plan deletes in: %w", len(need), err)
		}
	}
	return nil
}

// ReadLocks reads repositories' own attributes and their tags' locks (one
// request each, and a page of the tag listing per thousand tags), and says
// which of their images each holds as a scan would have.
func (a *ACR) ReadLocks(ctx context.Context, inv *model.Inventory, repositories []string) error {
	if len(repositories) == 0 {
		return nil
	}
	want := make(map[string][]acrEntry, len(repositories))
	for _, r := range repositories {
		want[r] = nil
	}
	index := map[string]*model.Image{}
	for i := range inv.Images {
		im := &inv.Images[i]
		es, ok := want[im.Repository]
		if !ok {
			continue
		}
		want[im.Repository] = append(es, acrEntry{digest: im.Digest.String(), tags: im.Tags, platform: im.Platform, locked: im.Locked && im.Lock == ""})
		if len(im.Children) > 0 {
			index[im.Repository+"@"+im.Digest.String()] = im
		}
	}
	a.access.expect(repositories) // their tokens in batches
	var mu sync.Mutex
	read := make(map[string]model.RepositoryLocks, len(repositories))
	var failed []model.ScanError
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.concurrency)
	for _, repo := range slices.Sorted(maps.Keys(want)) {
		es := want[repo]
		g.Go(func() error {
			var lk acrLocks
			var err error
			lk.repo, err = a.repositoryLock(gctx, repo)
			if err == nil {
				lk.tags, err = a.lockedTags(gctx, repo, es)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				failed = append(failed, model.ScanError{Repository: repo, Error: err.Error()})
				return nil
			}
			held := lockReasons(repo, es, lk, func(d string) ([]string, []string) {
				if im := index[repo+"@"+d]; im != nil {
					return model.DigestStrings(im.Children), im.Platforms
				}
				return nil, nil
			})
			rl := model.RepositoryLocks{Lock: lk.repo, Held: make(map[model.Digest]string, len(held))}
			for d, why := range held {
				rl.Held[model.ParseDigest(d)] = why
			}
			read[repo] = rl
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	inv.SetLocks(read)
	slices.SortFunc(failed, func(x, y model.ScanError) int { return strings.Compare(x.Repository, y.Repository) })
	inv.Errors = append(inv.Errors, failed...)
	return nil
}
