package chartrepo

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// Fetching an index over HTTP: content encodings, redirects, error statuses
// and bodies that are not an index; retries and cancellation.

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
