package chartrepo

import (
	"bytes"
	"compress/gzip"
	"context"
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
