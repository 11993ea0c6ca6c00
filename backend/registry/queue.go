package registry

import (
	"context"
	"sync"
)

// jobQueue is an unbounded FIFO of jobs for the scan's workers: jobs queue
// more jobs (a repository its tags), so a bounded channel could deadlock.
type jobQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	jobs   []func(context.Context)
	closed bool
}

func (q *jobQueue) init() {
	if q.cond == nil {
		q.cond = sync.NewCond(&q.mu)
	}
}

func (q *jobQueue) push(job func(context.Context)) {
	q.mu.Lock()
	q.init()
	q.jobs = append(q.jobs, job)
	q.mu.Unlock()
	q.cond.Signal()
}

func (q *jobQueue) pop() (func(context.Context), bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.init()
	for len(q.jobs) == 0 && !q.closed {
		q.cond.Wait()
	}
	if len(q.jobs) == 0 {
		return nil, false
	}
	job := q.jobs[0]
	q.jobs[0] = nil
	q.jobs = q.jobs[1:]
	return job, true
}

func (q *jobQueue) close() {
	q.mu.Lock()
	q.init()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}
