package registry

import (
	"context"
	"fmt"
	"slices"

	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"golang.org/x/sync/errgroup"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// Scan lists the registry's repositories and every manifest in each, then
// reads each distinct manifest (and config) by digest, at most once.
func (a *ACR) Scan(ctx context.Context, progress func(Progress)) (*model.Inventory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Log in first: without a usable identity, say so at once and how to
	// set one up.
	if _, err := a.tokens.get(ctx); err != nil {
		return nil, err
	}
	// The previous scan's repositories share the catalog's token.
	a.access.expect(a.prev.repositories())
	s := newScanner(a.Client)
	s.skipConfigs = a.ageFrom == AgeFromPushed
	// What the last inventory says, taken before the listing so that its
	// images can go before the listing grows (seed.go).
	known := a.prev.take(!s.skipConfigs)
	defer s.endCache(nil) // a failed scan is not a cache generation
	scannedAt := a.now()
	stop := s.runProgress(progress)
	defer stop()

	var repos []string
	pager := a.az.NewListRepositoriesPager(&azcontainerregistry.ClientListRepositoriesOptions{MaxNum: a.page})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			err = acrCallError(fmt.Sprintf("list repositories of %s after %d", a.host, len(repos)), err)
			if len(repos) == 0 {
				return nil, err
			}
			s.addError(model.ScanError{Error: err.Error() + "; the repositories listed so far are scanned"})
			break
		}
		for _, n := range page.Names {
			if n != nil {
				repos = append(repos, *n)
			}
		}
		s.nRepos.Store(int64(len(repos)))
		s.bump()
	}
	slices.Sort(repos)
	repos = slices.Compact(repos)
	s.repoList = repos
	a.access.expect(repos)

	// List every repository's manifests, and read its locks: its own
	// attributes, and its tags' when it has tags (unless they are left to
	// ReadLocks: WithDeferredLocks).
	entries := make([][]acrEntry, len(repos))
	locks := make([]acrLocks, len(repos))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.concurrency)
	failed := func(repo string, err error) error {
		if gctx.Err() != nil {
			return gctx.Err()
		}
		s.addError(model.ScanError{Repository: repo, Error: err.Error()})
		return nil
	}
	// One task a repository, its requests one after the other: each holds
	// a place of the concurrency limit only while it is in flight.
	for k, repo := range repos {
		g.Go(func() error {
			es, err := a.listManifests(gctx, repo)
			if err == nil && !a.deferLocks {
				locks[k].repo, err = a.repositoryLock(gctx, repo)
			}
			if err == nil && !a.deferLocks {
				locks[k].tags, err = a.lockedTags(gctx, repo, es)
			}
			if err != nil {
				if err := failed(repo, err); err != nil {
					return err
				}
			}
			entries[k] = es
			s.nImages.Add(int64(len(es)))
			s.nReposDone.Add(1)
			s.bump()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	// Read each manifest by digest; the registry API's calls carry access
	// tokens (one handshake, with the first repository to read from), when
	// anything is to be read.
	handshake := func(ctx context.Context, repo string) error { return a.v2(ctx, "repository:"+repo+":pull") }
	rules := listedRules{age: ageFromListing(a.ageFrom), listedPlatform: true}
	if a.deferLocks {
		rules.locksUnread = repos
	}
	inv, err := scanListed(ctx, s, repos, entries, locks, known, handshake, scannedAt, rules)
	if err != nil {
		return nil, err
	}
	s.configs.reset() // what the manifests took from their configs is in them
	s.endCache(inv)   // when no batch ended it (no repository)
	a.prev.set(inv)
	return inv, nil
}
