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

// BenchmarkIndexNotModified is a chart check whose index.yaml (the real
// 1.7 MB JupyterHub index) answers 304: a new client each time, as a new
// run has, so only the disk cache's parsed versions help:
//
//	go test -run '^$' -bench IndexNotModified ./backend/chartrepo
func BenchmarkIndexNotModified(b *testing.B) {
	body := fixtureIndex(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	dir := b.TempDir()
	ctx := context.Background()
	if _, err := New(WithCacheDir(dir)).Versions(ctx, srv.URL, "jupyterhub"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		vs, err := New(WithCacheDir(dir)).Versions(ctx, srv.URL, "jupyterhub")
		if err != nil || len(vs) == 0 {
			b.Fatal(err)
		}
	}
}
