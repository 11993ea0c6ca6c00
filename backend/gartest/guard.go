package gartest

import (
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
)

// Guard is a transport that refuses every host but loopback ones (no
// metadata server, no googleapis.com), recording what it refused, for
// tests that must prove no credential flow left the machine.
type Guard struct {
	inner http.RoundTripper
	mu    sync.Mutex
	hosts []string
}

// NewGuard wraps inner (nil: a new http.Transport) in a Guard.
func NewGuard(inner http.RoundTripper) *Guard {
	if inner == nil {
		inner = &http.Transport{Proxy: nil}
	}
	return &Guard{inner: inner}
}

// RoundTrip sends req on if its host is loopback, else fails it.
func (g *Guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if !loopback.Host(req.URL.Host) {
		g.mu.Lock()
		g.hosts = append(g.hosts, req.URL.Host)
		g.mu.Unlock()
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, fmt.Errorf("gartest guard: refusing %s: not a loopback host", req.URL.Host)
	}
	return g.inner.RoundTrip(req)
}

// Refused lists the hosts the guard refused, in order.
func (g *Guard) Refused() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.hosts)
}
