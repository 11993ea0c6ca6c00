package faulttest

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/retry"
)

const payload = "0123456789abcdefghijklmnopqrstuvwxyz"

// target answers every request with payload and counts what reached it.
func target(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("X-Target", "yes")
		_, _ = io.WriteString(w, payload)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// plain gets url without retries, with a short timeout.
func plain(url string) (*http.Response, string, error) {
	c := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{}}
	resp, err := c.Get(url)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// TestEachKind: what a client without retries sees of each fault, and
// whether the request reached the target.
func TestEachKind(t *testing.T) {
	tests := []struct {
		kind    Kind
		status  int  // 0: an error
		bodyErr bool // the body read fails
		reached bool
		minTook time.Duration
	}{
		{kind: TooManyRequests, status: 429},
		{kind: InternalError, status: 500},
		{kind: BadGateway, status: 502},
		{kind: Unavailable, status: 503},
		{kind: ResetBeforeHeaders},
		{kind: LostResponse, reached: true},
		{kind: ResetAfterHeaders, status: 200, bodyErr: true, reached: true},
		{kind: ShortBody, status: 200, bodyErr: true, reached: true},
		{kind: Slow, status: 200, reached: true, minTook: 150 * time.Millisecond},
		{kind: Stall, minTook: 450 * time.Millisecond},
		{kind: StallBody, status: 200, bodyErr: true, reached: true, minTook: 450 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			srv, hits := target(t)
			p, err := Start(srv.URL, Options{Rate: 1, Kinds: []Kind{tc.kind}, Stall: 3 * time.Second, RetryAfter: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			start := time.Now()
			resp, body, err := plain(p.URL() + "/x")
			took := time.Since(start)
			switch {
			case tc.status == 0 && resp != nil:
				t.Errorf("status %d, want a failed request", resp.StatusCode)
			case tc.status != 0 && resp == nil:
				t.Fatalf("error %v, want status %d", err, tc.status)
			case tc.status != 0 && resp.StatusCode != tc.status:
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			case tc.bodyErr && err == nil:
				t.Errorf("body %q read whole, want it cut", body)
			case tc.status == 200 && !tc.bodyErr && (err != nil || body != payload):
				t.Errorf("body %q, %v", body, err)
			}
			if tc.kind == TooManyRequests && resp.Header.Get("Retry-After") != "2" {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
			if reached := hits.Load() > 0; reached != tc.reached {
				t.Errorf("reached the target: %v, want %v", reached, tc.reached)
			}
			if took < tc.minTook {
				t.Errorf("took %s, want at least %s", took, tc.minTook)
			}
			if got := p.Injected(); len(got) != 1 || got[0].Kind != tc.kind || got[0].Path != "/x" {
				t.Errorf("injected %+v", got)
			}
		})
	}
}

// TestRetriedThroughEveryKind: the retry transport reads the whole answer
// through each fault.
func TestRetriedThroughEveryKind(t *testing.T) {
	for _, k := range AllKinds {
		t.Run(string(k), func(t *testing.T) {
			srv, _ := target(t)
			p, err := Start(srv.URL, Options{Rules: []Rule{{Rate: 1, Kinds: []Kind{k}, Times: 2}}, RetryAfter: 0, Stall: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			c := retry.Client(retry.Policy{MaxAttempts: 4, MaxWait: 10 * time.Second, BaseDelay: time.Millisecond, StallTimeout: 300 * time.Millisecond})
			resp, err := c.Get(p.URL() + "/x")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(b) != payload || resp.StatusCode != 200 {
				t.Errorf("status %d body %q, %v", resp.StatusCode, b, err)
			}
		})
	}
}

// TestSeeded: the same seed and the same requests give the same faults;
// rules target paths and methods and stop after Times.
func TestSeeded(t *testing.T) {
	srv, _ := target(t)
	run := func(seed uint64) []Injected {
		p, err := Start(srv.URL, Options{Seed: seed, Rate: 0.5, Kinds: []Kind{InternalError, BadGateway, Unavailable, TooManyRequests}})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for i := range 40 {
			_, _, _ = plain(p.URL() + "/p" + strconv.Itoa(i))
		}
		return p.Injected()
	}
	a, b, c := run(7), run(7), run(8)
	if !slices.Equal(a, b) {
		t.Errorf("seed 7 twice: %v then %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 7 and 8 gave the same faults")
	}
	if len(a) < 10 || len(a) > 30 {
		t.Errorf("%d faults in 40 requests at rate 0.5", len(a))
	}

	p, err := Start(srv.URL, Options{Rules: []Rule{
		{Path: RepositoryPath("binder/x"), Rate: 1, Kinds: []Kind{InternalError}},
		{Path: regexp.MustCompile(`^/once`), Methods: []string{"GET"}, Rate: 1, Kinds: []Kind{BadGateway}, Times: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/v2/binder/x/tags/list", 500}, {"/acr/v1/binder/x/_manifests", 500}, {"/v2/binder/xy/tags/list", 200},
		{"/v2/other/tags/list", 200}, {"/once", 502}, {"/once", 200},
	} {
		resp, _, err := plain(p.URL() + tc.path)
		if err != nil || resp.StatusCode != tc.status {
			t.Errorf("%s: %v %v, want %d", tc.path, resp, err, tc.status)
		}
	}
}

// TestBounded: a non-loopback target is refused, a stall ends when the
// proxy closes, and the proxy closes itself after its lifetime.
func TestBounded(t *testing.T) {
	if _, err := Start("http://192.0.2.1:80", Options{}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("a non-loopback target: %v", err)
	}
	if _, err := Start("http://127.0.0.1:1", Options{Rate: 2}); err == nil {
		t.Error("a rate of 2 was accepted")
	}
	srv, _ := target(t)
	p, err := Start(srv.URL, Options{Rate: 1, Kinds: []Kind{Stall}, Stall: time.Minute, Lifetime: 700 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c := &http.Client{Transport: &http.Transport{}}
	_, err = c.Get(p.URL() + "/x")
	if err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("a stall past the lifetime: %v after %s", err, time.Since(start))
	}
	_, err = c.Get(p.URL() + "/x")
	var ne interface{ Timeout() bool }
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("the proxy still answers after its lifetime: %v", err)
	}
}
