package chartrepo

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// fixtureIndex is the real JupyterHub chart index, kept gzipped in testdata/
// at the repository's root.
func fixtureIndex(t testing.TB) []byte {
	t.Helper()
	gz, err := os.ReadFile(filepath.Join("..", "..", "testdata", "jupyterhub-helm-chart-index.yaml.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// indexServer serves an index.yaml and records what it was asked.
type indexServer struct {
	*httptest.Server
	mu           sync.Mutex
	body         []byte
	etag         string
	lastModified string
	requests     int
	notModified  int
	conditionals []string // If-None-Match / If-Modified-Since seen
}

func newIndexServer(t *testing.T, body []byte) *indexServer {
	s := &indexServer{body: body}
	mux := http.NewServeMux()
	mux.HandleFunc("/charts/index.yaml", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests++
		inm, ims := r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")
		if inm != "" || ims != "" {
			s.conditionals = append(s.conditionals, inm+"|"+ims)
		}
		if (s.etag != "" && inm == s.etag) || (s.etag == "" && s.lastModified != "" && ims == s.lastModified) {
			s.notModified++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if s.etag != "" {
			w.Header().Set("ETag", s.etag)
		}
		if s.lastModified != "" {
			w.Header().Set("Last-Modified", s.lastModified)
		}
		w.Write(s.body)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *indexServer) repo() string { return s.URL + "/charts" }

func (s *indexServer) stats() (requests, notModified int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.notModified
}

func TestVersionsFromIndex(t *testing.T) {
	srv := newIndexServer(t, fixtureIndex(t))
	c := New()
	ctx := context.Background()
	tests := []struct {
		chart     string
		count     int
		opts      model.SelectOptions
		wantNewer string
	}{
		{"binderhub", 697, model.SelectOptions{Prereleases: true}, "1.0.0-0.dev.git.3506.hba24eb2a"},
		{"jupyterhub", 1058, model.SelectOptions{}, "3.3.8"},
		{"jupyterhub", 1058, model.SelectOptions{Prereleases: true}, "4.0.0-beta.4.git.6831.habe06f4d"},
		{"pebble", 20, model.SelectOptions{}, ""},
	}
	for _, tt := range tests {
		vs, err := c.Versions(ctx, srv.repo(), tt.chart)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != tt.count {
			t.Errorf("%s: %d versions, want %d", tt.chart, len(vs), tt.count)
		}
		got, ok, err := model.SelectNewest("0.0.1", vs, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		if tt.wantNewer == "" {
			// pebble's only stable release is 0.0.1 itself... or older.
			if ok && got.Version == "0.0.1" {
				t.Errorf("pebble: proposed the pinned version")
			}
			continue
		}
		if !ok || got.Version != tt.wantNewer {
			t.Errorf("%s %+v: newest %q, want %q", tt.chart, tt.opts, got.Version, tt.wantNewer)
		}
		if got.Created.IsZero() || got.Home == "" || len(got.Sources) == 0 || got.Digest == "" {
			t.Errorf("%s: details missing from %+v", tt.chart, got)
		}
	}
	if n, _ := srv.stats(); n != 1 {
		t.Errorf("index fetched %d times for one client, want once", n)
	}

	d, err := c.Describe(ctx, srv.repo(), "binderhub", "1.0.0-0.dev.git.3497.hf25ee22")
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != "1.0.0-0.dev.git.3497.hf25ee22" || d.Created.IsZero() || d.Sources[0] != "https://github.com/jupyterhub/binderhub" {
		t.Errorf("Describe = %+v", d)
	}
	if _, err := c.Describe(ctx, srv.repo(), "binderhub", "9.9.9"); err == nil || !strings.Contains(err.Error(), "chart binderhub has no version 9.9.9 in "+srv.URL) {
		t.Errorf("Describe of a missing version: %v", err)
	}
}

func TestVersionsCache(t *testing.T) {
	body := fixtureIndex(t)
	tests := []struct {
		name, etag, lastModified string
	}{
		{"etag", `"abc123"`, ""},
		{"last-modified", "", "Thu, 24 Oct 2024 11:45:31 GMT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newIndexServer(t, body)
			srv.etag, srv.lastModified = tt.etag, tt.lastModified
			dir := t.TempDir()
			ctx := context.Background()

			first, err := New(WithCacheDir(dir)).Versions(ctx, srv.repo(), "jupyterhub")
			if err != nil {
				t.Fatal(err)
			}
			// A second run (a new client) revalidates and uses its copy.
			second, err := New(WithCacheDir(dir)).Versions(ctx, srv.repo(), "jupyterhub")
			if err != nil {
				t.Fatal(err)
			}
			requests, notModified := srv.stats()
			if requests != 2 || notModified != 1 {
				t.Fatalf("requests=%d notModified=%d, want 2 and 1", requests, notModified)
			}
			want := tt.etag + "|"
			if tt.etag == "" {
				want = "|" + tt.lastModified
			}
			if len(srv.conditionals) != 1 || srv.conditionals[0] != want {
				t.Errorf("conditional headers %q, want [%q]", srv.conditionals, want)
			}
			if len(first) != len(second) || first[0].Version != second[0].Version || !first[0].Created.Equal(second[0].Created) {
				t.Errorf("cached copy differs: %d vs %d versions", len(first), len(second))
			}

			// A damaged cached copy (the body and its parsed versions) is
			// replaced by a fresh download.
			files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
			parsed, _ := filepath.Glob(filepath.Join(dir, "*.gob"))
			if len(files) != 1 || len(parsed) != 1 {
				t.Fatalf("cache has %v and %v", files, parsed)
			}
			for _, f := range append(files, parsed...) {
				if err := os.WriteFile(f, []byte(": not yaml ["), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			third, err := New(WithCacheDir(dir)).Versions(ctx, srv.repo(), "jupyterhub")
			if err != nil {
				t.Fatal(err)
			}
			if len(third) != len(first) {
				t.Errorf("after a damaged cache: %d versions, want %d", len(third), len(first))
			}
			if requests, _ := srv.stats(); requests != 4 {
				t.Errorf("requests=%d, want 4 (304, then a full download)", requests)
			}
			// The repaired cache serves the next run again.
			if _, err := New(WithCacheDir(dir)).Versions(ctx, srv.repo(), "jupyterhub"); err != nil {
				t.Fatal(err)
			}
			if _, notModified := srv.stats(); notModified != 3 {
				t.Errorf("notModified=%d, want 3", notModified)
			}
		})
	}
}

func TestVersionsNoValidatorsNotCached(t *testing.T) {
	srv := newIndexServer(t, fixtureIndex(t))
	dir := t.TempDir()
	for range 2 {
		if _, err := New(WithCacheDir(dir)).Versions(context.Background(), srv.repo(), "pebble"); err != nil {
			t.Fatal(err)
		}
	}
	if requests, notModified := srv.stats(); requests != 2 || notModified != 0 || len(srv.conditionals) != 0 {
		t.Errorf("requests=%d notModified=%d conditionals=%q", requests, notModified, srv.conditionals)
	}
}

func gzipped(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestVersionsTransport(t *testing.T) {
	index := []byte("apiVersion: v1\nentries:\n  demo:\n  - version: 1.2.3\n    created: \"2024-01-02T03:04:05Z\"\n    appVersion: \"9\"\n")
	gz := gzipped(t, index)
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		transport http.RoundTripper
		path      string
		wantErr   string // "" means success
	}{
		{
			name: "gzip negotiated by the transport",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
					http.Error(w, "want gzip", http.StatusBadRequest)
					return
				}
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(gz)
			},
		},
		{
			name: "gzip sent although not asked for",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(gz)
			},
			transport: &http.Transport{DisableCompression: true},
		},
		{
			name: "gzip file served as is",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/gzip")
				w.Write(gz)
			},
		},
		{
			name: "unknown content encoding",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", "br")
				w.Write([]byte("xx"))
			},
			transport: &http.Transport{DisableCompression: true},
			wantErr:   `Content-Encoding "br"`,
		},
		{
			name: "redirect",
			path: "/old",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/old/") {
					http.Redirect(w, r, "/new/index.yaml", http.StatusFound)
					return
				}
				w.Write(index)
			},
		},
		{
			name:    "not found",
			handler: func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			wantErr: "/repo/index.yaml: HTTP 404 Not Found",
		},
		{
			name: "server error",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "boom", http.StatusInternalServerError)
			},
			wantErr: "/repo/index.yaml: HTTP 500 Internal Server Error",
		},
		{
			name:    "garbage",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("entries: [\n  {{{")) },
			wantErr: "/repo/index.yaml: not a YAML chart repository index",
		},
		{
			name: "HTML page",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("<html><body>Not here</body></html>"))
			},
			wantErr: "/repo/index.yaml: not a chart repository index",
		},
		{
			name:    "no entries",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("apiVersion: v1\ngenerated: now\n")) },
			wantErr: "/repo/index.yaml: not a chart repository index: it has no entries",
		},
		{
			name: "chart absent",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("entries:\n  b: []\n  a:\n  - version: 1.0.0\n"))
			},
			wantErr: "chart demo not found in http://127.0.0.1:PORT/repo/index.yaml; it has: a, b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			var opts []Option
			if tt.transport != nil {
				opts = append(opts, WithTransport(tt.transport))
			}
			path := tt.path
			if path == "" {
				path = "/repo"
			}
			vs, err := New(opts...).Versions(context.Background(), srv.URL+path, "demo")
			if tt.wantErr != "" {
				want := strings.ReplaceAll(tt.wantErr, "http://127.0.0.1:PORT", srv.URL)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v, want one containing %q", err, want)
				}
				if !strings.Contains(err.Error(), srv.URL) {
					t.Errorf("error %q does not name the URL", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := model.ChartVersion{Version: "1.2.3", Created: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), AppVersion: "9"}
			if len(vs) != 1 || vs[0].Version != want.Version || !vs[0].Created.Equal(want.Created) || vs[0].AppVersion != want.AppVersion {
				t.Fatalf("Versions = %+v, want [%+v]", vs, want)
			}
		})
	}
}

func TestVersionsRetriesAfterFailure(t *testing.T) {
	var fail sync.Mutex
	failing := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail.Lock()
		defer fail.Unlock()
		if failing {
			http.Error(w, "later", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("entries:\n  demo:\n  - version: 1.0.0\n"))
	}))
	defer srv.Close()
	c := New()
	if _, err := c.Versions(context.Background(), srv.URL, "demo"); err == nil {
		t.Fatal("want an error while the server fails")
	}
	fail.Lock()
	failing = false
	fail.Unlock()
	vs, err := c.Versions(context.Background(), srv.URL, "demo")
	if err != nil || len(vs) != 1 {
		t.Fatalf("after the server recovered: %v, %v (a failure must not be remembered)", vs, err)
	}
}

func TestVersionsCanceled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := New().Versions(ctx, srv.URL, "demo")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want a deadline error", err)
	}
}

func TestRepositoryErrors(t *testing.T) {
	tests := []struct {
		repository, wantErr string
	}{
		{"", "an empty repository means a chart kept beside the chart file"},
		{"file://../charts/x", "file:// chart is kept beside"},
		{"@stable", "resolved through the configuration's repositories map"},
		{"alias:stable", "resolved through the configuration's repositories map"},
		{"ftp://example.org/charts", `unsupported repository "ftp://example.org/charts"`},
		{"example.org/charts", "it has no scheme"},
		{"https://", "has no host"},
		{"oci://", "has no registry host"},
		{"oci://library/charts", "has no registry host"},
		{"oci://ghcr.io/UPPER", "OCI repository"},
	}
	for _, tt := range tests {
		t.Run(tt.repository, func(t *testing.T) {
			_, err := New().Versions(context.Background(), tt.repository, "demo")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestPasswordNotLeaked(t *testing.T) {
	srv := newIndexServer(t, []byte("entries:\n  demo:\n  - version: 1.0.0\n"))
	srv.etag = `"e"`
	dir := t.TempDir()
	repo := strings.Replace(srv.URL, "http://", "http://user:s3cret-pw@", 1)
	c := New(WithCacheDir(dir))
	_, err := c.Versions(context.Background(), repo+"/charts", "other")
	if err == nil {
		t.Fatal("want a chart-not-found error")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("error leaks the password: %v", err)
	}
	_, err = c.Versions(context.Background(), repo+"/missing", "demo")
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("error %v: want a 404 without the password", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) == 0 {
		t.Fatal("nothing cached")
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte("s3cret-pw")) {
			t.Errorf("cache file %s holds the password", f)
		}
	}
}

func TestParseIndexTolerance(t *testing.T) {
	ix, err := ParseIndex([]byte(`entries:
  a:
  - version: [1, 2]
    created: yesterday
  - version: 1.0.0
    sources: just-a-string
    created: 2024-05-06T07:08:09.5+02:00
  - version: 1.1.0
`))
	if err != nil {
		t.Fatal(err)
	}
	vs := ix.Entries["a"]
	if len(vs) != 3 {
		t.Fatalf("got %d entries", len(vs))
	}
	if vs[0].Version != "" || !vs[0].Created.IsZero() {
		t.Errorf("malformed entry: %+v", vs[0])
	}
	if vs[1].Version != "1.0.0" || vs[1].Created.Unix() != time.Date(2024, 5, 6, 5, 8, 9, 0, time.UTC).Unix() {
		t.Errorf("entry with a bad sources field: %+v", vs[1])
	}
	if got, ok, _ := model.SelectNewest("0.1.0", vs, model.SelectOptions{}); !ok || got.Version != "1.1.0" {
		t.Errorf("SelectNewest = %q, %v", got.Version, ok)
	}
	// JSON is YAML too.
	ix, err = ParseIndex([]byte(`{"apiVersion":"v1","entries":{"j":[{"version":"2.0.0","created":"2024-01-01T00:00:00Z"}]}}`))
	if err != nil || len(ix.Entries["j"]) != 1 || ix.Entries["j"][0].Version != "2.0.0" {
		t.Errorf("JSON index: %v %+v", err, ix)
	}
}

func TestIndexURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://jupyterhub.github.io/helm-chart":   "https://jupyterhub.github.io/helm-chart/index.yaml",
		"https://jupyterhub.github.io/helm-chart/":  "https://jupyterhub.github.io/helm-chart/index.yaml",
		"https://cryptnono.github.io/cryptnono/":    "https://cryptnono.github.io/cryptnono/index.yaml",
		"https://helm.goharbor.io":                  "https://helm.goharbor.io/index.yaml",
		"https://example.org/charts?token=abc#frag": "https://example.org/charts/index.yaml?token=abc#frag",
	} {
		u, err := indexURL(in)
		if err != nil || u.String() != want {
			t.Errorf("indexURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	if _, err := indexURL("https://exa mple.org/"); err == nil {
		t.Error("want an error for a URL with a space in the host")
	}
}

func ExampleClient_Versions() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "entries:\n  demo:\n  - version: 1.2.0\n  - version: 1.10.0\n  - version: 2.0.0-rc.1\n")
	}))
	defer srv.Close()
	vs, _ := New().Versions(context.Background(), srv.URL, "demo")
	newest, ok, _ := model.SelectNewest("1.2.0", vs, model.SelectOptions{})
	fmt.Println(newest.Version, ok)
	// Output: 1.10.0 true
}

func TestVersionsConcurrentShareOneFetch(t *testing.T) {
	srv := newIndexServer(t, []byte("entries:\n  a:\n  - version: 1.0.0\n  b:\n  - version: 2.0.0\n"))
	c := New()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			_, err := c.Versions(context.Background(), srv.repo(), []string{"a", "b"}[i%2])
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := srv.stats(); n != 1 {
		t.Errorf("index fetched %d times by concurrent lookups, want once", n)
	}
}
