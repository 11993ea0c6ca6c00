package registry

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// The listing kinds (ACR, Harbor, ECR) name every manifest with its tags
// and push time through an API of their own; what follows is theirs
// alike: reading the listed manifests by digest (all three), and building
// the inventory (ACR and Harbor).

// readListed reads each manifest the listings name by digest (an index
// reads its platform manifests too; every digest once over the whole
// scan). What known (the previous inventory's) says needs no read; nor do
// the untagged platform manifests of an index it read. before, when not
// nil, is called once, with the first repository that has a manifest to
// read, before any read (ACR's handshake for the registry API's tokens);
// nothing is read when it fails.
func readListed[E listed](ctx context.Context, s *scanner, repos []string, entries [][]E, known map[model.Digest]*manifestInfo, before func(ctx context.Context, repo string) error) error {
	read := preloadListed(s, repos, entries, known)
	p, err := startListedReads(ctx, s, repos, entries, read, before)
	if err != nil {
		return err
	}
	return readRepos(ctx, s, p, repos, entries, read)
}

// preloadListed makes known's manifests the scan's, and returns whether
// an entry of a repository is to be read: whether the scan holds nothing
// of its digest yet (a description preloaded, read, or being read). It
// does not hold on to known, whose descriptions go each after its last
// use (scanListed), and with the last one the last inventory's blobs.
func preloadListed[E listed](s *scanner, repos []string, entries [][]E, known map[model.Digest]*manifestInfo) func(repo string, e E) bool {
	skip := map[string]bool{} // repository@digest
	for k, repo := range repos {
		for _, e := range entries[k] {
			if info := known[model.ParseDigest(e.listedDigest())]; info != nil {
				s.manifests.preload(e.listedDigest(), info)
				for _, c := range info.children() {
					skip[repo+"@"+c] = true
				}
			}
		}
	}
	return func(repo string, e E) bool {
		d := e.listedDigest()
		return !s.manifests.has(d) && (!skip[repo+"@"+d] || e.listedTagged())
	}
}

// startListedReads calls before (see readListed) and returns the puller
// the reads use.
func startListedReads[E listed](ctx context.Context, s *scanner, repos []string, entries [][]E, read func(string, E) bool, before func(ctx context.Context, repo string) error) (*remote.Puller, error) {
	if before != nil {
		for k, repo := range repos {
			if slices.ContainsFunc(entries[k], func(e E) bool { return read(repo, e) }) {
				if err := before(ctx, repo); err != nil {
					return nil, fmt.Errorf("scan %s: %w", s.c.host, err)
				}
				break
			}
		}
	}
	// after before: it may change the Client's transport
	p, err := s.puller(s.c.pageSize)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", s.c.host, err)
	}
	return p, nil
}

// readRepos reads the entries of repos that read says to, s.c.concurrency
// at a time.
func readRepos[E listed](ctx context.Context, s *scanner, p *remote.Puller, repos []string, entries [][]E, read func(string, E) bool) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.c.concurrency)
	for k, repo := range repos {
		r := s.reg.Repo(repo)
		for _, e := range entries[k] {
			if !read(repo, e) {
				s.nImagesDone.Add(1)
				continue
			}
			g.Go(func() error {
				s.manifest(gctx, p, r, e.listedDigest(), nil)
				s.nImagesDone.Add(1)
				s.bump()
				return gctx.Err()
			})
		}
	}
	return g.Wait()
}

// listedRules is what the listing kinds' inventories differ in.
// listed is a listing's entry for a manifest, as readListed reads it
// (ACR's and Harbor's acrEntry, ECR's ecrImage).
type listed interface {
	listedDigest() string
	listedTagged() bool // the manifest carries a tag
}

func (e acrEntry) listedDigest() string { return e.digest }
func (e acrEntry) listedTagged() bool   { return len(e.tags) > 0 }

type listedRules struct {
	// age dates an image from its listing entry and its manifest read:
	// Created and CreatedProblem, and Pushed and ConfigCreated where the
	// kind keeps them (ageFromListing, ageFromPushTime).
	age func(im *model.Image, e acrEntry, info *manifestInfo)
	// listedPlatform: the listing's platform stands in where the manifest
	// names none (ACR).
	listedPlatform bool
	// name, when not nil, rewrites the lock reason lockReasons gives an
	// image of repo (a kind that says more of a lock: Harbor's rules).
	name func(repo, why string) string
	// locksUnread are the repositories whose own and tags' locks were not
	// read (Inventory.LocksUnread)
	locksUnread []string
}

// ageFromListing is ACR's age rule: agePushed with the listing's push
// time.
func ageFromListing(ageFrom string) func(im *model.Image, e acrEntry, info *manifestInfo) {
	return func(im *model.Image, e acrEntry, info *manifestInfo) { agePushed(im, ageFrom, e.created, info) }
}

// ageFromPushTime is Harbor's age rule: the listing's push time, the
// config's created time where the listing gives none; the config's time
// is ConfigCreated where the two differ by more than a minute.
func ageFromPushTime(im *model.Image, e acrEntry, info *manifestInfo) {
	if e.created.IsZero() {
		im.Created, im.CreatedProblem = info.created, info.problem
		return
	}
	im.Created, im.CreatedProblem = e.created, model.CreatedOK
	if !info.created.IsZero() && info.created.Sub(e.created).Abs() > time.Minute {
		im.ConfigCreated = info.created
	}
}

// indexChildren are the platform manifests of a repository's indexes
// read: part of them, not images.
func indexChildren(s *scanner, es []acrEntry) map[string]bool {
	child := map[string]bool{}
	for _, e := range es {
		if info := s.manifests.peek(e.digest); info != nil && info.err == nil {
			for _, c := range info.children() {
				child[c] = true
			}
		}
	}
	return child
}

// listedComplete reports whether assembleRepos will find the scan
// complete for its digest cache (endCacheAs): no error but warnings so
// far, and every entry it makes an image of read without error.
func listedComplete(s *scanner, repos []string, entries [][]acrEntry) bool {
	if slices.ContainsFunc(s.errs, func(e model.ScanError) bool { return !e.Warning }) {
		return false
	}
	for k := range repos {
		child := indexChildren(s, entries[k])
		for _, e := range entries[k] {
			if child[e.digest] && len(e.tags) == 0 {
				continue
			}
			if info := s.manifests.peek(e.digest); info == nil || info.err != nil {
				return false
			}
		}
	}
	return true
}

// batchManifests: scanListed reads and assembles repositories in batches
// of at least this many manifests.
const batchManifests = 4096

// scanListed reads the listed manifests as readListed does and builds the
// inventory from the listing, the locks and the manifests read, by the
// kind's rules, a batch of repositories at a time. What a batch's
// manifests say, and the blobs they name, are let go once its images are
// in the inventory: the descriptions of every manifest, the listing and
// the images are never all whole at once (at 100,000 manifests that
// moment was the scan's peak, 117 MB live, where each batch's is now a
// few MB). A manifest listed in repositories of two batches is read again
// in the later one (from the digest cache when there is one), unless the
// last inventory described it. The digest cache's scan ends once every
// manifest is read, before the last batch's images are made.
func scanListed(ctx context.Context, s *scanner, repos []string, entries [][]acrEntry, locks []acrLocks, known map[model.Digest]*manifestInfo,
	before func(ctx context.Context, repo string) error, scannedAt time.Time, rules listedRules) (*model.Inventory, error) {
	read := preloadListed(s, repos, entries, known)
	p, err := startListedReads(ctx, s, repos, entries, read, before)
	if err != nil {
		return nil, err
	}
	b := model.NewInventoryBuilder(s.reg.RegistryStr(), scannedAt)
	b.SetRepositories(len(repos))
	b.SetLocksUnread(rules.locksUnread)
	n := 0
	for _, es := range entries {
		n += len(es)
	}
	markLastUses(entries, n) // before Grow: its map is garbage once the images take their room
	b.Grow(n)
	var errs []model.ScanError
	for from := 0; from < len(repos); {
		to, m := from, 0
		for to < len(repos) && (to == from || m < cmp.Or(s.c.batch, batchManifests)) {
			m += len(entries[to])
			to++
		}
		if err := readRepos(ctx, s, p, repos[from:to], entries[from:to], read); err != nil {
			return nil, err
		}
		if to == len(repos) {
			s.endCacheAs(!slices.ContainsFunc(errs, func(e model.ScanError) bool { return !e.Warning }) &&
				listedComplete(s, repos[from:to], entries[from:to]))
		}
		errs = assembleRepos(s, b, repos[from:to], entries[from:to], locks[from:to], rules, errs)
		// Nothing read for this batch is used again: every description of
		// the scan's own (the last inventory's stay until their last use)
		// goes with the rows it names. A batch that read nothing (a warm
		// scan's) has none: no walk over what the later batches hold.
		if t := s.blobs.Table(); t.Len() > 0 {
			s.manifests.dropIf(func(m *manifestInfo) bool { return m == nil || m.table == nil || m.table == t })
			s.blobs.Reset()
		}
		from = to
	}
	return withErrors(b, append(slices.Clone(s.errs), errs...)), nil
}

// markLastUses marks each entry that is the last to name its digest;
// there are n entries.
func markLastUses(entries [][]acrEntry, n int) {
	type at struct{ k, i int32 }
	last := make(map[string]at, n)
	for k, es := range entries {
		for i, e := range es {
			last[e.digest] = at{int32(k), int32(i)}
		}
	}
	for _, a := range last {
		entries[a.k][a.i].last = true
	}
}

// assembleRepos adds the images of repos to b and returns errs with the
// problems met; it lets go of each manifest's description after the last
// entry naming it, and of each repository's entries.
func assembleRepos(s *scanner, b *model.InventoryBuilder, repos []string, entries [][]acrEntry, locks []acrLocks, rules listedRules, errs []model.ScanError) []model.ScanError {
	for k, repo := range repos {
		child := indexChildren(s, entries[k])
		lk := locks[k]
		if l := lk.repo; l.DeleteDisabled || l.WriteDisabled {
			b.AddRepositoryLock(l)
		}
		held := lockReasons(repo, entries[k], lk, func(d string) ([]string, []string) {
			if info := s.manifests.peek(d); info != nil && info.err == nil {
				return info.children(), info.platforms()
			}
			return nil, nil
		})
		for _, e := range entries[k] {
			info := s.manifests.peek(e.digest)
			if e.last {
				s.manifests.forget(e.digest)
			}
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
			for _, w := range info.warnings() {
				errs = append(errs, model.ScanError{Repository: repo, Reference: repo + "@" + w.digest, Error: w.msg, Warning: w.soft})
			}
			im := model.Image{
				Repository: repo,
				Digest:     model.ParseDigest(e.digest),
				Tags:       e.tags,
				MediaType:  cmp.Or(e.mediaType, info.mediaType),
				Platform:   info.platform,
				Platforms:  slices.Clone(info.platforms()),
				Children:   model.ParseDigests(info.children()),
				Subject:    model.DigestRef(info.subject()),
				LastPulled: e.pulled, // zero where the listing records no pulls (ACR)
			}
			if rules.listedPlatform {
				im.Platform = cmp.Or(im.Platform, e.platform)
			}
			im.Lock, im.Locked = held[e.digest]
			if im.Locked && rules.name != nil {
				im.Lock = rules.name(repo, im.Lock)
			}
			rules.age(&im, e, info)
			if err := info.addTo(b, im); err != nil {
				errs = append(errs, model.ScanError{Repository: repo, Reference: ref, Error: err.Error()})
			}
		}
		entries[k] = nil
	}
	return errs
}
