package registrytest

import (
	"errors"
	"io/fs"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestDelete(t *testing.T) {
	t.Parallel()
	r := Serve(t)
	s := seed(t, r.Host(), smallPopulation(3))
	ctx := t.Context()
	var multi []SeededImage
	for _, im := range s.Images {
		if len(im.Tags) >= 2 && im.MediaType != "application/vnd.oci.image.index.v1+json" {
			multi = append(multi, im)
		}
	}
	if len(multi) < 2 {
		t.Fatalf("population has %d single-manifest images with two tags, want 2", len(multi))
	}
	head := func(ref name.Reference) int {
		_, err := remote.Head(ref, remote.WithContext(ctx))
		var terr *transport.Error
		switch {
		case err == nil:
			return http.StatusOK
		case errors.As(err, &terr):
			return terr.StatusCode
		}
		t.Fatalf("HEAD %s: %v", ref, err)
		return 0
	}
	tagsOf := func(repo name.Repository) []string {
		tags, err := remote.List(repo, remote.WithContext(ctx))
		if err != nil {
			t.Fatalf("List %s: %v", repo, err)
		}
		return tags
	}

	t.Run("by digest removes the manifest and all its tags", func(t *testing.T) {
		im := multi[0]
		repo, _ := name.NewRepository(r.Host() + "/" + im.Repository)
		if err := remote.Delete(repo.Digest(im.Digest), remote.WithContext(ctx)); err != nil {
			t.Fatalf("Delete %s: %v", im.Ref(), err)
		}
		if code := head(repo.Digest(im.Digest)); code != http.StatusNotFound {
			t.Errorf("HEAD %s after delete: %d, want 404", im.Ref(), code)
		}
		left := tagsOf(repo)
		for _, tag := range im.Tags {
			if slices.Contains(left, tag) {
				t.Errorf("tag %s of deleted %s still listed", tag, im.Ref())
			}
			if code := head(repo.Tag(tag)); code != http.StatusNotFound {
				t.Errorf("HEAD %s:%s after deleting its manifest: %d, want 404", im.Repository, tag, code)
			}
		}
	})

	t.Run("by tag removes only that tag", func(t *testing.T) {
		im := multi[1]
		repo, _ := name.NewRepository(r.Host() + "/" + im.Repository)
		if err := remote.Delete(repo.Tag(im.Tags[0]), remote.WithContext(ctx)); err != nil {
			t.Fatalf("Delete %s:%s: %v", im.Repository, im.Tags[0], err)
		}
		if code := head(repo.Tag(im.Tags[0])); code != http.StatusNotFound {
			t.Errorf("HEAD deleted tag: %d, want 404", code)
		}
		if code := head(repo.Tag(im.Tags[1])); code != http.StatusOK {
			t.Errorf("HEAD other tag %s: %d, want 200", im.Tags[1], code)
		}
		if code := head(repo.Digest(im.Digest)); code != http.StatusOK {
			t.Errorf("HEAD %s after untag: %d, want 200", im.Ref(), code)
		}
	})
}

// exclusiveImages picks up to n single-manifest images that have blobs of
// their own.
func exclusiveImages(s *Seeded, n int) []int {
	var out []int
	for i, im := range s.Images {
		if len(out) == n {
			break
		}
		if len(im.Children) == 0 && len(s.Exclusive(i)) > 0 {
			out = append(out, i)
		}
	}
	return out
}

func deleteByDigest(t *testing.T, host, repository, digest string) {
	t.Helper()
	ref, err := name.NewDigest(host + "/" + repository + "@" + digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Delete(ref, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("delete %s@%s: %v", repository, digest, err)
	}
}

func blobsOf(t *testing.T, r *Registry) map[string]int64 {
	t.Helper()
	m, err := r.Blobs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// freed returns the blobs in before and not in after, and their bytes.
func freed(before, after map[string]int64) (map[string]int64, int64) {
	out := make(map[string]int64)
	var n int64
	for d, size := range before {
		if _, ok := after[d]; !ok {
			out[d] = size
			n += size
		}
	}
	return out, n
}

func blobSet(bs []Blob) map[string]int64 {
	m := make(map[string]int64, len(bs))
	for _, b := range bs {
		m[b.Digest] = b.Size
	}
	return m
}

func TestGarbageCollectFreesExactlyExclusiveBlobs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := Serve(t, WithFilesystem(dir))
	s := seed(t, r.Host(), Population{Repositories: 8, TagsPerRepository: 4, Seed: 11, Now: testNow, Scale: 256, MultiPlatform: true})
	ctx := t.Context()

	victims := exclusiveImages(s, 4)
	if len(victims) < 4 {
		t.Fatalf("found %d images with exclusive blobs, want 4", len(victims))
	}
	before := blobsOf(t, r)
	for _, i := range victims {
		deleteByDigest(t, r.Host(), s.Images[i].Repository, s.Images[i].Digest)
	}
	if afterDelete := blobsOf(t, r); !maps.Equal(afterDelete, before) {
		t.Errorf("deleting manifests changed stored blobs before garbage collection")
	}
	bytesBefore, err := r.BlobBytes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.GarbageCollect(ctx); err != nil {
		t.Fatal(err)
	}
	after := blobsOf(t, r)
	gone, goneBytes := freed(before, after)
	want := s.Exclusive(victims...)
	if !maps.Equal(gone, blobSet(want)) {
		t.Errorf("GC freed %d blobs, want exactly the %d blobs only the deleted images referenced", len(gone), len(want))
	}
	bytesAfter, err := r.BlobBytes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var wantBytes int64
	for _, b := range want {
		wantBytes += b.Size
	}
	if bytesBefore-bytesAfter != wantBytes || goneBytes != wantBytes {
		t.Errorf("BlobBytes dropped by %d (%d -> %d), want %d", bytesBefore-bytesAfter, bytesBefore, bytesAfter, wantBytes)
	}

	// BlobBytes is what is on disk.
	var onDisk int64
	err = filepath.WalkDir(filepath.Join(dir, "docker/registry/v2/blobs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "data" {
			return err
		}
		fi, err := d.Info()
		onDisk += fi.Size()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if onDisk != bytesAfter {
		t.Errorf("data files on disk hold %d bytes, BlobBytes says %d", onDisk, bytesAfter)
	}

	// Survivors are intact.
	for i, im := range s.Images {
		if !slices.Contains(victims, i) {
			checkImageAgainstRegistry(t, r.Host(), im)
		}
	}
}

func TestGarbageCollectIndexKeepsChildrenUntilDeleted(t *testing.T) {
	t.Parallel()
	r := Serve(t) // inmemory: GC works there too
	s := seed(t, r.Host(), smallPopulation(5))
	idx := slices.IndexFunc(s.Images, func(im SeededImage) bool { return len(im.Children) > 0 })
	if idx < 0 {
		t.Fatal("population has no index")
	}
	im := s.Images[idx]
	ctx := t.Context()

	before := blobsOf(t, r)
	deleteByDigest(t, r.Host(), im.Repository, im.Digest)
	if err := r.GarbageCollect(ctx); err != nil {
		t.Fatal(err)
	}
	after := blobsOf(t, r)
	gone, _ := freed(before, after)
	if want := map[string]int64{im.Digest: im.Blobs[0].Size}; !maps.Equal(gone, want) {
		t.Errorf("deleting index %s freed %v, want only the index manifest %v (children stay linked)", im.Digest, gone, want)
	}

	for _, child := range im.Children {
		deleteByDigest(t, r.Host(), im.Repository, child)
	}
	if err := r.GarbageCollect(ctx); err != nil {
		t.Fatal(err)
	}
	gone, _ = freed(before, blobsOf(t, r))
	if want := blobSet(s.Exclusive(idx)); !maps.Equal(gone, want) {
		t.Errorf("after deleting the children too, GC freed %d blobs, want the index's %d exclusive blobs", len(gone), len(want))
	}
}

func TestGarbageCollectDeleteUntagged(t *testing.T) {
	t.Parallel()
	r := Serve(t)
	s := seed(t, r.Host(), smallPopulation(9))
	ctx := t.Context()
	victims := exclusiveImages(s, 1)
	if len(victims) == 0 {
		t.Fatal("no image with exclusive blobs")
	}
	im := s.Images[victims[0]]
	repo, _ := name.NewRepository(r.Host() + "/" + im.Repository)
	for _, tag := range im.Tags {
		if err := remote.Delete(repo.Tag(tag), remote.WithContext(ctx)); err != nil {
			t.Fatalf("untag %s:%s: %v", im.Repository, tag, err)
		}
	}
	before := blobsOf(t, r)

	if err := r.GarbageCollect(ctx); err != nil {
		t.Fatal(err)
	}
	if gone, _ := freed(before, blobsOf(t, r)); len(gone) != 0 {
		t.Errorf("plain GC freed %d blobs of an untagged manifest, want none", len(gone))
	}

	if err := r.GarbageCollect(ctx, DeleteUntagged()); err != nil {
		t.Fatal(err)
	}
	gone, _ := freed(before, blobsOf(t, r))
	if want := blobSet(s.Exclusive(victims[0])); !maps.Equal(gone, want) {
		t.Errorf("GC with DeleteUntagged freed %d blobs, want the untagged image's %d", len(gone), len(want))
	}
	// The index's platform manifests are untagged too, but referenced.
	for _, other := range s.Images {
		if len(other.Children) > 0 {
			checkImageAgainstRegistry(t, r.Host(), other)
		}
	}
}
