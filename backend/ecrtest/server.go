package ecrtest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// The stand-in's account, region and static credentials.
const (
	RegistryID      = "123456789012"
	Region          = "us-east-1"
	AccessKeyID     = "AKIAECRTESTEXAMPLE01"
	SecretAccessKey = "ecrtest/secret/never/a/real/key"
	// TokenLifetime is how long an authorization token lets a client in,
	// as ECR's (12 hours).
	TokenLifetime = 12 * time.Hour
	// targetPrefix starts the X-Amz-Target of every ECR API call.
	targetPrefix = "AmazonEC2ContainerRegistry_V20150921."
)

// Request kinds recorded in [Request].Kind: "api" for an ECR API call
// (Target says which), or what a /v2/ request is.
const (
	KindAPI              = "api"
	KindManifestByTag    = "manifest-by-tag"
	KindManifestByDigest = "manifest-by-digest"
	KindBlob             = "blob"
	KindV2Other          = "v2-other"
	KindOther            = "other"
)

// Request records one request the stand-in answered. It never holds a
// credential.
type Request struct {
	Method, Path, Kind string
	// Target is the operation ("DescribeImages", "GetCallerIdentity") of
	// an API call.
	Target string
	// Repository and Reference of a /v2/ request.
	Repository, Reference string
	// ImageIDs is the number of image ids a BatchDeleteImage or
	// DescribeImages carried.
	ImageIDs int
	Status   int
}

// Option configures New.
type Option func(*Server) error

// WithClock sets the clock of pull records and token expiries (default
// time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Server) error {
		if now == nil {
			return errors.New("WithClock: nil clock")
		}
		s.now = now
		return nil
	}
}

// WithoutRequestLog keeps no [Request] records; [Server.RequestCount]
// still counts.
func WithoutRequestLog() Option { return func(s *Server) error { s.noLog = true; return nil } }

// Server is a running Amazon ECR stand-in.
type Server struct {
	reg   *registrytest.Registry
	now   func() time.Time
	noLog bool
	srv   *loopback.Server
	proxy *registrytest.Proxy

	parsed     map[string]image         // by digest: a manifest read whole
	deleting   map[string]*sync.RWMutex // by repository: held by BatchDeleteImage, read by DescribeImages
	mu         sync.Mutex
	pushed     map[imageKey]time.Time
	pulled     map[imageKey]time.Time
	lifecycle  map[string]string // repository -> lifecycle policy text
	policies   map[string]string // repository -> repository policy text
	excluded   map[string]bool   // access key IDs whose pulls are not recorded
	tokens     map[string]time.Time
	throttle   int
	failDelete map[imageKey]string // failure code BatchDeleteImage answers
	denied     map[string]bool     // operations answered AccessDeniedException
	iam        iamState            // STS and IAM (iam.go)
	requests   []Request
	nrequests  int
	delays     map[string]time.Duration // by operation
	inFlight   map[string]int           // calls under way, by operation
	maxFlight  map[string]int           // the most at once, by operation
	breaks     map[string][]CallFault   // the next calls' faults, by operation
}

type imageKey struct{ repo, digest string }

// New starts the stand-in on 127.0.0.1 (plain http) in front of reg: the
// ECR API at / and the registry's /v2/ behind ECR's basic login. It does
// not close reg.
func New(ctx context.Context, reg *registrytest.Registry, opts ...Option) (*Server, error) {
	if reg == nil {
		return nil, errors.New("ecrtest: nil registry")
	}
	s := &Server{reg: reg, now: time.Now,
		pushed: map[imageKey]time.Time{}, pulled: map[imageKey]time.Time{}, lifecycle: map[string]string{},
		policies: map[string]string{}, excluded: map[string]bool{}, tokens: map[string]time.Time{}, failDelete: map[imageKey]string{}, denied: map[string]bool{}}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, fmt.Errorf("ecrtest: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ecrtest: %w", err)
	}
	s.proxy = reg.Proxy()
	srv, err := loopback.Serve(s)
	if err != nil {
		return nil, fmt.Errorf("ecrtest: %w", err)
	}
	s.srv = srv
	return s, nil
}

// Host is "127.0.0.1:PORT": the registry host and the API endpoint's.
func (s *Server) Host() string { return s.srv.Host() }

// URL is "http://127.0.0.1:PORT", the endpoint to give the SDK
// (ecr.Options.BaseEndpoint).
func (s *Server) URL() string { return s.srv.URL() }

// Close stops serving; it never closes the registry. Safe to call twice.
func (s *Server) Close() error {
	err := s.srv.Close()
	s.proxy.Close()
	return err
}

// SetPushed makes repo@digest's imagePushedAt t.
func (s *Server) SetPushed(repo, digest string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushed[imageKey{repo, digest}] = t.UTC()
}

// SetPulled makes repo@digest's lastRecordedPullTime t (zero: never
// pulled). A later pull through /v2/ records a newer one.
func (s *Server) SetPulled(repo, digest string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.IsZero() {
		delete(s.pulled, imageKey{repo, digest})
		return
	}
	s.pulled[imageKey{repo, digest}] = t.UTC()
}

// SetLifecyclePolicy gives repo a lifecycle policy (GetLifecyclePolicy's
// lifecyclePolicyText); "" removes it.
func (s *Server) SetLifecyclePolicy(repo, text string) { s.setText(s.lifecycle, repo, text) }

// SetRepositoryPolicy gives repo a repository policy (GetRepositoryPolicy's
// policyText); "" removes it.
func (s *Server) SetRepositoryPolicy(repo, text string) { s.setText(s.policies, repo, text) }

func (s *Server) setText(m map[string]string, repo, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if text == "" {
		delete(m, repo)
		return
	}
	m[repo] = text
}

// ExcludeFromPullTime keeps the pulls of accessKeyID from updating
// lastRecordedPullTime, as ECR's pull time update exclusions
// (RegisterPullTimeUpdateExclusion) do for a principal. By default every
// manifest GET through /v2/ records a pull, as on ECR.
func (s *Server) ExcludeFromPullTime(accessKeyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.excluded[accessKeyID] = true
}

// Throttle makes the next n API calls answer ThrottlingException.
func (s *Server) Throttle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// FailDelete makes BatchDeleteImage report repo@digest as a failure with
// code (an ImageFailureCode such as "KmsError") instead of deleting it;
// "" clears it.
func (s *Server) FailDelete(repo, digest, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == "" {
		delete(s.failDelete, imageKey{repo, digest})
		return
	}
	s.failDelete[imageKey{repo, digest}] = code
}

// Deny makes the operation (e.g. "BatchDeleteImage") answer
// AccessDeniedException, as an IAM policy without it does.
func (s *Server) Deny(operation string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[operation] = true
}

// CallFault is how [Server.Break] makes an API call fail.
type CallFault int

// The call faults.
const (
	// ServerError answers ServerException (500) without acting.
	ServerError CallFault = iota
	// ActThenServerError acts on the call, then answers ServerException:
	// the answer loses what was done.
	ActThenServerError
	// ActThenDrop acts on the call, then closes the connection without
	// an answer.
	ActThenDrop
)

// Break makes the next n calls of operation (e.g. "BatchDeleteImage")
// fail with fault.
func (s *Server) Break(operation string, n int, fault CallFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.breaks == nil {
		s.breaks = map[string][]CallFault{}
	}
	for range n {
		s.breaks[operation] = append(s.breaks[operation], fault)
	}
}

// Delay makes every call of operation wait d before it is answered (0:
// none), so that calls overlap.
func (s *Server) Delay(operation string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.delays == nil {
		s.delays = map[string]time.Duration{}
	}
	s.delays[operation] = d
}

// MaxInFlight is the most calls of operation the stand-in was answering at
// once.
func (s *Server) MaxInFlight(operation string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxFlight[operation]
}

// begin counts a call of operation under way, and returns its delay and
// fault, if any.
func (s *Server) begin(operation string) (time.Duration, CallFault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight == nil {
		s.inFlight, s.maxFlight = map[string]int{}, map[string]int{}
	}
	s.inFlight[operation]++
	s.maxFlight[operation] = max(s.maxFlight[operation], s.inFlight[operation])
	var fault CallFault
	q := s.breaks[operation]
	if len(q) > 0 {
		fault, s.breaks[operation] = q[0], q[1:]
	}
	return s.delays[operation], fault, len(q) > 0
}

func (s *Server) end(operation string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight[operation]--
}

// deletions is repo's lock: a BatchDeleteImage holds it, a DescribeImages
// reads under it.
func (s *Server) deletions(repo string) *sync.RWMutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleting == nil {
		s.deleting = map[string]*sync.RWMutex{}
	}
	l := s.deleting[repo]
	if l == nil {
		l = &sync.RWMutex{}
		s.deleting[repo] = l
	}
	return l
}

// Requests returns the requests answered so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestCount is how many requests the stand-in answered.
func (s *Server) RequestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nrequests
}

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

// ServeHTTP routes a request and records it (a connection dropped on
// purpose too, with status 0).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{Method: r.Method, Path: r.URL.EscapedPath(), Kind: KindOther}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		rec.Status = sw.status
		s.mu.Lock()
		s.nrequests++
		if !s.noLog {
			s.requests = append(s.requests, rec)
		}
		s.mu.Unlock()
	}()
	switch p := r.URL.Path; {
	case p == "/" && r.Method == http.MethodPost && isQuery(r):
		rec.Kind = KindAPI
		s.serveQuery(sw, r, &rec)
	case p == "/" && r.Method == http.MethodPost:
		rec.Kind = KindAPI
		rec.Target = strings.TrimPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
		s.serveAPI(sw, r, &rec)
	case p == "/v2" || strings.HasPrefix(p, "/v2/"):
		s.serveV2(sw, r, &rec)
	default:
		http.NotFound(sw, r)
	}
}

var (
	manifestPath = regexp.MustCompile(`^/v2/(.+)/manifests/([^/]+)$`)
	blobPath     = regexp.MustCompile(`^/v2/(.+)/blobs/([^/]+)$`)
)

// serveV2 passes a /v2/ request to the registry once its basic login
// (user AWS, an authorization token's password) is good, and records a
// pull on a manifest GET.
func (s *Server) serveV2(w http.ResponseWriter, r *http.Request, rec *Request) {
	rec.Kind = KindV2Other
	if m := manifestPath.FindStringSubmatch(r.URL.Path); m != nil {
		rec.Kind, rec.Repository, rec.Reference = KindManifestByTag, m[1], m[2]
		if strings.Contains(m[2], ":") {
			rec.Kind = KindManifestByDigest
		}
	} else if m := blobPath.FindStringSubmatch(r.URL.Path); m != nil {
		rec.Kind, rec.Repository, rec.Reference = KindBlob, m[1], m[2]
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != "AWS" || !s.validToken(pass) {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm="http://%s/",service="ecr.amazonaws.com"`, s.Host()))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"errors":[{"code":"DENIED","message":"Not Authorized"}]}`+"\n")
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	s.proxy.ServeHTTP(sw, r)
	if r.Method == http.MethodGet && sw.status == http.StatusOK && (rec.Kind == KindManifestByTag || rec.Kind == KindManifestByDigest) {
		s.recordPull(r.Context(), rec.Repository, rec.Reference, sw.Header().Get("Docker-Content-Digest"), s.tokenKey(pass))
	}
}

// recordPull sets the pull time of the manifest a GET returned, unless
// the principal behind the token is excluded.
func (s *Server) recordPull(_ context.Context, repo, ref, dg, principal string) {
	if dg == "" {
		dg = ref
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.excluded[principal] {
		return
	}
	s.pulled[imageKey{repo, dg}] = s.now().UTC()
}

// newToken issues an authorization token for the access key: base64 of
// "AWS:<password>", the password naming the key it was issued to.
func (s *Server) newToken(accessKey string) (string, time.Time, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, err
	}
	pass := accessKey + "." + hex.EncodeToString(b)
	exp := s.now().Add(TokenLifetime)
	s.mu.Lock()
	s.tokens[pass] = exp
	s.mu.Unlock()
	return base64.StdEncoding.EncodeToString([]byte("AWS:" + pass)), exp, nil
}

func (s *Server) validToken(pass string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[pass]
	return ok && s.now().Before(exp)
}

// tokenKey is the access key a token's password was issued to.
func (s *Server) tokenKey(pass string) string {
	k, _, _ := strings.Cut(pass, ".")
	return k
}
