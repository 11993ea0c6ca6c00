package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// BatchDeleter is a Deleter that deletes many manifests of a repository in
// one registry call, as ECR's BatchDeleteImage does (up to 100 image ids).
// Given one, Apply lets up to BatchLimit deletions be under way at once
// (each with its attempt line written, waiting for the call that carries
// it), so that a call carries up to BatchLimit of them. The calls in
// flight over all repositories stay within Apply's concurrency
// (WithApplyConcurrency), and so do Apply's re-reads and look-ups.
type BatchDeleter interface {
	Deleter
	// BatchLimit is the most digests one DeleteBatch takes.
	BatchLimit() int
	// DeleteBatch deletes digests (1 to BatchLimit, no two alike) of
	// repository in one call. A call that failed as a whole gives err,
	// which then stands for every digest: a 5xx or a lost answer may have
	// taken effect for any of them. Otherwise failed is nil (all deleted)
	// or has one entry per digest: nil for a deletion, an error matching
	// ErrNotFound for a manifest already gone, a 4xx *CallError (never an
	// ambiguous one) for a refusal.
	DeleteBatch(ctx context.Context, repository string, digests []string) (failed []error, err error)
}

// errNotSent marks a deletion that was withdrawn from its batch before
// the call went out: its context ended while it waited. The registry never
// heard of it.
var errNotSent = errors.New("not sent: it waited for its batch until its time was up")

// batcher joins single deletions into DeleteBatch calls of up to limit
// digests. A repository's calls go out one after the other; at most
// cap(slots) calls are in flight over all repositories. Without a gate a
// call goes out as soon as it has a slot, with the deletions that joined
// it meanwhile; with one it waits to be full or for the gate to say that
// nothing more can join. A call's deletions are waiting workers of the
// gate until it is answered.
type batcher struct {
	d     BatchDeleter
	limit int
	slots chan struct{}
	gate  *gate // nil: no waiting for a call to fill

	mu     sync.Mutex
	queues map[string][]*batchCall // by repository; present while its sender runs
}

func newBatcher(d BatchDeleter, inFlight int, g *gate) *batcher {
	return &batcher{d: d, limit: max(d.BatchLimit(), 1), slots: make(chan struct{}, max(inFlight, 1)), gate: g, queues: map[string][]*batchCall{}}
}

// batchCall is one DeleteBatch call in the making.
type batchCall struct {
	digests []string
	full    chan struct{} // closed when it first holds limit digests
	isFull  bool
	sent    bool          // taken by its sender: no more joining or leaving
	done    chan struct{} // closed when its answer is in
	err     error         // the call failed as a whole
	results map[string]error
}

func (c *batchCall) result(digest string) error {
	if c.err != nil {
		return c.err
	}
	return c.results[digest]
}

// delete deletes repository@digest in a call with the other deletions
// joined meanwhile. ctx bounds only the wait for the call to go out: a
// deletion whose ctx ends before then is withdrawn (an error matching
// errNotSent, the registry never asked); once its call is out, its answer
// is waited for (the call has a timeout of its own).
func (b *batcher) delete(ctx context.Context, repository, digest string) error {
	b.mu.Lock()
	q, running := b.queues[repository]
	var c *batchCall
	if n := len(q); n > 0 && len(q[n-1].digests) < b.limit && !slices.Contains(q[n-1].digests, digest) {
		c = q[n-1]
	} else {
		c = &batchCall{full: make(chan struct{}), done: make(chan struct{}), results: map[string]error{}}
		b.queues[repository] = append(q, c)
	}
	c.digests = append(c.digests, digest)
	if len(c.digests) >= b.limit && !c.isFull {
		c.isFull = true
		close(c.full)
	}
	b.mu.Unlock()
	b.gate.park(1) // only once it has joined: the call may not go without it
	if !running {
		go b.send(context.WithoutCancel(ctx), repository)
	}
	select {
	case <-c.done:
		return c.result(digest)
	case <-ctx.Done():
	}
	b.mu.Lock()
	if !c.sent {
		c.digests = slices.DeleteFunc(c.digests, func(d string) bool { return d == digest })
		b.mu.Unlock()
		b.gate.resume(1)
		return fmt.Errorf("delete %s@%s: %w (%w)", repository, digest, errNotSent, context.Cause(ctx))
	}
	b.mu.Unlock()
	<-c.done
	return c.result(digest)
}

// send sends the repository's calls one after the other until none is
// left, each once it may go and has a slot.
func (b *batcher) send(ctx context.Context, repository string) {
	for {
		b.mu.Lock()
		q := b.queues[repository]
		if len(q) == 0 {
			delete(b.queues, repository)
			b.mu.Unlock()
			return
		}
		c := q[0]
		b.mu.Unlock()
		if b.gate != nil {
			select {
			case <-c.full:
			case <-b.gate.quiet():
			}
		}
		b.gate.out()
		b.slots <- struct{}{}
		b.mu.Lock()
		b.queues[repository] = b.queues[repository][1:]
		c.sent = true
		digests := slices.Clone(c.digests)
		b.mu.Unlock()
		if len(digests) > 0 {
			b.call(ctx, repository, digests, c)
		}
		<-b.slots
		b.gate.back(len(digests)) // the deletions it carried are at work again
		close(c.done)
	}
}

// call makes one DeleteBatch call and sorts its answer by digest.
func (b *batcher) call(ctx context.Context, repository string, digests []string, c *batchCall) {
	ctx, cancel := context.WithTimeout(ctx, deleteTimeout)
	defer cancel()
	failed, err := b.d.DeleteBatch(ctx, repository, digests)
	switch {
	case err != nil:
		c.err = err
	case failed != nil && len(failed) != len(digests):
		// no status: ambiguous, settled image by image
		c.err = fmt.Errorf("delete %d manifest(s) of %s: %d outcomes answered", len(digests), repository, len(failed))
	case failed != nil:
		for k, d := range digests {
			c.results[d] = failed[k]
		}
	}
}

// gate tells a batcher when a call that is not full may go: once every
// worker of the Apply waits (for its call, or for another deletion to be
// over, or is through) and no call is out whose answer would set workers
// going again, nothing more can join it. A nil gate never holds a call.
type gate struct {
	mu     sync.Mutex
	active int // workers at work
	going  int // calls let go, not yet answered
	idle   chan struct{}
	closed bool // idle is closed: active and going are 0
}

func newGate(active int) *gate {
	g := &gate{active: active, idle: make(chan struct{})}
	g.update()
	return g
}

// update closes idle when nothing is at work, and opens a new one when
// something is again.
func (g *gate) update() {
	quiet := g.active == 0 && g.going == 0
	switch {
	case quiet && !g.closed:
		close(g.idle)
		g.closed = true
	case !quiet && g.closed:
		g.idle, g.closed = make(chan struct{}), false
	}
}

// park counts n workers as waiting.
func (g *gate) park(n int) {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.parkLocked(n)
	g.mu.Unlock()
}

func (g *gate) parkLocked(n int) {
	g.active -= n
	g.update()
}

// resume counts n waiting workers as at work again.
func (g *gate) resume(n int) {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.resumeLocked(n)
	g.mu.Unlock()
}

func (g *gate) resumeLocked(n int) {
	g.active += n
	g.update()
}

// out counts a call let go.
func (g *gate) out() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.going++
	g.update()
	g.mu.Unlock()
}

// back counts a call answered, and the n workers it carried at work
// again, at once: neither may be counted idle meanwhile.
func (g *gate) back(n int) {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.going--
	g.active += n
	g.update()
	g.mu.Unlock()
}

// quiet is closed while nothing is at work.
func (g *gate) quiet() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.idle
}
