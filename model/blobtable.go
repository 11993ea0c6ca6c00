package model

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"sync"
)

// Sum is a sha256 digest's 32 bytes: "sha256:" and 64 lowercase hex digits
// as a registry writes them.
type Sum [32]byte

// ParseSum reads a "sha256:<64 lowercase hex>" digest without allocating;
// ok is false for any other spelling (another algorithm, upper case, a
// test's made-up digest), which a BlobTable keeps as a string instead.
func ParseSum(digest string) (s Sum, ok bool) {
	const prefix = "sha256:"
	if len(digest) != len(prefix)+64 || digest[:len(prefix)] != prefix {
		return s, false
	}
	for i := range s {
		hi, ok1 := unhex(digest[len(prefix)+2*i])
		lo, ok2 := unhex(digest[len(prefix)+2*i+1])
		if !ok1 || !ok2 {
			return Sum{}, false
		}
		s[i] = hi<<4 | lo
	}
	return s, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// String is the digest as a registry spells it.
func (s Sum) String() string {
	var b [len("sha256:") + 64]byte
	copy(b[:], "sha256:")
	hex.Encode(b[len("sha256:"):], s[:])
	return string(b[:]) // one allocation
}

// hash is a number made of all the sum's bytes, for tables probed from
// its low bits. A real sha256 spreads any 8 of its bytes evenly, but a
// made-up one ("sha256:" and a zero-padded counter, as fixtures and test
// registries write them) differs only in its last bytes: probed from its
// first 8, every such blob clashed with every other, and interning
// 500,000 of them never ended.
func (s Sum) hash() uint64 {
	var h uint64
	for i := 0; i < len(s); i += 8 {
		h ^= binary.BigEndian.Uint64(s[i:])
		// splitmix64's finalizer: every bit of h moves the low ones
		h ^= h >> 30
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 27
		h *= 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
}

// BlobTable is an inventory's blobs in columns, each blob a row addressed
// by its index (an int32, as Image.Blobs holds them): 32 bytes of digest
// and 4 of size, no string, no pointer. At 100,000 images (about 480,000
// blobs) that is 17 MB where a []Blob of digest strings took 50. Sizes of
// 4 GiB and more (and a negative one a registry might send) are kept
// beside the column, which holds bigSize for them.
//
// Digests that are not "sha256:" and 64 lowercase hex digits (another
// algorithm, a test's made-up digest) are kept as strings beside the
// columns. The zero BlobTable is empty and ready to use. A table is not
// safe for concurrent writes; an inventory's, once built, is only read.
type BlobTable struct {
	// Rows are in chunks of blobChunk: a table grows by a chunk, never
	// copying what it holds (a scan does not know how many blobs it will
	// find, and doubling a 15 MB array leaves its copies to the collector).
	sums  [][]Sum
	sizes [][]uint32
	n     int
	other map[int32]string // rows whose digest is not a Sum
	big   map[int32]int64  // rows whose size does not fit below bigSize
}

// bigSize in a row's size column: its size is in BlobTable.big.
const bigSize = math.MaxUint32

// blobChunk is how many rows a chunk of a BlobTable holds (128 KiB of sums).
const (
	blobChunkBits = 12
	blobChunk     = 1 << blobChunkBits
)

// BlobsOf is a table of the given blobs, in order (digests are not
// deduplicated: InventoryBuilder does that).
func BlobsOf(blobs ...Blob) BlobTable {
	var t BlobTable
	for _, b := range blobs {
		t.Append(b)
	}
	return t
}

// Len is how many blobs the table holds.
func (t *BlobTable) Len() int { return t.n }

// Size is blob i's size in bytes.
func (t *BlobTable) Size(i int32) int64 {
	if v := *t.size(i); v != bigSize {
		return int64(v)
	}
	return t.big[i]
}

// size is row i's size column.
func (t *BlobTable) size(i int32) *uint32 { return &t.sizes[i>>blobChunkBits][i&(blobChunk-1)] }

// sum is row i's sum, zero for another spelling.
func (t *BlobTable) sum(i int32) *Sum { return &t.sums[i>>blobChunkBits][i&(blobChunk-1)] }

// Sum is blob i's sha256, ok false when its digest is spelt otherwise.
func (t *BlobTable) Sum(i int32) (Sum, bool) {
	if _, ok := t.other[i]; ok {
		return Sum{}, false
	}
	return *t.sum(i), true
}

// Digest is blob i's digest as a registry spells it. It allocates: code
// going over every blob reads Sum.
func (t *BlobTable) Digest(i int32) string {
	if s, ok := t.other[i]; ok {
		return s
	}
	return t.sum(i).String()
}

// At is blob i as a Blob.
func (t *BlobTable) At(i int32) Blob { return Blob{Digest: t.Digest(i), Size: t.Size(i)} }

// Append adds a blob and returns its index.
func (t *BlobTable) Append(b Blob) int32 {
	if s, ok := ParseSum(b.Digest); ok {
		return t.AppendSum(s, b.Size)
	}
	i := t.AppendSum(Sum{}, b.Size)
	if t.other == nil {
		t.other = map[int32]string{}
	}
	t.other[i] = b.Digest
	return i
}

// AppendSum adds a blob whose digest is the sha256 s and returns its index.
func (t *BlobTable) AppendSum(s Sum, size int64) int32 {
	c := t.n >> blobChunkBits
	if c == len(t.sums) {
		t.sums = append(t.sums, make([]Sum, 0, blobChunk))
		t.sizes = append(t.sizes, make([]uint32, 0, blobChunk))
	}
	i := int32(t.n)
	t.sums[c] = append(t.sums[c], s)
	if 0 <= size && size < bigSize {
		t.sizes[c] = append(t.sizes[c], uint32(size))
	} else {
		t.sizes[c] = append(t.sizes[c], bigSize)
		if t.big == nil {
			t.big = map[int32]int64{}
		}
		t.big[i] = size
	}
	t.n++
	return i
}

// permute moves each row i to to[i] (to is a permutation of the rows)
// and keeps the first n, in place.
func (t *BlobTable) permute(to []int32, n int) {
	moved := make([]bool, t.n)
	for i := range int32(t.n) {
		if moved[i] {
			continue
		}
		// Follow i's cycle, carrying the row picked up.
		sum, size := *t.sum(i), *t.size(i)
		for j := i; !moved[j]; j = to[j] {
			moved[j] = true
			d := to[j]
			nextSum, nextSize := *t.sum(d), *t.size(d)
			*t.sum(d), *t.size(d) = sum, size
			sum, size = nextSum, nextSize
		}
	}
	t.other, t.big = renumbered(t.other, to, n), renumbered(t.big, to, n)
	chunks := (n + blobChunk - 1) >> blobChunkBits
	clear(t.sums[chunks:])
	clear(t.sizes[chunks:])
	t.sums, t.sizes = t.sums[:chunks], t.sizes[:chunks]
	if chunks > 0 {
		last := n - (chunks-1)<<blobChunkBits
		t.sums[chunks-1], t.sizes[chunks-1] = t.sums[chunks-1][:last], t.sizes[chunks-1][:last]
	}
	t.n = n
}

// renumbered is m with each row i's entry under to[i], those past n
// dropped; nil when none is left.
func renumbered[V any](m map[int32]V, to []int32, n int) map[int32]V {
	var out map[int32]V
	for i, v := range m {
		if int(to[i]) < n {
			if out == nil {
				out = map[int32]V{}
			}
			out[to[i]] = v
		}
	}
	return out
}

// Blobs lists the table's blobs (for tests and small inventories: it
// allocates a string a blob).
func (t *BlobTable) Blobs() []Blob {
	out := make([]Blob, t.Len())
	for i := range out {
		out[i] = t.At(int32(i))
	}
	return out
}

// blobIndex finds a row of a table by digest, without a string or a map
// entry a blob: an open-addressing table of row numbers (4 bytes a slot,
// at most half full), probed from the sum's first 8 bytes and compared
// with the table's own sums. 480,000 blobs take 4 MiB where a
// map[string]int32 took 48 MB. Digests spelt otherwise are in a map by
// string; rows that index was not told of (a BlobSet's rows of a
// disagreeing size) are not in it.
type blobIndex struct {
	slots []int32 // row+1; 0 is empty; len a power of two
	used  int
	other map[string]int32
}

// index adds row i of t to the index and returns -1, or, when an
// earlier row has its digest, that row (i is then not indexed).
func (x *blobIndex) index(t *BlobTable, i int32) int32 {
	if d, ok := t.other[i]; ok {
		if first, found := x.other[d]; found {
			return first
		}
		if x.other == nil {
			x.other = map[string]int32{}
		}
		x.other[d] = i
		return -1
	}
	if first, found := x.find(t, *t.sum(i)); found {
		return first
	}
	x.add(t, i)
	return -1
}

// grow makes room for n rows of t in all (the rows already indexed are
// placed again).
func (x *blobIndex) grow(t *BlobTable, n int) {
	size := 16
	for size < 2*n {
		size *= 2
	}
	if size <= len(x.slots) {
		return
	}
	old := x.slots
	x.slots = make([]int32, size)
	for _, r := range old {
		if r != 0 {
			x.place(t, r-1)
		}
	}
}

// place puts row i in the first free slot of its probe sequence.
func (x *blobIndex) place(t *BlobTable, i int32) {
	mask := uint64(len(x.slots) - 1)
	for h := t.sum(i).hash() & mask; ; h = (h + 1) & mask {
		if x.slots[h] == 0 {
			x.slots[h] = i + 1
			return
		}
	}
}

// find returns the row of t with sum s.
func (x *blobIndex) find(t *BlobTable, s Sum) (int32, bool) {
	if len(x.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(x.slots) - 1)
	for h := s.hash() & mask; ; h = (h + 1) & mask {
		r := x.slots[h]
		if r == 0 {
			return 0, false
		}
		if *t.sum(r - 1) == s {
			return r - 1, true
		}
	}
}

// add indexes row i of t, whose sum is s (find said none had it).
func (x *blobIndex) add(t *BlobTable, i int32) {
	if 2*(x.used+1) > len(x.slots) {
		x.grow(t, max(2*x.used, 8))
	}
	x.place(t, i)
	x.used++
}

// intern returns the index in t of the blob (s, or other when ok is
// false) of the given size, appending it when t does not hold it yet.
// When t holds it with another size, it returns that row and an error.
func (x *blobIndex) intern(t *BlobTable, s Sum, ok bool, other string, size int64) (int32, error) {
	var i int32
	var found bool
	if ok {
		i, found = x.find(t, s)
	} else {
		i, found = x.other[other]
	}
	switch {
	case found && t.Size(i) != size:
		return i, fmt.Errorf("blob %s has size %d here and %d elsewhere", t.Digest(i), size, t.Size(i))
	case found:
		return i, nil
	case ok:
		i = t.AppendSum(s, size)
		x.add(t, i)
	default:
		i = t.Append(Blob{Digest: other, Size: size})
		if x.other == nil {
			x.other = map[string]int32{}
		}
		x.other[other] = i
	}
	return i, nil
}

// BlobSet interns blobs into a BlobTable from many goroutines at once: a
// scan's readers add each manifest's blobs as they read it and keep only
// the indexes, so that no digest is held as a string while the scan runs.
// A digest met again with another size gets a row of its own, so that
// the InventoryBuilder meeting both reports the disagreement. The zero
// BlobSet is empty and ready to use.
type BlobSet struct {
	mu       sync.Mutex
	t        BlobTable
	idx      blobIndex
	mismatch map[sizedDigest]int32 // rows whose digest an earlier row has, with another size
	first    map[int32]int32       // each of those rows: the earlier row
}

type sizedDigest struct {
	sum   Sum
	other string
	size  int64
}

// Reset empties the set, for blobs to come (a scan's next batch): rows
// given so far mean nothing afterwards.
func (s *BlobSet) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t, s.idx, s.mismatch, s.first = BlobTable{}, blobIndex{}, nil, nil
}

// Intern returns the row of the blob digest of the given size, adding it
// when the set does not hold it.
func (s *BlobSet) Intern(digest string, size int64) int32 {
	sum, ok := ParseSum(digest)
	if ok {
		digest = ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.intern(sum, ok, digest, size)
}

// InternFrom is Intern of row i of another table.
func (s *BlobSet) InternFrom(from *BlobTable, i int32) int32 {
	sum, ok := from.Sum(i)
	other := ""
	if !ok {
		other = from.Digest(i)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.intern(sum, ok, other, from.Size(i))
}

func (s *BlobSet) intern(sum Sum, ok bool, other string, size int64) int32 {
	first, err := s.idx.intern(&s.t, sum, ok, other, size)
	if err == nil {
		return first
	}
	k := sizedDigest{sum, other, size}
	if i, found := s.mismatch[k]; found {
		return i
	}
	var i int32
	if ok {
		i = s.t.AppendSum(sum, size)
	} else {
		i = s.t.Append(Blob{Digest: other, Size: size})
	}
	if s.mismatch == nil {
		s.mismatch, s.first = map[sizedDigest]int32{}, map[int32]int32{}
	}
	s.mismatch[k], s.first[i] = i, first
	return i
}

// Table is the set's table. Read it only once every Intern has returned:
// the table itself is not locked.
func (s *BlobSet) Table() *BlobTable { return &s.t }
