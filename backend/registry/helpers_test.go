package registry

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/faulttest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// testNow anchors seeded created times.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fastRetry keeps retries (two tries) but without the default 1s+3s waits.
var fastRetry = remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 2}

// population is the standard test population: every kind of image
// (schema 2 and OCI manifests, a multi-platform index, a 1970 config and a
// config without created).
func population() registrytest.Population {
	return registrytest.Population{
		Repositories:      8,
		TagsPerRepository: 5,
		Seed:              42,
		Now:               testNow,
		Scale:             32,
		MultiPlatform:     true,
	}
}

// startRegistry starts the embedded distribution registry, closed when
// the test ends.
func startRegistry(t testing.TB, opts ...registrytest.Option) *registrytest.Registry {
	t.Helper()
	reg, err := registrytest.Start(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

// startPushing starts the embedded registry and a pusher of hand-made
// images to it.
func startPushing(t *testing.T, opts ...registrytest.Option) (*registrytest.Registry, pusher) {
	t.Helper()
	reg := startRegistry(t, opts...)
	return reg, pusher{t, reg.Host()}
}

// startIdentity starts the managed identity (IMDS on loopback) that the
// ACR stand-in trusts, closed when the test ends.
func startIdentity(t testing.TB) *azuretest.Identity {
	t.Helper()
	id, err := azuretest.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { id.Close() })
	return id
}

// startACRServer starts the ACR stand-in in front of reg, trusting id,
// closed when the test ends.
func startACRServer(t testing.TB, reg *registrytest.Registry, id *azuretest.Identity, opts ...acrtest.Option) *acrtest.Server {
	t.Helper()
	srv, err := acrtest.New(t.Context(), reg, append([]acrtest.Option{acrtest.WithIdentity(id)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// startProxy starts a faulttest proxy in front of target, closed when the
// test ends.
func startProxy(t *testing.T, target string) *faulttest.Proxy {
	t.Helper()
	p, err := faulttest.Start(target, faultOptions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// scan scans and fails the test on an error or a scan error.
func scan(t *testing.T, c Lister) *model.Inventory {
	t.Helper()
	inv := scanOrFail(t, c)
	if len(inv.Errors) != 0 {
		t.Fatalf("scan errors: %+v", inv.Errors)
	}
	return inv
}

// scanOrFail scans and fails the test on an error; scan errors are the
// caller's.
func scanOrFail(t *testing.T, l Lister) *model.Inventory {
	t.Helper()
	inv, err := l.Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// startSeeded starts a real registry and seeds it.
func startSeeded(t testing.TB, pop registrytest.Population, opts ...registrytest.Option) (*registrytest.Registry, *registrytest.Seeded) {
	t.Helper()
	ctx := context.Background()
	reg := startRegistry(t, opts...)
	seeded, err := registrytest.Seed(ctx, reg.Host(), pop)
	if err != nil {
		t.Fatal(err)
	}
	return reg, seeded
}

func newClient(t testing.TB, host string, opts ...Option) *Client {
	t.Helper()
	c, err := New(host, append([]Option{WithClock(func() time.Time { return testNow }), WithRetryBackoff(fastRetry)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// request kinds of the registry API.
const (
	kindPing           = "ping"
	kindCatalog        = "catalog"
	kindTags           = "tags"
	kindManifestTag    = "manifest-by-tag"
	kindManifestDigest = "manifest-by-digest"
	kindBlob           = "blob"
	kindOther          = "other"
)

// classify names the API call a request makes and the repository and
// reference it concerns.
func classify(u *url.URL) (kind, repo, ref string) {
	p := u.Path
	switch {
	case p == "/v2/" || p == "/v2":
		return kindPing, "", ""
	case p == "/v2/_catalog":
		return kindCatalog, "", ""
	}
	rest := strings.TrimPrefix(p, "/v2/")
	for _, k := range []string{"/tags/list", "/manifests/", "/blobs/"} {
		i := strings.LastIndex(rest, k)
		if i < 0 {
			continue
		}
		repo, ref = rest[:i], rest[i+len(k):]
		switch k {
		case "/tags/list":
			return kindTags, repo, ""
		case "/blobs/":
			return kindBlob, repo, ref
		}
		if strings.HasPrefix(ref, "sha256:") {
			return kindManifestDigest, repo, ref
		}
		return kindManifestTag, repo, ref
	}
	return kindOther, "", ""
}

// call is one request seen by countingTransport.
type call struct {
	method, kind, repo, ref, query string
	scheme                         string
	status                         int // 0: no response
}

// countingTransport records every request the client sends.
type countingTransport struct {
	inner http.RoundTripper
	mu    sync.Mutex
	calls []call
}

func newCountingTransport() *countingTransport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &countingTransport{inner: t}
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	kind, repo, ref := classify(req.URL)
	cl := call{method: req.Method, kind: kind, repo: repo, ref: ref, query: req.URL.RawQuery, scheme: req.URL.Scheme}
	resp, err := c.inner.RoundTrip(req)
	if err == nil {
		cl.status = resp.StatusCode
	}
	c.mu.Lock()
	c.calls = append(c.calls, cl)
	c.mu.Unlock()
	return resp, err
}

func (c *countingTransport) snapshot() []call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]call(nil), c.calls...)
}

func (c *countingTransport) reset() {
	c.mu.Lock()
	c.calls = nil
	c.mu.Unlock()
}

// fault answers matching requests with status and a registry error body.
func fault(match func(r *http.Request) bool, status int, code string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !match(r) {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"errors":[{"code":"` + code + `","message":"injected by the test"}]}`))
		})
	}
}

// rewrite replaces the body (and Content-Type, when not empty) of matching
// responses.
func rewrite(match func(r *http.Request) bool, contentType string, body func(orig []byte) []byte) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !match(r) {
				next.ServeHTTP(w, r)
				return
			}
			rec := &recorder{header: http.Header{}}
			next.ServeHTTP(rec, r)
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			b := body(rec.body)
			if contentType != "" {
				w.Header().Set("Content-Type", contentType)
			}
			w.Header().Del("Content-Length")
			w.Header().Del("Docker-Content-Digest")
			w.WriteHeader(rec.status)
			_, _ = w.Write(b)
		})
	}
}

type recorder struct {
	header http.Header
	body   []byte
	status int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body = append(r.body, b...)
	return len(b), nil
}
func (r *recorder) WriteHeader(s int) { r.status = s }
