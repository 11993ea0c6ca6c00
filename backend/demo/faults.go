package demo

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/faulttest"
	"github.com/helmupgradebot/helmupgradebot/backend/retry"
)

// Faults are the fault-injecting proxies in front of the demo's services
// (WithFaults), each seeded on its own.
type Faults struct {
	// Registry fronts the ACR stand-in, Charts the chart repository,
	// OCICharts the OCI chart registry, GitHub the GitHub stand-in.
	Registry, Charts, OCICharts, GitHub *faulttest.Proxy
}

// All lists the proxies.
func (f *Faults) All() []*faulttest.Proxy {
	return []*faulttest.Proxy{f.Registry, f.Charts, f.OCICharts, f.GitHub}
}

// DemoFaultRetry is the retry policy of the demo's clients with faults
// (--demo-faults): attempts enough for the rate, and a stall given up after
// 3s, before the proxy's (6s) ends.
var DemoFaultRetry = retry.Policy{MaxAttempts: 8, MaxWait: 20 * time.Second, BaseDelay: 100 * time.Millisecond, MaxDelay: 2 * time.Second, StallTimeout: 3 * time.Second}

// WithFaults puts a fault-injecting proxy (package faulttest) with o in
// front of every service the demo's engine talks to: the ACR stand-in, the
// chart repository, the OCI chart registry and the GitHub stand-in. The
// proxies are in Env.Faults. The clients retry with DemoFaultRetry unless
// WithRetry says otherwise.
func WithFaults(o faulttest.Options) Option {
	return func(opts *options) { opts.faults = &o }
}

// WithRetry sets the retry policy of every client the demo's engine builds.
func WithRetry(p retry.Policy) Option { return func(o *options) { o.retry = &p } }

// retryOptions are the engine options for the demo's retry policy.
func (o *options) retryOptions() []engine.Option {
	p := o.retry
	if p == nil && o.faults != nil {
		p = &DemoFaultRetry
	}
	if p == nil {
		return nil
	}
	return []engine.Option{engine.WithRetryPolicy(*p)}
}

// front returns target ("host:port" or an http:// URL) as the engine is to
// reach it: through a new fault proxy when the demo has faults (set by
// set), else as it is.
func (e *Env) front(o *options, target string, n uint64, set func(*Faults, *faulttest.Proxy)) (string, error) {
	if o.faults == nil {
		return target, nil
	}
	if e.Faults == nil {
		e.Faults = &Faults{}
	}
	u := target
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	fo := *o.faults
	fo.Seed += n
	p, err := faulttest.Start(u, fo)
	if err != nil {
		return "", fmt.Errorf("demo: fault proxy: %w", err)
	}
	e.closers = append(e.closers, func() { _ = p.Close() })
	set(e.Faults, p)
	if !strings.Contains(target, "://") {
		return p.Host(), nil
	}
	pu, err := url.Parse(target)
	if err != nil {
		return "", err
	}
	pu.Host = p.Host()
	return pu.String(), nil
}
