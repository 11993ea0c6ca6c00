package model

import (
	"bytes"
	"encoding/hex"
	"strings"
	"unique"
)

// Digest is an image's content digest in 40 bytes. A "sha256:" digest
// spelt as registries spell it is kept as its 32 bytes; any other
// spelling (another algorithm, a test's made-up digest) as a handle to
// the interned string, which compares as the string does. The zero Digest
// is no digest. Two Digests are equal exactly when their spellings are.
type Digest struct {
	sum   Sum
	other unique.Handle[string] // zero for a sum, and for no digest
}

// ParseDigest is the Digest spelt s ("" gives the zero Digest). It
// allocates nothing for a sha256.
func ParseDigest(s string) Digest {
	if sum, ok := ParseSum(s); ok && sum != (Sum{}) {
		return Digest{sum: sum}
	}
	if s == "" {
		return Digest{}
	}
	return Digest{other: unique.Make(s)}
}

// spelt reports whether d is kept as its spelling.
func (d Digest) spelt() bool { return d.other != unique.Handle[string]{} }

// String is the digest as a registry spells it; "" for none.
func (d Digest) String() string {
	switch {
	case d.spelt():
		return d.other.Value()
	case d.sum == Sum{}:
		return ""
	}
	return d.sum.String()
}

// IsZero reports whether d is no digest.
func (d Digest) IsZero() bool { return d == Digest{} }

// MarshalText spells the digest.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a spelt digest.
func (d *Digest) UnmarshalText(b []byte) error {
	*d = ParseDigest(string(b))
	return nil
}

// CompareDigests orders digests as their spellings order.
func CompareDigests(a, b Digest) int {
	if !a.spelt() && !b.spelt() {
		return bytes.Compare(a.sum[:], b.sum[:])
	}
	return strings.Compare(a.String(), b.String())
}

// ParseDigests parses each of ss; nil for none.
func ParseDigests(ss []string) []Digest {
	if len(ss) == 0 {
		return nil
	}
	out := make([]Digest, len(ss))
	for i, s := range ss {
		out[i] = ParseDigest(s)
	}
	return out
}

// DigestStrings spells each of ds; nil for none.
func DigestStrings(ds []Digest) []string {
	if len(ds) == 0 {
		return nil
	}
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

// AppendText appends the digest's spelling to b.
func (d Digest) AppendText(b []byte) ([]byte, error) {
	switch {
	case d.spelt():
		return append(b, d.other.Value()...), nil
	case d.sum == Sum{}:
		return b, nil
	}
	b = append(b, "sha256:"...)
	return hex.AppendEncode(b, d.sum[:]), nil
}

// DigestOfSum is the digest "sha256:" and s in hex.
func DigestOfSum(s Sum) Digest {
	if s == (Sum{}) {
		return ParseDigest(s.String()) // the zero Digest is no digest
	}
	return Digest{sum: s}
}

// Sum is the digest's sha256 when it is spelt as registries spell one and
// is not all zeros; ok is false otherwise.
func (d Digest) Sum() (s Sum, ok bool) {
	return d.sum, !d.spelt() && d.sum != (Sum{})
}

// DigestRef is the Digest spelt s, nil for "" (an image's Subject).
func DigestRef(s string) *Digest {
	if s == "" {
		return nil
	}
	d := ParseDigest(s)
	return &d
}
