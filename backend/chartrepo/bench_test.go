package chartrepo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// BenchmarkParseIndex parses the real 1.7 MB JupyterHub index.
func BenchmarkParseIndex(b *testing.B) {
	data := fixtureIndex(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseIndex(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseAndSelect parses the real index and picks the newest
// binderhub and jupyterhub versions, as one run of the bot does.
func BenchmarkParseAndSelect(b *testing.B) {
	data := fixtureIndex(b)
	b.ReportAllocs()
	for b.Loop() {
		ix, err := ParseIndex(data)
		if err != nil {
			b.Fatal(err)
		}
		for _, chart := range []string{"binderhub", "jupyterhub"} {
			vs, err := ix.Versions(chart)
			if err != nil {
				b.Fatal(err)
			}
			if _, ok, err := model.SelectNewest("0.1.0", vs, model.SelectOptions{Prereleases: true}); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	}
}

// BenchmarkVersionsNotModified is a later run: a new client revalidates its
// cached copy (304 from a loopback server) and parses it.
func BenchmarkVersionsNotModified(b *testing.B) {
	data := fixtureIndex(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Write(data)
	}))
	defer srv.Close()
	dir := b.TempDir()
	if _, err := New(WithCacheDir(dir)).Versions(context.Background(), srv.URL, "binderhub"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(WithCacheDir(dir)).Versions(context.Background(), srv.URL, "binderhub"); err != nil {
			b.Fatal(err)
		}
	}
}
