package retry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fast is a policy whose backoff waits milliseconds.
var fast = Policy{MaxAttempts: 4, MaxWait: 10 * time.Second, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, StallTimeout: 300 * time.Millisecond}

// script answers the n-th request (from 0) with steps[n], the last step
// for every request after.
type script struct {
	mu    sync.Mutex
	n     int
	steps []func(w http.ResponseWriter, r *http.Request)
	times []time.Time
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := min(s.n, len(s.steps)-1)
	s.n++
	s.times = append(s.times, time.Now())
	s.mu.Unlock()
	s.steps[i](w, r)
}

func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func status(code int, header ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, http.StatusText(code))
	}
}

func ok(body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, body) }
}

// hangUp closes the connection without an answer (the server may have
// acted on the request).
func hangUp(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, not a clean close
		}
		_ = conn.Close()
	}
}

// cutShort promises 100 bytes and sends 10.
func cutShort(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "100")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "0123456789")
	_ = http.NewResponseController(w).Flush()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// stall answers nothing until the client goes away.
func stall(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// stallBody sends headers and part of the body, then nothing.
func stallBody(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "100")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "0123456789")
	_ = http.NewResponseController(w).Flush()
	<-r.Context().Done()
}

func do(t *testing.T, p Policy, method, url string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := Client(p).Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(b), nil
}

func TestPolicy(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		policy Policy
		steps  []func(http.ResponseWriter, *http.Request)
		// want: the final status (0: an error), the body, and how many
		// requests the server saw.
		status   int
		body     string
		requests int
		errHas   string
	}{
		{name: "GET 503 then 200", method: "GET", steps: steps(status(503), ok("fine")), status: 200, body: "fine", requests: 2},
		{name: "GET 500 502 504 408 then 200", method: "GET", policy: Policy{MaxAttempts: 5}, steps: steps(status(500), status(502), status(504), status(408), ok("fine")), status: 200, body: "fine", requests: 5},
		{name: "GET 429 then 200", method: "GET", steps: steps(status(429), ok("fine")), status: 200, body: "fine", requests: 2},
		{name: "GET gives up after max attempts with the last answer", method: "GET", steps: steps(status(503)), status: 503, requests: 4},
		{name: "GET 404 is an answer", method: "GET", steps: steps(status(404), ok("no")), status: 404, requests: 1},
		{name: "GET 501 is an answer", method: "GET", steps: steps(status(501), ok("no")), status: 501, requests: 1},
		{name: "GET reset then 200", method: "GET", steps: steps(hangUp, ok("fine")), status: 200, body: "fine", requests: 2},
		{name: "GET body cut short then whole", method: "GET", steps: steps(cutShort, ok("whole")), status: 200, body: "whole", requests: 2},
		{name: "GET stall then 200", method: "GET", steps: steps(stall, ok("fine")), status: 200, body: "fine", requests: 2},
		{name: "GET body stall then 200", method: "GET", steps: steps(stallBody, ok("fine")), status: 200, body: "fine", requests: 2},
		{name: "GET resets until it gives up", method: "GET", steps: steps(hangUp), requests: 4, errHas: "4 attempts"},
		{name: "HEAD 502 then 200", method: "HEAD", steps: steps(status(502), ok("")), status: 200, requests: 2},
		{name: "POST 500 is not sent again", method: "POST", steps: steps(status(500), ok("twice")), status: 500, requests: 1},
		{name: "POST reset is not sent again", method: "POST", steps: steps(hangUp, ok("twice")), requests: 1, errHas: "1 attempt"},
		{name: "POST 429 is sent again", method: "POST", steps: steps(status(429, "Retry-After", "0"), ok("created")), status: 200, body: "created", requests: 2},
		{name: "PATCH 403 with Retry-After (secondary rate limit)", method: "PATCH", steps: steps(status(403, "Retry-After", "0"), ok("patched")), status: 200, body: "patched", requests: 2},
		{name: "403 exhausted rate limit resetting now", method: "GET", steps: steps(status(403, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1"), ok("fine")), status: 200, body: "fine", requests: 2},
		{name: "403 refusal is an answer", method: "GET", steps: steps(status(403), ok("no")), status: 403, requests: 1},
		{name: "token POST 502 is sent again", method: "POST", path: "/oauth2/token", steps: steps(status(502), ok("token")), status: 200, body: "token", requests: 2},
		{name: "ACR exchange reset is sent again", method: "POST", path: "/oauth2/exchange", steps: steps(hangUp, ok("token")), status: 200, body: "token", requests: 2},
		{name: "GitHub App token 503 is sent again", method: "POST", path: "/app/installations/7/access_tokens", steps: steps(status(503), ok("token")), status: 200, body: "token", requests: 2},
		{name: "DELETE lost in transit is sent once more: 404 then", method: "DELETE", steps: steps(hangUp, status(404)), status: 404, requests: 2},
		{name: "DELETE lost in transit twice fails", method: "DELETE", steps: steps(hangUp), requests: 2, errHas: "2 attempts"},
		{name: "DELETE 503 is an answer", method: "DELETE", steps: steps(status(503), status(202)), status: 503, requests: 1},
		{name: "DELETE 429 is sent again", method: "DELETE", steps: steps(status(429, "Retry-After", "0"), status(202)), status: 202, requests: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &script{steps: tc.steps}
			srv := httptest.NewServer(s)
			defer srv.Close()
			p := fast
			if tc.policy.MaxAttempts != 0 {
				p.MaxAttempts = tc.policy.MaxAttempts
			}
			resp, body, err := do(t, p, tc.method, srv.URL+tc.path)
			switch {
			case tc.errHas != "":
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Errorf("error %v, want one saying %q", err, tc.errHas)
				}
			case err != nil:
				t.Fatalf("error %v", err)
			case resp.StatusCode != tc.status:
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			case tc.body != "" && body != tc.body:
				t.Errorf("body %q, want %q", body, tc.body)
			}
			if n := s.count(); n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
		})
	}
}

func steps(fs ...func(http.ResponseWriter, *http.Request)) []func(http.ResponseWriter, *http.Request) {
	return fs
}

// TestRetryAfterHonoured: the wait before the second attempt is what
// Retry-After says, in seconds or as an HTTP date; one past the call's
// MaxWait is not waited for.
func TestRetryAfterHonoured(t *testing.T) {
	tests := []struct {
		name     string
		header   func() string
		min, max time.Duration
		requests int
	}{
		{"seconds", func() string { return "1" }, 900 * time.Millisecond, 3 * time.Second, 2},
		// An HTTP date has whole seconds: "two seconds from now" is
		// between one and two seconds away.
		{"HTTP date", func() string { return time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat) }, 900 * time.Millisecond, 3 * time.Second, 2},
		{"date in the past", func() string { return time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat) }, 0, time.Second, 2},
		{"past max_wait: not waited for", func() string { return "3600" }, 0, time.Second, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &script{steps: steps(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tc.header())
				w.WriteHeader(http.StatusTooManyRequests)
			}, ok("fine"))}
			srv := httptest.NewServer(s)
			defer srv.Close()
			start := time.Now()
			resp, _, err := do(t, fast, "GET", srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if n := s.count(); n != tc.requests {
				t.Fatalf("%d requests, want %d", n, tc.requests)
			}
			if tc.requests == 1 {
				if resp.StatusCode != http.StatusTooManyRequests {
					t.Errorf("status %d, want the 429", resp.StatusCode)
				}
			} else if gap := s.times[1].Sub(s.times[0]); gap < tc.min || gap > tc.max {
				t.Errorf("waited %s between attempts, want %s..%s", gap, tc.min, tc.max)
			}
			if took > tc.max+time.Second {
				t.Errorf("took %s", took)
			}
		})
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{http.Header{"Retry-After": {"7"}}, 7 * time.Second, true},
		{http.Header{"Retry-After": {" 0 "}}, 0, true},
		{http.Header{"Retry-After": {"-3"}}, 0, false},
		{http.Header{"Retry-After": {"soon"}}, 0, false},
		{http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second, true},
		{http.Header{"Retry-After": {now.Add(30 * time.Second).Format(time.RFC850)}}, 30 * time.Second, true},
		{http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0, true},
		{http.Header{"Retry-After": {"99999999999999"}}, MaxMaxWait, true},
		{http.Header{"Retry-After-Ms": {"250"}}, 250 * time.Millisecond, true},
		{http.Header{"X-Ms-Retry-After-Ms": {"1500"}}, 1500 * time.Millisecond, true},
		{http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"1767323105"}}, 60 * time.Second, true},
		{http.Header{"X-Ratelimit-Remaining": {"12"}, "X-Ratelimit-Reset": {"1767323105"}}, 0, false},
		{http.Header{}, 0, false},
	}
	for _, tc := range tests {
		got, ok := RetryAfter(tc.h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%v) = %s, %v; want %s, %v", tc.h, got, ok, tc.want, tc.ok)
		}
	}
}

// TestBoundedTime: a server that never answers ends the call within
// MaxWait, whatever the attempts left.
func TestBoundedTime(t *testing.T) {
	s := &script{steps: steps(stall)}
	srv := httptest.NewServer(s)
	defer srv.Close()
	p := Policy{MaxAttempts: 20, MaxWait: 1500 * time.Millisecond, BaseDelay: time.Millisecond, StallTimeout: 400 * time.Millisecond}
	start := time.Now()
	_, _, err := do(t, p, "GET", srv.URL)
	took := time.Since(start)
	var re *Error
	if !errors.As(err, &re) || !errors.Is(err, ErrStalled) {
		t.Fatalf("error %v, want a retry.Error for a stall", err)
	}
	if took > 3*p.MaxWait {
		t.Errorf("took %s, over 3×max_wait", took)
	}
	if s.count() < 2 {
		t.Errorf("%d attempts, want several within max_wait", s.count())
	}
}

// TestCancelDuringWait: the caller's context ends a wait at once. (A
// caller's deadline closer than the wait ends the call at once with the
// answer, like max_wait.)
func TestCancelDuringWait(t *testing.T) {
	srv := httptest.NewServer(&script{steps: steps(status(503, "Retry-After", "30"))})
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(200*time.Millisecond, cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	start := time.Now()
	_, err := Client(Policy{MaxWait: time.Minute}).Do(req)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want the caller's cancellation", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s", took)
	}
}

// TestLargeBodyStreams: a body over the buffer limit reaches the caller
// as a stream, still under the stall watchdog.
func TestLargeBodyStreams(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "67108965") // bufferLimit + 101
		chunk := make([]byte, 1<<20)
		for n := int64(0); n < bufferLimit+101; {
			k := min(int64(len(chunk)), bufferLimit+101-n)
			m, err := w.Write(chunk[:k])
			n += int64(m)
			served.Add(int64(m))
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL, nil)
	resp, err := Client(fast).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := resp.Body.(*streamBody); !ok {
		t.Errorf("body is %T, want a stream", resp.Body)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err != nil || n != bufferLimit+101 {
		t.Errorf("read %d bytes, %v", n, err)
	}
}

// TestOnRetry: each retry is reported with its reason and wait.
func TestOnRetry(t *testing.T) {
	srv := httptest.NewServer(&script{steps: steps(status(503), status(429, "Retry-After", "0"), ok("x"))})
	defer srv.Close()
	var mu sync.Mutex
	var got []Retry
	p := fast
	p.OnRetry = func(r Retry) { mu.Lock(); got = append(got, r); mu.Unlock() }
	if _, _, err := do(t, p, "GET", srv.URL); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Attempt != 1 || !strings.Contains(got[0].Reason, "503") || got[1].Wait != 0 || !strings.Contains(got[1].Reason, "429") {
		t.Errorf("retries %+v", got)
	}
}
