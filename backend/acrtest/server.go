// This file is over 500 lines: the stand-in's routing, its login (the
// token exchange and the 401 challenge) and the distribution API in front
// of the embedded registry, whose rules about who may do what are read best
// together.

package acrtest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// Request kinds recorded in [Request].Kind.
const (
	KindBase             = "v2-base"            // GET /v2/
	KindCatalog          = "catalog"            // GET /v2/_catalog
	KindManifestByTag    = "manifest-by-tag"    // GET, HEAD or PUT /v2/<repo>/manifests/<tag>
	KindManifestByDigest = "manifest-by-digest" // GET, HEAD or PUT /v2/<repo>/manifests/<digest>
	KindDelete           = "delete"             // DELETE /v2/<repo>/manifests/<reference>
	KindBlob             = "blob"               // GET, HEAD or DELETE /v2/<repo>/blobs/<digest>
	KindUpload           = "blob-upload"        // /v2/<repo>/blobs/uploads/...
	KindTagsList         = "tags-list"          // GET /v2/<repo>/tags/list
	KindReferrers        = "referrers"          // GET /v2/<repo>/referrers/<digest>
	KindACRCatalog       = "acr-catalog"        // GET /acr/v1/_catalog
	KindACRManifests     = "acr-manifests"      // GET /acr/v1/<repo>/_manifests
	KindACRManifest      = "acr-manifest"       // GET or PATCH /acr/v1/<repo>/_manifests/<digest>
	KindACRRepository    = "acr-repository"     // GET, PATCH or DELETE /acr/v1/<repo>
	KindACRTags          = "acr-tags"           // GET /acr/v1/<repo>/_tags
	KindACRTag           = "acr-tag"            // GET, PATCH or DELETE /acr/v1/<repo>/_tags/<tag>
	KindOAuthExchange    = "oauth-exchange"     // POST /oauth2/exchange
	KindOAuthToken       = "oauth-token"        // POST or GET /oauth2/token
	KindOther            = "other"
)

// Request records one request the stand-in answered. It never holds a
// token: form bodies are not recorded, and query parameters whose name
// mentions a token or password are dropped.
type Request struct {
	Time   time.Time
	Method string
	// Path is the path as the client sent it (escaped, e.g.
	// "/acr/v1/a%2Fb/_manifests").
	Path  string
	Query url.Values
	Kind  string
	// Repository and Reference (a tag or digest) for the kinds that have them.
	Repository string
	Reference  string
	// Principal is the client ID behind the token the request carried or
	// was issued ("" when none).
	Principal string
	Status    int
}

// Option configures New.
type Option func(*config) error

type config struct {
	id         *azuretest.Identity
	refreshTTL time.Duration
	accessTTL  time.Duration
	latency    time.Duration
	noLog      bool
}

// WithLatency delays every answer by d, as the round trip to a registry
// in another network does (a client a region away sees 10-40 ms), so that
// a benchmark can show what parallel requests buy. Default none.
func WithLatency(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("WithLatency: %v is negative", d)
		}
		c.latency = d
		return nil
	}
}

// WithoutRequestLog keeps no [Request] records ([Server.Requests] returns
// none, [Server.RequestCount] still counts), for benchmarks whose
// hundreds of thousands of requests would otherwise be kept.
func WithoutRequestLog() Option {
	return func(c *config) error { c.noLog = true; return nil }
}

// WithIdentity makes /oauth2/exchange accept the Microsoft Entra access
// tokens id issues (through its IMDS or App Service endpoint). Without it
// New starts an Identity of its own, available from [Server.Identity] and
// closed with the server.
func WithIdentity(id *azuretest.Identity) Option {
	return func(c *config) error {
		if id == nil {
			return errors.New("WithIdentity: nil identity")
		}
		c.id = id
		return nil
	}
}

// WithRefreshTokenLifetime sets the lifetime of refresh tokens (default
// [DefaultRefreshTokenLifetime]). The Azure SDK's ACR client renews its
// refresh token once it has expired, and tries to within five minutes of
// expiry at most every 30 seconds.
func WithRefreshTokenLifetime(d time.Duration) Option {
	return lifetime("WithRefreshTokenLifetime", d, func(c *config) *time.Duration { return &c.refreshTTL })
}

// WithAccessTokenLifetime sets the lifetime of access tokens (default
// [DefaultAccessTokenLifetime]).
func WithAccessTokenLifetime(d time.Duration) Option {
	return lifetime("WithAccessTokenLifetime", d, func(c *config) *time.Duration { return &c.accessTTL })
}

func lifetime(option string, d time.Duration, field func(*config) *time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%s: %v is not positive", option, d)
		}
		*field(c) = d
		return nil
	}
}

// Server is a running Azure Container Registry stand-in.
type Server struct {
	store      store
	id         *azuretest.Identity
	ownsID     bool
	loginMu    sync.Mutex
	loginHost  string // SetLoginServer's; "" for host
	srv        *loopback.Server
	secret     []byte
	refreshTTL time.Duration
	accessTTL  time.Duration
	latency    time.Duration
	noLog      bool

	mu        sync.Mutex
	tokens    map[string]*issued
	permits   map[string][]string // principal (lower case) -> permitted actions; absent: all
	content   registrytest.Contents[contentInfo]
	created   map[manifestKey]time.Time // push times: overrides and first sightings
	attrs     map[manifestKey]*attrState
	repoAttrs map[string]*attrState // a repository's own, by name
	tagAttrs  map[tagKey]*attrState
	sortKey   map[manifestKey]time.Time // last known lastUpdateTime, to page past deleted manifests
	tagSort   map[tagKey]time.Time      // the same for tags
	snapshots map[string]*repoSnapshot  // by repository
	// liveVersion counts changes of attributes and created times
	liveVersion uint64
	requests    []Request
	nrequests   int

	closeOnce sync.Once
	closeErr  error
}

type manifestKey struct{ repo, digest string }

// New starts the stand-in on 127.0.0.1 (a free port, plain http) in front
// of reg, which it reads through reg.Storage and reaches over HTTP for
// everything under /v2/. It does not close reg. ctx bounds startup.
func New(ctx context.Context, reg *registrytest.Registry, opts ...Option) (*Server, error) {
	if reg == nil {
		return nil, errors.New("acrtest: nil registry")
	}
	return start(ctx, func(s *Server) (store, error) { return newRegistryStore(s, reg), nil }, opts)
}

// start starts a stand-in whose repositories come from the store newStore
// makes.
func start(ctx context.Context, newStore func(*Server) (store, error), opts []Option) (*Server, error) {
	cfg := config{refreshTTL: DefaultRefreshTokenLifetime, accessTTL: DefaultAccessTokenLifetime}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("acrtest: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("acrtest: %w", err)
	}
	s := &Server{
		id:         cfg.id,
		refreshTTL: cfg.refreshTTL,
		accessTTL:  cfg.accessTTL,
		latency:    cfg.latency,
		noLog:      cfg.noLog,
		secret:     make([]byte, 32),
		tokens:     map[string]*issued{},
		permits:    map[string][]string{},
		created:    map[manifestKey]time.Time{},
		attrs:      map[manifestKey]*attrState{},
		repoAttrs:  map[string]*attrState{},
		tagAttrs:   map[tagKey]*attrState{},
		sortKey:    map[manifestKey]time.Time{},
		tagSort:    map[tagKey]time.Time{},
		snapshots:  map[string]*repoSnapshot{},
	}
	if _, err := rand.Read(s.secret); err != nil {
		return nil, fmt.Errorf("acrtest: token signing key: %w", err)
	}
	var err error
	if s.store, err = newStore(s); err != nil {
		return nil, fmt.Errorf("acrtest: %w", err)
	}
	if s.id == nil {
		id, err := azuretest.NewIdentity()
		if err != nil {
			s.store.close()
			return nil, fmt.Errorf("acrtest: %w", err)
		}
		s.id, s.ownsID = id, true
	}
	srv, err := loopback.Serve(s)
	if err != nil {
		s.store.close()
		s.closeIdentity()
		return nil, fmt.Errorf("acrtest: %w", err)
	}
	s.srv = srv
	return s, nil
}

// Host is "127.0.0.1:PORT": the registry's login server, the service in
// its challenges and the "registry" field of its listings.
func (s *Server) Host() string { return s.srv.Host() }

// SetLoginServer makes the stand-in answer as the registry at host: the
// address clients use when they reach it through a proxy (faulttest's, say).
// Its challenges, token audiences and services, and the "registry" field of
// its listings, name host from then on.
func (s *Server) SetLoginServer(host string) {
	s.loginMu.Lock()
	s.loginHost = host
	s.loginMu.Unlock()
}

// login is the login server clients know the stand-in by.
func (s *Server) login() string {
	s.loginMu.Lock()
	defer s.loginMu.Unlock()
	if s.loginHost != "" {
		return s.loginHost
	}
	return s.Host()
}

// URL is "http://127.0.0.1:PORT", the endpoint for azcontainerregistry.NewClient.
func (s *Server) URL() string { return s.srv.URL() }

// Identity is the identity whose tokens /oauth2/exchange accepts.
func (s *Server) Identity() *azuretest.Identity { return s.id }

// Close stops serving, cutting open connections. It closes the Identity
// only if New started it, and never the registry. It is safe to call more
// than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.srv.Close()
		s.store.close()
		s.closeIdentity()
	})
	return s.closeErr
}

func (s *Server) closeIdentity() {
	if s.ownsID {
		_ = s.id.Close()
	}
}

// Requests returns the requests answered so far, oldest first (none with
// [WithoutRequestLog]).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestCount is how many requests the stand-in has answered.
func (s *Server) RequestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nrequests
}

// SetCreated makes repo@digest's createdTime t (and its lastUpdateTime,
// unless its attributes changed later), whether or not it is pushed yet, so
// that tests and the demo can age images. By default a manifest's created
// time is when it was first pushed: the modification time of its revision
// link in storage.
func (s *Server) SetCreated(repo, digest string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.created[manifestKey{repo, digest}] = t
	s.liveVersion++
}

// Lock sets repo@digest's changeable attributes deleteEnabled and
// writeEnabled, as PATCH /acr/v1/<repo>/_manifests/<digest> does (an
// attribute update also moves lastUpdateTime). A manifest with either false
// is locked: deleting it answers 405 REGISTRY_DISALLOWED_OPERATION.
// [Server.LockTag] and [Server.LockRepository] lock the other two levels.
func (s *Server) Lock(repo, digest string, deleteEnabled, writeEnabled bool) {
	s.updateAttrs(manifestKey{repo, digest}, attrPatch{DeleteEnabled: &deleteEnabled, WriteEnabled: &writeEnabled})
}

// statusWriter remembers the status a handler (or the proxy) wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ServeHTTP routes a request and records it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.latency > 0 {
		t := time.NewTimer(s.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	rec := &Request{Time: time.Now(), Method: r.Method, Path: r.URL.EscapedPath(), Query: safeQuery(r.URL.Query()), Kind: KindOther}
	sw := &statusWriter{ResponseWriter: w}
	sw.Header().Set("X-Ms-Correlation-Request-Id", azuretest.NewGUID())
	p := r.URL.Path
	switch {
	case p == "/oauth2/exchange":
		rec.Kind = KindOAuthExchange
		s.serveExchange(sw, r, rec)
	case p == "/oauth2/token":
		rec.Kind = KindOAuthToken
		s.serveToken(sw, r, rec)
	case strings.HasPrefix(p, "/acr/v1/"):
		s.serveACR(sw, r, rec)
	case p == "/v2" || strings.HasPrefix(p, "/v2/"):
		s.serveV2(sw, r, rec)
	default:
		writeError(sw, http.StatusNotFound, "NOT_FOUND", "The requested path is not served by this registry.", nil)
	}
	rec.Status = sw.status
	if rec.Status == 0 {
		rec.Status = http.StatusOK
	}
	s.mu.Lock()
	s.nrequests++
	if !s.noLog {
		s.requests = append(s.requests, *rec)
	}
	s.mu.Unlock()
}

// safeQuery copies q without any parameter that could carry a credential.
func safeQuery(q url.Values) url.Values {
	out := make(url.Values, len(q))
	for k, v := range q {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "token") || strings.Contains(lk, "password") || strings.Contains(lk, "secret") {
			continue
		}
		out[k] = slices.Clone(v)
	}
	return out
}

// v2Route is what a /v2/ request is about and what it needs.
type v2Route struct {
	kind      string
	repo, ref string
	action    string // "" for /v2/ itself (any valid token)
}

// classifyV2 parses a /v2/ path as distribution's router does: the
// repository name runs up to the last /manifests/, /blobs/, /tags/list or
// /referrers/ whose tail is well formed.
func classifyV2(method, p string) v2Route {
	p = strings.TrimPrefix(strings.TrimPrefix(p, "/v2"), "/")
	read := "pull"
	if method == http.MethodDelete {
		read = "delete"
	}
	switch {
	case p == "":
		return v2Route{kind: KindBase}
	case p == "_catalog":
		return v2Route{kind: KindCatalog, repo: "catalog", action: "*"}
	}
	if repo, ref, ok := cutLast(p, "/manifests/"); ok && !strings.Contains(ref, "/") && ref != "" {
		rt := v2Route{kind: KindManifestByTag, repo: repo, ref: ref, action: read}
		if strings.Contains(ref, ":") {
			rt.kind = KindManifestByDigest
		}
		switch method {
		case http.MethodDelete:
			rt.kind = KindDelete
		case http.MethodPut:
			rt.action = "push"
		}
		return rt
	}
	if repo, rest, ok := cutLast(p, "/blobs/uploads"); ok && (rest == "" || strings.HasPrefix(rest, "/")) {
		return v2Route{kind: KindUpload, repo: repo, action: "push"}
	}
	if repo, ref, ok := cutLast(p, "/blobs/"); ok && !strings.Contains(ref, "/") && ref != "" {
		return v2Route{kind: KindBlob, repo: repo, ref: ref, action: read}
	}
	if repo, ok := strings.CutSuffix(p, "/tags/list"); ok && repo != "" {
		return v2Route{kind: KindTagsList, repo: repo, action: "pull"}
	}
	if repo, ref, ok := cutLast(p, "/referrers/"); ok && !strings.Contains(ref, "/") {
		return v2Route{kind: KindReferrers, repo: repo, ref: ref, action: "pull"}
	}
	return v2Route{kind: KindOther}
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i <= 0 {
		return "", "", false
	}
	return s[:i], s[i+len(sep):], true
}

func (s *Server) serveV2(w http.ResponseWriter, r *http.Request, rec *Request) {
	rt := classifyV2(r.Method, r.URL.Path)
	rec.Kind = rt.kind
	if rt.kind != KindCatalog {
		rec.Repository, rec.Reference = rt.repo, rt.ref
	}
	need := scopeFor(rt)
	if !s.authorize(w, r, rec, need) {
		return
	}
	switch {
	case rt.kind == KindDelete:
		if !strings.Contains(rt.ref, ":") {
			writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.", nil)
			return
		}
		if s.deleteRefused(r.Context(), rt.repo, rt.ref) {
			writeDisallowed(w)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		s.store.serveV2(sw, r, rt)
		s.invalidate(rt.repo)
		if sw.status == http.StatusAccepted {
			s.forget(manifestKey{rt.repo, rt.ref})
			s.forgetGoneTags(r.Context(), rt.repo) // its tags went with it
		}
		return
	case r.Method == http.MethodPut && (rt.kind == KindManifestByTag || rt.kind == KindManifestByDigest):
		if s.writeLocked(r.Context(), rt.repo, rt.ref) {
			writeDisallowed(w)
			return
		}
	}
	s.store.serveV2(w, r, rt)
	if r.Method != http.MethodGet && r.Method != http.MethodHead && rt.repo != "" {
		s.invalidate(rt.repo)
	}
}

// scopeFor is the scope a /v2/ route needs; nil for /v2/ itself.
func scopeFor(rt v2Route) *grant {
	switch {
	case rt.kind == KindCatalog:
		return &grant{Type: "registry", Name: "catalog", Actions: []string{"*"}}
	case rt.action == "":
		return nil
	}
	return &grant{Type: "repository", Name: rt.repo, Actions: []string{rt.action}}
}

func writeDisallowed(w http.ResponseWriter) {
	writeError(w, http.StatusMethodNotAllowed, "REGISTRY_DISALLOWED_OPERATION",
		"The operation is disallowed on this registry, repository or image. View troubleshooting steps at https://aka.ms/acr/faq/#why-does-my-pull-or-push-request-fail-with-disallowed-operation-",
		map[string]any{})
}

// writeJSON writes v as ACR does: JSON and a newline.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"errors":[{"code":"UNKNOWN","message":"marshal response"}]}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

type errorItem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// writeError writes the registry error format ACR uses for every endpoint:
// {"errors":[{"code","message","detail"}]}.
func writeError(w http.ResponseWriter, status int, code, message string, detail any) {
	writeJSON(w, status, map[string][]errorItem{"errors": {{Code: code, Message: message, Detail: detail}}})
}
