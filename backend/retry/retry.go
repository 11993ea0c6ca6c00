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
	"context"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strings"
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
