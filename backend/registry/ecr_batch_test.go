package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/helmupgradebot/helmupgradebot/backend/audit"
	"github.com/helmupgradebot/helmupgradebot/backend/ecrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// pushMany pushes n small images into each of repos, tagged t0, t1, ...,
// the first the oldest, and returns their digests by repository.
func pushMany(tb testing.TB, host string, repos []string, n int) map[string][]string {
	tb.Helper()
	out := map[string][]string{}
	for _, repo := range repos {
		for k := range n {
			img, err := random.Image(64, 1)
			if err != nil {
				tb.Fatal(err)
			}
			img = stamp(tb, img, "amd64", testNow.AddDate(0, 0, -(n+100-k)))
			ref, err := name.ParseReference(fmt.Sprintf("%s/%s:t%d", host, repo, k), name.Insecure)
			if err != nil {
				tb.Fatal(err)
			}
			if err := remote.Write(ref, img); err != nil {
				tb.Fatalf("push %s: %v", ref, err)
			}
			h, err := img.Digest()
			if err != nil {
				tb.Fatal(err)
			}
			out[repo] = append(out[repo], h.String())
		}
	}
	return out
}

// ecrWorld is an ECR stand-in in front of a registry of small images,
// scanned.
type ecrWorld struct {
	reg    *registrytest.Registry
	srv    *ecrtest.Server
	e      *ECR
	inv    *model.Inventory
	pushed map[string][]string // digests by repository, oldest first
}

// newECRWorld pushes n images into each of repos and scans them through
// the ECR stand-in.
func newECRWorld(tb testing.TB, repos []string, n int) ecrWorld {
	tb.Helper()
	w := ecrWorld{reg: registrytest.Serve(tb)}
	w.pushed = pushMany(tb, w.reg.Host(), repos, n)
	w.srv = ecrtest.Serve(tb, w.reg)
	w.srv.ExcludeFromPullTime(ecrtest.AccessKeyID)
	w.e = newECR(tb, w.srv)
	inv, err := w.e.Scan(tb.Context(), nil)
	if err != nil || len(inv.Errors) > 0 {
		tb.Fatalf("scan: %v %+v", err, inv)
	}
	w.inv = inv
	return w
}

// deleteAll is a plan deleting every image of inv, oldest first by
// repository in turn (byRepo), or the repositories interleaved: the
// oldest of each, then the second oldest of each, ...
func deleteAll(inv *model.Inventory, byRepo bool) (model.Plan, model.Request) {
	order := make([]int, len(inv.Images))
	for i := range order {
		order[i] = i
	}
	byAge := func(x, y int) int { return inv.Images[x].Created.Compare(inv.Images[y].Created) }
	slices.SortStableFunc(order, func(x, y int) int {
		return cmp.Or(strings.Compare(inv.Images[x].Repository, inv.Images[y].Repository), byAge(x, y))
	})
	if !byRepo {
		rank := map[int]int{} // an image's place among its repository's
		for k, i := range order {
			if k > 0 && inv.Images[order[k-1]].Repository == inv.Images[i].Repository {
				rank[i] = rank[order[k-1]] + 1
			}
		}
		slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(rank[x], rank[y]) })
	}
	req := model.Request{Now: testNow, Force: true, Manual: order}
	return model.MakePlan(inv, req), req
}

// batchCalls are the image ids of each BatchDeleteImage the stand-in
// answered since request number from, in order.
func batchCalls(srv *ecrtest.Server, from int) []int {
	var out []int
	for _, r := range srv.Requests()[from:] {
		if r.Target == "BatchDeleteImage" {
			out = append(out, r.ImageIDs)
		}
	}
	return out
}

// lookups counts the DescribeImages of one image id (Exists) since
// request number from.
func lookups(srv *ecrtest.Server, from int) int {
	n := 0
	for _, r := range srv.Requests()[from:] {
		if r.Target == "DescribeImages" && r.ImageIDs == 1 {
			n++
		}
	}
	return n
}

// TestECRApplyFillsBatches: Apply lets enough deletions be under way to
// fill BatchDeleteImage calls of 100 image ids; the calls in flight over
// the repositories never exceed the apply concurrency; every image is
// deleted and recorded.
func TestECRApplyFillsBatches(t *testing.T) {
	cases := []struct {
		name        string
		repos, each int
		conc        int // 0: the default
		byRepo      bool
		delay       time.Duration
		want        []int // the calls' sizes; nil: checked by bounds alone
	}{
		{name: "250 in one repository", repos: 1, each: 250, byRepo: true, want: []int{100, 100, 50}},
		{name: "120 in two repositories in turn, one call at a time", repos: 2, each: 60, byRepo: true, conc: 1},
		{name: "180 over 6 repositories interleaved", repos: 6, each: 30, conc: 3, delay: 40 * time.Millisecond},
		{name: "180 over 6 repositories interleaved, default concurrency", repos: 6, each: 30, delay: 40 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var repos []string
			for r := range tc.repos {
				repos = append(repos, fmt.Sprintf("team/app%d", r))
			}
			w := newECRWorld(t, repos, tc.each)
			srv, e, inv, pushed := w.srv, w.e, w.inv, w.pushed
			plan, _ := deleteAll(inv, tc.byRepo)
			total := tc.repos * tc.each
			if len(plan.Deletions) != total {
				t.Fatalf("%d deletions planned, want %d", len(plan.Deletions), total)
			}
			srv.Delay("BatchDeleteImage", tc.delay)
			log, path := openLog(t)
			var opts []ApplyOption
			conc := DefaultApplyConcurrency
			if tc.conc > 0 {
				conc = tc.conc
				opts = append(opts, WithApplyConcurrency(tc.conc))
			}
			from := len(srv.Requests())
			res, err := Apply(t.Context(), e, inv, plan, log, opts...)
			if err != nil || len(res.Deleted) != total || len(res.Failed)+len(res.Skipped)+res.NotStarted != 0 {
				t.Fatalf("apply: %v; %d deleted, failed %+v, skipped %+v, %d not started", err, len(res.Deleted), res.Failed, res.Skipped, res.NotStarted)
			}
			calls := batchCalls(srv, from)
			t.Logf("BatchDeleteImage calls of %v ids", calls)
			sum := 0
			for _, n := range calls {
				sum += n
				if n > ecrBatch {
					t.Errorf("a call of %d ids", n)
				}
			}
			switch {
			case sum != total:
				t.Errorf("the calls carried %d ids, want %d", sum, total)
			case tc.want != nil && !slices.Equal(calls, tc.want):
				t.Errorf("calls of %v ids, want %v", calls, tc.want)
			case len(calls) > total/(conc+1):
				// joining only the deletions under way at once, calls carried
				// at most the concurrency
				t.Errorf("%d calls (%v) for %d deletions: no better than %d at a time", len(calls), calls, total, conc)
			}
			// slowed down, calls in several repositories overlap
			if got := srv.MaxInFlight("BatchDeleteImage"); got > conc || tc.delay > 0 && got < 2 {
				t.Errorf("%d BatchDeleteImage calls in flight at most, want at most %d (and 2 when slowed)", got, conc)
			}
			outcomes := checkAudit(t, path, inv)
			for _, repo := range repos {
				for _, d := range pushed[repo] {
					if o := outcomes[d]; o.Outcome != audit.OutcomeDeleted || o.Repository != repo {
						t.Errorf("%s@%s: audit outcome %+v", repo, d, o)
					}
				}
			}
			after := scanOrFail(t, e)
			if len(after.Images) != 0 {
				t.Errorf("%d images left", len(after.Images))
			}
		})
	}
}

// TestECRApplyPerImageFailures: one full call of 100 ids whose images fail
// in ECR's ways is reported image by image; the rest are deleted; the
// audit log says the same, and what the registry lost.
func TestECRApplyPerImageFailures(t *testing.T) {
	w := newECRWorld(t, []string{"app"}, ecrBatch)
	srv, e, inv, pushed := w.srv, w.e, w.inv, w.pushed["app"]
	plan, _ := deleteAll(inv, true)

	type want struct {
		outcome string
		code    string // in the failure's error
	}
	fate := map[string]want{}
	for k, d := range pushed {
		switch k % 10 {
		case 1:
			srv.FailDelete("app", d, "KmsError")
			fate[d] = want{audit.OutcomeFailed, "KmsError"}
		case 4:
			srv.FailDelete("app", d, "ImageReferencedByManifestList")
			fate[d] = want{audit.OutcomeFailed, "ImageReferencedByManifestList"}
		case 7: // gone since the scan
			if err := e.DeleteManifest(t.Context(), "app", d); err != nil {
				t.Fatal(err)
			}
			fate[d] = want{audit.OutcomeAlreadyGone, ""}
		default:
			fate[d] = want{audit.OutcomeDeleted, ""}
		}
	}
	log, path := openLog(t)
	from := len(srv.Requests())
	res, err := Apply(t.Context(), e, inv, plan, log)
	if err != nil {
		t.Fatal(err)
	}
	if calls := batchCalls(srv, from); !slices.Equal(calls, []int{ecrBatch}) {
		t.Errorf("calls of %v ids, want one of %d", calls, ecrBatch)
	}
	if n := lookups(srv, from); n != 0 {
		t.Errorf("%d look-ups: a per-image failure is an answer", n)
	}
	outcomes := checkAudit(t, path, inv)
	failed := map[string]Failure{}
	for _, f := range res.Failed {
		failed[f.Digest] = f
	}
	deleted := map[string]Done{}
	for _, d := range res.Deleted {
		deleted[d.Digest] = d
	}
	for _, d := range pushed {
		w, o := fate[d], outcomes[d]
		if o.Outcome != w.outcome || !strings.Contains(o.Error, w.code) {
			t.Errorf("%s: audit %q %q, want %q with %q", short(d), o.Outcome, o.Error, w.outcome, w.code)
		}
		f, isFailed := failed[d]
		done, isDone := deleted[d]
		switch w.outcome {
		case audit.OutcomeFailed:
			if !isFailed || f.Unknown || !strings.Contains(f.Error, w.code) {
				t.Errorf("%s: failure %+v, want one naming %s", short(d), f, w.code)
			}
		default:
			if !isDone || done.AlreadyGone != (w.outcome == audit.OutcomeAlreadyGone) {
				t.Errorf("%s: done %+v (%v), want %s", short(d), done, isDone, w.outcome)
			}
		}
		there, err := e.Exists(t.Context(), "app", d)
		if err != nil {
			t.Fatal(err)
		}
		if there != (w.outcome == audit.OutcomeFailed) {
			t.Errorf("%s: in the registry %v, audit %s", short(d), there, w.outcome)
		}
	}
}

// TestECRApplyCallFails: a BatchDeleteImage that fails as a whole, before
// or after ECR acted, is settled image by image: a look-up each when the
// answer says nothing (a 5xx, no answer), never a deletion recorded
// without evidence.
func TestECRApplyCallFails(t *testing.T) {
	cases := []struct {
		name    string
		fault   ecrtest.CallFault
		times   int
		outcome string
		lookups bool
	}{
		{"500 before acting", ecrtest.ServerError, 1, audit.OutcomeFailed, true},
		{"500 after acting", ecrtest.ActThenServerError, 1, audit.OutcomeDeleted, true},
		{"dropped after acting, twice", ecrtest.ActThenDrop, 2, audit.OutcomeDeleted, true},
		// the retry layer sends a lost BatchDeleteImage once more: ImageNotFound
		{"dropped after acting, once", ecrtest.ActThenDrop, 1, audit.OutcomeAlreadyGone, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const n = 40
			w := newECRWorld(t, []string{"app"}, n)
			srv, e, inv, pushed := w.srv, w.e, w.inv, w.pushed["app"]
			plan, _ := deleteAll(inv, true)
			srv.Break("BatchDeleteImage", tc.times, tc.fault)
			log, path := openLog(t)
			from := len(srv.Requests())
			res, _ := Apply(t.Context(), e, inv, plan, log)
			if got := lookups(srv, from); tc.lookups != (got == n) || !tc.lookups && got != 0 {
				t.Errorf("%d look-ups for %d images (want one each: %v)", got, n, tc.lookups)
			}
			if calls := batchCalls(srv, from); calls[0] != n {
				t.Errorf("calls of %v ids", calls)
			}
			outcomes := checkAudit(t, path, inv)
			for _, d := range pushed {
				there, err := e.Exists(t.Context(), "app", d)
				if err != nil {
					t.Fatal(err)
				}
				o := outcomes[d].Outcome
				if o != tc.outcome || there != (o == audit.OutcomeFailed) {
					t.Errorf("%s: audit %q, in the registry %v; want %q", short(d), o, there, tc.outcome)
				}
			}
			if got := len(res.Deleted) + len(res.Failed); got != n {
				t.Errorf("%d results for %d deletions", got, n)
			}
		})
	}
}

// TestECRApplyCancelled: Ctrl-C while full calls are out: no deletion
// starts after it, the ones under way finish, and the audit log (and the
// result) say exactly what the registry lost, whatever the moment.
func TestECRApplyCancelled(t *testing.T) {
	// after 100 deletions the first calls' are done and the next 100 under
	// way; the last 50 start as the second calls' finish
	for _, after := range []int{1, 60, 120} {
		t.Run(fmt.Sprintf("after %d", after), func(t *testing.T) {
			w := newECRWorld(t, []string{"app", "base"}, 125)
			w.srv.Delay("BatchDeleteImage", 20*time.Millisecond)
			plan, req := deleteAll(w.inv, false)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			res, bad, err := applyChecked(t, ctx, w.reg, w.e, w.e, w.inv, plan, req, WithProgress(func(done, _ int) {
				if done == after {
					cancel()
				}
			}))
			if len(bad) > 0 {
				t.Errorf("the invariant broke:\n  %s", strings.Join(bad, "\n  "))
			}
			if !res.Interrupted || err == nil || res.NotStarted == 0 || len(res.Deleted) < after {
				t.Errorf("interrupted %v (%v): %d deleted, %d not started", res.Interrupted, err, len(res.Deleted), res.NotStarted)
			}
			if len(res.Deleted)+res.NotStarted != len(plan.Deletions) {
				t.Errorf("%d deleted and %d not started of %d", len(res.Deleted), res.NotStarted, len(plan.Deletions))
			}
		})
	}
}

// fakeBatches is a BatchDeleter whose calls wait until released and are
// recorded.
type fakeBatches struct {
	Deleter
	limit   int
	arrived chan []string // each call's digests as it arrives
	release chan struct{} // one receive lets one call answer

	mu    sync.Mutex
	calls [][]string
}

func (f *fakeBatches) BatchLimit() int { return f.limit }

func (f *fakeBatches) DeleteBatch(_ context.Context, _ string, digests []string) ([]error, error) {
	f.mu.Lock()
	f.calls = append(f.calls, slices.Clone(digests))
	f.mu.Unlock()
	f.arrived <- slices.Clone(digests)
	<-f.release
	return nil, nil
}

// TestBatcherWithdraws: a deletion whose time runs out while it waits for
// its call is withdrawn, never sent later, and says so unambiguously; one
// whose call is out gets the call's answer whatever its context.
func TestBatcherWithdraws(t *testing.T) {
	f := &fakeBatches{limit: 10, arrived: make(chan []string, 4), release: make(chan struct{})}
	b := newBatcher(f, 4, nil)
	d := func(n int) string { return "sha256:" + strings.Repeat(fmt.Sprint(n), 64) }
	errs := make(chan error, 3)

	// the first call goes out at once and is held
	sentCtx, cancelSent := context.WithCancel(t.Context())
	go func() { errs <- b.delete(sentCtx, "r", d(1)) }()
	if got := <-f.arrived; !slices.Equal(got, []string{d(1)}) {
		t.Fatalf("first call %v", got)
	}
	cancelSent() // out already: its answer stands

	// the second queues behind it, and its time runs out there
	queued, cancelQueued := context.WithCancel(t.Context())
	go func() { errs <- b.delete(queued, "r", d(2)) }()
	waitQueued(t, b, "r", d(2))
	cancelQueued()
	err := <-errs
	if !errors.Is(err, errNotSent) || ambiguous(err) {
		t.Errorf("withdrawn: %v (ambiguous %v)", err, ambiguous(err))
	}

	go func() { errs <- b.delete(t.Context(), "r", d(3)) }()
	waitQueued(t, b, "r", d(3))
	f.release <- struct{}{} // the first call answers
	if err := <-errs; err != nil {
		t.Errorf("the deletion whose call was out: %v", err)
	}
	if got := <-f.arrived; !slices.Equal(got, []string{d(3)}) {
		t.Errorf("second call %v, want the withdrawn one left out", got)
	}
	f.release <- struct{}{}
	if err := <-errs; err != nil {
		t.Error(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) != 2 {
		t.Errorf("calls %v", f.calls)
	}
}

// waitQueued waits until digest waits in a call of repo not yet sent.
func waitQueued(t *testing.T, b *batcher, repo, digest string) {
	t.Helper()
	for range 1000 {
		b.mu.Lock()
		found := slices.ContainsFunc(b.queues[repo], func(c *batchCall) bool { return !c.sent && slices.Contains(c.digests, digest) })
		b.mu.Unlock()
		if found {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s never queued", digest)
}

// BenchmarkECRDeleteCalls applies a plan of 1,000 deletions through the
// ECR stand-in and reports BatchDeleteImage calls per deleted image: all
// in one repository, and over 10 repositories oldest first (interleaved):
//
//	go test -run '^$' -bench ECRDeleteCalls -benchtime 1x ./backend/registry
func BenchmarkECRDeleteCalls(b *testing.B) {
	for _, tc := range []struct {
		name  string
		repos int
	}{{"1-repository", 1}, {"10-repositories-interleaved", 10}} {
		b.Run(tc.name, func(b *testing.B) {
			var calls, deleted int
			for b.Loop() {
				b.StopTimer()
				var repos []string
				for r := range tc.repos {
					repos = append(repos, fmt.Sprintf("r%d", r))
				}
				w := newECRWorld(b, repos, 1000/tc.repos)
				plan, _ := deleteAll(w.inv, false)
				log, err := audit.Open(b.TempDir() + "/audit.jsonl")
				if err != nil {
					b.Fatal(err)
				}
				from := len(w.srv.Requests())
				b.StartTimer()
				res, err := Apply(b.Context(), w.e, w.inv, plan, log)
				b.StopTimer()
				_ = log.Close()
				if err != nil || len(res.Deleted) != len(plan.Deletions) {
					b.Fatalf("apply: %v, %d of %d deleted", err, len(res.Deleted), len(plan.Deletions))
				}
				calls += len(batchCalls(w.srv, from))
				deleted += len(res.Deleted)
				b.StartTimer()
			}
			b.ReportMetric(float64(calls)/float64(deleted), "calls/image")
			b.ReportMetric(float64(deleted)/float64(calls), "ids/call")
		})
	}
}
