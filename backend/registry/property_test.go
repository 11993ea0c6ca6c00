// This file is over 500 lines: the safety property's population, schedule
// and runner for every registry kind; one seed's story reads in one place.

package registry

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"golang.org/x/oauth2"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/audit"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/ecrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/faulttest"
	"github.com/helmupgradebot/helmupgradebot/backend/gartest"
	"github.com/helmupgradebot/helmupgradebot/backend/harbortest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// The stateful property test of the safety invariant (checkInvariant):
// a random population, a random policy, a random schedule of changes
// between scan and apply, then the invariant over the before, plan and
// after states. A failing seed prints the schedule that broke it.

// propertySeeds is the fixed seed budget CI runs, on each path.
const propertySeeds = 30

// propertyMaxConcurrency is the most deletions a run applies at once
// (without batching).
const propertyMaxConcurrency = 4

// The registry kinds the property runs on: each fronts the same embedded
// registry.
const (
	onDistribution = "distribution"
	onACR          = "acr"
	onGAR          = "gar"
	onHarbor       = "harbor"
	onECR          = "ecr"
)

// propertyKinds are the kinds the property runs on, each behind its
// stand-in in front of the same embedded registry.
var propertyKinds = []string{onDistribution, onACR, onGAR, onHarbor, onECR}

// TestSafetyInvariant runs the property on every kind for a fixed set of
// seeds each.
// On ECR a third of the seeds have a repository of 200 to 300 images,
// so that calls carry more deletions than the apply concurrency (and most
// runs fill one, 100): at least one seed's must, or the invariant never
// saw a batch.
func TestSafetyInvariant(t *testing.T) {
	var mu sync.Mutex
	ecrSeeds, largest := 0, 0
	t.Cleanup(func() {
		if ecrSeeds == propertySeeds && largest <= propertyMaxConcurrency {
			t.Errorf("no ECR seed made a BatchDeleteImage call of more than %d image ids; the largest had %d", propertyMaxConcurrency, largest)
		}
	})
	for _, kind := range propertyKinds {
		for seed := range uint64(propertySeeds) {
			t.Run(fmt.Sprintf("%s/seed=%d", kind, seed), func(t *testing.T) {
				t.Parallel()
				n := runProperty(t, seed, kind)
				if kind == onECR {
					mu.Lock()
					ecrSeeds, largest = ecrSeeds+1, max(largest, n)
					mu.Unlock()
				}
			})
		}
	}
}

// FuzzSafetyInvariant explores seeds beyond the fixed budget:
//
//	go test -run '^$' -fuzz FuzzSafetyInvariant -fuzztime 10m ./backend/registry
func FuzzSafetyInvariant(f *testing.F) {
	for seed := range uint64(6) {
		f.Add(seed, uint8(seed))
	}
	f.Fuzz(func(t *testing.T, seed uint64, kind uint8) {
		_ = runProperty(t, seed, propertyKinds[int(kind)%len(propertyKinds)])
	})
}

// step is one change of the schedule, made between scan and apply (or,
// for faults and cancellation, during apply).
type step struct {
	what string
	do   func(ctx context.Context) error
}

// world is one random registry under test, with what the test pushed.
type world struct {
	t     *testing.T
	rnd   *rand.Rand
	host  string
	reg   *registrytest.Registry
	p     pusher
	repos []string
	// acr is the ACR stand-in in front of reg; nil elsewhere
	acr *acrtest.Server
	// everyLock makes an ACR client that reads every lock, where the
	// client under test defers them; nil elsewhere
	everyLock func() (*ACR, error)
	// ecr is the ECR stand-in in front of reg; nil on other kinds
	ecr *ecrtest.Server
	// gar is the Artifact Registry stand-in in front of reg, whose
	// repositories are under prefix; nil elsewhere
	gar *gartest.Server
	// harbor is the Harbor stand-in in front of reg; nil elsewhere
	harbor *harbortest.Server
	// bulk is the number of images of one more repository, "bulk": enough
	// (on some ECR seeds) for a plan to fill a BatchDeleteImage call
	bulk   int
	prefix string
	// pushed manifests by repository, and the tags the test made
	digests map[string][]string
	ages    map[repoDigest]int // days before testNow each was pushed
	pulled  map[repoDigest]int // days before testNow each was last pulled (ECR)
	tags    []string           // "repo:tag"
	log     []string           // the population, for a failing seed
}

func (w *world) logf(format string, args ...any) { w.log = append(w.log, fmt.Sprintf(format, args...)) }

// layerImage is an image over base (shared in its repository) and a
// layer of its own, created ageDays before testNow (undated: no created
// time at all).
func (w *world) layerImage(base v1.Layer, ageDays int, arch string, undated bool) v1.Image {
	own, err := random.Layer(int64(64+w.rnd.IntN(512)), "application/vnd.docker.image.rootfs.diff.tar.gzip")
	if err != nil {
		w.t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, base, own)
	if err != nil {
		w.t.Fatal(err)
	}
	var created time.Time
	if !undated {
		created = testNow.AddDate(0, 0, -ageDays)
	}
	return stamp(w.t, img, arch, created)
}

func (w *world) remember(repo string, x interface{ Digest() (v1.Hash, error) }, ageDays int) string {
	h, err := x.Digest()
	if err != nil {
		w.t.Fatal(err)
	}
	w.digests[repo] = append(w.digests[repo], h.String())
	w.ages[repoDigest{repo, h.String()}] = ageDays
	return h.String()
}

// populate pushes a random population: per repository images over a
// shared base layer (at times the base of the repository before, as
// images built from one base image share it across repositories: a layer
// that a deletion in one repository must not count as freed while
// another's image keeps it, whichever of a scan's batches met it first),
// indexes that share platform manifests, tags into an index, several tags
// on one manifest, undated images, and untagged leftovers (which the
// distribution API cannot list).
func (w *world) populate() {
	w.populateBulk()
	nrepos := 1 + w.rnd.IntN(3)
	var base v1.Layer
	for r := range nrepos {
		repo := fmt.Sprintf("%sr%d", w.prefix, r)
		w.repos = append(w.repos, repo)
		if base != nil && w.rnd.IntN(2) == 0 {
			w.logf("%s shares the base layer of the repository before", repo)
		} else {
			var err error
			if base, err = random.Layer(256, "application/vnd.docker.image.rootfs.diff.tar.gzip"); err != nil {
				w.t.Fatal(err)
			}
		}
		var imgs, untagged []v1.Image
		ntag := 0
		newTag := func() string { ntag++; return fmt.Sprintf("t%d", ntag) }
		for range 2 + w.rnd.IntN(5) {
			age := 1 + w.rnd.IntN(400)
			undated := w.rnd.IntN(10) == 0
			arch := []string{"amd64", "arm64"}[w.rnd.IntN(2)]
			img := w.layerImage(base, age, arch, undated)
			imgs = append(imgs, img)
			d := w.remember(repo, img, age)
			switch k := w.rnd.IntN(7); {
			case k == 0: // only a platform manifest: it goes into an index
				w.p.push(repo+"@"+d, img)
				untagged = append(untagged, img)
				w.logf("%s@%s untagged, %d days", repo, short(d), age)
			case k == 6:
				// an untagged leftover: the distribution API cannot list
				// it, so it shares no layer with what the scan sees (what
				// it would keep stored, no client could count)
				own, err := random.Layer(200, "application/vnd.docker.image.rootfs.diff.tar.gzip")
				if err != nil {
					w.t.Fatal(err)
				}
				left := w.layerImage(own, age, arch, undated)
				d := w.remember(repo, left, age)
				w.p.push(repo+"@"+d, left)
				w.logf("%s@%s leftover, %d days", repo, short(d), age)
			default:
				tags := []string{newTag()}
				if k == 1 {
					tags = append(tags, "keep"+tags[0]) // a second tag, protected by some policies
				}
				for _, tag := range tags {
					w.p.push(repo+":"+tag, img)
					w.tags = append(w.tags, repo+":"+tag)
				}
				w.logf("%s:%s -> %s, %d days, undated %v", repo, strings.Join(tags, ","), short(d), age, undated)
			}
		}
		nidx := w.rnd.IntN(3)
		if len(untagged) > 0 {
			nidx = max(nidx, 1)
		}
		for n := range nidx {
			// an index over some of the images: indexes may share them
			var kids []v1.Image
			for _, img := range imgs {
				if w.rnd.IntN(2) == 0 || n == 0 && slices.Contains(untagged, img) {
					kids = append(kids, img)
				}
			}
			if len(kids) == 0 {
				kids = imgs[:1]
			}
			idx := w.p.index(fmt.Sprintf("%s-%d", repo, n), kids...)
			d := w.remember(repo, idx, 1+w.rnd.IntN(400))
			tag := newTag()
			w.p.push(repo+":"+tag, idx)
			w.tags = append(w.tags, repo+":"+tag)
			w.logf("%s:%s -> index %s over %d", repo, tag, short(d), len(kids))
		}
	}
}

// populateBulk pushes the bulk repository's images over a shared base,
// a random half tagged, most older than any max age the policies draw.
func (w *world) populateBulk() {
	if w.bulk == 0 {
		return
	}
	repo := w.prefix + "bulk"
	w.repos = append(w.repos, repo)
	base, err := random.Layer(256, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	if err != nil {
		w.t.Fatal(err)
	}
	tagged := 0
	for k := range w.bulk {
		age := 181 + w.rnd.IntN(220)
		if w.rnd.IntN(10) == 0 {
			age = 1 + w.rnd.IntN(400)
		}
		img := w.layerImage(base, age, "amd64", false)
		d := w.remember(repo, img, age)
		if w.rnd.IntN(2) == 0 {
			w.p.push(repo+"@"+d, img)
			continue
		}
		tagged++
		rt := fmt.Sprintf("%s:b%d", repo, k)
		w.p.push(rt, img)
		w.tags = append(w.tags, rt)
	}
	w.logf("%s: %d images, %d tagged, most 181 to 400 days", repo, w.bulk, tagged)
}

func short(d string) string { return d[len(d)-8:] }

// lockSome sets ACR locks at random, at every level: on manifests
// (maybe a platform manifest), on tags, on repositories. Before the scan
// (planned nil) anything may be locked; after it, what the plan deletes.
func (w *world) lockSome(planned []repoDigest, when string) []step {
	if w.harbor != nil {
		return w.immutableSome(planned, when)
	}
	if w.acr == nil {
		return nil
	}
	var steps []step
	for range w.rnd.IntN(3) {
		del, write := w.rnd.IntN(2) == 0, w.rnd.IntN(2) == 0
		if del && write {
			del = false
		}
		var what string
		var do func()
		switch w.rnd.IntN(3) {
		case 0:
			var k repoDigest
			if planned != nil {
				if len(planned) == 0 {
					continue
				}
				k = planned[w.rnd.IntN(len(planned))]
			} else {
				repo := w.repos[w.rnd.IntN(len(w.repos))]
				k = repoDigest{repo, w.digests[repo][w.rnd.IntN(len(w.digests[repo]))]}
			}
			what = fmt.Sprintf("lock %s@%s", k.repo, short(k.digest))
			do = func() { w.acr.Lock(k.repo, k.digest, del, write) }
		case 1:
			if len(w.tags) == 0 {
				continue
			}
			rt := w.tags[w.rnd.IntN(len(w.tags))]
			repo, tag, _ := strings.Cut(rt, ":")
			what = "lock tag " + rt
			do = func() { w.acr.LockTag(repo, tag, del, write) }
		default:
			repo := w.repos[w.rnd.IntN(len(w.repos))]
			what = "lock repository " + repo
			do = func() { w.acr.LockRepository(repo, del, write) }
		}
		what += fmt.Sprintf(" (delete %v, write %v)%s", del, write, when)
		if planned == nil {
			w.logf("%s", what)
			do()
			continue
		}
		steps = append(steps, step{what, func(context.Context) error { do(); return nil }})
	}
	return steps
}

// randomRequest is a random plan request over the inventory.
func (w *world) randomRequest(inv *model.Inventory) model.Request {
	req := model.Request{Now: testNow, Force: true}
	pol := &req.Policy
	switch w.rnd.IntN(4) {
	case 0:
		pol.MaxAge = 30 * 24 * time.Hour
	case 1:
		pol.MaxAge = 180 * 24 * time.Hour
	case 2:
		pol.Cap, pol.Aggressive = model.ComputeSizes(inv).Total/(2+int64(w.rnd.IntN(3))), true
	default:
		for i := range inv.Images {
			if w.rnd.IntN(2) == 0 {
				req.Manual = append(req.Manual, i)
			}
		}
		if req.Manual == nil {
			req.Manual = []int{}
		}
	}
	if (w.acr != nil || w.gar != nil || w.harbor != nil || w.ecr != nil) && w.rnd.IntN(2) == 0 { // they list untagged manifests
		pol.UntaggedMaxAge = 7 * 24 * time.Hour
	}
	if w.ecr != nil && w.rnd.IntN(2) == 0 {
		pol.KeepPulledWithin = 30 * 24 * time.Hour
	}
	pol.KeepLatest = w.rnd.IntN(3)
	if w.rnd.IntN(2) == 0 {
		pol.Protect = []*regexp.Regexp{regexp.MustCompile(`:keep`)}
	}
	if w.rnd.IntN(3) == 0 && len(inv.Images) > 0 {
		req.Usage = &model.Usage{Images: make([]model.ImageUsage, len(inv.Images))}
		for range 1 + w.rnd.IntN(2) {
			req.Usage.Images[w.rnd.IntN(len(inv.Images))].InUse = true
		}
	}
	w.logf("policy: max age %v, untagged max age %v, keep pulled within %v, keep latest %d, protect %v, cap %d, manual %v, usage %v",
		pol.MaxAge, pol.UntaggedMaxAge, pol.KeepPulledWithin, pol.KeepLatest, pol.Protect, pol.Cap, req.Manual, req.Usage != nil)
	return req
}

// schedule draws the changes made between scan and apply, and the
// faults and cancellation during it.
func (w *world) schedule(inv *model.Inventory, plan model.Plan, proxy *faulttest.Proxy) ([]step, int) {
	var steps []step
	var plannedRefs []repoDigest
	for _, d := range plan.Deletions {
		im := &inv.Images[d.Image]
		plannedRefs = append(plannedRefs, repoDigest{im.Repository, im.Digest.String()})
		for _, c := range d.Children {
			plannedRefs = append(plannedRefs, repoDigest{im.Repository, c.String()})
		}
	}
	pick := func(ks []repoDigest) repoDigest { return ks[w.rnd.IntN(len(ks))] }
	var rules []faulttest.Rule
	for range w.rnd.IntN(5) {
		switch k := w.rnd.IntN(6); {
		case k == 0 && len(w.tags) > 0 && len(plannedRefs) > 0:
			// a tag moved onto a planned manifest (a rollback), maybe a
			// platform manifest of a planned index
			rt, to := w.tags[w.rnd.IntN(len(w.tags))], pick(plannedRefs)
			repo := rt[:strings.Index(rt, ":")]
			if repo != to.repo {
				rt = to.repo + ":" + strings.TrimPrefix(rt, repo+":")
				w.tags = append(w.tags, rt)
			}
			steps = append(steps, step{fmt.Sprintf("move %s onto %s", rt, short(to.digest)), func(context.Context) error {
				w.p.tag(rt, to.repo+"@"+to.digest)
				return nil
			}})
		case k == 1 && len(plannedRefs) > 0:
			to := pick(plannedRefs)
			rt := fmt.Sprintf("%s:new%d", to.repo, len(steps))
			w.tags = append(w.tags, rt)
			steps = append(steps, step{fmt.Sprintf("add %s onto %s", rt, short(to.digest)), func(context.Context) error {
				w.p.tag(rt, to.repo+"@"+to.digest)
				return nil
			}})
		case k == 2 && len(w.tags) > 0:
			// re-pushed under the same tag: a new image, fresh layers
			rt := w.tags[w.rnd.IntN(len(w.tags))]
			base, err := random.Layer(128, "application/vnd.docker.image.rootfs.diff.tar.gzip")
			if err != nil {
				w.t.Fatal(err)
			}
			img := w.layerImage(base, 0, "amd64", false)
			steps = append(steps, step{"re-push " + rt, func(context.Context) error {
				w.p.push(rt, img)
				return nil
			}})
		case k == 3 && len(plannedRefs) > 0:
			// a DELETE that fails, is lost or is slow
			to := pick(plannedRefs)
			kind := []faulttest.Kind{faulttest.InternalError, faulttest.LostResponse, faulttest.Slow, faulttest.ResetBeforeHeaders, faulttest.Unavailable}[w.rnd.IntN(5)]
			times := 1 + w.rnd.IntN(12)
			rule := faulttest.Rule{Path: regexp.MustCompile(regexp.QuoteMeta(w.deletePath(to.repo, to.digest))),
				Methods: []string{"DELETE"}, Rate: 1, Kinds: []faulttest.Kind{kind}, Times: times}
			if w.ecr != nil {
				// ECR deletes through its API, one path for every call: the
				// next calls of apply (re-reads, deletions, look-ups) fail
				rule.Path, rule.Methods = regexp.MustCompile(`^/$`), []string{"POST"}
			}
			rules = append(rules, rule)
			steps = append(steps, step{fmt.Sprintf("DELETE %s@%s: %s x%d", to.repo, short(to.digest), kind, times), nil})
		}
	}
	steps = append(steps, w.lockSome(plannedRefs, " since the scan")...)
	if err := proxy.Set(0, rules...); err != nil {
		w.t.Fatal(err)
	}
	cancelAfter := -1
	if w.rnd.IntN(4) == 0 && len(plan.Deletions) > 0 {
		cancelAfter = w.rnd.IntN(len(plan.Deletions))
		steps = append(steps, step{fmt.Sprintf("cancel after %d deletions", cancelAfter), nil})
	}
	return steps, cancelAfter
}

// runProperty runs one seed of the property on kind: distribution, or
// the ACR, Artifact Registry, Harbor or ECR stand-in in front of the same
// embedded registry. It returns the most image ids one BatchDeleteImage
// carried (ECR; 0 elsewhere).
func runProperty(t *testing.T, seed uint64, kind string) int {
	ctx := context.Background()
	reg := registrytest.Serve(t)
	w := &world{t: t, rnd: rand.New(rand.NewPCG(seed, 0x5afe)), host: reg.Host(), reg: reg, p: pusher{t, reg.Host()},
		digests: map[string][]string{}, ages: map[repoDigest]int{}, pulled: map[repoDigest]int{}}
	if kind == onGAR {
		w.prefix = "proj/"
	}
	if kind == onHarbor {
		w.prefix = testProject + "/"
	}
	if kind == onECR && w.rnd.IntN(3) == 0 {
		w.bulk = 2*ecrBatch + w.rnd.IntN(ecrBatch)
	}
	w.populate()

	var c, pc interface {
		Lister
		Deleter
	}
	var proxy *faulttest.Proxy
	switch kind {
	case onECR:
		w.logf("on ECR")
		w.ecr = ecrtest.Serve(t, reg)
		w.ecr.ExcludeFromPullTime(ecrtest.AccessKeyID) // the scan's reads are no pulls
		keys := slices.SortedFunc(maps.Keys(w.ages), func(a, b repoDigest) int { return strings.Compare(a.repo+"@"+a.digest, b.repo+"@"+b.digest) })
		for _, k := range keys {
			w.ecr.SetPushed(k.repo, k.digest, testNow.AddDate(0, 0, -w.ages[k]))
			if w.rnd.IntN(3) > 0 { // a third never pulled
				days := w.rnd.IntN(90)
				w.pulled[k] = days
				w.ecr.SetPulled(k.repo, k.digest, testNow.AddDate(0, 0, -days))
				w.logf("%s@%s pulled %d days ago", k.repo, short(k.digest), days)
			}
		}
		proxy = faulttest.Serve(t, w.ecr.URL(), faultOptions)
		e, err := NewECR(proxy.Host(), w.ecr.AWSConfig(), WithECREndpoint("http://"+proxy.Host()), WithClock(func() time.Time { return testNow }), WithRetry(faultRetry))
		if err != nil {
			t.Fatal(err)
		}
		c, pc = e, e
	case onGAR:
		w.logf("on Artifact Registry")
		w.gar = gartest.Serve(t, reg)
		for k, age := range w.ages {
			w.gar.SetUploaded(k.repo, k.digest, testNow.AddDate(0, 0, -age))
		}
		proxy = faulttest.Serve(t, w.gar.URL(), faultOptions)
		w.gar.SetLoginServer(proxy.Host())
		g, err := NewGAR(proxy.Host(), strings.TrimSuffix(w.prefix, "/"), WithClock(func() time.Time { return testNow }), WithRetry(faultRetry),
			WithAuthenticator(GoogleTokenLogin(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: w.gar.AccessToken()}))))
		if err != nil {
			t.Fatal(err)
		}
		c, pc = g, g
	case onHarbor:
		c, proxy = w.onHarbor()
		pc = c
	case onACR:
		w.logf("on ACR")
		id := azuretest.ServeIdentity(t)
		w.acr = acrtest.Serve(t, reg, acrtest.WithIdentity(id))
		for k, age := range w.ages {
			w.acr.SetCreated(k.repo, k.digest, testNow.AddDate(0, 0, -age))
		}
		w.lockSome(nil, "")
		proxy = faulttest.Serve(t, w.acr.URL(), faultOptions)
		w.acr.SetLoginServer(proxy.Host())
		opts := []Option{WithClock(func() time.Time { return testNow }), WithRetry(faultRetry)}
		if seed%3 != 2 { // batches of a few manifests: reads and assembly interleaved, manifests of two batches read twice
			n := 1 + int(seed%5)
			w.logf("batches of %d manifests", n)
			opts = append(opts, withBatch(n))
		}
		if seed%2 == 1 { // as headless runs: repository and tag locks read where the plan deletes
			w.logf("locks deferred")
			every := slices.Clone(opts)
			w.everyLock = func() (*ACR, error) { return NewACR(proxy.Host(), id.DirectCredential(), every...) }
			opts = append(opts, WithDeferredLocks())
		}
		a, err := NewACR(proxy.Host(), id.DirectCredential(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		c, pc = a, a
	default:
		c = newClient(t, reg.Host())
		proxy = faulttest.Serve(t, "http://"+reg.Host(), faultOptions)
		pc = newClient(t, proxy.Host(), WithRetry(faultRetry))
	}
	if err := proxy.Set(0); err != nil {
		t.Fatal(err)
	}
	inv, err := c.Scan(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range inv.Errors { // a repository of untagged manifests alone, on distribution
		w.logf("scan problem: %s %s", e.Repository, e.Error)
	}
	req := w.randomRequest(inv)
	if lr, ok := c.(LockReader); ok && len(inv.LocksUnread) > 0 {
		forced := req // as the engine does: any plan of inv finds its locks read
		forced.Force = true
		if err := ReadPlannedLocks(ctx, lr, inv, func(inv *model.Inventory) model.Plan { return model.MakePlan(inv, forced) }); err != nil {
			t.Fatal(err)
		}
		w.logf("locks unread in %v", inv.LocksUnread)
		w.samePlanAsEveryLock(ctx, inv, req)
	}
	plan := model.MakePlan(inv, req)

	steps, cancelAfter := w.schedule(inv, plan, proxy)
	for _, s := range steps {
		w.logf("step: %s", s.what)
		if s.do != nil {
			if err := s.do(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	res, bad, applyErr := applyChecked(t, actx, reg, pc, c, inv, plan, req, WithApplyConcurrency(1+w.rnd.IntN(propertyMaxConcurrency)),
		WithProgress(func(done, _ int) {
			if done == cancelAfter {
				cancel()
			}
		}))
	w.logf("apply: %d deleted, %d failed, %d skipped, %d not started, freed %d; err %v",
		len(res.Deleted), len(res.Failed), len(res.Skipped), res.NotStarted, res.FreedBytes, applyErr)
	// independently of the model's holds: nothing pulled within
	// keep_pulled_within was deleted
	if win := req.Policy.KeepPulledWithin; win > 0 {
		for _, d := range res.Deleted {
			if days, ok := w.pulled[repoDigest{d.Repository, d.Digest}]; ok && time.Duration(days)*24*time.Hour <= win {
				bad = append(bad, fmt.Sprintf("%s@%s was pulled %d days ago, within keep_pulled_within %v, and deleted", d.Repository, short(d.Digest), days, win))
			}
		}
	}
	if len(bad) > 0 {
		t.Errorf("seed %d broke the safety invariant:\n  %s\nthe population and schedule:\n  %s\nthe plan:\n  %s",
			seed, strings.Join(bad, "\n  "), strings.Join(w.log, "\n  "), describePlan(inv, plan))
	}
	largest := 0
	if w.ecr != nil {
		for _, r := range w.ecr.Requests() {
			if r.Target == "BatchDeleteImage" {
				largest = max(largest, r.ImageIDs)
			}
		}
		t.Logf("%d deletions planned; the largest BatchDeleteImage carried %d image ids", len(plan.Deletions), largest)
	}
	return largest
}

// applyChecked applies plan under actx to the embedded registry reg
// through d, lets the next run's recovery (through c) settle
// what apply left unsettled, collects garbage, and returns what the
// invariant says of it all.
func applyChecked(t *testing.T, actx context.Context, reg *registrytest.Registry, d Deleter, c Deleter, inv *model.Inventory, plan model.Plan, req model.Request, opts ...ApplyOption) (ApplyResult, []string, error) {
	t.Helper()
	ctx := context.Background()
	before, err := readStore(ctx, reg.Storage)
	if err != nil {
		t.Fatal(err)
	}
	bytesBefore, err := reg.BlobBytes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/audit.jsonl"
	log, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	res, applyErr := Apply(actx, d, inv, plan, log, append([]ApplyOption{WithProtect(req.Policy.Protect)}, opts...)...)
	_ = log.Close()
	if pending, _, err := audit.Pending(path, inv.Registry); err == nil && len(pending) > 0 {
		log, err := audit.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Recover(ctx, c, log, pending); err != nil {
			t.Fatal(err)
		}
		_ = log.Close()
	}
	after, err := readStore(ctx, reg.Storage)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.GarbageCollect(ctx); err != nil {
		t.Fatal(err)
	}
	blobs, err := reg.Blobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var bytesAfter int64
	have := map[string]bool{}
	for d, n := range blobs {
		have[d] = true
		bytesAfter += n
	}
	bad := checkInvariant(applied{before: before, after: after, inv: inv, plan: plan, res: res, audit: readAudit(t, path),
		held: hardHeld(inv, req), blobsAfter: have, gcFreed: bytesBefore - bytesAfter})
	return res, bad, applyErr
}

func describePlan(inv *model.Inventory, plan model.Plan) string {
	var out []string
	for k, d := range plan.Deletions {
		im := &inv.Images[d.Image]
		var kids []string
		for _, c := range d.Children {
			kids = append(kids, short(c.String()))
		}
		out = append(out, fmt.Sprintf("%d: %s@%s %v (%s) after %v children %v childAfter %v", k, im.Repository, short(im.Digest.String()), im.Tags, d.Reason, d.After, kids, d.ChildAfter))
	}
	return strings.Join(out, "\n  ")
}

// samePlanAsEveryLock checks that inv, whose locks were read only where
// req's plan deletes, plans the same deletions as a scan reading every
// lock (w.everyLock).
func (w *world) samePlanAsEveryLock(ctx context.Context, inv *model.Inventory, req model.Request) {
	w.t.Helper()
	a, err := w.everyLock()
	if err != nil {
		w.t.Fatal(err)
	}
	full, err := a.Scan(ctx, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	refs := func(inv *model.Inventory, p model.Plan) []string {
		var out []string
		for _, d := range p.Deletions {
			out = append(out, inv.Images[d.Image].Ref())
			out = append(out, model.DigestStrings(d.Children)...)
		}
		return out
	}
	got, want := refs(inv, model.MakePlan(inv, req)), refs(full, model.MakePlan(full, req))
	if !slices.Equal(got, want) {
		for i := range min(len(inv.Images), len(full.Images)) {
			if !reflect.DeepEqual(inv.Images[i], full.Images[i]) {
				w.t.Logf("image %d: %+v\n   full: %+v", i, inv.Images[i], full.Images[i])
			}
		}
		w.t.Errorf("with locks read where it deletes the plan deletes %v; with every lock read %v\n%s", got, want, strings.Join(w.log, "\n"))
	}
}
