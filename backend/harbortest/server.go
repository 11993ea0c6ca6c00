package harbortest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// Server is a running Harbor stand-in.
type Server struct {
	reg   *registrytest.Registry
	srv   *loopback.Server
	proxy *registrytest.Proxy
	now   func() time.Time

	delMu sync.Mutex // deletes one at a time, as Harbor's database serializes them

	mu        sync.Mutex
	contents  registrytest.Contents[content]
	projects  map[string]*project
	nextID    int64
	ids       map[string]int64     // "kind:key" -> id
	pushTimes map[string]time.Time // repo@digest
	pullTimes map[string]time.Time // repo@digest
	users     map[string]*user
	tokens    map[string]string // bearer token -> user
	requests  map[string]int    // by route kind
}

type project struct {
	id        int64
	name      string
	created   time.Time
	rules     []ImmutableRule
	retention *RetentionPolicy
}

type user struct {
	password  string
	canDelete bool
}

// Option configures New.
type Option func(*Server)

// WithClock sets the clock that stamps pulls, projects and tokens
// (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// New starts the stand-in on 127.0.0.1 (a free port, plain http) in front
// of reg, which it reads through reg.Storage and reaches over HTTP for
// everything under /v2/. It does not close reg.
func New(ctx context.Context, reg *registrytest.Registry, opts ...Option) (*Server, error) {
	if reg == nil {
		return nil, errors.New("harbortest: nil registry")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("harbortest: %w", err)
	}
	s := &Server{reg: reg, now: time.Now,
		projects: map[string]*project{}, ids: map[string]int64{},
		pushTimes: map[string]time.Time{}, pullTimes: map[string]time.Time{}, users: map[string]*user{},
		tokens: map[string]string{}, requests: map[string]int{}}
	for _, o := range opts {
		o(s)
	}
	s.proxy = reg.Proxy(registrytest.KeepRawPath(), registrytest.ModifyResponse(s.recordPull))
	srv, err := loopback.Serve(s)
	if err != nil {
		return nil, fmt.Errorf("harbortest: %w", err)
	}
	s.srv = srv
	return s, nil
}

// Host is "127.0.0.1:PORT": the registry's host for clients.
func (s *Server) Host() string { return s.srv.Host() }

// URL is "http://127.0.0.1:PORT".
func (s *Server) URL() string { return s.srv.URL() }

// Close stops serving. It never closes the registry; it is safe to call
// more than once.
func (s *Server) Close() error {
	err := s.srv.Close()
	s.proxy.Close()
	return err
}

// AddUser makes an account (a robot account's name starts robot$) that
// logs in with password; canDelete lets it delete artifacts. Once there is
// an account, every request must log in.
func (s *Server) AddUser(name, password string, canDelete bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[name] = &user{password: password, canDelete: canDelete}
}

// AddProject makes a project (a repository's first path segment makes one
// too, when the stand-in first lists it).
func (s *Server) AddProject(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projectLocked(name)
}

func (s *Server) projectLocked(name string) *project {
	p := s.projects[name]
	if p == nil {
		s.nextID++
		p = &project{id: s.nextID, name: name, created: s.now().UTC()}
		s.projects[name] = p
	}
	return p
}

// AddImmutableRule adds an enabled immutable-tag rule to project: tags
// matching tagPattern in repositories (names within the project) matching
// repoPattern, doublestar patterns as Harbor's. It returns the rule's id.
func (s *Server) AddImmutableRule(project, repoPattern, tagPattern string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(project)
	s.nextID++
	p.rules = append(p.rules, ImmutableRule{ID: s.nextID, Priority: len(p.rules), Action: "immutable", Template: "immutable_template",
		TagSelectors:   []ImmutableSelector{{Kind: "doublestar", Decoration: "matches", Pattern: tagPattern}},
		ScopeSelectors: map[string][]ImmutableSelector{"repository": {{Kind: "doublestar", Decoration: "repoMatches", Pattern: repoPattern}}}})
	return s.nextID
}

// SetRetention gives project a tag retention policy of one rule: retain
// what template (latestPushedK, nDaysSinceLastPull...) with n keeps, on a
// daily schedule. It returns the policy's id.
func (s *Server) SetRetention(project, template string, n int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(project)
	s.nextID++
	p.retention = &RetentionPolicy{ID: s.nextID, Algorithm: "or",
		Rules: []RetentionRule{{ID: 1, Priority: 1, Action: "retain", Template: template, Params: map[string]any{template: n},
			TagSelectors:   []ImmutableSelector{{Kind: "doublestar", Decoration: "matches", Pattern: "**"}},
			ScopeSelectors: map[string][]ImmutableSelector{"repository": {{Kind: "doublestar", Decoration: "repoMatches", Pattern: "**"}}}}},
		Trigger: RetentionRuleTrigger{Kind: "Schedule", Settings: map[string]any{"cron": "0 0 0 * * *"}, References: map[string]any{}},
		Scope:   RetentionPolicyScope{Level: "project", Ref: p.id}}
	return s.nextID
}

// SetPushTime makes repo@digest's push_time t.
func (s *Server) SetPushTime(repo, digest string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushTimes[repo+"@"+digest] = t.UTC()
}

// SetPullTime makes repo@digest's pull_time t (zero: never pulled).
func (s *Server) SetPullTime(repo, digest string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pullTimes[repo+"@"+digest] = t.UTC()
}

// PullTime is repo@digest's pull_time, zero when never pulled.
func (s *Server) PullTime(repo, digest string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pullTimes[repo+"@"+digest]
}

// Requests counts the requests answered, by kind: "projects",
// "repositories", "artifacts", "artifact", "delete", "immutabletagrules",
// "retentions", "permissions", "token", "v2".
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}

func (s *Server) count(kind string) {
	s.mu.Lock()
	s.requests[kind]++
	s.mu.Unlock()
}

func (s *Server) id(kind, key string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := kind + ":" + key
	if s.ids[k] == 0 {
		s.nextID++
		s.ids[k] = s.nextID
	}
	return s.ids[k]
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/service/token":
		s.count("token")
		s.serveToken(w, r)
	case strings.HasPrefix(p, "/api/v2.0/"):
		u, ok := s.login(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "unauthorized")
			return
		}
		s.serveAPI(w, r, u)
	case p == "/v2" || strings.HasPrefix(p, "/v2/"):
		s.count("v2")
		s.serveV2(w, r)
	default:
		writeError(w, http.StatusNotFound, "NOT_FOUND", "not found")
	}
}

// login checks a request's basic auth: the account's name, "" for
// anonymous where there are no accounts.
func (s *Server) login(r *http.Request) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.users) == 0 {
		return "", true
	}
	name, pw, ok := r.BasicAuth()
	if !ok {
		return "", false
	}
	u := s.users[name]
	return name, u != nil && u.password == pw
}

// canDelete reports whether account name may delete.
func (s *Server) canDelete(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.users) == 0 {
		return true
	}
	u := s.users[name]
	return u != nil && u.canDelete
}

// serveToken issues a bearer token for /v2/, as Harbor's token service.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	name, ok := s.login(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "invalid credentials")
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = name
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "access_token": tok, "expires_in": 1800,
		"issued_at": s.now().UTC().Format(time.RFC3339)})
}

// serveV2 passes an authorized /v2/ request to the registry, recording
// a successful GET of a manifest as a pull.
func (s *Server) serveV2(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	open := len(s.users) == 0
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	_, valid := s.tokens[tok]
	s.mu.Unlock()
	if !open && !valid {
		w.Header().Set("Www-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/service/token",service="harbor-registry"`, r.Host))
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "unauthorized to access repository")
		return
	}
	s.proxy.ServeHTTP(w, r)
}

// recordPull records a successful GET of a manifest as a pull of the
// digest it answered, as Harbor does (a HEAD is no pull).
func (s *Server) recordPull(resp *http.Response) error {
	req := resp.Request
	rest := strings.TrimPrefix(req.URL.Path, "/v2/")
	i := strings.LastIndex(rest, "/manifests/")
	if req.Method == http.MethodGet && i > 0 && resp.StatusCode == http.StatusOK {
		if d := resp.Header.Get("Docker-Content-Digest"); d != "" {
			s.SetPullTime(rest[:i], d, s.now())
		}
	}
	return nil
}

// writeJSON writes v as Harbor does.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"errors":[{"code":"UNKNOWN","message":"marshal response"}]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError writes Harbor's error body.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, Errors{Errors: []Error{{Code: code, Message: message}}})
}

// page writes one page of items (page and page_size from q) with Harbor's
// X-Total-Count and Link headers; false when the paging is refused.
func page[T any](w http.ResponseWriter, r *http.Request, items []T) {
	q := r.URL.Query()
	n, size := 1, 10
	if v := q.Get("page"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil || n < 1 {
			writeError(w, http.StatusUnprocessableEntity, "UNPROCESSABLE_ENTITY", "validation failure list:\npage in query must be of type int64 and at least 1")
			return
		}
	}
	if v := q.Get("page_size"); v != "" {
		if _, err := fmt.Sscan(v, &size); err != nil || size < 1 || size > 100 {
			writeError(w, http.StatusUnprocessableEntity, "UNPROCESSABLE_ENTITY", "validation failure list:\npage_size in query should be less than or equal to 100")
			return
		}
	}
	total := len(items)
	lo, hi := min((n-1)*size, total), min(n*size, total)
	link := func(p int) string {
		qq := url.Values{}
		for k, v := range q {
			qq[k] = slices.Clone(v)
		}
		qq.Set("page", fmt.Sprint(p))
		qq.Set("page_size", fmt.Sprint(size))
		return fmt.Sprintf(`<%s?%s>`, r.URL.EscapedPath(), qq.Encode())
	}
	var links []string
	if n > 1 {
		links = append(links, link(n-1)+`; rel="prev"`)
	}
	if hi < total {
		links = append(links, link(n+1)+`; rel="next"`)
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, " , "))
	}
	w.Header().Set("X-Total-Count", fmt.Sprint(total))
	writeJSON(w, http.StatusOK, items[lo:hi])
}
