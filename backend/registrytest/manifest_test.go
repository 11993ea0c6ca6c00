package registrytest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
)

// inRepo runs fn with repo's repository and manifest service, and the
// storage.
func inRepo(t *testing.T, r *Registry, repo string, fn func(ctx context.Context, rp distribution.Repository, ms distribution.ManifestService, d storagedriver.StorageDriver)) {
	t.Helper()
	err := r.Storage(t.Context(), func(ctx context.Context, ns distribution.Namespace, d storagedriver.StorageDriver) error {
		rp, ms, err := OpenRepository(ctx, ns, repo)
		if err == nil {
			fn(ctx, rp, ms, d)
		}
		return err
	})
	if err != nil {
		t.Fatalf("open %s: %v", repo, err)
	}
}

// TestReadManifest reads every seeded image back: an index's platform
// manifests, an image's config and layers (its blobs after the manifest)
// and its config's created time, and its push time.
func TestReadManifest(t *testing.T) {
	t.Parallel()
	start := time.Now()
	r, s := ServeSeeded(t, smallPopulation(3))
	indexes := 0
	for _, im := range s.Images {
		inRepo(t, r, im.Repository, func(ctx context.Context, rp distribution.Repository, ms distribution.ManifestService, d storagedriver.StorageDriver) {
			pushed, err := PushTime(ctx, d, im.Repository, digest.Digest(im.Digest))
			if err != nil {
				t.Fatalf("PushTime %s: %v", im.Ref(), err)
			}
			if pushed.After(time.Now()) || pushed.Before(start.Add(-time.Second)) {
				t.Errorf("%s: pushed at %v, not while the test ran (from %v)", im.Ref(), pushed, start)
			}
			m, err := ReadManifest(ctx, ms, digest.Digest(im.Digest))
			if err != nil {
				t.Fatalf("ReadManifest %s: %v", im.Ref(), err)
			}
			if m.MediaType != im.MediaType || digest.FromBytes(m.Payload).String() != im.Digest {
				t.Errorf("%s: media type %q, payload %s; want %q, %s", im.Ref(), m.MediaType, digest.FromBytes(m.Payload), im.MediaType, im.Digest)
			}
			if len(im.Children) > 0 {
				indexes++
				var got []string
				for _, c := range m.Manifests {
					got = append(got, c.Digest.String())
					if c.Platform == nil || c.Platform.OS == "" || c.Platform.Architecture == "" {
						t.Errorf("%s: child %s has no platform", im.Ref(), c.Digest)
					}
				}
				if !slices.Equal(got, im.Children) || m.Config != nil {
					t.Errorf("%s: children %v, config %v; want %v and none", im.Ref(), got, m.Config, im.Children)
				}
				return
			}
			want := im.Blobs[1:] // the manifest itself first, then config and layers
			got := []Blob{{Digest: m.Config.Digest.String(), Size: m.Config.Size, MediaType: m.Config.MediaType}}
			for _, l := range m.Layers {
				got = append(got, Blob{Digest: l.Digest.String(), Size: l.Size, MediaType: l.MediaType})
			}
			if !slices.Equal(got, want) || len(m.References) != len(want) || len(m.Manifests) != 0 {
				t.Errorf("%s: config and layers %v (%d references), want %v", im.Ref(), got, len(m.References), want)
			}
			var cfg struct {
				Created time.Time `json:"created"`
			}
			if err := ReadConfig(ctx, rp, m.Config.Digest, &cfg); err != nil {
				t.Fatalf("ReadConfig %s: %v", m.Config.Digest, err)
			}
			if !cfg.Created.Equal(im.Created) {
				t.Errorf("%s: config created %v, want %v", im.Ref(), cfg.Created, im.Created)
			}
		})
	}
	if indexes == 0 {
		t.Fatal("the population has no index to read")
	}
}

// TestReadErrors: an invalid repository name, a digest the repository
// lacks, and a blob that is not JSON are errors naming them.
func TestReadErrors(t *testing.T) {
	t.Parallel()
	r, s := ServeSeeded(t, smallPopulation(4))
	im := s.Images[0]
	absent := digest.FromString("absent")
	layer := im.Blobs[len(im.Blobs)-1] // random bytes, not JSON
	err := r.Storage(t.Context(), func(ctx context.Context, ns distribution.Namespace, _ storagedriver.StorageDriver) error {
		_, _, err := OpenRepository(ctx, ns, "Not/A/Name")
		return err
	})
	if err == nil || !strings.Contains(err.Error(), `open repository "Not/A/Name"`) {
		t.Errorf("OpenRepository of an invalid name: %v", err)
	}
	inRepo(t, r, im.Repository, func(ctx context.Context, rp distribution.Repository, ms distribution.ManifestService, d storagedriver.StorageDriver) {
		if _, err := PushTime(ctx, d, im.Repository, absent); err == nil || !strings.Contains(err.Error(), "stat ") {
			t.Errorf("PushTime of an absent digest: %v", err)
		}
		if _, err := ReadManifest(ctx, ms, absent); err == nil || !strings.Contains(err.Error(), "read manifest "+absent.String()) {
			t.Errorf("ReadManifest of an absent digest: %v", err)
		}
		var v map[string]any
		if err := ReadConfig(ctx, rp, absent, &v); err == nil || !strings.Contains(err.Error(), "read config "+absent.String()+" of "+im.Repository) {
			t.Errorf("ReadConfig of an absent blob: %v", err)
		}
		if err := ReadConfig(ctx, rp, digest.Digest(layer.Digest), &v); err == nil || !strings.Contains(err.Error(), "parse config "+layer.Digest) {
			t.Errorf("ReadConfig of a layer: %v", err)
		}
	})
}

// TestContents: what made returns is kept, by digest, and made runs once
// a digest; an error (the manifest's, or made's) is not kept.
func TestContents(t *testing.T) {
	t.Parallel()
	r, s := ServeSeeded(t, smallPopulation(5))
	im := s.Images[0]
	var c Contents[string]
	var calls atomic.Int32
	made := func(m *Manifest) (*string, error) {
		calls.Add(1)
		v := m.MediaType
		return &v, nil
	}
	failing := errors.New("made fails")
	inRepo(t, r, im.Repository, func(ctx context.Context, _ distribution.Repository, ms distribution.ManifestService, _ storagedriver.StorageDriver) {
		dg := digest.Digest(im.Digest)
		if _, err := c.Of(ctx, ms, dg, func(*Manifest) (*string, error) { return nil, failing }); !errors.Is(err, failing) {
			t.Fatalf("Of with a failing made: %v", err)
		}
		for i := range 3 {
			v, err := c.Of(ctx, ms, dg, made)
			if err != nil || v == nil || *v != im.MediaType {
				t.Fatalf("Of #%d = %v, %v; want %q", i+1, v, err, im.MediaType)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("made ran %d times for one digest, want 1", n)
		}
		if _, err := c.Of(ctx, ms, digest.FromString("absent"), made); err == nil || calls.Load() != 1 {
			t.Errorf("Of of an absent digest: %v, made ran %d times", err, calls.Load())
		}
	})
}
