package registry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/helmupgradebot/helmupgradebot/backend/audit"
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

// startPushing starts the embedded registry and a pusher of hand-made
// images to it.
func startPushing(t *testing.T, opts ...registrytest.Option) (*registrytest.Registry, pusher) {
	t.Helper()
	reg := registrytest.Serve(t, opts...)
	return reg, pusher{t, reg.Host()}
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
	path                           string
	// bearer is the request's bearer token; scope, for /oauth2/token,
	// its form's scope parameter
	bearer, scope string
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
	cl := call{method: req.Method, kind: kind, repo: repo, ref: ref, query: req.URL.RawQuery, scheme: req.URL.Scheme, path: req.URL.Path, bearer: bearerOf(req)}
	if req.URL.Path == "/oauth2/token" && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		form, _ := url.ParseQuery(string(body))
		cl.scope = form.Get("scope")
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
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

func openLog(t *testing.T) (*audit.Log, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

func readAudit(t *testing.T, path string) []audit.Entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []audit.Entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e audit.Entry
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("audit line %d: %v: %s", len(out)+1, err, sc.Text())
		}
		out = append(out, e)
	}
	return out
}

// checkAudit checks that every deletion that ran has an attempt line and
// then exactly one outcome line, and returns the outcomes by digest.
func checkAudit(t *testing.T, path string, inv *model.Inventory) map[string]audit.Entry {
	t.Helper()
	lines := readAudit(t, path)
	attempted := map[string]bool{}
	outcomes := map[string]audit.Entry{}
	for _, e := range lines {
		if e.Action != audit.ActionDelete || e.Registry != inv.Registry || e.Time.IsZero() {
			t.Errorf("audit line %+v: bad action, registry or time", e)
		}
		switch e.Outcome {
		case audit.OutcomeAttempt:
			if attempted[e.Digest] {
				t.Errorf("%s attempted twice", e.Digest)
			}
			attempted[e.Digest] = true
		case audit.OutcomeDeleted, audit.OutcomeAlreadyGone, audit.OutcomeFailed:
			if !attempted[e.Digest] {
				t.Errorf("%s: outcome %q before any attempt", e.Digest, e.Outcome)
			}
			if _, dup := outcomes[e.Digest]; dup {
				t.Errorf("%s: two outcomes", e.Digest)
			}
			if (e.Outcome == audit.OutcomeFailed) != (e.Error != "") {
				t.Errorf("%s: outcome %q with error %q", e.Digest, e.Outcome, e.Error)
			}
			outcomes[e.Digest] = e
		default:
			t.Errorf("unknown outcome %q", e.Outcome)
		}
	}
	for d := range attempted {
		if _, ok := outcomes[d]; !ok {
			t.Errorf("%s attempted without an outcome", d)
		}
	}
	return outcomes
}

func findImage(inv *model.Inventory, pred func(*model.Image) bool) []int {
	var out []int
	for i := range inv.Images {
		if pred(&inv.Images[i]) {
			out = append(out, i)
		}
	}
	return out
}

// checkMatchesSeed compares an inventory with what the seeder pushed, image
// by image, and returns the inventory's images by repository@digest.
func checkMatchesSeed(t *testing.T, inv *model.Inventory, seeded *registrytest.Seeded) map[string]*model.Image {
	t.Helper()
	got := map[string]*model.Image{}
	for i := range inv.Images {
		im := &inv.Images[i]
		if got[im.Ref()] != nil {
			t.Errorf("%s listed twice", im.Ref())
		}
		got[im.Ref()] = im
	}
	if len(inv.Images) != len(seeded.Images) {
		t.Errorf("%d images, seeded %d", len(inv.Images), len(seeded.Images))
	}
	if inv.Tags() != seeded.Tags() {
		t.Errorf("%d tags, seeded %d", inv.Tags(), seeded.Tags())
	}
	for k := range seeded.Images {
		want := &seeded.Images[k]
		im := got[want.Ref()]
		if im == nil {
			t.Errorf("%s (tags %v) missing from the inventory", want.Ref(), want.Tags)
			continue
		}
		if wt := slices.Sorted(slices.Values(want.Tags)); !slices.Equal(im.Tags, wt) {
			t.Errorf("%s: tags %v, want %v", want.Ref(), im.Tags, wt)
		}
		if im.MediaType != want.MediaType {
			t.Errorf("%s: media type %q, want %q", want.Ref(), im.MediaType, want.MediaType)
		}
		wantProblem := model.CreatedOK
		switch {
		case want.CreatedMissing:
			wantProblem = model.CreatedMissing
		case want.Created.Before(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)):
			wantProblem = model.CreatedBogus
		}
		if im.CreatedProblem != wantProblem || !im.Created.Equal(want.Created) {
			t.Errorf("%s: created %v (%q), want %v (%q)", want.Ref(), im.Created, im.CreatedProblem, want.Created, wantProblem)
		}
		if !slices.Equal(im.Platforms, want.Platforms) {
			t.Errorf("%s: platforms %v, want %v", want.Ref(), im.Platforms, want.Platforms)
		}
		if !slices.Equal(im.Children, model.ParseDigests(want.Children)) {
			t.Errorf("%s: children %v, want %v", want.Ref(), im.Children, want.Children)
		}
		gotBlobs := map[string]int64{}
		for _, b := range im.Blobs {
			gotBlobs[inv.Blobs.Digest(b)] = inv.Blobs.Size(b)
		}
		wantBlobs := map[string]int64{}
		for _, b := range want.Blobs {
			wantBlobs[b.Digest] = b.Size
		}
		if fmt.Sprint(gotBlobs) != fmt.Sprint(wantBlobs) {
			t.Errorf("%s: blobs\n%v\nwant\n%v", want.Ref(), gotBlobs, wantBlobs)
		}
	}
	return got
}

func digestOf(t *testing.T, x interface{ Digest() (v1.Hash, error) }) string {
	return must[v1.Hash](t)(x.Digest()).String()
}

// imageAt is the inventory index of repo@digest.
func imageAt(t *testing.T, inv *model.Inventory, repo, digest string) int {
	t.Helper()
	got := findImage(inv, func(im *model.Image) bool { return im.Repository == repo && im.Digest == model.ParseDigest(digest) })
	if len(got) != 1 {
		t.Fatalf("%s@%s is in the inventory %d times", repo, digest, len(got))
	}
	return got[0]
}

func planned(inv *model.Inventory, p model.Plan) map[string]bool {
	out := map[string]bool{}
	for _, d := range p.Deletions {
		out[inv.Images[d.Image].Ref()] = true
		for _, c := range d.Children {
			out[inv.Images[d.Image].Repository+"@"+c.String()] = true
		}
	}
	return out
}
