package retry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// One call over its attempts: whether a failure is retried and how long to
// wait first (the server's Retry-After or backoff), and the error when the
// call gives up.

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
