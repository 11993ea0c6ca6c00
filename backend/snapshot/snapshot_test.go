package snapshot

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// inventory makes n images over n/20 repositories sharing base layers.
func inventory(tb testing.TB, n int) *model.Inventory {
	b := model.NewInventoryBuilder("hub.azurecr.io", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	for i := range n {
		repo := fmt.Sprintf("binder-org-repo-%05d", i/20)
		// a BinderHub image: manifest, config, five layers of one of a few
		// base images, three of its own
		blobs := []model.Blob{{Digest: fmt.Sprintf("sha256:%064x", 3*i), Size: 1500},
			{Digest: fmt.Sprintf("sha256:%064x", 3*i+1), Size: 4000}}
		for l := range 5 {
			blobs = append(blobs, model.Blob{Digest: fmt.Sprintf("sha256:b%063x", 10*(i%7)+l), Size: 300 << 20})
		}
		for l := range 3 {
			blobs = append(blobs, model.Blob{Digest: fmt.Sprintf("sha256:f%060x%03x", i, l), Size: 50 << 20})
		}
		im := model.Image{Repository: repo, Digest: model.ParseDigest(blobs[0].Digest), Tags: []string{fmt.Sprintf("%040x", i)},
			Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute), MediaType: "application/vnd.oci.image.manifest.v1+json"}
		if err := b.AddImage(im, blobs); err != nil {
			tb.Fatal(err)
		}
	}
	return b.Inventory()
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := Path(dir, "hub.azurecr.io")
	if inv, err := Load(p); inv != nil || err != nil {
		t.Fatalf("no snapshot yet: %v %v", inv, err)
	}
	in := inventory(t, 200)
	in.Errors = []model.ScanError{{Repository: "r", Error: "boom", Warning: true}}
	if err := Save(p, in); err != nil {
		t.Fatal(err)
	}
	out, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Error("the snapshot read back differs")
	}
	if Path(dir, "other.azurecr.io") == p {
		t.Error("two registries share a snapshot")
	}
	if err := os.WriteFile(p, []byte("not gzip"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil {
		t.Error("a damaged snapshot loads")
	}
	if entries, _ := os.ReadDir(filepath.Dir(p)); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// BenchmarkLoad100k loads the snapshot of a 100,000-image registry, what
// the console does before its first frame:
//
//	go test -run '^$' -bench Load100k ./backend/snapshot
func BenchmarkLoad100k(b *testing.B) {
	p := Path(b.TempDir(), "hub.azurecr.io")
	if err := Save(p, inventory(b, 100_000)); err != nil {
		b.Fatal(err)
	}
	if st, err := os.Stat(p); err == nil {
		b.ReportMetric(float64(st.Size())/(1<<20), "MiB-on-disk")
	}
	b.ReportAllocs()
	for b.Loop() {
		inv, err := Load(p)
		if err != nil || len(inv.Images) != 100_000 {
			b.Fatal(err)
		}
	}
}

// TestEveryField: every field of the model survives a save and a load,
// whatever its shape (a digest that is not sha256, a created time in
// another zone); a field added to the model fails this test until the
// format writes it.
func TestEveryField(t *testing.T) {
	for typ, n := range map[reflect.Type]int{
		reflect.TypeFor[model.Inventory](): 10, reflect.TypeFor[model.Image](): 18, reflect.TypeFor[model.RegistryRule](): 4,
		reflect.TypeFor[model.Blob](): 2, reflect.TypeFor[model.ScanError](): 4, reflect.TypeFor[model.RepositoryLock](): 3,
	} {
		if typ.NumField() != n {
			t.Errorf("model.%s has %d fields, the snapshot format writes %d: add the new ones to encoder and decoder", typ.Name(), typ.NumField(), n)
		}
	}
	zone := time.FixedZone("X", -7*3600)
	d := func(i int) string { return fmt.Sprintf("sha256:%064x", i) }
	in := &model.Inventory{
		Registry: "hub.azurecr.io", ScannedAt: time.Date(2026, 12, 1, 10, 0, 0, 5, time.UTC), Repositories: 3,
		Blobs: model.BlobsOf([]model.Blob{{Digest: d(1), Size: 10}, {Digest: "sha512:" + strings.Repeat("ab", 64), Size: 1 << 40}, {Digest: d(3), Size: 0}}...),
		Images: []model.Image{
			{Repository: "a/b", Digest: model.ParseDigest(d(1)), Tags: []string{"v1", "latest"}, MediaType: "application/vnd.oci.image.index.v1+json",
				Created: time.Date(2020, 1, 2, 3, 4, 5, 6, zone), CreatedProblem: model.CreatedBogus, Pushed: time.Date(2021, 2, 3, 4, 5, 6, 7000, time.UTC), ConfigCreated: time.Unix(1, 0).UTC(), LastPulled: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC),
				Subject: model.DigestRef("sha256:NOT-HEX"), Platform: "linux/amd64", Platforms: []string{"linux/amd64", "linux/arm64/v8"},
				Children: model.ParseDigests([]string{d(7), d(8)}), ChildBlobs: [][]int32{{1}, {1, 2}}, Locked: true, Lock: "tag a/b:v1", Blobs: []int32{0, 1, 2}},
			{Repository: "a/b", Digest: model.ParseDigest(d(3)), MediaType: "application/vnd.oci.image.manifest.v1+json", Blobs: []int32{2},
				LastPulled: time.Date(2026, 11, 30, 8, 0, 0, 123, time.UTC), VendorSize: 1 << 33},
		},
		RegistryRules:   []model.RegistryRule{{Repository: "a/b", Kind: "ECR lifecycle policy", Summary: "rule 1: expire untagged images pushed more than 14 days ago", Text: `{"rules":[]}`}},
		Errors:          []model.ScanError{{Repository: "c", Reference: "c@" + d(9), Error: "boom", Warning: true}, {Error: "catalog"}},
		RepositoryLocks: []model.RepositoryLock{{Repository: "a/b", DeleteDisabled: true}, {Repository: "c", DeleteDisabled: true, WriteDisabled: true}, {Repository: "d", WriteDisabled: true}},
		LocksUnread:     []string{"a/b", "e"},
	}
	p := Path(t.TempDir(), in.Registry)
	if err := Save(p, in); err != nil {
		t.Fatal(err)
	}
	out, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	// a time keeps its instant and offset; the zone's name, as with gob, is not kept
	got, want := out.Images[0].Created, in.Images[0].Created
	if _, off := got.Zone(); !got.Equal(want) || off != -7*3600 {
		t.Errorf("created %v, want %v", got, want)
	}
	out.Images[0].Created = want
	if !reflect.DeepEqual(in, out) {
		t.Errorf("read back differs:\n got %+v\nwant %+v", out, in)
	}
}

// TestDamaged: a snapshot cut short anywhere, or with any byte changed, is
// refused with an error and never half-read; another version's is ignored.
func TestDamaged(t *testing.T) {
	p := Path(t.TempDir(), "hub.azurecr.io")
	if err := Save(p, inventory(t, 50)); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr bool
	}{
		{"empty", nil, true},
		{"not a snapshot", []byte("not gzip"), true},
		{"another version", []byte("helmupgradebot-snapshot 99\nwhatever"), false},
		// version 5 had no push time nor last pull: its images would read shifted
		{"version 5", append([]byte("helmupgradebot-snapshot 5\n"), good[len(magic):]...), false},
	}
	for _, cut := range []int{len(magic), len(magic) + 3, len(good) / 2, len(good) - 5, len(good) - 1} {
		tests = append(tests, struct {
			name    string
			data    []byte
			wantErr bool
		}{fmt.Sprintf("cut at %d", cut), good[:cut], true})
	}
	for _, at := range []int{len(magic), len(good) / 3, len(good) - 2} {
		bad := bytes.Clone(good)
		bad[at] ^= 0x40
		tests = append(tests, struct {
			name    string
			data    []byte
			wantErr bool
		}{fmt.Sprintf("byte %d changed", at), bad, true})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(p, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			inv, err := Load(p)
			if (err != nil) != tc.wantErr || inv != nil {
				t.Errorf("Load: %v, %v; want an error: %v, and no inventory", inv != nil, err, tc.wantErr)
			}
		})
	}
}

// BenchmarkSave100k writes the snapshot of a 100,000-image registry, as
// every scan does at its end:
//
//	go test -run '^$' -bench Save100k ./backend/snapshot
func BenchmarkSave100k(b *testing.B) {
	inv := inventory(b, 100_000)
	p := Path(b.TempDir(), "hub.azurecr.io")
	b.ReportAllocs()
	for b.Loop() {
		if err := Save(p, inv); err != nil {
			b.Fatal(err)
		}
	}
}
