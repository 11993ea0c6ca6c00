package registry

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// dockerImage is a random Docker schema 2 image created at the given time
// for the given platform.
func dockerImage(t *testing.T, created time.Time, os, arch, variant string) v1.Image {
	img := must[v1.Image](t)(random.Image(64, 2))
	cf := must[*v1.ConfigFile](t)(img.ConfigFile())
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cf.OS, cf.Architecture, cf.Variant = os, arch, variant
	return must[v1.Image](t)(mutate.ConfigFile(img, cf))
}

func ociImage(t *testing.T, created time.Time) v1.Image {
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img := must[v1.Image](t)(mutate.AppendLayers(base, must[v1.Layer](t)(random.Layer(80, types.OCILayer))))
	return must[v1.Image](t)(mutate.CreatedAt(img, v1.Time{Time: created}))
}

func imageBlobs(t *testing.T, img v1.Image, into map[string]int64) {
	raw := must[[]byte](t)(img.RawManifest())
	into[must[v1.Hash](t)(img.Digest()).String()] = int64(len(raw))
	m := must[*v1.Manifest](t)(img.Manifest())
	into[m.Config.Digest.String()] = m.Config.Size
	for _, l := range m.Layers {
		into[l.Digest.String()] = l.Size
	}
}

func indexBlobs(t *testing.T, idx v1.ImageIndex, into map[string]int64) {
	raw := must[[]byte](t)(idx.RawManifest())
	into[must[v1.Hash](t)(idx.Digest()).String()] = int64(len(raw))
	for _, d := range must[*v1.IndexManifest](t)(idx.IndexManifest()).Manifests {
		if d.MediaType.IsIndex() {
			indexBlobs(t, must[v1.ImageIndex](t)(idx.ImageIndex(d.Digest)), into)
		} else {
			imageBlobs(t, must[v1.Image](t)(idx.Image(d.Digest)), into)
		}
	}
}

// TestScanManifestKinds pushes every manifest kind a registry may hold and
// checks what the scan makes of each.
func TestScanManifestKinds(t *testing.T) {
	reg := registrytest.Serve(t)

	docker := dockerImage(t, day(2024, 3, 1), "linux", "amd64", "")
	oci := ociImage(t, time.Date(1999, 12, 31, 23, 0, 0, 0, time.UTC))
	noCreated := dockerImage(t, time.Time{}, "linux", "amd64", "")
	amd := dockerImage(t, day(2024, 1, 1), "linux", "amd64", "")
	arm := dockerImage(t, day(2024, 2, 1), "linux", "arm64", "v8")
	list := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.DockerManifestList),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{MediaType: types.DockerManifestSchema2, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{MediaType: types.DockerManifestSchema2, Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	// An OCI index with one platform and a BuildKit attestation whose
	// (newer) created time must not count.
	ociAmd := ociImage(t, day(2024, 4, 1))
	att := ociImage(t, day(2025, 1, 1))
	withAtt := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: ociAmd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": digestOf(t, ociAmd)},
		}},
	)
	// An index of an index (a platform-less entry: its platforms come from
	// the inner index).
	nested := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: list})

	pushes := []struct {
		repo, tag string
		what      remote.Taggable
	}{
		// (Not the tag "docker": distribution v3.1.2's inmemory driver
		// cannot list a tag of that name, answering NAME_UNKNOWN.)
		{"kinds", "v1", docker}, {"kinds", "v1-alias", docker}, {"other", "v1", docker},
		{"kinds", "oci", oci}, {"kinds", "nocreated", noCreated},
		{"kinds", "list", list}, {"kinds", "attested", withAtt}, {"kinds", "nested", nested},
	}
	pusher := must[*remote.Pusher](t)(remote.NewPusher())
	for _, p := range pushes {
		ref := must[name.Tag](t)(name.NewTag(reg.Host() + "/" + p.repo + ":" + p.tag))
		if err := pusher.Push(t.Context(), ref, p.what); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
	}

	type want struct {
		repo      string
		tags      []string
		digest    string
		mediaType types.MediaType
		created   time.Time
		problem   model.CreatedProblem
		platforms []string
		children  []string
		blobs     map[string]int64
	}
	img := func(repo string, tags []string, im v1.Image, created time.Time, problem model.CreatedProblem) want {
		b := map[string]int64{}
		imageBlobs(t, im, b)
		return want{repo: repo, tags: tags, digest: digestOf(t, im), mediaType: must[types.MediaType](t)(im.MediaType()),
			created: created, problem: problem, blobs: b}
	}
	idx := func(tags []string, ix v1.ImageIndex, created time.Time, platforms, children []string) want {
		b := map[string]int64{}
		indexBlobs(t, ix, b)
		return want{repo: "kinds", tags: tags, digest: digestOf(t, ix), mediaType: must[types.MediaType](t)(ix.MediaType()),
			created: created, platforms: platforms, children: children, blobs: b}
	}
	wants := []want{
		img("kinds", []string{"v1", "v1-alias"}, docker, day(2024, 3, 1), model.CreatedOK),
		img("other", []string{"v1"}, docker, day(2024, 3, 1), model.CreatedOK),
		img("kinds", []string{"oci"}, oci, time.Date(1999, 12, 31, 23, 0, 0, 0, time.UTC), model.CreatedBogus),
		img("kinds", []string{"nocreated"}, noCreated, time.Time{}, model.CreatedMissing),
		idx([]string{"list"}, list, day(2024, 2, 1), []string{"linux/amd64", "linux/arm64/v8"}, []string{digestOf(t, amd), digestOf(t, arm)}),
		idx([]string{"attested"}, withAtt, day(2024, 4, 1), []string{"linux/amd64"}, []string{digestOf(t, ociAmd), digestOf(t, att)}),
		idx([]string{"nested"}, nested, day(2024, 2, 1), []string{"linux/amd64", "linux/arm64/v8"}, []string{digestOf(t, list), digestOf(t, amd), digestOf(t, arm)}),
	}

	inv, err := newClient(t, reg.Host()).Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) != 0 {
		t.Errorf("scan errors: %+v", inv.Errors)
	}
	if len(inv.Images) != len(wants) {
		t.Errorf("%d images, want %d", len(inv.Images), len(wants))
	}
	for _, w := range wants {
		k := slices.IndexFunc(inv.Images, func(im model.Image) bool { return im.Repository == w.repo && im.Digest == model.ParseDigest(w.digest) })
		if k < 0 {
			t.Errorf("%s@%s (%v) not found", w.repo, w.digest, w.tags)
			continue
		}
		im := &inv.Images[k]
		if !slices.Equal(im.Tags, w.tags) || im.MediaType != string(w.mediaType) || !im.Created.Equal(w.created) ||
			im.CreatedProblem != w.problem || !slices.Equal(im.Platforms, w.platforms) || !slices.Equal(im.Children, model.ParseDigests(w.children)) {
			t.Errorf("%v:\n got tags %v %s created %v %q platforms %v children %v\nwant tags %v %s created %v %q platforms %v children %v",
				w.tags, im.Tags, im.MediaType, im.Created, im.CreatedProblem, im.Platforms, im.Children,
				w.tags, w.mediaType, w.created, w.problem, w.platforms, w.children)
		}
		got := map[string]int64{}
		for _, b := range im.Blobs {
			got[inv.Blobs.Digest(b)] = inv.Blobs.Size(b)
		}
		if fmt.Sprint(got) != fmt.Sprint(w.blobs) {
			t.Errorf("%v: blobs\n%v\nwant\n%v", w.tags, got, w.blobs)
		}
	}
	stored, err := reg.BlobBytes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if total := model.ComputeSizes(inv).Total; total != stored {
		t.Errorf("total %d, registry stores %d", total, stored)
	}
}
