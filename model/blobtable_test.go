package model

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseSum(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	cases := []struct {
		digest string
		ok     bool
	}{
		{"sha256:" + hex64, true},
		{"sha256:" + strings.ToUpper(hex64), false}, // registries write lower case; kept as spelt
		{"sha256:" + hex64[:63], false},
		{"sha256:" + hex64 + "0", false},
		{"sha512:" + hex64, false},
		{"sha256:" + hex64[:62] + "zz", false},
		{"sha256:os-a", false},
		{"", false},
	}
	for _, c := range cases {
		s, ok := ParseSum(c.digest)
		if ok != c.ok {
			t.Errorf("ParseSum(%q) ok = %v, want %v", c.digest, ok, c.ok)
		}
		if ok && s.String() != c.digest {
			t.Errorf("ParseSum(%q).String() = %q", c.digest, s.String())
		}
	}
}

// sumDigest is a canonical digest whose sum starts with prefix (8 bytes)
// and ends with n.
func sumDigest(prefix uint64, n int) string {
	return fmt.Sprintf("sha256:%016x%048x", prefix, n)
}

func TestBlobTable(t *testing.T) {
	// More rows than a chunk, digests of both spellings, two sums that
	// share their first 8 bytes.
	var blobs []Blob
	for i := range blobChunk + 10 {
		blobs = append(blobs, Blob{Digest: sumDigest(uint64(i), i), Size: int64(i)})
	}
	blobs = append(blobs, Blob{Digest: "sha256:os-a", Size: 7}, Blob{Digest: sumDigest(3, 99), Size: 99}, Blob{Digest: "", Size: 1})
	// Sizes the size column does not hold: 4 GiB and more, negative.
	blobs = append(blobs, Blob{Digest: sumDigest(4, 4), Size: 5 << 32}, Blob{Digest: sumDigest(5, 5), Size: 1<<32 - 1},
		Blob{Digest: sumDigest(6, 6), Size: 1<<32 - 2}, Blob{Digest: "sha256:neg", Size: -1})
	tbl := BlobsOf(blobs...)
	if tbl.Len() != len(blobs) {
		t.Fatalf("Len = %d, want %d", tbl.Len(), len(blobs))
	}
	for i, b := range blobs {
		if got := tbl.At(int32(i)); got != b {
			t.Errorf("At(%d) = %+v, want %+v", i, got, b)
		}
		_, ok := tbl.Sum(int32(i))
		if _, want := ParseSum(b.Digest); ok != want {
			t.Errorf("Sum(%d) ok = %v, want %v", i, ok, want)
		}
	}
}

func TestBuilderInternsBySum(t *testing.T) {
	cases := []struct {
		name   string
		images [][]Blob
		blobs  int
		err    string
	}{
		{"shared layers count once", [][]Blob{
			{{sumDigest(1, 1), 10}, {sumDigest(2, 2), 20}},
			{{sumDigest(3, 3), 10}, {sumDigest(2, 2), 20}},
		}, 3, ""},
		{"a prefix clash is two blobs", [][]Blob{
			{{sumDigest(5, 1), 10}},
			{{sumDigest(5, 2), 11}},
			{{sumDigest(5, 2), 11}, {sumDigest(5, 1), 10}},
		}, 2, ""},
		{"made-up digests by string", [][]Blob{
			{{"sha256:os-a", 1}, {"sha256:os-b", 2}},
			{{"sha256:os-a", 1}},
		}, 2, ""},
		{"a size that disagrees", [][]Blob{
			{{sumDigest(9, 9), 10}},
			{{sumDigest(9, 9), 12}},
		}, 0, "has size 12 here and 10 elsewhere"},
		{"a clashing sum whose size disagrees", [][]Blob{
			{{sumDigest(5, 1), 10}},
			{{sumDigest(5, 2), 11}},
			{{sumDigest(5, 2), 12}},
		}, 0, "has size 12 here and 11 elsewhere"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := NewInventoryBuilder("r", time.Time{})
			var err error
			for i, bs := range c.images {
				if err = b.AddImage(Image{Repository: "a", Digest: ParseDigest(fmt.Sprint("m", i))}, bs); err != nil {
					break
				}
			}
			switch {
			case c.err != "":
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			inv := b.Inventory()
			if inv.Blobs.Len() != c.blobs {
				t.Fatalf("%d blobs, want %d", inv.Blobs.Len(), c.blobs)
			}
			for i, bs := range c.images {
				for k, bl := range bs {
					if got := inv.Blobs.At(inv.Images[i].Blobs[k]); got != bl {
						t.Errorf("image %d blob %d = %+v, want %+v", i, k, got, bl)
					}
				}
			}
			// The same images again, from the table: the same inventory.
			b2 := NewInventoryBuilder("r", time.Time{})
			for _, im := range inv.Images {
				if err := b2.AddImageFrom(im, &inv.Blobs, im.Blobs); err != nil {
					t.Fatal(err)
				}
			}
			inv2 := b2.Inventory()
			if inv2.Blobs.Len() != inv.Blobs.Len() || fmt.Sprint(inv2.Blobs.Blobs()) != fmt.Sprint(inv.Blobs.Blobs()) {
				t.Errorf("from the table: %v, want %v", inv2.Blobs.Blobs(), inv.Blobs.Blobs())
			}
		})
	}
}

func TestBlobSet(t *testing.T) {
	var set BlobSet
	// Eight goroutines intern the same 500 blobs, in different orders:
	// each blob gets one row, the same for all.
	const n = 500
	rows := make([][]int32, 8)
	var wg sync.WaitGroup
	for g := range rows {
		wg.Go(func() {
			rows[g] = make([]int32, n)
			for k := range n {
				j := (k*7 + g*31) % n
				rows[g][j] = set.Intern(sumDigest(uint64(j%50), j), int64(j))
			}
		})
	}
	wg.Wait()
	tbl := set.Table()
	if tbl.Len() != n {
		t.Fatalf("%d rows, want %d", tbl.Len(), n)
	}
	for j := range n {
		for g := range rows {
			if rows[g][j] != rows[0][j] {
				t.Fatalf("blob %d: row %d in goroutine %d, %d in 0", j, rows[g][j], g, rows[0][j])
			}
		}
		if got := tbl.At(rows[0][j]); got != (Blob{Digest: sumDigest(uint64(j%50), j), Size: int64(j)}) {
			t.Errorf("row of blob %d holds %+v", j, got)
		}
	}

	// A size that disagrees gets a row of its own, once; the builder
	// meeting both says so.
	a := set.Intern(sumDigest(1, 1), 1)
	b := set.Intern(sumDigest(1, 1), 2)
	if a == b || set.Intern(sumDigest(1, 1), 2) != b || set.Intern("sha256:x", 3) != set.Intern("sha256:x", 3) {
		t.Fatalf("rows %d and %d for one digest of two sizes", a, b)
	}
	other := BlobsOf(Blob{Digest: "sha256:y", Size: 4}, Blob{Digest: sumDigest(2, 2), Size: 2})
	if got := tbl.At(set.InternFrom(&other, 0)); got != other.At(0) {
		t.Errorf("InternFrom = %+v", got)
	}
	if set.InternFrom(&other, 1) != rows[0][2] {
		t.Errorf("InternFrom of a blob the set holds added a row")
	}
	bld := NewInventoryBuilder("r", time.Time{})
	err := bld.AddImageFrom(Image{Repository: "a", Digest: ParseDigest("m")}, tbl, []int32{a, b})
	if err == nil || !strings.Contains(err.Error(), "has size 2 here and 1 elsewhere") {
		t.Errorf("a digest of two sizes: err = %v", err)
	}
}

func TestAdoptBlobs(t *testing.T) {
	type image struct {
		blobs    []Blob
		children [][]Blob
	}
	cases := []struct {
		name   string
		extra  []Blob // interned before the images' blobs: rows no image references
		images []image
		err    string // of the last image
	}{
		{"rows in read order are renumbered in the images' order", nil, []image{
			{blobs: []Blob{{sumDigest(1, 1), 10}, {sumDigest(2, 2), 20}}},
			{blobs: []Blob{{sumDigest(3, 3), 30}, {sumDigest(2, 2), 20}, {"sha256:os-a", 5}, {sumDigest(5, 5), 6 << 32}}},
		}, ""},
		{"rows already in the images' order stay, the images' slices given", nil, []image{
			{blobs: []Blob{{sumDigest(1, 1), 10}, {sumDigest(2, 2), 20}, {sumDigest(3, 3), 30}}},
		}, ""},
		{"rows no image references are dropped and count nowhere", []Blob{{sumDigest(7, 7), 700}, {"sha256:os-z", 900}, {sumDigest(8, 8), 8 << 32}}, []image{
			{blobs: []Blob{{sumDigest(1, 1), 10}, {sumDigest(1, 1), 10}}},
			{blobs: []Blob{{sumDigest(4, 4), 40}, {sumDigest(1, 1), 10}}},
		}, ""},
		{"more rows than a chunk", func() []Blob {
			var bs []Blob
			for i := range blobChunk + 3 {
				bs = append(bs, Blob{sumDigest(uint64(100+i), i), int64(i)})
			}
			return bs
		}(), []image{
			{blobs: []Blob{{sumDigest(1, 1), 10}, {sumDigest(150, 50), 50}}},
		}, ""},
		{"an index with its platform manifests' blobs", nil, []image{
			{blobs: []Blob{{sumDigest(1, 1), 10}, {sumDigest(2, 2), 20}, {sumDigest(3, 3), 30}},
				children: [][]Blob{{{sumDigest(2, 2), 20}}, {{sumDigest(3, 3), 30}}}},
			{blobs: []Blob{{sumDigest(3, 3), 30}}},
		}, ""},
		{"a digest of two sizes: the second image is refused", nil, []image{
			{blobs: []Blob{{sumDigest(9, 9), 10}}},
			{blobs: []Blob{{sumDigest(8, 8), 8}, {sumDigest(9, 9), 12}}},
		}, "has size 12 here and 10 elsewhere"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The scan's set, its rows in another order than the images'
			// (images interned last first, after the extra rows).
			var set BlobSet
			for _, b := range c.extra {
				set.Intern(b.Digest, b.Size)
			}
			rows := make([]image, len(c.images))
			ids := make([][]int32, len(c.images))
			kids := make([][][]int32, len(c.images))
			for i := len(c.images) - 1; i >= 0; i-- {
				rows[i] = c.images[i]
				for _, b := range c.images[i].blobs {
					ids[i] = append(ids[i], set.Intern(b.Digest, b.Size))
				}
				for _, cb := range c.images[i].children {
					var k []int32
					for _, b := range cb {
						k = append(k, set.Intern(b.Digest, b.Size))
					}
					kids[i] = append(kids[i], k)
				}
			}
			children := func(i int) []string {
				var out []string
				for k := range c.images[i].children {
					out = append(out, fmt.Sprint("c", k))
				}
				return out
			}
			// What AddImage makes of the same images.
			want := NewInventoryBuilder("r", time.Time{})
			var wantErr error
			for i, im := range c.images {
				wantErr = want.AddImage(Image{Repository: "a", Digest: ParseDigest(fmt.Sprint("m", i)), Children: ParseDigests(children(i))}, im.blobs, im.children...)
			}
			adopt := NewInventoryBuilder("r", time.Time{})
			adopt.AdoptBlobs(&set)
			if set.Table().Len() != 0 {
				t.Errorf("the set holds %d rows after it was adopted", set.Table().Len())
			}
			var err error
			for i := range c.images {
				given := slices.Clone(ids[i])
				err = adopt.AddImageFrom(Image{Repository: "a", Digest: ParseDigest(fmt.Sprint("m", i)), Children: ParseDigests(children(i))}, set.Table(), ids[i], kids[i]...)
				if !slices.Equal(ids[i], given) {
					t.Errorf("image %d: the caller's rows changed to %v", i, ids[i])
				}
			}
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || wantErr == nil {
					t.Fatalf("err = %v (AddImage: %v), want %q", err, wantErr, c.err)
				}
			} else if err != nil || wantErr != nil {
				t.Fatalf("err = %v (AddImage: %v)", err, wantErr)
			}
			got, w := adopt.Inventory(), want.Inventory()
			for i, im := range got.Images {
				if cap(im.Blobs) != len(im.Blobs) {
					t.Errorf("image %d: blobs of cap %d, len %d: an append writes into another's", i, cap(im.Blobs), len(im.Blobs))
				}
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("adopted: %+v %v\nwant %+v %v", got.Images, got.Blobs.Blobs(), w.Images, w.Blobs.Blobs())
			}
			// Every size counts each blob an image references once, and
			// nothing else.
			var total int64
			seen := map[string]bool{}
			for _, im := range c.images[:len(got.Images)] {
				for _, b := range im.blobs {
					if !seen[b.Digest] {
						seen[b.Digest] = true
						total += b.Size
					}
				}
			}
			s := ComputeSizes(got)
			all := make([]int, len(got.Images))
			for i := range all {
				all[i] = i
			}
			if s.Total != total || s.Freed(got, all) != total || FreedBytes(got, Gone{Images: all}) != total {
				t.Errorf("total %d, all freed %d and %d; want %d", s.Total, s.Freed(got, all), FreedBytes(got, Gone{Images: all}), total)
			}
			if got.Blobs.Len() != len(seen) {
				t.Errorf("%d rows, want %d", got.Blobs.Len(), len(seen))
			}
		})
	}
}

// TestBuilderAddedTwice: an image is one repository and digest; the same
// digest in another repository, or another digest, is another image.
func TestBuilderAddedTwice(t *testing.T) {
	b := NewInventoryBuilder("r", time.Unix(0, 0))
	digests := []string{"sha256:" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("b", 64), "made-up", "sha512:x"}
	for i := range 3000 {
		repo, d := fmt.Sprint("repo", i%40), digests[i%len(digests)]
		if i >= 40*len(digests) {
			d = fmt.Sprint("sha256:", i) // a made-up one of its own
		}
		err := b.AddImage(Image{Repository: repo, Digest: ParseDigest(d)}, []Blob{{Digest: "l", Size: 1}})
		first := true
		for j := range i {
			dj := digests[j%len(digests)]
			if j >= 40*len(digests) {
				dj = fmt.Sprint("sha256:", j)
			}
			if fmt.Sprint("repo", j%40) == repo && dj == d {
				first = false
				break
			}
		}
		if (err == nil) != first {
			t.Fatalf("image %d, %s@%s: err %v, want added %v", i, repo, d, err, first)
		}
	}
	inv := b.Inventory()
	for i := range inv.Images {
		for j := range i {
			if inv.Images[i].Repository == inv.Images[j].Repository && inv.Images[i].Digest == inv.Images[j].Digest {
				t.Fatalf("%s in the inventory twice", inv.Images[i].Ref())
			}
		}
	}
	if len(inv.Images) != 40+3000-40*len(digests) {
		t.Errorf("%d images in the inventory", len(inv.Images))
	}
}

// TestSumHashSpreads: made-up sums that differ only in their last bytes
// (a zero-padded counter) fall into as many of a table's slots as real
// ones would, so that a blob index of them is not one long probe.
func TestSumHashSpreads(t *testing.T) {
	const n, slots = 4096, 8192
	for _, spell := range []string{"sha256:%064x", "sha256:f%060x000", "sha256:%032x" + strings.Repeat("0", 32)} {
		used := map[uint64]bool{}
		for i := range n {
			s, ok := ParseSum(fmt.Sprintf(spell, i+1))
			if !ok {
				t.Fatalf("%q does not parse", fmt.Sprintf(spell, i+1))
			}
			used[s.hash()&(slots-1)] = true
		}
		// n keys in 2n slots, spread at random, fill about 39% of them
		if len(used) < 3000 {
			t.Errorf("%s: %d sums fall into %d of %d slots", spell, n, len(used), slots)
		}
	}
}
