// Package digestcache keeps what a registry scan reads by digest (manifests
// and image configs) on disk, so that the next scan reads only digests it
// has not met before. Content addressed by its digest never changes, so an
// entry never goes stale; it can only be damaged, or unused.
//
// # Store
//
// A few large append-only segment files (<dir>/<16 hex>.seg) hold the
// entries as records, each with a CRC-32C; an index file (<dir>/index)
// maps each digest, as 32 bytes, to its segment, offset and length, and
// keeps its last use. In memory the index is a map of 32-byte arrays to 16
// bytes, loaded at the first Get or Put, so a run that never asks the
// cache (a seeded scan that meets no new digest) never reads it.
//
// Each process appends to a segment of its own, which it holds an
// exclusive flock on (a writer takes over a segment another left only
// when it can lock it and its last record is whole), so two processes
// never write the same file and neither waits for the other while it
// scans. The index is rewritten at a scan's end, under a short lock on
// <dir>/lock, merged with what other processes wrote meanwhile; records a
// process appended after the last index was written (it was killed, or is
// still running) are found by reading the segments past what the index
// covers.
//
// Nothing is trusted unverified: every read checks the record's CRC, that
// it holds the digest asked for, and that its bytes hash to that digest.
// A record that fails is dropped from the index, logged, and reported as a
// miss, so the caller reads the registry again; a damaged index is rebuilt
// by reading the segments; a record torn by a crash ends what is read of
// its segment. This is why writes need no fsync (only a compaction, which
// removes files, syncs what it wrote first).
//
// # Generations
//
// A scan is bracketed by BeginScan and Scan.End. Every hit and every write
// stamps the entry as used now. A scan that ends complete (it saw the
// whole registry) records itself under <dir>/scans, and then collects:
// entries used by none of the last Keep complete scans (last used before
// the start of the Keep-th most recent one) are dropped, and so, least
// recently used first, are entries past MaxBytes. A scan still running in
// another process keeps everything used since it began, as far as the
// index knows it; what it used meanwhile it adds back at its own end if
// the record is still there. A segment no process writes is compacted
// (its live records copied to the end of the collecting process's segment,
// and it removed) when less than half of it is live, and, most dead bytes
// first, while the segments take over 5/4 of MaxBytes. A dropped entry costs one read from the
// registry, never a wrong result, so races between collection and use are
// harmless.
//
// A directory holding the file-per-digest cache of earlier versions
// (<dir>/sha256, <dir>/sha512) has those removed at the first scan's end.
//
// A nil *Cache is a disabled cache: every Get misses, Put stores nothing.
package digestcache

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults.
const (
	// DefaultKeep: an entry no complete scan used in this many scans is
	// removed.
	DefaultKeep = 10
	// DefaultMaxBytes bounds the entries' total size.
	DefaultMaxBytes int64 = 1 << 30
	// MaxEntryBytes: larger contents are not stored.
	MaxEntryBytes = 16 << 20
)

const (
	// maxMediaType bounds a stored media type.
	maxMediaType = 255
	// staleActive: a scan that began this long ago and never ended crashed.
	staleActive = 24 * time.Hour
	// staleTemp: a temporary file this old was left by a crash.
	staleTemp = time.Hour
	// slack absorbs clocks that differ between processes by a little.
	slack      = 2 * time.Second
	tempPrefix = ".tmp-"
	lockName   = "lock"
)

// ErrInvalidDigest: the digest is not sha256:<64 hex> or sha512:<128 hex>
// (lower case), so it is not cached.
var ErrInvalidDigest = errors.New("digestcache: not a sha256 or sha512 digest")

// ErrMismatch: the bytes given to Put do not hash to the digest.
var ErrMismatch = errors.New("digestcache: the bytes do not match the digest")

// loc is where an entry's record is, and when it was last used.
type loc struct {
	off  uint32 // in the segment
	n    uint32 // the record's length
	used uint32 // Unix seconds
	seg  uint16 // slot in Cache.segs
	algo uint8
}

// Cache is a digest cache in one directory. It is safe for concurrent use,
// by goroutines and by processes sharing the directory. A nil *Cache is
// disabled.
type Cache struct {
	dir      string
	keep     int
	maxBytes int64
	now      func() time.Time
	log      *slog.Logger

	hits, misses, corrupt, stored, failed atomic.Int64

	mu     sync.Mutex
	loaded bool
	idx    map[[32]byte]loc
	segs   []*segment // by slot; nil: a slot let go
	byID   map[uint64]uint16
	// bad: records found damaged, which the index file may still list
	// until it is next written.
	bad   map[[32]byte]loc
	w     *writer
	buf   []byte // a record being appended
	dirty bool   // the index file lacks entries or uses this one has
	// compacting: a segment the writer fills is synced before it is let
	// go, since the segments it replaces are about to be removed.
	compacting bool
}

// writer is the segment this process appends to.
type writer struct {
	slot uint16
	f    *os.File
	off  int64
}

// Option configures Open.
type Option func(*Cache) error

// WithKeep sets how many complete scans may pass without using an entry
// before it is removed (default DefaultKeep).
func WithKeep(n int) Option {
	return func(c *Cache) error {
		if n < 1 {
			return fmt.Errorf("WithKeep: %d is not positive", n)
		}
		c.keep = n
		return nil
	}
}

// WithMaxBytes bounds the entries' total size (default DefaultMaxBytes);
// past it, collection removes the least recently used entries.
func WithMaxBytes(n int64) Option {
	return func(c *Cache) error {
		if n < 1 {
			return fmt.Errorf("WithMaxBytes: %d is not positive", n)
		}
		c.maxBytes = n
		return nil
	}
}

// WithClock sets the clock that stamps uses and scans (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *Cache) error {
		if now == nil {
			return errors.New("WithClock: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithLogger logs damage found (a record, a segment or the index) and
// what was done about it (default: nowhere).
func WithLogger(l *slog.Logger) Option {
	return func(c *Cache) error {
		if l == nil {
			return errors.New("WithLogger: nil logger")
		}
		c.log = l
		return nil
	}
}

// DefaultDir returns the cache directory for a registry host:
// $XDG_CACHE_HOME/helmupgradebot/digests/<host> ($HOME/.cache when
// XDG_CACHE_HOME is unset or relative). Each registry has its own
// directory, so that scans of one registry never collect another's
// entries.
func DefaultDir(getenv func(string) string, host string) (string, error) {
	base := getenv("XDG_CACHE_HOME")
	if base == "" || !filepath.IsAbs(base) {
		home := getenv("HOME")
		if home == "" || !filepath.IsAbs(home) {
			return "", errors.New("no directory for the digest cache: set XDG_CACHE_HOME or HOME")
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "helmupgradebot", "digests", hostDir(host)), nil
}

// hostDir makes a registry host[:port] a directory name.
func hostDir(host string) string {
	b := []byte(strings.ToLower(host))
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '.' {
		return "_" + string(b)
	}
	return string(b)
}

// Open opens (creating, mode 0700) the cache in dir. It reads nothing yet.
func Open(dir string, opts ...Option) (*Cache, error) {
	c := &Cache{dir: dir, keep: DefaultKeep, maxBytes: DefaultMaxBytes, now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("digest cache: %w", err)
		}
	}
	if dir == "" {
		return nil, errors.New("digest cache: empty directory")
	}
	if err := os.MkdirAll(filepath.Join(dir, "scans"), 0o700); err != nil {
		return nil, fmt.Errorf("digest cache: %w", err)
	}
	return c, nil
}

// Dir returns the cache's directory ("" when disabled).
func (c *Cache) Dir() string {
	if c == nil {
		return ""
	}
	return c.dir
}

// Stats counts what a Cache did since Open.
type Stats struct {
	Hits, Misses int64
	// Corrupt: entries found damaged (dropped, and counted as misses too).
	Corrupt int64
	// Stored: entries written; Failed: writes that failed.
	Stored, Failed int64
}

// Stats returns the counts so far.
func (c *Cache) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Corrupt: c.corrupt.Load(),
		Stored: c.stored.Load(), Failed: c.failed.Load()}
}

// digestKey is a parsed digest: its algorithm and bytes, whose first 32
// are its index key.
type digestKey struct {
	algo uint8
	raw  []byte
	key  [32]byte
}

// parseDigest parses sha256:<64 hex> or sha512:<128 hex>, lower case.
func parseDigest(digest string) (digestKey, error) {
	name, h, _ := strings.Cut(digest, ":")
	var d digestKey
	switch name {
	case "sha256":
		d.algo = algoSHA256
	case "sha512":
		d.algo = algoSHA512
	default:
		return d, ErrInvalidDigest
	}
	if len(h) != 2*digestLen(d.algo) {
		return d, ErrInvalidDigest
	}
	for i := 0; i < len(h); i++ {
		if ch := h[i]; !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f') {
			return d, ErrInvalidDigest
		}
	}
	var buf [64]byte
	n, _ := hex.Decode(buf[:], []byte(h))
	d.raw = buf[:n]
	copy(d.key[:], d.raw)
	return d, nil
}

// String is the digest as algorithm:hex.
func (d digestKey) String() string {
	return map[uint8]string{algoSHA256: "sha256:", algoSHA512: "sha512:"}[d.algo] + hex.EncodeToString(d.raw)
}

// matches reports whether data hashes to the digest.
func (d digestKey) matches(data []byte) bool {
	switch d.algo {
	case algoSHA256:
		sum := sha256.Sum256(data)
		return bytes.Equal(sum[:], d.raw)
	case algoSHA512:
		sum := sha512.Sum512(data)
		return bytes.Equal(sum[:], d.raw)
	}
	return false
}

func (c *Cache) unixNow() uint32 { return uint32(max(c.now().Unix(), 0)) }

// Get returns the media type ("" for a blob) and bytes stored for digest,
// verified against it. A damaged entry is dropped, logged, and misses.
func (c *Cache) Get(digest string) (mediaType string, data []byte, ok bool) {
	if c == nil {
		return "", nil, false
	}
	d, err := parseDigest(digest)
	if err != nil {
		c.misses.Add(1)
		return "", nil, false
	}
	c.mu.Lock()
	c.load()
	l, found := c.idx[d.key]
	var s *segment
	var f *os.File
	if found && l.algo == d.algo {
		s = c.segs[l.seg]
		if f, err = s.reader(); err != nil {
			// removed by another process's collection: not damage
			delete(c.idx, d.key)
			found = false
		}
	}
	c.mu.Unlock()
	if !found || l.algo != d.algo {
		c.misses.Add(1)
		return "", nil, false
	}
	buf := make([]byte, l.n)
	_, err = f.ReadAt(buf, int64(l.off))
	var r record
	if err == nil {
		if r, err = parseRecord(buf); err == nil && (r.algo != d.algo || !bytes.Equal(r.raw, d.raw)) {
			err = errors.New("the record is another digest's")
		}
		if err == nil && !d.matches(r.body) {
			err = errors.New("the bytes do not hash to the digest")
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, still := c.idx[d.key]
	if err != nil {
		c.misses.Add(1)
		if still && cur == l {
			delete(c.idx, d.key)
			c.bad[d.key] = l
			c.dirty = true
			c.corrupt.Add(1)
			c.log.Warn("digest cache: damaged entry dropped", "digest", digest, "segment", s.path, "offset", l.off, "err", err)
		}
		return "", nil, false
	}
	if still {
		cur.used = c.unixNow()
		c.idx[d.key] = cur
		c.dirty = true
	}
	c.hits.Add(1)
	return r.mediaType, r.body, true
}

// Put stores data (with its media type, "" for a blob) under digest,
// after checking that data hashes to it. Contents over MaxEntryBytes are
// not stored (nil error), nor are digests already held (their use is
// recorded). A failure to write is counted in Stats and returned; the
// cache stays usable.
func (c *Cache) Put(digest, mediaType string, data []byte) error {
	if c == nil {
		return nil
	}
	d, err := parseDigest(digest)
	if err != nil {
		return err
	}
	if len(mediaType) > maxMediaType || strings.ContainsFunc(mediaType, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("digestcache: media type %q cannot be stored", mediaType)
	}
	if !d.matches(data) {
		return ErrMismatch
	}
	if len(data) > MaxEntryBytes {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load()
	now := c.unixNow()
	if l, ok := c.idx[d.key]; ok && l.algo == d.algo {
		l.used = now
		c.idx[d.key] = l
		c.dirty = true
		return nil
	}
	c.buf = appendRecord(c.buf[:0], d.algo, d.raw, mediaType, data, now)
	l, err := c.append(c.buf)
	if err != nil {
		c.failed.Add(1)
		return fmt.Errorf("digest cache %s: store %s: %w", c.dir, digest, err)
	}
	l.used, l.algo = now, d.algo
	c.idx[d.key] = l
	c.dirty = true
	c.stored.Add(1)
	return nil
}

// append writes a whole record at the end of the writer's segment (taking
// one first) and returns where. A failed write is cut off again, so that
// the segment still ends with a whole record; when that fails too, the
// segment is let go.
func (c *Cache) append(rec []byte) (loc, error) {
	if err := c.ensureWriter(); err != nil {
		return loc{}, err
	}
	w := c.w
	if _, err := w.f.WriteAt(rec, w.off); err != nil {
		if terr := w.f.Truncate(w.off); terr != nil {
			c.segs[w.slot].cut = true
			c.releaseWriter(false)
		}
		return loc{}, err
	}
	l := loc{off: uint32(w.off), n: uint32(len(rec)), seg: w.slot}
	w.off += int64(len(rec))
	c.segs[w.slot].covered = w.off
	if w.off >= rollBytes {
		c.releaseWriter(c.compacting)
	}
	return l, nil
}

// ensureWriter gives this process a segment to append to: one no other
// process writes, not full, whose last record is whole; else a new one.
func (c *Cache) ensureWriter() error {
	if c.w != nil {
		return nil
	}
	best := -1
	for slot, s := range c.segs {
		if s == nil || s.bad || s.torn || s.cut || s.covered < int64(len(segMagic)) || s.covered >= rollBytes/2 {
			continue
		}
		if best < 0 || s.covered > c.segs[best].covered {
			best = slot
		}
	}
	if best >= 0 {
		s := c.segs[best]
		if f, err := adopt(s); err == nil {
			// Another process may have appended since it was read.
			c.scanSegment(uint16(best), false)
			if info, err := f.Stat(); err == nil && !s.torn && info.Size() == s.covered {
				c.w = &writer{slot: uint16(best), f: f, off: s.covered}
				return nil
			}
			f.Close()
		}
	}
	if len(c.segs) >= 1<<16 {
		return errors.New("too many segments")
	}
	id, path, f, err := newSegment(c.dir)
	if err != nil {
		return err
	}
	slot := c.addSegment(id, path)
	c.segs[slot].covered = int64(len(segMagic))
	c.w = &writer{slot: slot, f: f, off: int64(len(segMagic))}
	return nil
}

// releaseWriter closes the writer's segment, letting go of its lock;
// with sync, what was written is made durable first.
func (c *Cache) releaseWriter(sync bool) error {
	if c.w == nil {
		return nil
	}
	var err error
	if sync {
		err = c.w.f.Sync()
	}
	err = errors.Join(err, c.w.f.Close())
	c.w = nil
	return err
}

// addSegment gives segment id a slot.
func (c *Cache) addSegment(id uint64, path string) uint16 {
	slot := uint16(len(c.segs))
	c.segs = append(c.segs, &segment{id: id, path: path})
	c.byID[id] = slot
	return slot
}
