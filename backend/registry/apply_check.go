package registry

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// repoCheck is a repository's state re-read once, before its first
// deletion.
type repoCheck struct {
	once sync.Once
	cur  Current
	err  error
}

// manifestAt names a manifest by its repository and digest.
type manifestAt struct {
	repo   string
	digest model.Digest
}

// knownDigests is every manifest the scan saw (images and their platform
// manifests), by repository, built once per Apply rather than once per
// repository re-read.
func (a *applier) knownDigests() map[manifestAt]bool {
	a.knownOnce.Do(func() {
		a.known = map[manifestAt]bool{}
		for k := range a.inv.Images {
			im := &a.inv.Images[k]
			a.known[manifestAt{im.Repository, im.Digest}] = true
			for _, c := range im.Children {
				a.known[manifestAt{im.Repository, c}] = true
			}
		}
	})
	return a.known
}

// current re-reads a repository once per Apply.
func (a *applier) current(repo string) (Current, error) {
	a.mu.Lock()
	rc := a.repos[repo]
	if rc == nil {
		rc = &repoCheck{}
		a.repos[repo] = rc
	}
	a.mu.Unlock()
	rc.once.Do(func() {
		known := a.knownDigests()
		a.bounded(func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(a.ctx), deleteTimeout)
			defer cancel()
			rc.cur, rc.err = a.d.Current(ctx, repo, func(d string) bool { return known[manifestAt{repo, model.ParseDigest(d)}] })
		})
	})
	return rc.cur, rc.err
}

// changed says why an image (with the platform manifests deleted after
// it) may no longer be deleted, or "" when the registry still matches the
// scan.
func (a *applier) changed(im *model.Image, children []string) string {
	cur, err := a.current(im.Repository)
	if err != nil {
		return fmt.Sprintf("its repository could not be re-read before deleting: %v", err)
	}
	for _, t := range cur.Tags[im.Digest.String()] {
		ref := im.Repository + ":" + t
		if !slices.Contains(im.Tags, t) {
			return fmt.Sprintf("%s: %s now points at it", ChangedSinceScan, ref)
		}
		for _, p := range a.protect {
			if p.MatchString(ref) || p.MatchString(im.Repository) {
				return fmt.Sprintf("%s: %s is protected", ChangedSinceScan, ref)
			}
		}
	}
	if cur.Referenced[im.Digest.String()] {
		return fmt.Sprintf("%s: an index pushed since references it", ChangedSinceScan)
	}
	if l, ok := cur.Locked[im.Digest.String()]; ok {
		return fmt.Sprintf("%s: it is locked (%s)", ChangedSinceScan, l)
	}
	for _, c := range cur.Cascade[im.Digest.String()] {
		if !slices.Contains(children, c) {
			return fmt.Sprintf("%s: deleting it would also delete its platform manifest %s, untagged since the scan, which the plan keeps", ChangedSinceScan, c)
		}
	}
	for _, c := range children {
		if l, ok := cur.Locked[c]; ok {
			return fmt.Sprintf("%s: its platform manifest %s is locked (%s)", ChangedSinceScan, c, l)
		}
		if ts := cur.Tags[c]; len(ts) > 0 {
			return fmt.Sprintf("%s: its platform manifest %s is now tagged %s", ChangedSinceScan, c, strings.Join(ts, ", "))
		}
		if cur.Referenced[c] {
			return fmt.Sprintf("%s: an index pushed since references its platform manifest %s", ChangedSinceScan, c)
		}
	}
	return ""
}

// Recheck answers, deleting nothing, which of a plan's deletions Apply
// would now skip because the registry changed since the scan: what a
// confirm box shows before the operator confirms, however old the scan.
func Recheck(ctx context.Context, d Deleter, inv *model.Inventory, plan model.Plan, protect []*regexp.Regexp) []Skip {
	a := &applier{ctx: ctx, d: d, inv: inv, plan: plan, protect: protect, repos: map[string]*repoCheck{}}
	var wg sync.WaitGroup
	sem := make(chan struct{}, DefaultApplyConcurrency)
	repos := map[string]bool{}
	for _, del := range plan.Deletions {
		repos[inv.Images[del.Image].Repository] = true
	}
	for repo := range repos { // re-read them in parallel
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, _ = a.current(repo)
		})
	}
	wg.Wait()
	skipped := make([]bool, len(plan.Deletions))
	var out []Skip
	for i, del := range plan.Deletions {
		im := &inv.Images[del.Image]
		why := ""
		for _, j := range del.After {
			if j >= 0 && j < i && skipped[j] {
				why = fmt.Sprintf("its index %s would not be deleted", inv.Images[plan.Deletions[j].Image].Ref())
			}
		}
		if why == "" {
			why = a.changed(im, model.DigestStrings(del.Children))
		}
		if why != "" {
			skipped[i] = true
			out = append(out, Skip{Index: i, Repository: im.Repository, Digest: im.Digest.String(), Reason: why})
		}
	}
	return out
}
