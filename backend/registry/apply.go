package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/audit"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// Apply concurrency limits.
const (
	DefaultApplyConcurrency = 4
	MaxApplyConcurrency     = 32 // as acr-cli
)

// deleteTimeout bounds each DELETE call. Calls are not cancelled with the
// Apply context: a deletion that has started is finished and recorded.
const deleteTimeout = 2 * time.Minute

// Done is a deletion that took effect.
type Done struct {
	// Index is the deletion's position in Plan.Deletions.
	Index      int
	Repository string
	Digest     string
	// Bytes is what the plan expected the deletion to free.
	Bytes int64
	// AlreadyGone: the registry no longer had the manifest.
	AlreadyGone bool
	// Left are the index's planned platform manifests still stored: a
	// planned index sharing one was kept, or its DELETE failed (then it is
	// among the failures too).
	Left []string
}

// Failure is a deletion that failed: a planned image, or a platform
// manifest of a deleted index (Of is then the index's digest).
type Failure struct {
	Index      int
	Repository string
	Digest     string
	Of         string
	Error      string
	// Unknown: the DELETE may have taken effect and the registry could
	// not be asked; its audit attempt stays open for the next run's
	// recovery.
	Unknown bool
}

// Skip is a deletion Apply did not send, and why: the image changed since
// the scan (a tag moved onto it, a new index references it), its
// repository could not be re-read, or the index it belongs to was not
// deleted.
type Skip struct {
	Index      int
	Repository string
	Digest     string
	Reason     string
}

// ChangedSinceScan starts the reason of a deletion skipped because the
// registry no longer matches the scan.
const ChangedSinceScan = "changed since the scan"

// ApplyResult says what Apply did. Deleted, Failed, Skipped and NotStarted
// add up to the plan's deletions, but for the failures of platform
// manifests whose index was deleted (Failure.Of set).
type ApplyResult struct {
	Deleted    []Done
	Failed     []Failure
	Skipped    []Skip
	NotStarted int
	// FreedBytes is what the registry no longer stores: the blobs of the
	// manifests deleted that nothing still stored references.
	FreedBytes int64
	// Interrupted: the context ended before every deletion had started.
	Interrupted bool
}

// ApplyOption configures Apply.
type ApplyOption func(*applyOptions)

type applyOptions struct {
	concurrency int
	progress    func(done, total int)
	protect     []*regexp.Regexp
}

// WithProtect gives the policy's protect patterns: a planned image that a
// pattern matches now (a protected tag moved onto it) is skipped.
func WithProtect(pats []*regexp.Regexp) ApplyOption {
	return func(o *applyOptions) { o.protect = pats }
}

// WithApplyConcurrency sets how many deletions run at once (default
// DefaultApplyConcurrency, at most MaxApplyConcurrency). With a
// BatchDeleter it bounds the registry calls in flight instead, each
// carrying up to BatchLimit deletions.
func WithApplyConcurrency(n int) ApplyOption {
	return func(o *applyOptions) { o.concurrency = min(max(n, 1), MaxApplyConcurrency) }
}

// WithProgress is called (from one goroutine at a time) after each deletion
// finishes, with the number finished and the plan's total.
func WithProgress(fn func(done, total int)) ApplyOption {
	return func(o *applyOptions) { o.progress = fn }
}

// Apply carries out a plan's deletions in order, at most the configured
// number at a time. Before the first deletion in a repository it re-reads
// the repository's tags (Deleter.Current); a planned image that now carries
// a tag it did not have when scanned, or a protected one, or that a new
// index references (itself or one of its platform manifests), is skipped
// as changed since the scan, and so is a deletion whose After deletions did
// not take effect. For each deletion it writes an "attempt" line to the audit log,
// deletes the manifest by digest, then its platform manifests (Children; a
// missing child is fine), then writes the outcome ("deleted",
// "already-gone" or "failed"); every line is on disk before the next step.
//
// With a BatchDeleter (ECR) up to its BatchLimit deletions are under way
// at once, each waiting, its attempt line written, for the call that
// carries it; a call goes out when full, or when every deletion under way
// waits; the calls in flight stay within the concurrency. A call that
// fails as a whole is settled image by image, as a single DELETE is.
//
// When ctx ends no further deletion starts; the ones under way finish (their
// calls are not cancelled) and the result says exactly what was done, with
// Interrupted set. A registry refusing deletes (ErrDeleteDisabled) or an
// audit log that cannot be written also stops new deletions. The error is
// nil only when every deletion was attempted; failed deletions are in
// ApplyResult.Failed either way.
func Apply(ctx context.Context, d Deleter, inv *model.Inventory, plan model.Plan, log *audit.Log, opts ...ApplyOption) (ApplyResult, error) {
	o := applyOptions{concurrency: DefaultApplyConcurrency}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case plan.Refused != "":
		return ApplyResult{}, fmt.Errorf("refusing to apply the plan: %s", plan.Refused)
	case d == nil:
		return ApplyResult{}, errors.New("apply: no deleter")
	case inv == nil:
		return ApplyResult{}, errors.New("apply: no inventory")
	case log == nil:
		return ApplyResult{}, errors.New("apply: no audit log; deletions are always recorded")
	}
	for i, del := range plan.Deletions {
		if del.Image < 0 || del.Image >= len(inv.Images) {
			return ApplyResult{}, fmt.Errorf("apply: deletion %d names image %d, but the inventory has %d images", i, del.Image, len(inv.Images))
		}
	}

	for i, del := range plan.Deletions {
		for _, j := range del.After {
			if j < 0 || j >= i {
				return ApplyResult{}, fmt.Errorf("apply: deletion %d must follow deletion %d, which is not before it", i, j)
			}
		}
		if del.ChildAfter != nil && len(del.ChildAfter) != len(del.Children) {
			return ApplyResult{}, fmt.Errorf("apply: deletion %d has %d platform manifests but conditions for %d", i, len(del.Children), len(del.ChildAfter))
		}
		for _, deps := range del.ChildAfter {
			for _, j := range deps {
				if j < 0 || j >= i {
					return ApplyResult{}, fmt.Errorf("apply: a platform manifest of deletion %d waits for deletion %d, which is not before it", i, j)
				}
			}
		}
	}

	a := &applier{ctx: ctx, d: d, inv: inv, plan: plan, log: log, protect: o.protect,
		finished: make([]chan struct{}, len(plan.Deletions)), ok: make([]bool, len(plan.Deletions)),
		repos: map[string]*repoCheck{}}
	for i := range a.finished {
		a.finished[i] = make(chan struct{})
	}
	total := len(plan.Deletions)
	workers := min(o.concurrency, total)
	if bd, ok := d.(BatchDeleter); ok && total > 0 {
		workers = min(max(bd.BatchLimit(), o.concurrency), total)
		a.gate = newGate(workers)
		a.batch = newBatcher(bd, o.concurrency, a.gate)
		a.waiters = make([]int, total)
	}
	results := make(chan outcome)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			defer a.gate.park(1) // a worker that is through waits for nothing
			for {
				i, ok := a.take()
				if !ok {
					return
				}
				results <- a.do(i)
			}
		})
	}
	go func() { wg.Wait(); close(results) }()

	var res ApplyResult
	finished := 0
	for r := range results {
		switch {
		case r.notStarted:
			continue
		case r.failure != nil:
			res.Failed = append(res.Failed, *r.failure)
		case len(r.childFailures) > 0:
			res.Deleted = append(res.Deleted, r.done)
			res.Failed = append(res.Failed, r.childFailures...)
		case r.skip != nil:
			res.Skipped = append(res.Skipped, *r.skip)
		default:
			res.Deleted = append(res.Deleted, r.done)
		}
		finished++
		if o.progress != nil {
			o.progress(finished, total)
		}
	}
	slices.SortFunc(res.Deleted, func(x, y Done) int { return cmp.Compare(x.Index, y.Index) })
	slices.SortFunc(res.Failed, func(x, y Failure) int { return cmp.Or(cmp.Compare(x.Index, y.Index), cmp.Compare(x.Digest, y.Digest)) })
	slices.SortFunc(res.Skipped, func(x, y Skip) int { return cmp.Compare(x.Index, y.Index) })
	res.NotStarted = total - finished
	res.FreedBytes = freedBytes(inv, plan, res.Deleted)

	a.mu.Lock()
	defer a.mu.Unlock()
	res.Interrupted = res.NotStarted > 0 && ctx.Err() != nil
	switch {
	case a.stopErr != nil:
		return res, fmt.Errorf("%w; deletions not started: %d", a.stopErr, res.NotStarted)
	case res.Interrupted:
		return res, fmt.Errorf("apply interrupted: %d of %d deletions not started: %w", res.NotStarted, total, ctx.Err())
	}
	return res, nil
}

// applier is the state of one Apply.
type applier struct {
	ctx  context.Context
	d    Deleter
	inv  *model.Inventory
	plan model.Plan
	log  *audit.Log

	protect []*regexp.Regexp

	// finished[i] is closed when deletion i is over; ok[i], set before,
	// says it took effect.
	finished []chan struct{}
	ok       []bool

	mu      sync.Mutex
	next    int
	stopErr error // why no further deletion may start
	repos   map[string]*repoCheck

	knownOnce sync.Once
	known     map[manifestAt]bool // read-only once built

	// With a BatchDeleter: the batcher its deletions go through, and the
	// gate saying when all of them wait; waiters[j] counts the workers
	// waiting for deletion j (under gate.mu).
	batch   *batcher
	gate    *gate
	waiters []int
}

type outcome struct {
	done          Done
	failure       *Failure
	childFailures []Failure // the index went, these platform manifests did not
	skip          *Skip
	notStarted    bool
}

// freedBytes is what the deletions done freed, given the platform
// manifests they left.
func freedBytes(inv *model.Inventory, plan model.Plan, done []Done) int64 {
	g := model.Gone{LeftChildren: map[int][]model.Digest{}}
	for _, d := range done {
		im := plan.Deletions[d.Index].Image
		g.Images = append(g.Images, im)
		if len(d.Left) > 0 {
			g.LeftChildren[im] = model.ParseDigests(d.Left)
		}
	}
	return model.FreedBytes(inv, g)
}

// take hands out the next deletion, unless Apply must stop.
func (a *applier) take() (int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopErr != nil || a.ctx.Err() != nil || a.next >= len(a.plan.Deletions) {
		return 0, false
	}
	i := a.next
	a.next++
	return i, true
}

func (a *applier) stop(err error) {
	a.mu.Lock()
	if a.stopErr == nil {
		a.stopErr = err
	}
	a.mu.Unlock()
}

// call runs one deletion outside the Apply context, with a timeout: a
// DELETE, or a place in a batch (the timeout then bounds the wait for the
// batch to go out).
func (a *applier) call(repo, digest string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(a.ctx), deleteTimeout)
	defer cancel()
	if a.batch != nil {
		return a.batch.delete(ctx, repo, digest)
	}
	return a.d.DeleteManifest(ctx, repo, digest)
}

// bounded runs fn, a registry call, within the calls in flight that a
// batching Apply allows; without batching the workers bound them.
func (a *applier) bounded(fn func()) {
	if a.batch != nil {
		a.batch.slots <- struct{}{}
		defer func() { <-a.batch.slots }()
	}
	fn()
}

// finish marks deletion i over, resuming at once the workers parked
// waiting for it.
func (a *applier) finish(i int) {
	if a.gate == nil {
		close(a.finished[i])
		return
	}
	a.gate.mu.Lock()
	defer a.gate.mu.Unlock()
	a.gate.resumeLocked(a.waiters[i])
	a.waiters[i] = 0
	close(a.finished[i])
}

// wait waits for deletion j to be over, parked meanwhile.
func (a *applier) wait(j int) {
	if a.gate == nil {
		<-a.finished[j]
		return
	}
	a.gate.mu.Lock()
	select {
	case <-a.finished[j]:
		a.gate.mu.Unlock()
		return
	default:
	}
	a.waiters[j]++
	a.gate.parkLocked(1)
	a.gate.mu.Unlock()
	<-a.finished[j] // finish resumed it
}

// do carries out deletion i, once the deletions it must follow are over.
func (a *applier) do(i int) (out outcome) {
	defer func() {
		a.ok[i] = out.failure == nil && out.skip == nil && !out.notStarted
		a.finish(i)
	}()
	del := a.plan.Deletions[i]
	im := &a.inv.Images[del.Image]
	if j := a.firstNotDone(del.After); j >= 0 {
		parent := a.inv.Images[a.plan.Deletions[j].Image]
		return a.skip(i, fmt.Sprintf("its index %s was not deleted", parent.Ref()))
	}
	if why := a.changed(im, model.DigestStrings(del.Children)); why != "" {
		return a.skip(i, why)
	}
	e := a.entry(i, audit.OutcomeAttempt)
	if err := a.log.Write(e); err != nil {
		a.stop(fmt.Errorf("not deleting %s: %w", im.Ref(), err))
		return outcome{notStarted: true}
	}

	gone, err := a.deleteRecorded(e)
	if err != nil {
		return outcome{failure: &Failure{Index: i, Repository: im.Repository, Digest: im.Digest.String(), Error: err.Error(), Unknown: errors.Is(err, errUnsettled)}}
	}
	out.done = Done{Index: i, Repository: im.Repository, Digest: im.Digest.String(), Bytes: del.Reclaim, AlreadyGone: gone}
	a.deleteChildren(i, &out)
	return out
}

// deleteChildren deletes the platform manifests that go with deletion i's
// index, now gone, each with an attempt and an outcome line of its own. A
// platform manifest that another planned index shares stays unless that
// index is gone too; one that fails to go is a failure of its own, the
// index's deletion standing.
func (a *applier) deleteChildren(i int, out *outcome) {
	del := a.plan.Deletions[i]
	im := &a.inv.Images[del.Image]
	for k, c := range del.Children {
		if k < len(del.ChildAfter) && a.firstNotDone(del.ChildAfter[k]) >= 0 {
			out.done.Left = append(out.done.Left, c.String()) // an index sharing it stays
			continue
		}
		e := audit.Entry{Action: audit.ActionDelete, Registry: a.inv.Registry, Repository: im.Repository, Digest: c.String(),
			Index: im.Digest.String(), Reason: string(del.Reason), Outcome: audit.OutcomeAttempt}
		if err := a.log.Write(e); err != nil {
			a.stop(fmt.Errorf("not deleting %s@%s, a platform manifest of %s: %w", im.Repository, c, im.Ref(), err))
			out.done.Left = append(out.done.Left, c.String())
			continue
		}
		if _, err := a.deleteRecorded(e); err != nil {
			out.childFailures = append(out.childFailures, Failure{Index: i, Repository: im.Repository, Digest: c.String(), Of: im.Digest.String(),
				Error: fmt.Sprintf("deleted %s but not its platform manifest %s: %v", im.Ref(), c, err), Unknown: errors.Is(err, errUnsettled)})
			out.done.Left = append(out.done.Left, c.String())
		}
	}
}

// deleteRecorded deletes the manifest of e, an attempt line already
// written, and writes its outcome line: deleted, already-gone or failed. A
// DELETE whose effect is unknown (errUnsettled) gets no outcome line: its
// attempt stays open for the next run's recovery. A registry refusing
// deletes, or an outcome that cannot be recorded, stops further deletions.
func (a *applier) deleteRecorded(e audit.Entry) (alreadyGone bool, err error) {
	ref := e.Repository + "@" + e.Digest
	alreadyGone, err = a.deleteSettled(e.Repository, e.Digest)
	switch {
	case errors.Is(err, errUnsettled):
		return false, err
	case err != nil:
		if errors.Is(err, ErrDeleteDisabled) {
			a.stop(err)
		}
		e.Outcome, e.Error = audit.OutcomeFailed, err.Error()
		if werr := a.log.Write(e); werr != nil {
			a.stop(fmt.Errorf("could not record the failed deletion of %s: %w", ref, werr))
		}
		return false, err
	}
	e.Outcome = audit.OutcomeDeleted
	if alreadyGone {
		e.Outcome = audit.OutcomeAlreadyGone
	}
	if werr := a.log.Write(e); werr != nil {
		a.stop(fmt.Errorf("deleted %s but could not record it: %w", ref, werr))
	}
	return alreadyGone, nil
}

// firstNotDone waits for the given deletions and returns the first that
// did not take effect, or -1.
func (a *applier) firstNotDone(deps []int) int {
	for _, j := range deps {
		a.wait(j)
		if !a.ok[j] {
			return j
		}
	}
	return -1
}

// errUnsettled marks a DELETE whose effect is unknown: it failed in a way
// that may have come after the registry acted (no answer, a 5xx), and the
// registry could not be asked afterwards.
var errUnsettled = errors.New("whether it took effect is unknown; the next run asks the registry")

// deleteSettled deletes repository@digest and says whether it was already
// gone. A failure that may have come after the registry acted (a lost
// answer, a 5xx) is settled by asking the registry whether the manifest is
// still there: gone is a deletion, there a failure, no answer
// errUnsettled.
func (a *applier) deleteSettled(repo, digest string) (alreadyGone bool, err error) {
	err = a.call(repo, digest)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, ErrNotFound):
		return true, nil
	case !ambiguous(err):
		return false, err
	}
	var there bool
	var xerr error
	a.bounded(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(a.ctx), deleteTimeout)
		defer cancel()
		there, xerr = a.d.Exists(ctx, repo, digest)
	})
	switch {
	case xerr != nil:
		return false, fmt.Errorf("%w; %w", err, errUnsettled)
	case !there:
		return false, nil // the answer was lost, the deletion was not
	}
	return false, err
}

// ambiguous reports whether a failed DELETE may have taken effect: no
// answer came, or a 5xx did. A 4xx (a lock, a refusal) did not act, nor
// did a deletion withdrawn from its batch before it went out.
func ambiguous(err error) bool {
	if errors.Is(err, ErrLocked) || errors.Is(err, ErrDeleteDisabled) || errors.Is(err, errNotSent) {
		return false
	}
	var ce *CallError
	if errors.As(err, &ce) && ce.Status != 0 {
		return ce.Status >= 500
	}
	return true
}

// skip records a deletion that was not sent.
func (a *applier) skip(i int, why string) outcome {
	im := &a.inv.Images[a.plan.Deletions[i].Image]
	e := a.entry(i, audit.OutcomeSkipped)
	e.Error = why
	if err := a.log.Write(e); err != nil {
		a.stop(fmt.Errorf("could not record the skipped deletion of %s: %w", im.Ref(), err))
	}
	return outcome{skip: &Skip{Index: i, Repository: im.Repository, Digest: im.Digest.String(), Reason: why}}
}

// entry is deletion i's audit line with the given outcome.
func (a *applier) entry(i int, outcome string) audit.Entry {
	del := a.plan.Deletions[i]
	im := &a.inv.Images[del.Image]
	return audit.Entry{
		Action:     audit.ActionDelete,
		Registry:   a.inv.Registry,
		Repository: im.Repository,
		Digest:     im.Digest.String(),
		Tags:       im.Tags,
		Children:   model.DigestStrings(del.Children),
		Reason:     string(del.Reason),
		Bytes:      del.Reclaim,
		Outcome:    outcome,
	}
}
