// Package githubtest is an in-memory stand-in for the parts of GitHub's REST
// API that helmupgradebot uses (repositories, contents, git refs, pull
// requests, labels, reviewers, forks, releases, issues), listening on loopback.
// Tests and the interactive demo drive it with the real go-github client;
// its methods let them seed repositories, inject faults and inspect the
// result.
package githubtest

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// DefaultToken is the token the server accepts unless WithToken says otherwise.
const DefaultToken = "githubtest-token"

// DefaultUser is the login of the token's user unless WithUser says otherwise.
const DefaultUser = "helmupgradebot"

// Option configures a Server.
type Option func(*Server)

// WithToken sets the only token the server accepts.
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// WithUser sets the login of the token's user (GET /user, fork owner, PR author).
func WithUser(login string) Option { return func(s *Server) { s.login = login } }

// WithForkDelay makes a new fork answer 404 to its first n GET
// /repos/{owner}/{repo} requests, like GitHub's asynchronous fork creation.
func WithForkDelay(n int) Option { return func(s *Server) { s.forkDelay = n } }

// WithRateLimit sets the requests allowed per window (default 5000, like
// GitHub's limit for a personal access token).
func WithRateLimit(n int) Option { return func(s *Server) { s.rateLimit, s.rateRemaining = n, n } }

// Server is a GitHub REST API stand-in. It is safe for concurrent use.
type Server struct {
	mu        sync.Mutex
	token     string
	login     string
	forkDelay int

	ln   net.Listener
	http *http.Server
	root string // "http://127.0.0.1:port", no trailing slash
	mux  *http.ServeMux

	repos   map[string]*repository
	commits map[string]*commit
	trees   map[string]map[string]string // tree sha → path → content
	blobs   map[string]string            // blob sha → content
	held    map[object]bool              // the objects each repository network holds
	seq     int64
	ids     int64

	rateLimit     int
	rateRemaining int
	rateReset     time.Time

	faults   []*fault
	hooks    []*hook
	requests []string

	installations map[int64]*installation       // GitHub Apps' (AddApp)
	instTokens    map[string]*installationToken // issued installation tokens
}

// NewServer starts a server on 127.0.0.1 with a random port. It panics if
// it cannot listen, like net/http/httptest.NewServer.
func NewServer(opts ...Option) *Server {
	s := &Server{
		token:         DefaultToken,
		login:         DefaultUser,
		repos:         map[string]*repository{},
		commits:       map[string]*commit{},
		trees:         map[string]map[string]string{},
		blobs:         map[string]string{},
		held:          map[object]bool{},
		rateLimit:     5000,
		rateRemaining: 5000,
		rateReset:     time.Now().Add(time.Hour).Truncate(time.Second),
	}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("githubtest: listen on 127.0.0.1: %v", err))
	}
	s.ln = ln
	s.root = "http://" + ln.Addr().String()
	s.mux = s.routes()
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln) //nolint:errcheck // returns on Close
	return s
}

// URL returns the API base URL, ending in "/".
func (s *Server) URL() string { return s.root + "/" }

// Token returns the token the server accepts.
func (s *Server) Token() string { return s.token }

// User returns the login of the token's user.
func (s *Server) User() string { return s.login }

// Client returns a go-github client of the server that sends token: for
// tests to read and write as a person or another tool would, beside the
// code under test.
func (s *Server) Client(token string) *gh.Client {
	c := gh.NewClient(nil).WithAuthToken(token)
	c.BaseURL, _ = url.Parse(s.URL()) // s.URL() is always a valid URL
	return c
}

// Close stops the server and closes its connections.
func (s *Server) Close() { s.http.Close() }

// ServeHTTP serves the API. Paths may carry GitHub Enterprise's /api/v3 prefix.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if p, ok := strings.CutPrefix(path, "/api/v3/"); ok {
		path = "/" + p
		r.URL.Path = path
		r.URL.RawPath = ""
	}
	line := r.Method + " " + path
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}

	s.mu.Lock()
	s.requests = append(s.requests, line)
	var run func()
	for i, h := range s.hooks {
		if matches(h.method, h.path, r, path) {
			run = h.fn
			s.hooks = slices.Delete(s.hooks, i, i+1)
			break
		}
	}
	s.mu.Unlock()
	if run != nil {
		run()
	}

	if m := accessTokensPath.FindStringSubmatch(path); m != nil && r.Method == http.MethodPost {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		s.serveAccessToken(w, r, id)
		return
	}
	if path == "/app" && r.Method == http.MethodGet {
		s.serveApp(w, r) // signed by the App, not with a token
		return
	}

	s.mu.Lock()
	authorized, inst := s.authorized(r)
	limited := authorized && s.rateRemaining <= 0
	if authorized && !limited {
		s.rateRemaining--
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", fmt.Sprint(s.rateLimit))
	h.Set("X-RateLimit-Remaining", fmt.Sprint(max(s.rateRemaining, 0)))
	h.Set("X-RateLimit-Reset", fmt.Sprint(s.rateReset.Unix()))
	h.Set("X-RateLimit-Used", fmt.Sprint(s.rateLimit-max(s.rateRemaining, 0)))
	h.Set("X-RateLimit-Resource", "core")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	var injected *fault
	if authorized && !limited {
		for i, f := range s.faults {
			if matches(f.method, f.path, r, path) {
				injected = f
				s.faults = slices.Delete(s.faults, i, i+1)
				break
			}
		}
	}
	s.mu.Unlock()

	switch {
	case !authorized:
		writeError(w, http.StatusUnauthorized, "Bad credentials", docsRoot)
		return
	case limited:
		writeError(w, http.StatusForbidden, fmt.Sprintf("API rate limit exceeded for user %s.", s.login),
			docsRoot+"/overview/rate-limits-for-the-rest-api")
		return
	case injected != nil:
		for k, vs := range injected.header {
			h[k] = vs
		}
		writeError(w, injected.status, injected.message, docsRoot)
		return
	}
	s.mux.ServeHTTP(w, withInstallation(r, inst))
}

// authorized reports whether the request carries the token or an
// unexpired installation token, and which installation's. s.mu must be held.
func (s *Server) authorized(r *http.Request) (bool, *installation) {
	a := r.Header.Get("Authorization")
	for _, scheme := range []string{"Bearer ", "bearer ", "token ", "Token "} {
		if tok, ok := strings.CutPrefix(a, scheme); ok {
			if in := s.installationFor(tok); in != nil {
				return true, in
			}
			return s.token != "" && tok == s.token, nil
		}
	}
	return false, nil
}
