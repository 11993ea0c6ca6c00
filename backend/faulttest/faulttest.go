// Package faulttest is a fault-injecting HTTP reverse proxy for tests and
// the demo (--demo-faults): it sits on 127.0.0.1 in front of one of the
// in-process stand-ins (the embedded registry or the ACR stand-in, the chart
// repository, the GitHub stand-in) and, at a seeded random rate, per path
// and method, answers 429 with Retry-After, 500, 502 or 503; resets the
// connection before the answer (with or without passing the request on),
// or after the headers; cuts the body short; answers slowly; or stalls
// past the client's timeout.
//
// It is bounded: it forwards to loopback targets only, listens on loopback
// only, holds a stall for at most Options.Stall (a minute at most) and
// closes itself after Options.Lifetime.
package faulttest

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
)

// Kind is a fault.
type Kind string

// The faults.
const (
	// TooManyRequests answers 429 with Retry-After (Options.RetryAfter),
	// without passing the request on.
	TooManyRequests Kind = "429"
	// InternalError, BadGateway and Unavailable answer 500, 502 and 503
	// without passing the request on.
	InternalError Kind = "500"
	BadGateway    Kind = "502"
	Unavailable   Kind = "503"
	// ResetBeforeHeaders resets the connection without passing the
	// request on.
	ResetBeforeHeaders Kind = "reset-before-headers"
	// LostResponse passes the request on (the target acts on it), then
	// resets the connection before the answer: a DELETE that took effect
	// but whose answer was lost.
	LostResponse Kind = "lost-response"
	// ResetAfterHeaders sends the target's headers and half its body,
	// then resets the connection.
	ResetAfterHeaders Kind = "reset-after-headers"
	// ShortBody sends the target's headers and half its body, then closes
	// the connection cleanly: a body cut short.
	ShortBody Kind = "short-body"
	// Slow answers after Options.Slow (below the client's timeout).
	Slow Kind = "slow"
	// Stall answers nothing for Options.Stall (past the client's timeout),
	// then closes the connection, without passing the request on.
	Stall Kind = "stall"
	// StallBody sends the target's headers and half its body, then
	// nothing for Options.Stall.
	StallBody Kind = "stall-body"
)

// AllKinds is every fault.
var AllKinds = []Kind{TooManyRequests, InternalError, BadGateway, Unavailable, ResetBeforeHeaders, LostResponse, ResetAfterHeaders, ShortBody, Slow, Stall, StallBody}

// Transient is every fault a client recovers from by retrying a read
// (all but the slow answer, which is no failure at all).
var Transient = slices.DeleteFunc(slices.Clone(AllKinds), func(k Kind) bool { return k == Slow })

// ParseKinds reads a comma-separated list of kinds ("all" for AllKinds).
func ParseKinds(s string) ([]Kind, error) {
	if s == "" || s == "all" {
		return AllKinds, nil
	}
	var out []Kind
	for _, f := range strings.Split(s, ",") {
		k := Kind(strings.TrimSpace(f))
		if !slices.Contains(AllKinds, k) {
			return nil, fmt.Errorf("fault %q: want one of %v", k, AllKinds)
		}
		out = append(out, k)
	}
	return out, nil
}

// Rule targets faults: requests whose path and method it matches are
// faulted at Rate with its Kinds. The first matching rule decides.
type Rule struct {
	// Path matches the request's path (nil: any). See RepositoryPath.
	Path *regexp.Regexp
	// Methods the rule applies to (none: any).
	Methods []string
	// Rate is the chance, 0 to 1, that a matching request is faulted.
	Rate float64
	// Kinds are drawn from at random (none: Options.Kinds).
	Kinds []Kind
	// Times is how many faults the rule injects at most (0: no limit).
	Times int
}

// RepositoryPath matches the paths of one registry repository, through
// the distribution API (/v2/REPO/...) and ACR's (/acr/v1/REPO/...).
func RepositoryPath(repo string) *regexp.Regexp {
	q := regexp.QuoteMeta(repo)
	return regexp.MustCompile(`^/(v2|acr/v1)/` + q + `/`)
}

// Options configure a Proxy. Zero fields take the defaults.
type Options struct {
	// Seed seeds the draws: the same seed and the same requests in the
	// same order give the same faults.
	Seed uint64
	// Rate is the fault rate of requests no rule matches (0 to 1).
	Rate float64
	// Kinds are the faults drawn from (default AllKinds).
	Kinds []Kind
	// Rules target faults by path and method, before Rate.
	Rules []Rule
	// RetryAfter is the wait a 429 asks (default 1s; whole seconds, at
	// least 0). RetryAfterDate writes it as an HTTP date.
	RetryAfter     time.Duration
	RetryAfterDate bool
	// Slow delays a slow answer (default 200ms).
	Slow time.Duration
	// Stall is how long a stall lasts (default 5s, at most a minute).
	Stall time.Duration
	// Lifetime closes the proxy after it (default 10 minutes).
	Lifetime time.Duration
}

// Injected is one fault the proxy injected.
type Injected struct {
	Method, Path string
	Kind         Kind
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	target *url.URL
	ln     net.Listener
	srv    *http.Server
	client *http.Client
	closed chan struct{}
	once   sync.Once

	mu       sync.Mutex
	o        Options
	rnd      *rand.Rand
	used     []int // faults injected by each rule
	injected []Injected
	requests int
}

// Start runs a proxy on 127.0.0.1 in front of target, an http:// URL on
// loopback.
func Start(target string, o Options) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("faulttest: target %q: want http://HOST:PORT", target)
	}
	if !loopback.Host(u.Host) {
		return nil, fmt.Errorf("faulttest: target %s is not on loopback", u.Host)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faulttest: %w", err)
	}
	p := &Proxy{
		target: u,
		ln:     ln,
		closed: make(chan struct{}),
		client: &http.Client{
			Transport:     &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64, ResponseHeaderTimeout: time.Minute},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	p.set(o)
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	life := p.o.Lifetime
	go func() { // the proxy's lifetime
		t := time.NewTimer(life)
		defer t.Stop()
		select {
		case <-t.C:
			_ = p.Close()
		case <-p.closed:
		}
	}()
	return p, nil
}

func (o *Options) check() error {
	if !(o.Rate >= 0 && o.Rate <= 1) {
		return fmt.Errorf("faulttest: rate %v is not between 0 and 1", o.Rate)
	}
	for _, r := range o.Rules {
		if !(r.Rate >= 0 && r.Rate <= 1) {
			return fmt.Errorf("faulttest: rule rate %v is not between 0 and 1", r.Rate)
		}
	}
	if len(o.Kinds) == 0 {
		o.Kinds = AllKinds
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.Slow <= 0 {
		o.Slow = 200 * time.Millisecond
	}
	if o.Stall <= 0 {
		o.Stall = 5 * time.Second
	}
	o.Stall = min(o.Stall, time.Minute)
	if o.Lifetime <= 0 {
		o.Lifetime = 10 * time.Minute
	}
	return nil
}

func (p *Proxy) set(o Options) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.o = o
	p.rnd = rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	p.used = make([]int, len(o.Rules))
}

// Set replaces the rate and rules (the rest of the options stay), and
// restarts the draws from the seed.
func (p *Proxy) Set(rate float64, rules ...Rule) error {
	p.mu.Lock()
	o := p.o
	p.mu.Unlock()
	o.Rate, o.Rules = rate, rules
	if err := o.check(); err != nil {
		return err
	}
	p.set(o)
	return nil
}

// Host is the proxy's host:port, on 127.0.0.1.
func (p *Proxy) Host() string { return p.ln.Addr().String() }

// URL is the proxy's root URL with the target's path.
func (p *Proxy) URL() string {
	u := *p.target
	u.Host = p.Host()
	return u.String()
}

// Injected lists the faults injected so far.
func (p *Proxy) Injected() []Injected {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.injected)
}

// Requests is how many requests the proxy has seen.
func (p *Proxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Close stops the proxy, ending its stalls.
func (p *Proxy) Close() error {
	var err error
	p.once.Do(func() {
		close(p.closed)
		err = p.srv.Close()
		p.client.CloseIdleConnections()
	})
	return err
}

// draw decides the fault for a request ("" for none).
func (p *Proxy) draw(r *http.Request) Kind {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	rate, kinds, rule := p.o.Rate, p.o.Kinds, -1
	for i, ru := range p.o.Rules {
		if (ru.Path == nil || ru.Path.MatchString(r.URL.Path)) && (len(ru.Methods) == 0 || slices.Contains(ru.Methods, r.Method)) {
			rate, rule = ru.Rate, i
			if len(ru.Kinds) > 0 {
				kinds = ru.Kinds
			}
			if ru.Times > 0 && p.used[i] >= ru.Times {
				rate = 0
			}
			break
		}
	}
	if rate <= 0 || p.rnd.Float64() >= rate {
		return ""
	}
	k := kinds[p.rnd.IntN(len(kinds))]
	if rule >= 0 {
		p.used[rule]++
	}
	p.injected = append(p.injected, Injected{Method: r.Method, Path: r.URL.Path, Kind: k})
	return k
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch kind := p.draw(r); kind {
	case TooManyRequests:
		secs := int(p.o.RetryAfter / time.Second)
		if p.o.RetryAfterDate {
			w.Header().Set("Retry-After", time.Now().Add(p.o.RetryAfter).UTC().Format(http.TimeFormat))
		} else {
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
		p.status(w, http.StatusTooManyRequests, "TOOMANYREQUESTS")
	case InternalError:
		p.status(w, http.StatusInternalServerError, "UNKNOWN")
	case BadGateway:
		p.status(w, http.StatusBadGateway, "UNKNOWN")
	case Unavailable:
		p.status(w, http.StatusServiceUnavailable, "UNAVAILABLE")
	case ResetBeforeHeaders:
		reset(w)
	case Stall:
		p.wait(r, p.o.Stall)
		reset(w)
	default:
		p.pass(w, r, kind)
	}
}

// pass forwards r to the target and passes its answer on, with the fault
// kind (if any) that acts on the answer.
func (p *Proxy) pass(w http.ResponseWriter, r *http.Request, kind Kind) {
	resp, body, err := p.forward(r)
	if err != nil {
		http.Error(w, "faulttest: "+err.Error(), http.StatusBadGateway)
		return
	}
	switch kind {
	case LostResponse:
		reset(w)
		return
	case Slow:
		p.wait(r, p.o.Slow)
	case ShortBody, ResetAfterHeaders, StallBody:
		if len(body) < 2 || r.Method == http.MethodHead {
			reset(w) // nothing to cut: the answer is lost instead
			return
		}
	}
	h := w.Header()
	for k, vs := range resp.Header {
		if !hopByHop(k) {
			h[k] = vs
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		h.Set("Content-Length", resp.Header.Get("Content-Length"))
		if resp.Header.Get("Content-Length") == "" {
			h.Del("Content-Length")
		}
	}
	w.WriteHeader(resp.StatusCode)
	switch kind {
	case ShortBody, ResetAfterHeaders, StallBody:
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		switch kind {
		case ShortBody:
			closeConn(w, false)
		case ResetAfterHeaders:
			closeConn(w, true)
		case StallBody:
			p.wait(r, p.o.Stall)
			closeConn(w, true)
		}
		return
	}
	_, _ = w.Write(body)
}

// forward passes the request to the target, keeping its Host header, and
// reads the answer whole.
func (p *Proxy) forward(r *http.Request) (*http.Response, []byte, error) {
	u := *r.URL
	u.Scheme, u.Host = p.target.Scheme, p.target.Host
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), r.Body)
	if err != nil {
		return nil, nil, err
	}
	out.ContentLength = r.ContentLength
	for k, vs := range r.Header {
		if !hopByHop(k) {
			out.Header[k] = vs
		}
	}
	out.Host = r.Host
	resp, err := p.client.Do(out)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	return resp, body, nil
}

func (p *Proxy) status(w http.ResponseWriter, code int, errCode string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"injected by faulttest"}],"message":"injected by faulttest"}`, errCode)
}

// wait holds a request for d, or until its client goes away or the proxy
// closes.
func (p *Proxy) wait(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	case <-p.closed:
	}
}

// reset closes the client's connection with a TCP reset.
func reset(w http.ResponseWriter) { closeConn(w, true) }

func closeConn(w http.ResponseWriter, rst bool) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if buf != nil {
		_ = buf.Flush()
	}
	if tc, ok := conn.(*net.TCPConn); ok && rst {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func hopByHop(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length":
		return true
	}
	return false
}
