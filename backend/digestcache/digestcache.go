// Package digestcache keeps what a registry scan reads by digest (manifests
// and image configs) on disk, so that the next scan reads only digests it
// has not met before. Content addressed by its digest never changes, so an
// entry never goes stale; it can only be damaged, or unused.
//
// # Store
//
// One file per digest, <dir>/sha256/<first two hex digits>/<hex>: a header
// line (a format marker, the media type and a CRC-32 of the media type),
// then the raw bytes. A file is written to a temporary file in its final
// directory and renamed into place, so a reader sees either no file or a
// whole one; two processes writing the same digest race harmlessly, since
// both write the same bytes. Nothing is locked: two runs at once never wait
// for each other.
//
// Every read is verified: the bytes must hash to the digest and the media
// type must match its CRC. A truncated, corrupt or foreign file is removed
// and reported as a miss, so the caller reads the registry again; nothing
// is ever trusted unverified, which is also why writes need no fsync (a
// file torn by a crash is a miss, not a wrong answer).
//
// # Generations
//
// A scan is bracketed by BeginScan and Scan.End. Every hit and every write
// sets the entry's modification time to now: the entry was used by the
// scans running now. A scan that ends complete (it saw the whole registry)
// records itself under <dir>/scans, and then collects: entries used by none
// of the last Keep complete scans (modified before the start of the
// Keep-th most recent one) are removed, and so, oldest first, are entries
// past MaxBytes. A scan still running in another process keeps everything
// modified since it began. A removed entry costs one read from the
// registry, never a wrong result, so races between collection and use are
// harmless.
//
// A nil *Cache is a disabled cache: every Get misses, Put stores nothing.
package digestcache

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	magic = "digestcache/1 "
	// maxHeader bounds the header line (magic, CRC, media type, newline).
	maxHeader = len(magic) + 9 + maxMediaType + 1
	// maxMediaType bounds a stored media type.
	maxMediaType = 255
	// staleActive: a scan that began this long ago and never ended crashed.
	staleActive = 24 * time.Hour
	// staleTemp: a temporary file this old was left by a crash.
	staleTemp = time.Hour
	// slack absorbs file systems that keep modification times coarsely
	// (FAT: 2 s).
	slack      = 2 * time.Second
	tempPrefix = ".tmp-"
)

// ErrInvalidDigest: the digest is not sha256:<64 hex> or sha512:<128 hex>
// (lower case), so it is not cached.
var ErrInvalidDigest = errors.New("digestcache: not a sha256 or sha512 digest")

// ErrMismatch: the bytes given to Put do not hash to the digest.
var ErrMismatch = errors.New("digestcache: the bytes do not match the digest")

// Cache is a digest cache in one directory. It is safe for concurrent use,
// by goroutines and by processes sharing the directory. A nil *Cache is
// disabled.
type Cache struct {
	dir      string
	keep     int
	maxBytes int64
	now      func() time.Time

	hits, misses, corrupt, stored, failed atomic.Int64
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

// Open opens (creating, mode 0700) the cache in dir.
func Open(dir string, opts ...Option) (*Cache, error) {
	c := &Cache{dir: dir, keep: DefaultKeep, maxBytes: DefaultMaxBytes, now: time.Now}
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
	// Corrupt: entries found damaged (removed, and counted as misses too).
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

// parseDigest splits algorithm:hex and returns a hash for the algorithm.
func parseDigest(digest string) (algo, hexPart string, h hash.Hash, err error) {
	algo, hexPart, _ = strings.Cut(digest, ":")
	switch algo {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return "", "", nil, ErrInvalidDigest
	}
	if !validHex(hexPart, h.Size()) {
		return "", "", nil, ErrInvalidDigest
	}
	return algo, hexPart, h, nil
}

func validHex(s string, size int) bool {
	if len(s) != 2*size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if ch := s[i]; !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f') {
			return false
		}
	}
	return true
}

// matches reports whether data hashes to hexPart under h.
func matches(h hash.Hash, hexPart string, data []byte) bool {
	h.Reset()
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil)) == hexPart
}

func (c *Cache) path(algo, hexPart string) string {
	return filepath.Join(c.dir, algo, hexPart[:2], hexPart)
}

// Get returns the media type ("" for a blob) and bytes stored for digest,
// verified against it. A damaged entry is removed and misses.
func (c *Cache) Get(digest string) (mediaType string, data []byte, ok bool) {
	if c == nil {
		return "", nil, false
	}
	algo, hexPart, h, err := parseDigest(digest)
	if err != nil {
		c.misses.Add(1)
		return "", nil, false
	}
	path := c.path(algo, hexPart)
	f, err := os.Open(path)
	if err != nil {
		c.misses.Add(1)
		return "", nil, false
	}
	raw, err := io.ReadAll(io.LimitReader(f, int64(maxHeader+MaxEntryBytes+1)))
	f.Close()
	if err == nil {
		var good bool
		mediaType, data, good = decode(raw)
		if good && matches(h, hexPart, data) {
			now := c.now()
			_ = os.Chtimes(path, now, now) // used now
			c.hits.Add(1)
			return mediaType, data, true
		}
	}
	c.corrupt.Add(1)
	c.misses.Add(1)
	_ = os.Remove(path)
	return "", nil, false
}

// decode splits an entry file into its media type and bytes; ok is false
// when the header is damaged.
func decode(raw []byte) (mediaType string, data []byte, ok bool) {
	nl := bytes.IndexByte(raw[:min(len(raw), maxHeader)], '\n')
	if nl < 0 || !bytes.HasPrefix(raw, []byte(magic)) {
		return "", nil, false
	}
	sum, mt, found := strings.Cut(string(raw[len(magic):nl]), " ")
	if !found || len(sum) != 8 {
		return "", nil, false
	}
	want, err := strconv.ParseUint(sum, 16, 32)
	if err != nil || uint32(want) != crc32.ChecksumIEEE([]byte(mt)) {
		return "", nil, false
	}
	return mt, raw[nl+1:], true
}

func encodeHeader(mediaType string) string {
	return fmt.Sprintf("%s%08x %s\n", magic, crc32.ChecksumIEEE([]byte(mediaType)), mediaType)
}

// Put stores data (with its media type, "" for a blob) under digest,
// after checking that data hashes to it. Contents over MaxEntryBytes are
// not stored (nil error). A failure to write is counted in Stats and
// returned; the cache stays usable.
func (c *Cache) Put(digest, mediaType string, data []byte) error {
	if c == nil {
		return nil
	}
	algo, hexPart, h, err := parseDigest(digest)
	if err != nil {
		return err
	}
	if len(mediaType) > maxMediaType || strings.ContainsFunc(mediaType, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("digestcache: media type %q cannot be stored", mediaType)
	}
	if !matches(h, hexPart, data) {
		return ErrMismatch
	}
	if len(data) > MaxEntryBytes {
		return nil
	}
	if err := c.write(c.path(algo, hexPart), encodeHeader(mediaType), data); err != nil {
		c.failed.Add(1)
		return fmt.Errorf("digest cache: %w", err)
	}
	c.stored.Add(1)
	return nil
}

// write puts header and data at path through a temporary file and a rename.
func (c *Cache) write(path, header string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.WriteString(header)
	if err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		now := c.now()
		err = os.Chtimes(tmp, now, now)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// Scan is one scan's use of the cache, from BeginScan to End.
type Scan struct {
	c     *Cache
	start time.Time
	name  string // the record's name without its suffix
	warm  bool
	once  sync.Once
	res   Collected
	err   error
}

// BeginScan records that a scan is running: until it ends, collection by
// other scans keeps every entry used since it began. On a nil Cache it
// returns nil, whose End does nothing.
func (c *Cache) BeginScan() *Scan {
	if c == nil {
		return nil
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	s := &Scan{c: c, start: c.now()}
	s.name = fmt.Sprintf("%d-%d-%s", s.start.UnixNano(), os.Getpid(), hex.EncodeToString(rnd[:]))
	done, _ := filepath.Glob(filepath.Join(c.dir, "scans", "*.done"))
	s.warm = len(done) > 0
	// Best effort: without the record, a collection running meanwhile may
	// remove entries this scan wrote, which costs re-reads, not results.
	_ = os.WriteFile(filepath.Join(c.dir, "scans", s.name+".active"), nil, 0o600)
	return s
}

// Warm reports whether a complete scan had ended in the cache when this one
// began: whether the cache is likely to hold most of what the scan needs
// (false on a nil Scan).
func (s *Scan) Warm() bool { return s != nil && s.warm }

// Collected is what a collection found and removed.
type Collected struct {
	Entries      int   // entries kept
	Bytes        int64 // their total size
	Removed      int   // entries removed
	RemovedBytes int64
}

// End ends the scan. A complete scan (one that saw the whole registry, so
// that what it did not use is unused) counts as a generation and collects.
// Later calls return the first call's result.
func (s *Scan) End(complete bool) (Collected, error) {
	if s == nil {
		return Collected{}, nil
	}
	s.once.Do(func() {
		scans := filepath.Join(s.c.dir, "scans")
		_ = os.Remove(filepath.Join(scans, s.name+".active"))
		if !complete {
			return
		}
		if err := os.WriteFile(filepath.Join(scans, s.name+".done"), nil, 0o600); err != nil {
			s.err = fmt.Errorf("digest cache: record the scan: %w", err)
			return
		}
		s.res, s.err = s.c.collect()
	})
	return s.res, s.err
}

type record struct {
	file  string
	start time.Time
}

// threshold reads the scan records and returns the time before which an
// entry is unused (zero: keep everything), pruning records no longer
// needed.
func (c *Cache) threshold() (time.Time, error) {
	dir := filepath.Join(c.dir, "scans")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return time.Time{}, err
	}
	now := c.now()
	var done []record
	var oldestActive time.Time
	for _, e := range ents {
		stem, kind, _ := strings.Cut(e.Name(), ".")
		ns, _, _ := strings.Cut(stem, "-")
		n, err := strconv.ParseInt(ns, 10, 64)
		if err != nil {
			continue // not a record
		}
		r := record{file: filepath.Join(dir, e.Name()), start: time.Unix(0, n)}
		switch kind {
		case "done":
			done = append(done, r)
		case "active":
			if now.Sub(r.start) > staleActive {
				_ = os.Remove(r.file) // its scan crashed
			} else if oldestActive.IsZero() || r.start.Before(oldestActive) {
				oldestActive = r.start
			}
		}
	}
	slices.SortFunc(done, func(a, b record) int { return b.start.Compare(a.start) }) // newest first
	if len(done) < c.keep {
		return time.Time{}, nil
	}
	for _, r := range done[c.keep:] {
		_ = os.Remove(r.file)
	}
	t := done[c.keep-1].start
	if !oldestActive.IsZero() && oldestActive.Before(t) {
		t = oldestActive
	}
	return t.Add(-slack), nil
}

type entry struct {
	path  string
	size  int64
	mtime time.Time
}

// collect removes unused entries, then the least recently used past
// MaxBytes, and stale temporary files.
func (c *Cache) collect() (Collected, error) {
	var res Collected
	before, err := c.threshold()
	if err != nil {
		return res, fmt.Errorf("digest cache: %w", err)
	}
	now := c.now()
	var kept []entry
	remove := func(e entry) {
		if err := os.Remove(e.path); err == nil || errors.Is(err, fs.ErrNotExist) {
			res.Removed++
			res.RemovedBytes += e.size
		}
	}
	for algo, size := range map[string]int{"sha256": sha256.Size, "sha512": sha512.Size} {
		shards, err := os.ReadDir(filepath.Join(c.dir, algo))
		if err != nil {
			continue
		}
		for _, sh := range shards {
			sdir := filepath.Join(c.dir, algo, sh.Name())
			files, err := os.ReadDir(sdir)
			if err != nil {
				continue
			}
			for _, f := range files {
				info, err := f.Info()
				if err != nil || !info.Mode().IsRegular() {
					continue
				}
				e := entry{path: filepath.Join(sdir, f.Name()), size: info.Size(), mtime: info.ModTime()}
				switch {
				case strings.HasPrefix(f.Name(), tempPrefix):
					if now.Sub(e.mtime) > staleTemp {
						_ = os.Remove(e.path)
					}
				case !validHex(f.Name(), size) || !strings.HasPrefix(f.Name(), sh.Name()):
					// not an entry; leave it
				case !before.IsZero() && e.mtime.Before(before):
					remove(e)
				default:
					kept = append(kept, e)
					res.Bytes += e.size
				}
			}
		}
	}
	if res.Bytes > c.maxBytes {
		slices.SortFunc(kept, func(a, b entry) int { return a.mtime.Compare(b.mtime) }) // least recently used first
		for len(kept) > 0 && res.Bytes > c.maxBytes {
			res.Bytes -= kept[0].size
			remove(kept[0])
			kept = kept[1:]
		}
	}
	res.Entries = len(kept)
	return res, nil
}
