package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// inventory makes n images over n/20 repositories sharing base layers.
func inventory(tb testing.TB, n int) *model.Inventory {
	b := model.NewInventoryBuilder("hub.azurecr.io", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	for i := range n {
		repo := fmt.Sprintf("binder-org-repo-%05d", i/20)
		blobs := []model.Blob{{Digest: fmt.Sprintf("sha256:m%063d", i), Size: 1500},
			{Digest: fmt.Sprintf("sha256:c%063d", i), Size: 4000},
			{Digest: fmt.Sprintf("sha256:base%060d", i%7), Size: 300 << 20},
			{Digest: fmt.Sprintf("sha256:env%061d", i/20), Size: 500 << 20}}
		im := model.Image{Repository: repo, Digest: blobs[0].Digest, Tags: []string{fmt.Sprintf("%040x", i)},
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
