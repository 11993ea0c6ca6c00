package registry

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sync/errgroup"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// garEntry is one manifest as Google's listing gives it.
type garEntry struct {
	digest    string
	tags      []string
	uploaded  time.Time // push time; zero when not given
	created   time.Time // the image config's time; zero when not given
	size      int64     // Google's imageSizeBytes: not deduplicated
	mediaType string
}

// Scan walks the repositories under the root, listing each one's
// manifests, then reads each distinct manifest by digest, at most once.
// Only a failure to list the root fails the scan; a repository that
// cannot be listed is recorded in Inventory.Errors.
func (g *GAR) Scan(ctx context.Context, progress func(Progress)) (*model.Inventory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tr, err := g.ready(ctx)
	if err != nil {
		return nil, err
	}
	s := newScanner(g.Client)
	s.skipConfigs = true // ages come from the listing
	defer s.endCache(nil)
	scannedAt := g.now()
	stop := s.runProgress(progress)
	defer stop()

	listed, err := g.walk(ctx, s, tr)
	if err != nil {
		return nil, err
	}
	repos := make([]string, 0, len(listed))
	for r := range listed {
		repos = append(repos, r)
	}
	slices.Sort(repos)
	s.repoList = repos

	p, err := s.puller(s.c.pageSize)
	if err != nil {
		return nil, describe("scan "+g.host, err)
	}
	eg, gctx := errgroup.WithContext(ctx)
	eg.SetLimit(g.concurrency)
	for _, repo := range repos {
		r := s.reg.Repo(repo)
		for _, e := range listed[repo] {
			eg.Go(func() error {
				s.manifest(gctx, p, r, e.digest, nil)
				s.nImagesDone.Add(1)
				s.bump()
				return gctx.Err()
			})
		}
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	inv := g.assemble(s, repos, listed, scannedAt)
	s.endCache(inv)
	return inv, nil
}

// walk lists the root and, concurrently, every repository under it.
func (g *GAR) walk(ctx context.Context, s *scanner, tr http.RoundTripper) (map[string][]garEntry, error) {
	var mu sync.Mutex
	out := map[string][]garEntry{}
	eg, gctx := errgroup.WithContext(ctx)
	eg.SetLimit(g.concurrency)
	var visit func(repo name.Repository) error
	visit = func(repo name.Repository) error {
		tags, err := g.list(gctx, tr, repo)
		if err != nil {
			if repo == g.root || gctx.Err() != nil {
				return err
			}
			s.addError(model.ScanError{Repository: repo.RepositoryStr(), Error: err.Error()})
			return nil
		}
		es := make([]garEntry, 0, len(tags.Manifests))
		for d, m := range tags.Manifests {
			es = append(es, garEntry{digest: d, tags: slices.Sorted(slices.Values(m.Tags)), uploaded: garTime(m.Uploaded),
				created: garTime(m.Created), size: int64(m.Size), mediaType: m.MediaType})
		}
		slices.SortFunc(es, func(a, b garEntry) int { return strings.Compare(a.digest, b.digest) })
		if len(es) > 0 {
			mu.Lock()
			out[repo.RepositoryStr()] = es
			mu.Unlock()
			s.nRepos.Add(1)
			s.nReposDone.Add(1)
			s.nImages.Add(int64(len(es)))
			s.bump()
		}
		for _, c := range tags.Children {
			child := g.reg.Repo(repo.RepositoryStr() + "/" + c)
			f := func() error { return visit(child) }
			if !eg.TryGo(f) { // every place taken: list it here rather than wait
				if err := f(); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := visit(g.root); err != nil {
		return nil, err
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// assemble builds the inventory from the listing and the manifests read.
func (g *GAR) assemble(s *scanner, repos []string, listed map[string][]garEntry, scannedAt time.Time) *model.Inventory {
	b := model.NewInventoryBuilder(s.reg.RegistryStr(), scannedAt)
	b.SetVendorSizeName("Google size") // imageSizeBytes: every layer in full, not deduplicated
	b.SetRepositories(len(repos))
	errs := slices.Clone(s.errs)
	for _, repo := range repos {
		es := listed[repo]
		platformOf := map[string]bool{} // an index's platform manifests are part of it
		for _, e := range es {
			if info := s.manifests.peek(e.digest); info != nil {
				for _, c := range info.children() {
					platformOf[c] = true
				}
			}
		}
		for _, e := range es {
			if platformOf[e.digest] && len(e.tags) == 0 {
				continue
			}
			ref := repo + "@" + e.digest
			info := s.manifests.peek(e.digest)
			switch {
			case info == nil:
				errs = append(errs, model.ScanError{Repository: repo, Reference: ref, Error: "manifest not read"})
				continue
			case info.err != nil:
				errs = append(errs, model.ScanError{Repository: repo, Reference: ref, Error: info.err.Error()})
				continue
			}
			for _, w := range info.warnings() {
				errs = append(errs, model.ScanError{Repository: repo, Reference: repo + "@" + w.digest, Error: w.msg, Warning: w.soft})
			}
			im := model.Image{Repository: repo, Digest: model.ParseDigest(e.digest), Tags: e.tags, MediaType: cmp.Or(e.mediaType, info.mediaType),
				Platform: info.platform, Platforms: slices.Clone(info.platforms()), Children: model.ParseDigests(info.children()), Subject: model.DigestRef(info.subject())}
			im.Pushed, im.VendorSize = e.uploaded, e.size
			if g.ageFrom == AgeFromBuilt {
				im.Created, im.CreatedProblem = garBuilt(e)
			} else {
				im.Created, im.CreatedProblem = e.uploaded, model.CreatedOK
				if e.uploaded.IsZero() {
					im.CreatedProblem = model.CreatedMissing // undated
				}
			}
			if err := info.addTo(b, im); err != nil {
				errs = append(errs, model.ScanError{Repository: repo, Reference: ref, Error: err.Error()})
			}
		}
	}
	return withErrors(b, errs)
}

// garBuilt is an image's build time as Google gives it.
func garBuilt(e garEntry) (time.Time, model.CreatedProblem) {
	switch {
	case e.created.IsZero():
		return time.Time{}, model.CreatedMissing
	case e.created.Before(bogusBefore):
		return e.created, model.CreatedBogus
	}
	return e.created, model.CreatedOK
}
