package model

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// spellings are digests as registries, tests and damaged inputs spell
// them: each must survive a round trip unchanged.
var spellings = []string{
	"",
	"sha256:" + strings.Repeat("0", 64), // the zero sum is not the zero Digest
	"sha256:" + strings.Repeat("0", 63) + "1",
	"sha256:" + strings.Repeat("a", 64),
	"sha256:" + strings.Repeat("f", 64),
	"sha256:" + strings.Repeat("A", 64), // upper case: kept as written
	"sha256:" + strings.Repeat("a", 63), // short
	"sha512:" + strings.Repeat("b", 128),
	"sha256:abc",
	"m1",
	"sha256:" + strings.Repeat("g", 64), // not hex
}

func TestDigestRoundTrip(t *testing.T) {
	for _, s := range spellings {
		d := ParseDigest(s)
		if got := d.String(); got != s {
			t.Errorf("ParseDigest(%q).String() = %q", s, got)
		}
		if got, _ := d.AppendText([]byte("x")); string(got) != "x"+s {
			t.Errorf("AppendText of %q = %q", s, got)
		}
		if d.IsZero() != (s == "") {
			t.Errorf("ParseDigest(%q).IsZero() = %v", s, d.IsZero())
		}
		sum, ok := d.Sum()
		if wantOK := s != spellings[1] && func() bool { _, ok := ParseSum(s); return ok }(); ok != wantOK {
			t.Errorf("ParseDigest(%q).Sum() ok = %v, want %v", s, ok, wantOK)
		}
		if ok && DigestOfSum(sum) != d {
			t.Errorf("DigestOfSum(Sum of %q) = %q", s, DigestOfSum(sum))
		}
	}
	if d := DigestOfSum(Sum{}); d.IsZero() || d.String() != spellings[1] {
		t.Errorf("DigestOfSum(zero) = %q, zero %v", d, d.IsZero())
	}
}

// Digests are equal and ordered exactly as their spellings are, so that
// maps, sorts and plans keyed by them behave as they did on strings.
func TestDigestEqualityAndOrder(t *testing.T) {
	for _, a := range spellings {
		for _, b := range spellings {
			da, db := ParseDigest(a), ParseDigest(b)
			if (da == db) != (a == b) {
				t.Errorf("%q == %q: %v", a, b, da == db)
			}
			if got, want := CompareDigests(da, db), strings.Compare(a, b); got != want {
				t.Errorf("CompareDigests(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestDigestJSON(t *testing.T) {
	type row struct {
		D    Digest
		Kids []Digest
		Held map[Digest]string
	}
	in := row{ParseDigest(spellings[3]), ParseDigests(spellings[4:6]), map[Digest]string{ParseDigest(spellings[8]): "tag"}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"D":"`+spellings[3]+`"`) {
		t.Errorf("JSON %s does not spell the digest", b)
	}
	var out row
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.D != in.D || !slices.Equal(out.Kids, in.Kids) || out.Held[ParseDigest(spellings[8])] != "tag" {
		t.Errorf("JSON round trip: %+v, want %+v", out, in)
	}
	if got := DigestStrings(ParseDigests(spellings)); !slices.Equal(got, spellings) {
		t.Errorf("DigestStrings(ParseDigests(x)) = %q", got)
	}
	if ParseDigests(nil) != nil || DigestStrings(nil) != nil {
		t.Error("none should give nil")
	}
}

// TestDigestSize holds a digest to its 32 bytes and a handle for
// any other spelling: an image's digest no longer costs a 71-byte string.
func TestDigestSize(t *testing.T) {
	if got := unsafe.Sizeof(Digest{}); got != 40 {
		t.Errorf("a Digest takes %d bytes, want 40", got)
	}
}

// ParseDigest of a registry's spelling allocates nothing: a scan parses
// every listed digest.
func TestParseDigestAllocs(t *testing.T) {
	s := spellings[3]
	if n := testing.AllocsPerRun(100, func() { _ = ParseDigest(s) }); n != 0 {
		t.Errorf("ParseDigest allocates %v times", n)
	}
}
