package registry

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

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
func readListed[E listed](ctx context.Context, s *scanner, repos []string, entries [][]E, known map[string]*manifestInfo, before func(ctx context.Context, repo string) error) error {
	skip := map[string]bool{} // repository@digest
	for k, repo := range repos {
		for _, e := range entries[k] {
			if info := known[e.listedDigest()]; info != nil {
				s.manifests.preload(e.listedDigest(), info)
				for _, c := range info.children() {
					skip[repo+"@"+c] = true
				}
			}
		}
	}
	read := func(repo string, e E) bool {
		d := e.listedDigest()
		return known[d] == nil && (!skip[repo+"@"+d] || e.listedTagged())
	}
	if before != nil {
		for k, repo := range repos {
			if slices.ContainsFunc(entries[k], func(e E) bool { return read(repo, e) }) {
				if err := before(ctx, repo); err != nil {
					return fmt.Errorf("scan %s: %w", s.c.host, err)
				}
				break
			}
		}
	}
	// after before: it may change the Client's transport
	p, err := s.puller(s.c.pageSize)
	if err != nil {
		return fmt.Errorf("scan %s: %w", s.c.host, err)
	}
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

// listedComplete reports whether assembleListed will find the scan
// complete for its digest cache (endCacheAs): no error but warnings so
// far, and every entry it makes an image of read without error.
func listedComplete(s *scanner, repos []string, entries [][]acrEntry) bool {
	if slices.ContainsFunc(s.errs, func(e model.ScanError) bool { return !e.Warning }) {
		return false
	}
	for k := range repos {
		child := map[string]bool{}
		for _, e := range entries[k] {
			if info := s.manifests.peek(e.digest); info != nil && info.err == nil {
				for _, c := range info.children() {
					child[c] = true
				}
			}
		}
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

// assembleListed builds the inventory from the listing, the locks and
// the manifests read, by the kind's rules.
func assembleListed(s *scanner, repos []string, entries [][]acrEntry, locks []acrLocks, scannedAt time.Time, rules listedRules) *model.Inventory {
	b := model.NewInventoryBuilder(s.reg.RegistryStr(), scannedAt)
	b.SetRepositories(len(repos))
	b.SetLocksUnread(rules.locksUnread)
	n := 0
	for _, es := range entries {
		n += len(es)
	}
	b.Grow(n)
	b.AdoptBlobs(&s.blobs) // a warm scan's manifests described by the last inventory are copied in
	// What a manifest says is let go once the last entry naming it is in
	// the inventory, so that the two are not both whole at the end (the
	// count is the manifest's cell's: a map of counts was 4.6 MB at
	// 100,000 manifests).
	for _, es := range entries {
		for _, e := range es {
			s.manifests.hold(e.digest)
		}
	}
	used := s.manifests.release
	errs := slices.Clone(s.errs)
	for k, repo := range repos {
		// platform manifests of an index are part of it, not images
		child := map[string]bool{}
		for _, e := range entries[k] {
			if info := s.manifests.peek(e.digest); info != nil && info.err == nil {
				for _, c := range info.children() {
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
				return info.children(), info.platforms()
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
			for _, w := range info.warnings() {
				errs = append(errs, model.ScanError{Repository: repo, Reference: repo + "@" + w.digest, Error: w.msg, Warning: w.soft})
			}
			im := model.Image{
				Repository: repo,
				Digest:     e.digest,
				Tags:       e.tags,
				MediaType:  cmp.Or(e.mediaType, info.mediaType),
				Platform:   info.platform,
				Platforms:  slices.Clone(info.platforms()),
				Children:   slices.Clone(info.children()),
				Subject:    info.subject(),
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
	return withErrors(b, errs)
}
