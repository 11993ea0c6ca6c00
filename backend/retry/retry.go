// Package retry is the one retry and timeout layer under every HTTP client
// helmupgradebot has: the registry's (go-containerregistry and the Azure
// SDK's azcontainerregistry), the chart repositories' and GitHub's
// (go-github). Each of those libraries has retries of its own, or none, and
// they differ: go-containerregistry ignores Retry-After, go-github retries
// nothing, azcore retries POSTs. Their own retries are turned off and this
// http.RoundTripper, built on github.com/hashicorp/go-retryablehttp (its
// retry loop, request-body rewinding and connection draining), sits under
// all of them, so every call follows one policy:
//
//   - Idempotent calls (GET, HEAD, the POSTs that only issue a token, and
//     the AWS JSON API's reads: an X-Amz-Target of Describe…, Get…, List…)
//     are retried on 408, 429, 500, 502, 503 and 504, on connection errors
//     and resets, on stalls and on bodies cut short (the body is read whole
//     here, so a short body is an attempt that failed, not a caller's
//     parse error).
//   - Any call answered 429, or 403 with Retry-After or an exhausted rate
//     limit (GitHub's secondary and primary rate limits), is retried: the
//     server refused it without acting on it.
//   - A DELETE that failed in transit (no response: a reset, a timeout) is
//     retried once; the caller counts a 404 then as already gone. ECR's
//     BatchDeleteImage (by digest) is a DELETE here: its second attempt
//     reports ImageNotFound for what the first deleted.
//   - Other calls that are not idempotent (POST, PUT, PATCH) are never sent
//     twice.
//   - The wait is the server's Retry-After (seconds or an HTTP date), else
//     exponential backoff with jitter. A call makes at most MaxAttempts
//     attempts and takes at most MaxWait, waits included; a Retry-After
//     past that is not waited for: the call ends at once with the answer.
//   - An attempt that gets no response header, or no body bytes, for
//     StallTimeout is abandoned (and retried as above).
package retry

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Defaults.
const (
	DefaultMaxAttempts  = 5
	DefaultMaxWait      = 2 * time.Minute
	DefaultBaseDelay    = 500 * time.Millisecond
	DefaultMaxDelay     = 15 * time.Second
	DefaultStallTimeout = 30 * time.Second
	// MaxAttemptsLimit and the MaxWait bounds are what a configuration
	// may ask.
	MaxAttemptsLimit = 20
	MinMaxWait       = time.Second
	MaxMaxWait       = time.Hour
)

// bufferLimit: response bodies up to this size are read whole within the
// attempt (so that a body cut short is retried); larger ones are streamed
// to the caller under the stall watchdog.
const bufferLimit = 64 << 20

// Policy says how calls are retried and bounded. Zero fields take the
// defaults.
type Policy struct {
	// MaxAttempts is the most attempts one call makes, the first included
	// (retry.max_attempts; default 5).
	MaxAttempts int
	// MaxWait is the longest one call takes, its attempts and waits
	// included (retry.max_wait; default 2m).
	MaxWait time.Duration
	// BaseDelay and MaxDelay bound the exponential backoff: the n-th
	// retry waits between half and all of BaseDelay·2^(n-1), at most
	// MaxDelay.
	BaseDelay, MaxDelay time.Duration
	// StallTimeout abandons an attempt that gets no response header, or
	// no body bytes, for this long (default: 30s, or half of MaxWait when
	// that is shorter).
	StallTimeout time.Duration
	// OnRetry, when set, hears of each retry before its wait.
	OnRetry func(Retry)
}

// Retry describes one retry, for logs.
type Retry struct {
	Method, Host string
	// Attempt is the attempt that failed (1 for the first).
	Attempt int
	// Wait is how long until the next attempt.
	Wait time.Duration
	// Reason is the status or the error of the failed attempt.
	Reason string
}

// WithDefaults fills in the zero fields.
func (p Policy) WithDefaults() Policy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.MaxWait <= 0 {
		p.MaxWait = DefaultMaxWait
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.StallTimeout <= 0 {
		p.StallTimeout = min(DefaultStallTimeout, p.MaxWait/2)
	}
	return p
}

// NewBaseTransport is an http.Transport with every timeout set: connecting
// and the TLS handshake within 10s (or the stall timeout when shorter),
// response headers within the stall timeout, idle connections closed after
// 90s.
func NewBaseTransport(p Policy) *http.Transport {
	p = p.WithDefaults()
	connect := min(10*time.Second, p.StallTimeout)
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: p.StallTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// Client is an http.Client whose calls follow p, over a new base transport.
func Client(p Policy) *http.Client {
	return &http.Client{Transport: New(NewBaseTransport(p), p)}
}

// Transport retries calls over base by its Policy. It is safe for
// concurrent use.
type Transport struct {
	p  Policy
	hc *http.Client
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a Transport over base (NewBaseTransport(p) when nil).
func New(base http.RoundTripper, p Policy) *Transport {
	p = p.WithDefaults()
	if base == nil {
		base = NewBaseTransport(p)
	}
	return &Transport{p: p, hc: &http.Client{
		Transport: &attemptTransport{base: base, stall: p.StallTimeout},
		// Redirects are the caller's to follow, as with any transport.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Policy is the transport's policy, defaults filled in.
func (t *Transport) Policy() Policy { return t.p }

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	parent := req.Context()
	ctx, cancel := context.WithTimeout(parent, t.p.MaxWait)
	c := &call{p: t.p, parent: parent, ctx: ctx, start: time.Now(), method: deleteMethod(req), host: req.URL.Host, idempotent: Idempotent(req)}
	rc := &retryablehttp.Client{
		HTTPClient:   t.hc,
		RetryMax:     t.p.MaxAttempts, // check stops sooner
		RetryWaitMin: t.p.BaseDelay,
		RetryWaitMax: t.p.MaxDelay,
		CheckRetry:   c.check,
		Backoff:      func(_, _ time.Duration, _ int, _ *http.Response) time.Duration { return c.next },
		ErrorHandler: c.giveUp,
	}
	rreq, err := retryablehttp.FromRequest(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := rc.Do(rreq)
	if err != nil {
		cancel()
		if perr := parent.Err(); perr != nil {
			return nil, perr
		}
		if re := (*Error)(nil); !errors.As(err, &re) {
			err = c.final(err) // the wait before an attempt outlasted the call
		}
		return nil, err
	}
	if sb, ok := resp.Body.(*streamBody); ok {
		sb.done = cancel // the call's deadline lasts as long as its body
	} else {
		cancel()
	}
	return resp, nil
}

// Idempotent reports whether a request may be sent again after it failed
// in transit: GET, HEAD, OPTIONS, and the POSTs that only issue a token
// (a registry's /oauth2/token and ACR's /oauth2/exchange, a GitHub App's
// installation access_tokens).
func Idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, "":
		return true
	case http.MethodPost:
		p := req.URL.Path
		return strings.HasSuffix(p, "/oauth2/token") || strings.HasSuffix(p, "/oauth2/exchange") || tokenPath.MatchString(p) || awsRead(req)
	}
	return false
}

// awsRead reports whether req is a read of an AWS JSON API (its
// X-Amz-Target names a Describe, Get or List operation).
func awsRead(req *http.Request) bool {
	_, op, ok := strings.Cut(req.Header.Get("X-Amz-Target"), ".")
	return ok && (strings.HasPrefix(op, "Describe") || strings.HasPrefix(op, "Get") || strings.HasPrefix(op, "List"))
}

// deleteMethod is the request's method, DELETE for ECR's BatchDeleteImage.
func deleteMethod(req *http.Request) string {
	if strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".BatchDeleteImage") {
		return http.MethodDelete
	}
	return req.Method
}

var tokenPath = regexp.MustCompile(`/app/installations/\d+/access_tokens$`)

// call is the state of one call over its attempts.
type call struct {
	p           Policy
	parent, ctx context.Context
	start       time.Time
	method      string
	host        string
	idempotent  bool

	attempts      int
	deleteRetried bool
	next          time.Duration // the wait before the next attempt
	// why is the last attempt's failure that was not the call running
	// out of time: an error, or a response's status.
	why error
}

// check is retryablehttp's CheckRetry: it decides whether to try again and
// how long to wait first (next, which Backoff returns).
func (c *call) check(ctx context.Context, resp *http.Response, err error) (bool, error) {
	c.attempts++
	switch {
	case err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled):
		c.why = unwrapURL(err)
	case resp != nil:
		c.why = errors.New(resp.Status)
	}
	if c.parent.Err() != nil || ctx.Err() != nil {
		return false, nil
	}
	if !c.retryable(resp, err) || c.attempts >= c.p.MaxAttempts {
		return false, nil
	}
	wait := c.wait(resp)
	if deadline, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(deadline) {
		// The server asks for longer than the call may take, or the
		// backoff leaves no time for another attempt: stop now.
		return false, nil
	}
	c.next = wait
	if c.p.OnRetry != nil {
		c.p.OnRetry(Retry{Method: c.method, Host: c.host, Attempt: c.attempts, Wait: wait, Reason: reason(resp, err)})
	}
	return true, nil
}

func reason(resp *http.Response, err error) string {
	if err != nil {
		return unwrapURL(err).Error()
	}
	return resp.Status
}

// retryable applies the policy's rules to one attempt's outcome.
func (c *call) retryable(resp *http.Response, err error) bool {
	if err != nil {
		if ok, _ := retryablehttp.ErrorPropagatedRetryPolicy(context.Background(), nil, err); !ok || wrongProtocol(err) {
			return false // a certificate, a scheme, a redirect loop, TLS to plain HTTP: trying again will not help
		}
		switch {
		case c.idempotent:
			return true
		case c.method == http.MethodDelete && !c.deleteRetried:
			c.deleteRetried = true
			return true
		}
		return false
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true
	case http.StatusForbidden:
		return rateLimited(resp.Header)
	case http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return c.idempotent
	}
	return false
}

// wrongProtocol reports whether err is TLS spoken to a plain-HTTP server
// (go-containerregistry tries both on a loopback or insecure registry).
func wrongProtocol(err error) bool {
	var rh tls.RecordHeaderError
	return errors.As(err, &rh) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// rateLimited reports whether a 403 is a rate limit (GitHub's: a secondary
// limit carries Retry-After, a primary one X-RateLimit-Remaining: 0)
// rather than a refusal.
func rateLimited(h http.Header) bool {
	if _, ok := RetryAfter(h, time.Now()); ok {
		return true
	}
	return h.Get("X-RateLimit-Remaining") == "0" && h.Get("X-RateLimit-Reset") != ""
}

// wait is how long to wait before the next attempt: what the server
// asks, else the backoff's.
func (c *call) wait(resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := RetryAfter(resp.Header, time.Now()); ok {
			return d
		}
		// GitHub's 429 may give when its limit resets instead.
		if s, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil && resp.StatusCode == http.StatusTooManyRequests {
			return max(time.Until(time.Unix(s, 0)), 0)
		}
	}
	d := c.p.BaseDelay
	for i := 1; i < c.attempts && d < c.p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, c.p.MaxDelay)
	return d/2 + rand.N(d/2+1)
}

// RetryAfter reads how long a response asks the client to wait: Retry-After
// in seconds or as an HTTP date, Azure's retry-after-ms, or (when
// X-RateLimit-Remaining is 0) GitHub's X-RateLimit-Reset. A date in the
// past is no wait.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	for _, k := range []string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if v := strings.TrimSpace(h.Get(k)); v != "" {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms >= 0 && ms < int64(MaxMaxWait/time.Millisecond) {
				return time.Duration(ms) * time.Millisecond, true
			}
		}
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil {
			if s < 0 {
				return 0, false
			}
			return time.Duration(min(s, int64(MaxMaxWait/time.Second))) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0), true
		}
		return 0, false
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if s, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64); err == nil {
			return max(time.Unix(s, 0).Sub(now), 0), true
		}
	}
	return 0, false
}

// giveUp is retryablehttp's ErrorHandler: the last response goes to the
// caller as the server gave it (its status says what failed); without one,
// the error says how many attempts were made and for how long.
func (c *call) giveUp(resp *http.Response, err error, attempts int) (*http.Response, error) {
	if resp != nil {
		return resp, nil
	}
	return nil, c.final(err)
}

// final words an error after the last attempt.
func (c *call) final(err error) error {
	err = unwrapURL(err)
	if errors.Is(c.ctx.Err(), context.DeadlineExceeded) && c.parent.Err() == nil {
		if c.why != nil {
			err = c.why
		}
		return &Error{Attempts: c.attempts, Elapsed: time.Since(c.start), OutOfTime: true, MaxWait: c.p.MaxWait, Err: err}
	}
	return &Error{Attempts: c.attempts, Elapsed: time.Since(c.start), Err: err}
}

// unwrapURL drops the *url.Error that http.Client wraps failures in: the
// caller's own client names the URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Error is a call that failed without a response after its attempts.
type Error struct {
	Attempts int
	Elapsed  time.Duration
	// OutOfTime: the call used up MaxWait.
	OutOfTime bool
	MaxWait   time.Duration
	Err       error
}

func (e *Error) Error() string {
	tries := "1 attempt"
	if e.Attempts != 1 {
		tries = fmt.Sprintf("%d attempts", e.Attempts)
	}
	if e.OutOfTime {
		return fmt.Sprintf("no answer within retry.max_wait (%s, %s): %v", e.MaxWait, tries, e.Err)
	}
	return fmt.Sprintf("%v (%s in %s)", e.Err, tries, e.Elapsed.Round(time.Millisecond))
}

func (e *Error) Unwrap() error { return e.Err }

// ErrStalled: an attempt got no response header, or no body bytes, for the
// stall timeout.
var ErrStalled = errors.New("the connection stalled")

// attemptTransport makes one attempt: the stall watchdog runs from the
// request until the body is read whole (or, for a large body, for as long
// as the caller reads it).
type attemptTransport struct {
	base  http.RoundTripper
	stall time.Duration
}

func (a *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	w := newWatchdog(a.stall, cancel)
	resp, err := a.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		w.stop()
		cancel()
		if w.fired() {
			return nil, fmt.Errorf("no response within %s: %w", a.stall, ErrStalled)
		}
		return nil, err
	}
	if req.Method == http.MethodHead || resp.Body == nil || resp.Body == http.NoBody {
		w.stop()
		cancel()
		return resp, nil
	}
	body := &watchedReader{r: resp.Body, w: w}
	if resp.ContentLength > bufferLimit {
		resp.Body = &streamBody{watchedReader: body, close: resp.Body.Close, cancel: cancel, stall: a.stall}
		return resp, nil
	}
	buf, err := io.ReadAll(io.LimitReader(body, bufferLimit+1))
	if err == nil && len(buf) > bufferLimit {
		resp.Body = &streamBody{watchedReader: &watchedReader{r: io.MultiReader(bytes.NewReader(buf), body), w: w}, close: resp.Body.Close, cancel: cancel, stall: a.stall}
		return resp, nil
	}
	_ = resp.Body.Close()
	w.stop()
	cancel()
	if err != nil {
		if w.fired() {
			err = fmt.Errorf("no body bytes for %s: %w", a.stall, ErrStalled)
		}
		err = fmt.Errorf("read the response body (%d bytes in): %w", len(buf), err)
		if Idempotent(req) || deleteMethod(req) == http.MethodDelete && resp.StatusCode/100 != 2 {
			return nil, err // an attempt that failed: retried
		}
		// Not to be sent again, and the server acted on it: its status
		// stands, and the body ends in the error.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(buf), errReader{err}))
		return resp, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(buf))
	return resp, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// watchdog cancels an attempt that makes no progress for d.
type watchdog struct {
	d     time.Duration
	t     *time.Timer
	mu    sync.Mutex
	fire  bool
	other func()
}

func newWatchdog(d time.Duration, cancel func()) *watchdog {
	w := &watchdog{d: d, other: cancel}
	w.t = time.AfterFunc(d, func() {
		w.mu.Lock()
		w.fire = true
		w.mu.Unlock()
		cancel()
	})
	return w
}

func (w *watchdog) progress() { w.t.Reset(w.d) }
func (w *watchdog) stop()     { w.t.Stop() }
func (w *watchdog) fired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fire
}

// watchedReader resets the watchdog on every read that makes progress.
type watchedReader struct {
	r io.Reader
	w *watchdog
}

func (r *watchedReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.w.progress()
	}
	if err != nil && err != io.EOF && r.w.fired() {
		err = fmt.Errorf("no body bytes for %s: %w", r.w.d, ErrStalled)
	}
	return n, err
}

// streamBody is a large body the caller reads under the watchdog; closing
// it ends the attempt and the call.
type streamBody struct {
	*watchedReader
	close  func() error
	cancel func()
	done   func()
	stall  time.Duration
	once   sync.Once
}

func (b *streamBody) Close() error {
	err := b.close()
	b.once.Do(func() {
		b.w.stop()
		b.cancel()
		if b.done != nil {
			b.done()
		}
	})
	return err
}
