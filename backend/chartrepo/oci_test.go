package chartrepo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/helmupgradebot/helmupgradebot/model"
)

type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.b, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// pushArtifact stores a manifest with the given config under repo:tag.
func pushArtifact(t *testing.T, repo name.Repository, tag string, configType types.MediaType, config []byte, annotations map[string]string, opts ...remote.Option) {
	t.Helper()
	layer := static.NewLayer(config, configType)
	if err := remote.WriteLayer(repo, layer, opts...); err != nil {
		t.Fatalf("push config: %v", err)
	}
	dig, _ := layer.Digest()
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: configType, Digest: dig, Size: int64(len(config))},
		Layers:        []v1.Descriptor{},
		Annotations:   annotations,
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(repo.Tag(tag), rawManifest{b, types.OCIManifestSchema1}, opts...); err != nil {
		t.Fatalf("push manifest %s: %v", tag, err)
	}
}

func newRegistry(t *testing.T) string {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestOCIVersions(t *testing.T) {
	host := newRegistry(t)
	repo, err := name.NewRepository(host+"/helm/traefik", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, tag := range []string{"41.1.1", "41.2.0", "42.0.0_build.1", "latest"} {
		version := strings.ReplaceAll(tag, "_", "+")
		cfg, _ := json.Marshal(map[string]any{
			"apiVersion": "v2", "name": "traefik", "version": version, "appVersion": "v" + version,
			"home": "https://traefik.io/", "sources": []string{"https://github.com/traefik/traefik-helm-chart"},
		})
		pushArtifact(t, repo, tag, HelmConfigMediaType, cfg, map[string]string{
			"org.opencontainers.image.created": created.Format(time.RFC3339),
			"org.opencontainers.image.url":     "https://annotation.example/",
			"org.opencontainers.image.source":  "https://github.com/traefik/traefik-helm-chart",
		})
	}
	pushArtifact(t, repo, "not-a-chart", types.OCIConfigJSON, []byte(`{"architecture":"amd64","os":"linux"}`), nil)

	c := New()
	ctx := context.Background()
	for _, repository := range []string{"oci://" + host + "/helm", "oci://" + host + "/helm/"} {
		vs, err := c.Versions(ctx, repository, "traefik")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range vs {
			got = append(got, v.Version)
		}
		slices.Sort(got)
		want := []string{"41.1.1", "41.2.0", "42.0.0+build.1", "latest", "not-a-chart"}
		if !slices.Equal(got, want) {
			t.Fatalf("Versions(%s) = %v, want %v", repository, got, want)
		}
		newest, ok, err := model.SelectNewest("41.1.1", vs, model.SelectOptions{})
		if err != nil || !ok || newest.Version != "42.0.0+build.1" {
			t.Fatalf("SelectNewest = %q %v %v", newest.Version, ok, err)
		}
	}

	d, err := c.Describe(ctx, "oci://"+host+"/helm", "traefik", "42.0.0+build.1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != "42.0.0+build.1" || !d.Created.Equal(created) || d.AppVersion != "v42.0.0+build.1" ||
		d.Home != "https://traefik.io/" || !slices.Equal(d.Sources, []string{"https://github.com/traefik/traefik-helm-chart"}) ||
		!strings.HasPrefix(d.Digest, "sha256:") {
		t.Errorf("Describe = %+v", d)
	}

	_, err = c.Describe(ctx, "oci://"+host+"/helm", "traefik", "not-a-chart")
	if err == nil || !strings.Contains(err.Error(), "not a Helm chart") || !strings.Contains(err.Error(), host+"/helm/traefik:not-a-chart") {
		t.Errorf("Describe of an image: %v", err)
	}
	_, err = c.Describe(ctx, "oci://"+host+"/helm", "traefik", "9.9.9")
	if err == nil || !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
		t.Errorf("Describe of a missing tag: %v", err)
	}
	_, err = c.Versions(ctx, "oci://"+host+"/helm", "nope")
	if err == nil || !strings.Contains(err.Error(), "list tags of chart nope in oci://"+host+"/helm/nope") {
		t.Errorf("Versions of a missing chart: %v", err)
	}
}

func TestOCITagsFetchedOnce(t *testing.T) {
	host := newRegistry(t)
	repo, _ := name.NewRepository(host+"/charts/demo", name.Insecure)
	pushArtifact(t, repo, "1.0.0", HelmConfigMediaType, []byte(`{"name":"demo","version":"1.0.0"}`), nil)
	var lists int
	counting := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/tags/list") {
			lists++
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	c := New(WithTransport(counting))
	for range 3 {
		if _, err := c.Versions(context.Background(), "oci://"+host+"/charts", "demo"); err != nil {
			t.Fatal(err)
		}
	}
	if lists != 1 {
		t.Errorf("tags listed %d times, want once", lists)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestOCIPrivateAddressNeedsTLS(t *testing.T) {
	// go-containerregistry falls back to plain HTTP for private addresses;
	// the client must not. The transport refuses before any packet is sent.
	var sent []string
	c := New(WithTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent = append(sent, r.URL.String())
		return nil, errors.New("no network in tests")
	})))
	_, err := c.Versions(context.Background(), "oci://10.1.2.3:5000/charts", "demo")
	if err == nil {
		t.Fatal("want an error")
	}
	for _, u := range sent {
		if strings.HasPrefix(u, "http://") {
			t.Errorf("plain HTTP request sent to %s", u)
		}
	}
}
