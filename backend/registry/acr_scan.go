package registry

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
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
	defer s.endCache(nil) // a failed scan is not a cache generation
	scannedAt := a.now()
	stop := s.runProgress(progress)
	defer stop()

	var repos []string
	pager := a.az.NewListRepositoriesPager(&azcontainerregistry.ClientListRepositoriesOptions{MaxNum: to.Ptr[int32](acrPage)})
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
	// attributes, and its tags' when it has tags.
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
			if err == nil {
				locks[k].repo, err = a.repositoryLock(gctx, repo)
			}
			if err == nil {
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

	// Read each manifest by digest (an index reads its platform manifests
	// too; every digest once over the whole scan). What the previous scan
	// read whole needs no read; nor do the untagged platform manifests of
	// an index it read.
	known := a.prev.take(!s.skipConfigs)
	skip := map[string]bool{} // repository@digest
	for k, repo := range repos {
		for _, e := range entries[k] {
			if info := known[e.digest]; info != nil {
				s.manifests.preload(e.digest, info)
				for _, c := range info.children {
					skip[repo+"@"+c] = true
				}
			}
		}
	}
	read := func(repo string, e acrEntry) bool {
		return known[e.digest] == nil && (!skip[repo+"@"+e.digest] || len(e.tags) > 0)
	}
	// The registry API's calls carry access tokens (one handshake, with
	// the first repository to read from), when anything is to be read.
	for k, repo := range repos {
		if slices.ContainsFunc(entries[k], func(e acrEntry) bool { return read(repo, e) }) {
			if err := a.v2(ctx, "repository:"+repo+":pull"); err != nil {
				return nil, fmt.Errorf("scan %s: %w", a.host, err)
			}
			break
		}
	}
	p, err := s.puller(s.c.pageSize)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", a.host, err)
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(a.concurrency)
	for k, repo := range repos {
		r := s.reg.Repo(repo)
		for _, e := range entries[k] {
			if !read(repo, e) {
				s.nImagesDone.Add(1)
				continue
			}
			g.Go(func() error {
				s.manifest(gctx, p, r, e.digest, nil)
				s.nImagesDone.Add(1)
				s.bump()
				return gctx.Err()
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	s.configs.reset() // what the manifests took from their configs is in them
	inv := a.assemble(s, repos, entries, locks, scannedAt)
	s.endCache(inv)
	a.prev.set(inv)
	return inv, nil
}

// assemble builds the inventory from the listing, the locks and the
// manifests read.
func (a *ACR) assemble(s *scanner, repos []string, entries [][]acrEntry, locks []acrLocks, scannedAt time.Time) *model.Inventory {
	b := model.NewInventoryBuilder(s.reg.RegistryStr(), scannedAt)
	b.SetRepositories(len(repos))
	n := 0
	for _, es := range entries {
		n += len(es)
	}
	b.Grow(n)
	// What a manifest says is let go once the last entry naming it is in
	// the inventory, so that the two are not both whole at the end.
	uses := make(map[string]int32, n)
	for _, es := range entries {
		for _, e := range es {
			uses[e.digest]++
		}
	}
	used := func(d string) {
		if uses[d]--; uses[d] == 0 {
			s.manifests.forget(d)
		}
	}
	errs := slices.Clone(s.errs)
	for k, repo := range repos {
		// platform manifests of an index are part of it, not images
		child := map[string]bool{}
		for _, e := range entries[k] {
			if info := s.manifests.peek(e.digest); info != nil && info.err == nil {
				for _, c := range info.children {
					child[c] = true
				}
			}
		}
		lk := locks[k]
		if l := lk.repo; l.DeleteDisabled || l.WriteDisabled {
			b.AddRepositoryLock(l)
		}
		held := lockReasons(repo, entries[k], lk, func(d string) ([]string, []string) {
			if info := s.manifests.peek(d); info != nil && info.err == nil {
				return info.children, info.platforms
			}
			return nil, nil
		})
		for _, e := range entries[k] {
			info := s.manifests.peek(e.digest)
			used(e.digest)
			if child[e.digest] && len(e.tags) == 0 {
				continue
			}
			ref := repo + "@" + e.digest
			if info == nil {
				errs = append(errs, model.ScanError{Repository: repo, Reference: ref, Error: "manifest not read"})
				continue
			}
			if info.err != nil {
				errs = append(errs, model.ScanError{Repository: repo, Reference: ref, Error: info.err.Error()})
				continue
			}
			for _, w := range info.warnings {
				errs = append(errs, model.ScanError{Repository: repo, Reference: repo + "@" + w.digest, Error: w.msg, Warning: w.soft})
			}
			im := model.Image{
				Repository: repo,
				Digest:     e.digest,
				Tags:       e.tags,
				MediaType:  cmp.Or(e.mediaType, info.mediaType),
				Platform:   cmp.Or(info.platform, e.platform),
				Platforms:  slices.Clone(info.platforms),
				Children:   slices.Clone(info.children),
				Subject:    info.subject,
			}
			im.Lock, im.Locked = held[e.digest]
			im.Pushed = e.created
			switch {
			case a.ageFrom == AgeFromBuilt:
				im.Created, im.CreatedProblem = info.created, info.problem
			case e.created.IsZero(): // the listing gave no push time: undated
				im.CreatedProblem = model.CreatedMissing
			default:
				im.Created = e.created
			}
			if err := info.addTo(b, im); err != nil {
				errs = append(errs, model.ScanError{Repository: repo, Reference: ref, Error: err.Error()})
			}
		}
		entries[k] = nil
	}
	slices.SortFunc(errs, func(x, y model.ScanError) int {
		return strings.Compare(x.Repository+"\x00"+x.Reference+"\x00"+x.Error, y.Repository+"\x00"+y.Reference+"\x00"+y.Error)
	})
	for _, e := range slices.Compact(errs) {
		b.AddError(e)
	}
	return b.Inventory()
}
