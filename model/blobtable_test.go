package model

import (
	"fmt"
	"strings"
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
				if err = b.AddImage(Image{Repository: "a", Digest: fmt.Sprint("m", i)}, bs); err != nil {
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
