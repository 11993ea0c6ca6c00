package registry

import (
	"context"
	"sync"
)

// onceMap loads a value once per key; callers that come while it loads
// wait for it. A cell makes its wait channel only when someone waits: a
// scan of 100,000 manifests has 200,000 cells and few waiters.
type onceMap[V any] struct {
	mu    sync.Mutex
	cells map[string]*onceCell[V]
}

type onceCell[V any] struct {
	v      V
	loaded bool
	wait   chan struct{} // made by the first waiter, closed when loaded
}

// do returns key's value, loading it with load the first time. When ctx
// ends first, or ended during the load, it returns the zero value and false.
func (o *onceMap[V]) do(ctx context.Context, key string, load func() V) (V, bool) {
	var zero V
	o.mu.Lock()
	if o.cells == nil {
		o.cells = map[string]*onceCell[V]{}
	}
	c, ok := o.cells[key]
	if !ok {
		c = &onceCell[V]{}
		o.cells[key] = c
		o.mu.Unlock()
		v := load()
		o.mu.Lock()
		c.v, c.loaded = v, true
		if c.wait != nil {
			close(c.wait)
		}
		o.mu.Unlock()
	} else if !c.loaded {
		if c.wait == nil {
			c.wait = make(chan struct{})
		}
		wait := c.wait
		o.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return zero, false
		}
	} else {
		o.mu.Unlock()
	}
	if ctx.Err() != nil {
		return zero, false
	}
	return c.v, true
}

// forget drops key's value, once nobody will ask for it again.
func (o *onceMap[V]) forget(key string) {
	o.mu.Lock()
	delete(o.cells, key)
	o.mu.Unlock()
}

// dropIf drops every loaded value drop says to.
func (o *onceMap[V]) dropIf(drop func(V) bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for k, c := range o.cells {
		if c.loaded && drop(c.v) {
			delete(o.cells, k)
		}
	}
}

// reset drops every value.
func (o *onceMap[V]) reset() {
	o.mu.Lock()
	o.cells = nil
	o.mu.Unlock()
}

// preload makes key's value v without loading it.
func (o *onceMap[V]) preload(key string, v V) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cells == nil {
		o.cells = map[string]*onceCell[V]{}
	}
	if _, ok := o.cells[key]; !ok {
		o.cells[key] = &onceCell[V]{v: v, loaded: true}
	}
}

// has reports whether key has a value or one is being loaded.
func (o *onceMap[V]) has(key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.cells[key]
	return ok
}

// peek returns a loaded value (the caller knows the load finished), or
// the zero value when key was never asked for.
func (o *onceMap[V]) peek(key string) V {
	o.mu.Lock()
	defer o.mu.Unlock()
	if c := o.cells[key]; c != nil {
		return c.v
	}
	var zero V
	return zero
}
