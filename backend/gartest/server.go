package gartest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// Request kinds counted by [Server.Requests].
const (
	KindOAuthToken    = "oauth-token"    // POST /token (Google's token endpoint)
	KindRegistryToken = "registry-token" // GET /v2/token
	KindBase          = "v2-base"        // GET /v2/
	KindTagsList      = "tags-list"      // GET /v2/<path>/tags/list
	KindManifest      = "manifest"       // GET, HEAD or PUT /v2/<repo>/manifests/<ref>
	KindUntag         = "untag"          // DELETE /v2/<repo>/manifests/<tag>
	KindDelete        = "delete"         // DELETE /v2/<repo>/manifests/<digest>
	KindBlob          = "blob"           // /v2/<repo>/blobs/...
	KindUnauthorized  = "unauthorized"   // a /v2/ request answered 401
	KindOther         = "other"
)

// Token lifetimes.
const (
	AccessTokenLifetime   = time.Hour
	RegistryTokenLifetime = time.Hour
)

// Option configures New.
type Option func(*Server)

// WithLatency delays every answer by d, as a registry in another network.
func WithLatency(d time.Duration) Option { return func(s *Server) { s.latency = d } }

// Server is a running Artifact Registry stand-in.
type Server struct {
	reg     *registrytest.Registry
	key     *rsa.PrivateKey
	email   string
	srv     *loopback.Server
	proxy   *registrytest.Proxy
	latency time.Duration

	loginHost atomic.Pointer[string]

	mu         sync.Mutex
	access     map[string]time.Time // Google access tokens and their expiry
	registry   map[string]time.Time // registry tokens
	uploaded   map[string]time.Time // repo@digest -> push time override
	content    registrytest.Contents[content]
	denyDelete bool
	counts     map[string]int
	hidden     map[string]bool // repo@digest the listing leaves out (HideFromListing)
}

// New starts the stand-in on 127.0.0.1 (a free port, plain http) in front
// of reg, which it reads through reg.Storage and reaches over HTTP for
// everything else under /v2/. It does not close reg.
func New(ctx context.Context, reg *registrytest.Registry, opts ...Option) (*Server, error) {
	if reg == nil {
		return nil, errors.New("gartest: nil registry")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gartest: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("gartest: service-account key: %w", err)
	}
	s := &Server{
		reg: reg, key: key, email: "helmupgradebot@gartest-project.iam.gserviceaccount.com",
		access: map[string]time.Time{}, registry: map[string]time.Time{},
		uploaded: map[string]time.Time{}, counts: map[string]int{}, hidden: map[string]bool{},
	}
	for _, o := range opts {
		o(s)
	}
	s.proxy = reg.Proxy()
	srv, err := loopback.Serve(s)
	if err != nil {
		return nil, fmt.Errorf("gartest: %w", err)
	}
	s.srv = srv
	return s, nil
}

// Host is "127.0.0.1:PORT", the registry host to configure.
func (s *Server) Host() string { return s.srv.Host() }

// URL is "http://127.0.0.1:PORT".
func (s *Server) URL() string { return s.srv.URL() }

// SetLoginServer makes the stand-in name host in its challenges: the
// address clients reach it by through a proxy (faulttest's, say).
func (s *Server) SetLoginServer(host string) { s.loginHost.Store(&host) }

func (s *Server) login() string {
	if h := s.loginHost.Load(); h != nil {
		return *h
	}
	return s.Host()
}

// Close stops serving (never the registry); later calls do nothing.
func (s *Server) Close() error {
	err := s.srv.Close()
	s.proxy.Close()
	return err
}

// SetUploaded makes repo@digest's timeUploadedMs t, pushed yet or not.
func (s *Server) SetUploaded(repo, digest string, t time.Time) {
	s.mu.Lock()
	s.uploaded[repo+"@"+digest] = t
	s.mu.Unlock()
}

// HideFromListing makes tags/list leave out repo@digest (hide false
// shows it again), as a listing that is behind the registry would: the
// manifest stays, and is read and deleted by digest as before.
func (s *Server) HideFromListing(repo, digest string, hide bool) {
	s.mu.Lock()
	if hide {
		s.hidden[repo+"@"+digest] = true
	} else {
		delete(s.hidden, repo+"@"+digest)
	}
	s.mu.Unlock()
}

func (s *Server) isHidden(repo, dg string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hidden[repo+"@"+dg]
}

// DenyDelete makes every DELETE answer 403, as for an identity without
// the Artifact Registry Repository Administrator role (deny false undoes it).
func (s *Server) DenyDelete(deny bool) {
	s.mu.Lock()
	s.denyDelete = deny
	s.mu.Unlock()
}

// Requests counts the requests answered so far by kind.
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// ResetRequests sets the request counts back to zero.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.counts = map[string]int{}
	s.mu.Unlock()
}

func (s *Server) count(kind string) {
	s.mu.Lock()
	s.counts[kind]++
	s.mu.Unlock()
}

func newToken(prefix string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// AccessToken issues a Google access token the registry accepts, as the
// token endpoint would: for an oauth2.StaticTokenSource in tests.
func (s *Server) AccessToken() string {
	tok := newToken("ya29.gartest-")
	s.mu.Lock()
	s.access[tok] = time.Now().Add(AccessTokenLifetime)
	s.mu.Unlock()
	return tok
}

func valid(m map[string]time.Time, tok string) bool {
	exp, ok := m[tok]
	return ok && time.Now().Before(exp)
}

// ServeHTTP routes a request and counts it.
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
	p := r.URL.Path
	switch {
	case p == "/token":
		s.count(KindOAuthToken)
		s.serveOAuthToken(w, r)
	case p == "/v2/token":
		s.count(KindRegistryToken)
		s.serveRegistryToken(w, r)
	case p == "/v2" || strings.HasPrefix(p, "/v2/"):
		s.serveV2(w, r)
	default:
		s.count(KindOther)
		writeError(w, http.StatusNotFound, "NOT_FOUND", "not served here")
	}
}

// serveRegistryToken exchanges a Google access token (basic auth) for a
// registry token.
func (s *Server) serveRegistryToken(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	s.mu.Lock()
	good := ok && (user == "oauth2accesstoken" || user == "_token") && valid(s.access, pass)
	s.mu.Unlock()
	if !good {
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "You don't have the needed permissions to perform this operation, and you may have invalid credentials.")
		return
	}
	tok := newToken("gartest-registry-")
	now := time.Now()
	s.mu.Lock()
	s.registry[tok] = now.Add(RegistryTokenLifetime)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "expires_in": int(RegistryTokenLifetime / time.Second), "issued_at": now.UTC().Format(time.RFC3339)})
}

// authorized checks a /v2/ request's registry token, answering the
// challenge when it has none that is valid.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	good := ok && valid(s.registry, tok)
	s.mu.Unlock()
	if good {
		return true
	}
	s.count(KindUnauthorized)
	login := s.login()
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/v2/token",service="%s"`, login, login))
	writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "Authentication is required.")
	return false
}

func (s *Server) serveV2(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	p := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/v2"), "/")
	if path, ok := strings.CutSuffix(p, "/tags/list"); ok && path != "" && r.Method == http.MethodGet {
		s.count(KindTagsList)
		s.serveTagsList(w, r, path)
		return
	}
	if i := strings.LastIndex(p, "/manifests/"); i > 0 {
		repo, ref := p[:i], p[i+len("/manifests/"):]
		if r.Method == http.MethodDelete {
			s.serveDelete(w, r, repo, ref)
			return
		}
		s.count(KindManifest)
	} else if p == "" {
		s.count(KindBase)
	} else if strings.Contains(p, "/blobs/") {
		s.count(KindBlob)
	} else {
		s.count(KindOther)
	}
	s.proxy.ServeHTTP(w, r)
}

// serveDelete untags (by tag) or deletes a manifest no tag points at (by
// digest).
func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request, repo, ref string) {
	s.mu.Lock()
	deny := s.denyDelete
	s.mu.Unlock()
	byDigest := strings.Contains(ref, ":")
	if byDigest {
		s.count(KindDelete)
	} else {
		s.count(KindUntag)
	}
	if deny {
		writeError(w, http.StatusForbidden, "DENIED", "Permission \"artifactregistry.repositories.deleteArtifacts\" denied on resource "+repo)
		return
	}
	if !byDigest {
		err := s.untag(r.Context(), repo, ref)
		switch {
		case errors.Is(err, errUnknown):
			writeError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "Failed to fetch \""+ref+"\"")
		case err != nil:
			writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		default:
			w.WriteHeader(http.StatusAccepted)
		}
		return
	}
	tags, err := s.tagsOn(r.Context(), repo, ref)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	if len(tags) > 0 {
		writeError(w, http.StatusBadRequest, "GOOGLE_MANIFEST_DANGLING_TAG", "Manifest is still referenced by tag: "+strings.Join(tags, ", "))
		return
	}
	s.proxy.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"errors":[{"code":"UNKNOWN","message":"marshal response"}]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]string{{"code": code, "message": message}}})
}
