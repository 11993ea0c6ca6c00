package model

import (
	"bytes"
	"encoding/hex"
	"strings"
)

// Digest is an image's content digest. A "sha256:" digest spelt as
// registries spell it is kept as its 32 bytes; any other spelling (another
// algorithm, a test's made-up digest) as the string. The zero Digest is no
// digest. Two Digests are equal exactly when their spellings are.
type Digest struct {
	sum   Sum
	other string
}

// ParseDigest is the Digest spelt s ("" gives the zero Digest).
func ParseDigest(s string) Digest {
	if sum, ok := ParseSum(s); ok && sum != (Sum{}) {
		return Digest{sum: sum}
	}
	return Digest{other: s}
}

// String is the digest as a registry spells it; "" for none.
func (d Digest) String() string {
	if d.other != "" || d.sum == (Sum{}) {
		return d.other
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
	if a.other == "" && b.other == "" {
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
	if d.other != "" || d.sum == (Sum{}) {
		return append(b, d.other...), nil
	}
	b = append(b, "sha256:"...)
	return hex.AppendEncode(b, d.sum[:]), nil
}

// DigestOfSum is the digest "sha256:" and s in hex.
func DigestOfSum(s Sum) Digest {
	if s == (Sum{}) {
		return Digest{other: s.String()} // the zero Digest is no digest
	}
	return Digest{sum: s}
}

// Sum is the digest's sha256 when it is spelt as registries spell one and
// is not all zeros; ok is false otherwise.
func (d Digest) Sum() (s Sum, ok bool) {
	return d.sum, d.other == "" && d.sum != (Sum{})
}
