package digestcache

import (
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// Entry is a digest the cache holds and where, as Entries lists it.
type Entry struct {
	Digest string
	// Segment is the segment file's path; the record is Length bytes at
	// Offset in it.
	Segment        string
	Offset, Length int64
	Used           time.Time // the last use known
}

// Entries lists what the cache holds, by digest, as its index and the
// segments past it say; nothing is verified (Get does that). For tests
// and for looking into a cache by hand.
func (c *Cache) Entries() []Entry {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load()
	out := make([]Entry, 0, len(c.idx))
	for k, l := range c.idx {
		s := c.segs[l.seg]
		d := keyString(l.algo, k)
		if l.algo == algoSHA512 {
			// the index holds half of it; the record holds it whole
			if f, err := s.reader(); err == nil {
				h := make([]byte, recHeader+64)
				if _, err := f.ReadAt(h, int64(l.off)); err == nil {
					d = "sha512:" + hex.EncodeToString(h[recHeader:])
				}
			}
		}
		out = append(out, Entry{Digest: d, Segment: s.path, Offset: int64(l.off), Length: int64(l.n), Used: time.Unix(int64(l.used), 0)})
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Digest, b.Digest) })
	return out
}
