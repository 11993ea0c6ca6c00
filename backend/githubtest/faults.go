package githubtest

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Injected faults and hooks, the rate limit, and the log of requests served:
// what tests use to make the server misbehave and to see what it was asked.

type fault struct {
	method  string
	path    *regexp.Regexp
	status  int
	message string
	header  http.Header
}

type hook struct {
	method string
	path   *regexp.Regexp
	fn     func()
}

// SetRateLimitRemaining sets how many requests the token has left before
// the server answers 403 "API rate limit exceeded". Each request uses one.
func (s *Server) SetRateLimitRemaining(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateRemaining = n
}

// SetRateLimitReset sets when the rate limit window resets (whole seconds).
func (s *Server) SetRateLimitReset(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateReset = t.Truncate(time.Second)
}

// RateLimitReset returns when the rate limit window resets.
func (s *Server) RateLimitReset() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rateReset
}

// FailNext makes the next request matching method and pathPattern fail
// with status and a GitHub-shaped error body carrying message. method ""
// matches any method; in pathPattern (matched against the URL path without
// the query) "*" stands for any run of characters, including "/". Faults
// are used once each, oldest first.
func (s *Server) FailNext(method, pathPattern string, status int, message string) {
	s.FailNextWithHeader(method, pathPattern, status, message, nil)
}

// FailNextWithHeader is FailNext with extra response headers (for example
// Retry-After, or X-RateLimit-Remaining: 0 to fake a rate limit).
func (s *Server) FailNextWithHeader(method, pathPattern string, status int, message string, header http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, path: glob(pathPattern), status: status, message: message, header: header.Clone()})
}

// BeforeNext runs fn (once) just before the server handles the next request
// matching method and pathPattern (see FailNext), outside the server's lock,
// so fn may call the server's methods, for example Commit to move a branch
// between a client's read and its write.
func (s *Server) BeforeNext(method, pathPattern string, fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, &hook{method: method, path: glob(pathPattern), fn: fn})
}

// Requests returns the requests served so far as "METHOD /path?query"
// (never header values).
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func glob(pattern string) *regexp.Regexp {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

func matches(method string, re *regexp.Regexp, r *http.Request, path string) bool {
	return (method == "" || strings.EqualFold(method, r.Method)) && re.MatchString(path)
}
