// Package githubtest is an in-memory stand-in for the parts of GitHub's REST
// API that helmupgradebot uses (repositories, contents, git refs, pull
// requests, labels, reviewers, forks, releases, issues), listening on loopback.
// Tests and the interactive demo drive it with the real go-github client;
// its methods let them seed repositories, inject faults and inspect the
// result.
package githubtest

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
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

// AddRepository creates (or replaces) a repository whose default branch
// holds one commit with files (path → content). The repository is public
// and the token may read and write it (see Hide and ReadOnly); owner is a
// collaborator (see AddCollaborators).
func (s *Server) AddRepository(owner, name, defaultBranch string, files map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addRepositoryLocked(owner, name, defaultBranch, files)
}

func (s *Server) addRepositoryLocked(owner, name, defaultBranch string, files map[string]string) *repository {
	r := &repository{
		id:            s.nextIDLocked(),
		owner:         owner,
		name:          name,
		defaultBranch: defaultBranch,
		branches:      map[string]string{},
		protected:     map[string]bool{},
		collaborators: map[string]bool{strings.ToLower(owner): true},
		teams:         map[string]bool{},
		labels:        map[string]string{},
		nextNumber:    1,
	}
	who := Identity{Name: owner, Email: owner + "@example.org"}
	r.branches[defaultBranch] = s.newCommitLocked(r, "", "Initial commit", files, who, who)
	s.repos[key(owner, name)] = r
	return r
}

func (s *Server) repoLocked(owner, name string) (*repository, error) {
	r, ok := s.repos[key(owner, name)]
	if !ok {
		return nil, fmt.Errorf("githubtest: no repository %s/%s", owner, name)
	}
	return r, nil
}

// Hide makes a repository private and invisible to the token: every request
// about it gets 404 Not Found, as GitHub answers for private repositories.
func (s *Server) Hide(owner, repo string) error {
	return s.with(owner, repo, func(r *repository) error { r.private, r.hidden = true, true; return nil })
}

// ReadOnly lets the token read a repository but not write to it: writes get
// 403 "Resource not accessible by personal access token".
func (s *Server) ReadOnly(owner, repo string) error {
	return s.with(owner, repo, func(r *repository) error { r.readOnly = true; return nil })
}

// ProtectBranch makes pushes to a branch fail like a branch protection rule
// that requires pull requests: PUT contents gets 409 "Repository rule
// violations found … Changes must be made through a pull request." and ref
// updates get 422 "Protected branch update failed".
func (s *Server) ProtectBranch(owner, repo, branch string) error {
	return s.with(owner, repo, func(r *repository) error { r.protected[branch] = true; return nil })
}

// AddCollaborators lets users be requested as reviewers on a repository.
func (s *Server) AddCollaborators(owner, repo string, logins ...string) error {
	return s.with(owner, repo, func(r *repository) error {
		for _, l := range logins {
			r.collaborators[strings.ToLower(l)] = true
		}
		return nil
	})
}

// AddTeams lets teams (by slug) be requested as reviewers on a repository.
func (s *Server) AddTeams(owner, repo string, slugs ...string) error {
	return s.with(owner, repo, func(r *repository) error {
		for _, t := range slugs {
			r.teams[strings.ToLower(t)] = true
		}
		return nil
	})
}

// Labels returns the names of the labels defined in a repository, sorted.
func (s *Server) Labels(owner, repo string) []string {
	var out []string
	s.with(owner, repo, func(r *repository) error { //nolint:errcheck // nil on a missing repository
		out = slices.Sorted(maps.Values(r.labels))
		return nil
	})
	return out
}

// Commit commits content to path on branch (creating the branch from the
// default branch if needed), as someone else (Someone) pushing would, and
// returns the new commit's sha.
func (s *Server) Commit(owner, repo, branch, path, content string) (string, error) {
	return s.Push(owner, repo, Push{Branch: branch, Files: map[string]string{path: content},
		Message: "Update " + path, Author: Someone, Committer: Someone})
}

// Push is a commit as a git client pushes it.
type Push struct {
	Branch string
	// Parent is the new commit's parent: the branch's head when empty (or
	// the default branch's, for a new branch). A parent other than the
	// head is a force push, as after `git commit --amend`.
	Parent  string
	Message string
	// Files are changed (added, or replaced) on top of the parent's tree.
	Files             map[string]string
	Author, Committer Identity
}

// Push writes a commit and points p.Branch at it, and returns its sha.
func (s *Server) Push(owner, repo string, p Push) (string, error) {
	var sha string
	err := s.with(owner, repo, func(r *repository) error {
		parent := p.Parent
		if parent == "" {
			var ok bool
			if parent, ok = r.branches[p.Branch]; !ok {
				parent = r.branches[r.defaultBranch]
			}
		}
		c, ok := s.commitInLocked(r, parent)
		if !ok {
			return fmt.Errorf("githubtest: no commit %s in the network of %s/%s", parent, owner, repo)
		}
		files := maps.Clone(c.files)
		maps.Copy(files, p.Files)
		sha = s.newCommitLocked(r, parent, p.Message, files, p.Author, p.Committer)
		r.branches[p.Branch] = sha
		return nil
	})
	return sha, err
}

// MoveBranch points branch at an existing commit of the repository's
// network (itself, its upstream and their forks), creating the branch if
// it does not exist.
func (s *Server) MoveBranch(owner, repo, branch, sha string) error {
	return s.with(owner, repo, func(r *repository) error {
		if _, ok := s.commitInLocked(r, sha); !ok {
			return fmt.Errorf("githubtest: no commit %s in the network of %s/%s", sha, owner, repo)
		}
		r.branches[branch] = sha
		return nil
	})
}

// BranchSHA returns the commit a branch points at.
func (s *Server) BranchSHA(owner, repo, branch string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[key(owner, repo)]
	if !ok {
		return "", false
	}
	sha, ok := r.branches[branch]
	return sha, ok
}

// Branches returns a repository's branch names, sorted.
func (s *Server) Branches(owner, repo string) []string {
	var out []string
	s.with(owner, repo, func(r *repository) error { //nolint:errcheck // nil on a missing repository
		out = slices.Sorted(maps.Keys(r.branches))
		return nil
	})
	return out
}

// File returns a file's content at the head of branch.
func (s *Server) File(owner, repo, branch, path string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[key(owner, repo)]
	if !ok {
		return "", false
	}
	sha, ok := r.branches[branch]
	if !ok {
		return "", false
	}
	content, ok := s.commits[sha].files[path]
	return content, ok
}

// Commit is one commit as Log reports it.
type Commit struct {
	SHA               string
	Parent            string // "" for a root commit
	Message           string
	Author, Committer Identity
	Files             map[string]string // the whole tree: path → content
}

// Log returns the history of branch, newest first.
func (s *Server) Log(owner, repo, branch string) []Commit {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[key(owner, repo)]
	if !ok {
		return nil
	}
	var out []Commit
	for sha := r.branches[branch]; sha != ""; {
		c := s.commits[sha]
		out = append(out, Commit{SHA: c.sha, Parent: c.parent, Message: c.message, Author: c.author, Committer: c.committer, Files: maps.Clone(c.files)})
		sha = c.parent
	}
	return out
}

// PullRequest is a pull request as PullRequests reports it.
type PullRequest struct {
	Number        int
	State         string // "open" or "closed"
	Merged        bool
	Title, Body   string
	Head          string // "owner:branch"
	HeadRepo      string // "owner/name" of the repository holding the branch
	HeadRef       string
	HeadSHA       string
	Base          string
	Labels        []string
	Reviewers     []string
	TeamReviewers []string
	User          string
	HTMLURL       string
}

// PullRequests returns a repository's pull requests, open and closed, in
// creation order.
func (s *Server) PullRequests(owner, repo string) []PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[key(owner, repo)]
	if !ok {
		return nil
	}
	out := make([]PullRequest, 0, len(r.pulls))
	for _, p := range r.pulls {
		out = append(out, PullRequest{
			Number:        p.number,
			State:         p.state,
			Merged:        !p.merged.IsZero(),
			Title:         p.title,
			Body:          p.body,
			Head:          p.headRepo.owner + ":" + p.headRef,
			HeadRepo:      p.headRepo.fullName(),
			HeadRef:       p.headRef,
			HeadSHA:       p.headRepo.branches[p.headRef],
			Base:          p.base,
			Labels:        slices.Clone(p.labels),
			Reviewers:     slices.Clone(p.reviewers),
			TeamReviewers: slices.Clone(p.teamReviewers),
			User:          p.user,
			HTMLURL:       s.pullHTMLURL(r, p),
		})
	}
	return out
}

// ClosePullRequest closes a pull request, leaving its branch in place.
func (s *Server) ClosePullRequest(owner, repo string, number int) error {
	return s.with(owner, repo, func(r *repository) error {
		for _, p := range r.pulls {
			if p.number == number {
				p.state = "closed"
				return nil
			}
		}
		return fmt.Errorf("githubtest: no pull request #%d in %s/%s", number, owner, repo)
	})
}

// MergePullRequest merges an open pull request by fast-forwarding its base
// branch to its head, and closes it.
func (s *Server) MergePullRequest(owner, repo string, number int) error {
	return s.with(owner, repo, func(r *repository) error {
		for _, p := range r.pulls {
			if p.number != number {
				continue
			}
			head := p.headRepo.branches[p.headRef]
			if p.state != "open" || !s.isAncestorLocked(r.branches[p.base], head) {
				return fmt.Errorf("githubtest: pull request #%d is not open or cannot be fast-forwarded", number)
			}
			r.branches[p.base] = head
			p.state, p.merged = "closed", time.Now().UTC()
			return nil
		}
		return fmt.Errorf("githubtest: no pull request #%d in %s/%s", number, owner, repo)
	})
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

func (s *Server) with(owner, repo string, fn func(*repository) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.repoLocked(owner, repo)
	if err != nil {
		return err
	}
	return fn(r)
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
