package registry

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/helmupgradebot/helmupgradebot/backend/digestcache"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// Scan lists the registry's repositories and their tags and reads every
// tagged manifest, platform manifest and image config, with Concurrency
// workers (plus the catalog listing) sharing one HTTP transport.
//
// A repository or manifest that cannot be read is recorded in
// Inventory.Errors and the rest is used; Scan fails only when the catalog
// cannot be listed or ctx ends.
//
// Each tag costs one GET of its manifest: the distribution API has no other
// way to learn which digest a tag points at, and a GET by tag returns the
// manifest itself, so tags sharing a digest cost one request each (the
// manifest is processed once). Platform manifests and configs are fetched
// by digest, once per distinct digest over the whole registry. With a
// digest cache (WithDigestCache) a tag costs a HEAD instead, and only
// digests missing from the cache are fetched.
func (c *Client) Scan(ctx context.Context, progress func(Progress)) (*model.Inventory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	s := newScanner(c)
	defer s.endCache(nil)
	scannedAt := c.now()

	stopProgress := s.runProgress(progress)

	var workers sync.WaitGroup
	for range c.concurrency {
		workers.Go(func() {
			for {
				job, ok := s.queue.pop()
				if !ok {
					return
				}
				if ctx.Err() == nil {
					job(ctx)
				}
				s.pending.Done()
			}
		})
	}

	err := s.listCatalog(ctx)
	if err != nil {
		cancel()
	}
	s.pending.Wait()
	s.queue.close()
	workers.Wait()
	stopProgress()

	if err := parent.Err(); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	inv := s.assemble(scannedAt)
	s.endCache(inv)
	return inv, nil
}

// newScanner starts the state of one scan.
func newScanner(c *Client) *scanner {
	s := &scanner{
		c:       c,
		reg:     c.reg,
		pullers: map[int]*remote.Puller{},
		repos:   map[string]*repoState{},
		notify:  make(chan struct{}, 1),
		// Ended by endCache.
		cacheScan:  c.cache.BeginScan(),
		cacheStart: c.cache.Stats(),
	}
	s.catalogSize.Store(int64(c.pageSize))
	s.tagsSize.Store(int64(c.pageSize))
	return s
}

// scanner is the state of one Scan.
type scanner struct {
	c   *Client
	reg name.Registry

	pullerMu sync.Mutex
	pullers  map[int]*remote.Puller // by page size

	// Page sizes in use; they shrink when the registry rejects them.
	catalogSize, tagsSize atomic.Int64

	queue   jobQueue
	pending sync.WaitGroup

	// Manifests and configs are content-addressed: each digest is read
	// once over the whole scan, whichever repository meets it first.
	manifests onceMap[*manifestInfo]
	configs   onceMap[*configInfo]
	// blobs are the blobs of the manifests read, interned as they are
	// read (manifestInfo.blobs are rows of its table).
	blobs model.BlobSet
	// skipConfigs: no image config is read (an ACR image's age is its
	// push time): an image's created time and platform are left to the
	// caller.
	skipConfigs bool
	// cacheScan is this scan's use of the client's digest cache (nil
	// without one); headFailures counts tags whose HEAD failed.
	cacheScan    *digestcache.Scan
	cacheStart   digestcache.Stats // the cache's counts when the scan began
	headFailures atomic.Int32

	mu       sync.Mutex
	repoList []string
	repos    map[string]*repoState
	tags     []tagRef
	errs     []model.ScanError

	// Progress counters, read by the progress goroutine.
	nRepos, nReposDone, nImages, nImagesDone atomic.Int64
	notify                                   chan struct{}
}

type tagRef struct{ repo, tag, digest string }

type repoState struct {
	outstanding int
	listed      bool
}

// puller returns the shared puller asking for pages of n.
func (s *scanner) puller(n int) (*remote.Puller, error) {
	s.pullerMu.Lock()
	defer s.pullerMu.Unlock()
	if p, ok := s.pullers[n]; ok {
		return p, nil
	}
	p, err := s.c.puller(n)
	if err != nil {
		return nil, err
	}
	s.pullers[n] = p
	return p, nil
}

// smallerPage is the page size to try after n was rejected; 0 when there is
// nothing smaller to try.
func smallerPage(n int) int {
	switch {
	case n > 100:
		return 100
	case n > 1:
		return n / 2
	}
	return 0
}

func (s *scanner) push(job func(context.Context)) {
	s.pending.Add(1)
	s.queue.push(job)
}

func (s *scanner) addError(e model.ScanError) {
	s.mu.Lock()
	s.errs = append(s.errs, e)
	s.mu.Unlock()
}

// listCatalog lists the repositories page by page, queueing each for
// scanning as its page arrives. Only a failure of the first page fails the
// scan; a later one is recorded and the repositories listed so far are used.
func (s *scanner) listCatalog(ctx context.Context) error {
	var cat *remote.Catalogger
	for {
		n := int(s.catalogSize.Load())
		p, err := s.puller(n)
		if err != nil {
			return fmt.Errorf("list repositories: %w", err)
		}
		cat, err = p.Catalogger(ctx, s.reg)
		if err == nil {
			break
		}
		if isPageSizeRejected(err) {
			if m := smallerPage(n); m > 0 {
				s.catalogSize.Store(int64(m))
				continue
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return describe("list repositories of "+s.reg.RegistryStr(), err)
	}
	seen := map[string]bool{}
	for cat.HasNext() {
		page, err := cat.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.addError(model.ScanError{Error: describe(fmt.Sprintf("list repositories after %d", len(seen)), err).Error() +
				"; the repositories listed so far are scanned"})
			return nil
		}
		for _, repo := range page.Repos {
			if seen[repo] {
				continue
			}
			seen[repo] = true
			s.mu.Lock()
			s.repoList = append(s.repoList, repo)
			s.repos[repo] = &repoState{}
			s.mu.Unlock()
			s.nRepos.Add(1)
			s.push(func(ctx context.Context) { s.scanRepo(ctx, repo) })
		}
		s.bump()
	}
	return nil
}

// scanRepo lists a repository's tags and queues each for reading.
func (s *scanner) scanRepo(ctx context.Context, repo string) {
	defer s.repoListed(repo)
	r := s.reg.Repo(repo)
	var lister *remote.Lister
	var p *remote.Puller
	for {
		n := int(s.tagsSize.Load())
		var err error
		p, err = s.puller(n)
		if err == nil {
			lister, err = p.Lister(ctx, r)
		}
		if err == nil {
			break
		}
		if isPageSizeRejected(err) {
			if m := smallerPage(n); m > 0 {
				s.tagsSize.CompareAndSwap(int64(n), int64(m))
				continue
			}
		}
		if ctx.Err() != nil {
			return
		}
		msg := describe("list tags of "+repo, err).Error()
		if isNameUnknown(err) {
			msg += "; the catalog lists it, so it may hold only untagged manifests, which the distribution API cannot list"
		}
		s.addError(model.ScanError{Repository: repo, Error: msg})
		return
	}
	seen := map[string]bool{}
	for lister.HasNext() {
		page, err := lister.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.addError(model.ScanError{Repository: repo,
				Error: describe(fmt.Sprintf("list tags of %s after %d tags", repo, len(seen)), err).Error()})
			return
		}
		var fresh []string
		for _, t := range page.Tags {
			if !seen[t] {
				seen[t] = true
				fresh = append(fresh, t)
			}
		}
		s.mu.Lock()
		s.repos[repo].outstanding += len(fresh)
		s.mu.Unlock()
		s.nImages.Add(int64(len(fresh)))
		for _, t := range fresh {
			s.push(func(ctx context.Context) { s.scanTag(ctx, p, r, t) })
		}
		s.bump()
	}
}

func (s *scanner) repoListed(repo string) {
	s.mu.Lock()
	st := s.repos[repo]
	st.listed = true
	done := st.outstanding == 0
	s.mu.Unlock()
	if done {
		s.nReposDone.Add(1)
	}
	s.bump()
}

func (s *scanner) tagDone(repo string) {
	s.mu.Lock()
	st := s.repos[repo]
	st.outstanding--
	done := st.listed && st.outstanding == 0
	s.mu.Unlock()
	if done {
		s.nReposDone.Add(1)
	}
	s.nImagesDone.Add(1)
	s.bump()
}

// scanTag reads the manifest a tag points at.
func (s *scanner) scanTag(ctx context.Context, p *remote.Puller, r name.Repository, tag string) {
	defer s.tagDone(r.RepositoryStr())
	repo := r.RepositoryStr()
	digest, desc, err := s.tagDigest(ctx, p, r, tag)
	if err != nil {
		if ctx.Err() == nil {
			s.addError(model.ScanError{Repository: repo, Reference: repo + ":" + tag,
				Error: describe(fmt.Sprintf("get manifest %s:%s", repo, tag), err).Error()})
		}
		return
	}
	if s.manifest(ctx, p, r, digest, desc) == nil {
		return // ctx ended
	}
	s.mu.Lock()
	s.tags = append(s.tags, tagRef{repo: repo, tag: tag, digest: digest})
	s.mu.Unlock()
}
