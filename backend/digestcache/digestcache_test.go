package digestcache

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func open(t testing.TB, dir string, opts ...Option) *Cache {
	t.Helper()
	c, err := Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// logBuffer collects a cache's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() Option { return WithLogger(slog.New(slog.NewTextHandler(l, nil))) }

// files lists the regular files under dir, relative to it.
func files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// segments lists the segment files in dir.
func segments(t testing.TB, dir string) []string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

func TestPutGet(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)
	config := []byte(`{"created":"2025-01-01T00:00:00Z"}`)
	md, cd := digestOf(manifest), digestOf(config)
	const mt = "application/vnd.oci.image.manifest.v1+json"

	if _, _, ok := c.Get(md); ok {
		t.Fatal("hit in an empty cache")
	}
	if err := c.Put(md, mt, manifest); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(cd, "", config); err != nil {
		t.Fatal(err)
	}
	gotMT, got, ok := c.Get(md)
	if !ok || gotMT != mt || !bytes.Equal(got, manifest) {
		t.Fatalf("Get manifest = %q, %q, %v", gotMT, got, ok)
	}
	gotMT, got, ok = c.Get(cd)
	if !ok || gotMT != "" || !bytes.Equal(got, config) {
		t.Fatalf("Get config = %q, %q, %v", gotMT, got, ok)
	}
	// A second handle on the same directory (another process) sees them,
	// though no index has been written yet: from the segment.
	if _, got, ok := open(t, dir).Get(md); !ok || !bytes.Equal(got, manifest) {
		t.Fatal("a second handle misses")
	}
	// sha512 digests work too.
	sum := sha512.Sum512(config)
	d512 := "sha512:" + hex.EncodeToString(sum[:])
	if err := c.Put(d512, "", config); err != nil {
		t.Fatal(err)
	}
	if _, got, ok := c.Get(d512); !ok || !bytes.Equal(got, config) {
		t.Fatal("sha512 entry misses")
	}
	// Storing a digest held already writes nothing.
	if err := c.Put(md, mt, manifest); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st != (Stats{Hits: 3, Misses: 1, Stored: 3}) {
		t.Errorf("stats %+v", st)
	}
	segs := segments(t, dir)
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	if info, err := os.Stat(segs[0]); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("segment file: %v, %v; want mode 0600", info, err)
	}
	// After the scan's end, the index lists all three.
	if _, err := c.BeginScan().End(false); err != nil {
		t.Fatal(err)
	}
	var got3 []string
	for _, e := range open(t, dir).Entries() {
		got3 = append(got3, e.Digest)
	}
	if want := []string{cd, md, d512}; fmt.Sprint(got3) != fmt.Sprint(sortedStrings(want)) {
		t.Errorf("entries %v, want %v", got3, sortedStrings(want))
	}
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestPutRefuses(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	data := []byte("hello")
	if err := c.Put(digestOf([]byte("other")), "", data); !errors.Is(err, ErrMismatch) {
		t.Errorf("mismatched bytes: %v", err)
	}
	for _, d := range []string{
		"", "sha256:", "md5:0123", "sha256:../../../../etc/passwd",
		"sha256:" + strings.Repeat("A", 64), // upper case
		"sha256:" + strings.Repeat("a", 63),
		"sha256:" + strings.Repeat("g", 64),
		"sha512:" + strings.Repeat("a", 64),
	} {
		if err := c.Put(d, "", data); !errors.Is(err, ErrInvalidDigest) {
			t.Errorf("Put(%q): %v, want ErrInvalidDigest", d, err)
		}
		if _, _, ok := c.Get(d); ok {
			t.Errorf("Get(%q) hit", d)
		}
	}
	if err := c.Put(digestOf(data), "text/plain\nx", data); err == nil {
		t.Error("a media type with a newline was stored")
	}
	if err := c.Put(digestOf(data), strings.Repeat("x", maxMediaType+1), data); err == nil {
		t.Error("an overlong media type was stored")
	}
	big := bytes.Repeat([]byte{'x'}, MaxEntryBytes+1)
	if err := c.Put(digestOf(big), "", big); err != nil {
		t.Errorf("oversized Put: %v", err)
	}
	if _, _, ok := c.Get(digestOf(big)); ok {
		t.Error("an entry over MaxEntryBytes was stored")
	}
	// Nothing escaped the directory, nothing was written.
	if f := files(t, dir); len(f) != 0 {
		t.Errorf("files left: %v", f)
	}
}

// stored is a cache in a directory holding three entries of equal size,
// a, b and c, with their records' places.
type stored struct {
	dir     string
	data    [3][]byte
	digests [3]string
	entries map[string]Entry
}

const storedMT = "application/vnd.docker.distribution.manifest.v2+json"

// store makes a cache of three entries; indexed: the scan ended, so the
// index covers them (else only the segment holds them).
func store(t *testing.T, indexed bool) *stored {
	t.Helper()
	s := &stored{dir: t.TempDir(), entries: map[string]Entry{}}
	c := open(t, s.dir)
	scan := c.BeginScan()
	for i, name := range []string{"a", "b", "c"} {
		s.data[i] = fmt.Appendf(nil, `{"schemaVersion":2,"name":%q,"layers":[]}`, name)
		s.digests[i] = digestOf(s.data[i])
		if err := c.Put(s.digests[i], storedMT, s.data[i]); err != nil {
			t.Fatal(err)
		}
	}
	if indexed {
		if _, err := scan.End(false); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(s.dir, idxName)); err != nil {
			t.Fatal(err)
		}
	} else {
		kill(c)
	}
	for _, e := range open(t, s.dir).Entries() {
		s.entries[e.Digest] = e
	}
	if len(s.entries) != 3 {
		t.Fatalf("entries %v", s.entries)
	}
	return s
}

// wantAll checks that c holds the three entries, each with its bytes.
func (s *stored) wantAll(t *testing.T, c *Cache, when string) {
	t.Helper()
	for i := range 3 {
		if mt, got, ok := c.Get(s.digests[i]); !ok || mt != storedMT || !bytes.Equal(got, s.data[i]) {
			t.Errorf("entry %d %s: %q %q %v", i, when, mt, got, ok)
		}
	}
}

// kill lets go of c's segment as a killed process's lock goes with it,
// writing nothing more.
func kill(c *Cache) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.releaseWriter(false)
}

// edit changes the file at path.
func edit(t *testing.T, path string, fn func([]byte) []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fn(raw), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedRecords: a record damaged in any part, cut short, swapped for
// another, or gone, is never returned: it misses, is dropped with a log
// line, and a Put afterwards repairs it; the records around it still hit.
func TestDamagedRecords(t *testing.T) {
	type damage func(t *testing.T, s *stored, b Entry)
	flip := func(at func(b Entry) int64) damage {
		return func(t *testing.T, s *stored, b Entry) {
			edit(t, b.Segment, func(raw []byte) []byte { raw[at(b)] ^= 0x20; return raw })
		}
	}
	off := func(n int64) func(Entry) int64 { return func(b Entry) int64 { return b.Offset + n } }
	tests := []struct {
		name    string
		indexed bool
		damage  damage
		hits    [3]bool // a, b, c after the damage
		corrupt int64
		log     string
	}{
		{"checksum flipped", true, flip(off(1)), [3]bool{true, false, true}, 1, "damaged entry dropped"},
		{"length flipped", true, flip(off(4)), [3]bool{true, false, true}, 1, "damaged entry dropped"},
		{"algorithm flipped", true, flip(off(12)), [3]bool{true, false, true}, 1, "damaged entry dropped"},
		{"digest flipped", true, flip(off(recHeader + 3)), [3]bool{true, false, true}, 1, "damaged entry dropped"},
		{"media type flipped", true, flip(off(recHeader + 32 + 5)), [3]bool{true, false, true}, 1, "damaged entry dropped"},
		{"body flipped", true, flip(func(b Entry) int64 { return b.Offset + b.Length - 3 }), [3]bool{true, false, true}, 1, "damaged entry dropped"},
		{"zeroed, as after a power loss", true, func(t *testing.T, s *stored, b Entry) {
			edit(t, b.Segment, func(raw []byte) []byte { clear(raw[b.Offset : b.Offset+b.Length]); return raw })
		}, [3]bool{true, false, true}, 1, "damaged entry dropped"},
		{"swapped with another record", true, func(t *testing.T, s *stored, b Entry) {
			c := s.entries[s.digests[2]]
			edit(t, b.Segment, func(raw []byte) []byte {
				rb := bytes.Clone(raw[b.Offset : b.Offset+b.Length])
				copy(raw[b.Offset:], raw[c.Offset:c.Offset+c.Length])
				copy(raw[c.Offset:], rb)
				return raw
			})
		}, [3]bool{true, false, false}, 2, "another digest's"},
		{"segment cut in the record", true, func(t *testing.T, s *stored, b Entry) {
			if err := os.Truncate(b.Segment, b.Offset+b.Length/2); err != nil {
				t.Fatal(err)
			}
		}, [3]bool{true, false, false}, 0, "segment cut short"},
		{"segment removed", true, func(t *testing.T, s *stored, b Entry) {
			if err := os.Remove(b.Segment); err != nil {
				t.Fatal(err)
			}
		}, [3]bool{false, false, false}, 0, ""},
		{"segment header damaged, indexed", true, func(t *testing.T, s *stored, b Entry) {
			edit(t, b.Segment, func(raw []byte) []byte { raw[2] ^= 1; return raw })
		}, [3]bool{true, true, true}, 0, ""}, // the records are whole, and each is checked
		// Not indexed yet: the segment is read, up to the damage.
		{"body flipped, not indexed", false, flip(func(b Entry) int64 { return b.Offset + b.Length - 3 }), [3]bool{true, false, false}, 0, ""},
		{"torn last record, not indexed", false, func(t *testing.T, s *stored, b Entry) {
			c := s.entries[s.digests[2]]
			if err := os.Truncate(c.Segment, c.Offset+c.Length-1); err != nil {
				t.Fatal(err)
			}
		}, [3]bool{true, true, false}, 0, ""},
		{"segment header damaged, not indexed", false, func(t *testing.T, s *stored, b Entry) {
			edit(t, b.Segment, func(raw []byte) []byte { raw[2] ^= 1; return raw })
		}, [3]bool{false, false, false}, 0, "damaged segment ignored"},
		{"garbage appended", true, func(t *testing.T, s *stored, b Entry) {
			edit(t, b.Segment, func(raw []byte) []byte { return append(raw, "garbage after the last record"...) })
		}, [3]bool{true, true, true}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := store(t, tc.indexed)
			tc.damage(t, s, s.entries[s.digests[1]])
			var log logBuffer
			c := open(t, s.dir, log.logger())
			for i, want := range tc.hits {
				mt, got, ok := c.Get(s.digests[i])
				if ok != want {
					t.Errorf("entry %d: hit %v, want %v", i, ok, want)
				}
				if ok && (mt != storedMT || !bytes.Equal(got, s.data[i])) {
					t.Errorf("entry %d: wrong content %q %q", i, mt, got)
				}
			}
			if st := c.Stats(); st.Corrupt != tc.corrupt {
				t.Errorf("stats %+v, want %d corrupt", st, tc.corrupt)
			}
			if tc.log != "" && !strings.Contains(log.String(), tc.log) {
				t.Errorf("log %q, want a line with %q", log.String(), tc.log)
			}
			// A scan stores again what missed; then everything hits, in
			// this process and the next.
			scan := c.BeginScan()
			for i := range 3 {
				if _, _, ok := c.Get(s.digests[i]); !ok {
					if err := c.Put(s.digests[i], storedMT, s.data[i]); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := scan.End(true); err != nil {
				t.Fatal(err)
			}
			var log2 logBuffer
			next := open(t, s.dir, log2.logger())
			s.wantAll(t, next, "after repair")
			if next.Stats().Corrupt != 0 || strings.Contains(log2.String(), "damaged") {
				t.Errorf("damage found again after repair: %s", log2.String())
			}
		})
	}
}

// TestDamagedIndex: an index cut short anywhere, with any byte changed, or
// not an index at all is rebuilt from the segments with a log line; every
// entry still hits with its own bytes, and the index is sound again after
// the next scan's end.
func TestDamagedIndex(t *testing.T) {
	s := store(t, true)
	ipath := filepath.Join(s.dir, idxName)
	good, err := os.ReadFile(ipath)
	if err != nil {
		t.Fatal(err)
	}
	segsAt := len(idxMagic) + 16
	entriesAt := segsAt + idxSeg
	tests := map[string][]byte{
		"empty":            nil,
		"not an index":     []byte("digestcache-idx1 but then nothing of the kind"),
		"another version":  append([]byte("digestcache-idx9"), good[len(idxMagic):]...),
		"cut in the magic": good[:5],
		"cut in the head":  good[:segsAt-3],
		"cut in segments":  good[:segsAt+5],
		"cut in entries":   good[:entriesAt+idxEntry+7],
		"cut before crc":   good[:len(good)-4],
		"cut in crc":       good[:len(good)-1],
		"one byte more":    append(bytes.Clone(good), 0),
	}
	for _, at := range []int{3, segsAt, segsAt + 1, entriesAt + 2, entriesAt + 32, entriesAt + 44, len(good) - 2} {
		bad := bytes.Clone(good)
		bad[at] ^= 0x10
		tests[fmt.Sprintf("byte %d changed", at)] = bad
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(ipath, data, 0o600); err != nil {
				t.Fatal(err)
			}
			var log logBuffer
			c := open(t, s.dir, log.logger())
			s.wantAll(t, c, "")
			if !strings.Contains(log.String(), "rebuilding it from the segments") {
				t.Errorf("log %q: no line about the index", log.String())
			}
			if _, err := c.BeginScan().End(false); err != nil {
				t.Fatal(err)
			}
			now, err := os.ReadFile(ipath)
			if err != nil || !bytes.Equal(now, good) && len(now) != len(good) {
				t.Errorf("index after the scan's end: %d bytes, %v; want %d", len(now), err, len(good))
			}
			var log2 logBuffer
			if n := len(open(t, s.dir, log2.logger()).Entries()); n != 3 || log2.String() != "" {
				t.Errorf("after rewriting: %d entries, log %q", n, log2.String())
			}
		})
	}
	// No index at all (the first run was killed before its end): the
	// segments are indexed, and said so.
	if err := os.Remove(ipath); err != nil {
		t.Fatal(err)
	}
	var log logBuffer
	if n := len(open(t, s.dir, log.logger()).Entries()); n != 3 || !strings.Contains(log.String(), "no index") {
		t.Errorf("without an index: %d entries, log %q", n, log.String())
	}
}

// TestTornTailAdopted: a writer does not append after a torn record (its
// records would be unreachable past it): it starts a segment of its own,
// and everything written since is found by the next process.
func TestTornTailAdopted(t *testing.T) {
	s := store(t, false)
	c := s.entries[s.digests[2]]
	if err := os.Truncate(c.Segment, c.Offset+c.Length-1); err != nil {
		t.Fatal(err)
	}
	w := open(t, s.dir)
	more := []byte(`{"schemaVersion":2,"name":"d"}`)
	if err := w.Put(digestOf(more), "", more); err != nil {
		t.Fatal(err)
	}
	if err := w.Put(s.digests[2], storedMT, s.data[2]); err != nil {
		t.Fatal(err)
	}
	if segs := segments(t, s.dir); len(segs) != 2 {
		t.Errorf("segments %v: want a new one beside the torn", segs)
	}
	r := open(t, s.dir)
	for _, d := range []string{s.digests[0], s.digests[1], s.digests[2], digestOf(more)} {
		if _, _, ok := r.Get(d); !ok {
			t.Errorf("%s misses", d)
		}
	}
	// A whole segment is taken over: a later writer appends to it.
	if _, err := w.BeginScan().End(false); err != nil {
		t.Fatal(err)
	}
	w2 := open(t, s.dir)
	last := []byte("e")
	if err := w2.Put(digestOf(last), "", last); err != nil {
		t.Fatal(err)
	}
	if segs := segments(t, s.dir); len(segs) != 2 {
		t.Errorf("segments %v: want the whole one taken over", segs)
	}
}

// use is one scan using contents: each is read, and stored when missing.
func use(t testing.TB, c *Cache, complete bool, contents ...string) Collected {
	t.Helper()
	s := c.BeginScan()
	for _, x := range contents {
		if _, _, ok := c.Get(digestOf([]byte(x))); !ok {
			if err := c.Put(digestOf([]byte(x)), "", []byte(x)); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := s.End(complete)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// present reports whether the cache in dir holds x, as a new process
// would find it (without using it).
func present(t testing.TB, dir string, x string) bool {
	d := digestOf([]byte(x))
	for _, e := range open(t, dir).Entries() {
		if e.Digest == d {
			return true
		}
	}
	return false
}

// TestCollectAfterKeepScans: an entry survives Keep complete scans that do
// not use it, and is gone after the next; incomplete scans do not count;
// a scan still running elsewhere keeps what it wrote.
func TestCollectAfterKeepScans(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	c := open(t, dir, WithKeep(3), WithClock(clk.now))
	// scanA runs n complete scans an hour apart, each using only a.
	scanA := func(n int) {
		for range n {
			clk.advance(time.Hour)
			use(t, c, true, "a")
		}
	}

	use(t, c, true, "a", "b") // generation 1 uses b
	scanA(2)
	clk.advance(time.Hour)
	use(t, c, false, "a") // incomplete: no generation
	if !present(t, dir, "b") {
		t.Fatal("b removed while among the last 3 scans")
	}
	clk.advance(time.Hour)
	use(t, c, true, "a") // generation 4: b unused in 2, 3, 4
	if present(t, dir, "b") {
		t.Fatal("b kept after 3 scans without it")
	}
	if !present(t, dir, "a") {
		t.Fatal("a removed although used")
	}
	// Only the last Keep scan records are kept.
	recs, _ := filepath.Glob(filepath.Join(dir, "scans", "*.done"))
	if len(recs) != 3 {
		t.Errorf("%d scan records, want 3: %v", len(recs), recs)
	}

	// Another process begins a scan and writes c, then runs long: while
	// it runs, c stays.
	other := open(t, dir, WithKeep(3), WithClock(clk.now))
	clk.advance(time.Hour)
	long := other.BeginScan()
	if err := other.Put(digestOf([]byte("c")), "", []byte("c")); err != nil {
		t.Fatal(err)
	}
	scanA(5)
	if !present(t, dir, "c") {
		t.Fatal("c removed while the scan that wrote it runs")
	}
	// It ends; the 5 scans since it began did not use c: c is unused.
	if _, err := long.End(true); err != nil {
		t.Fatal(err)
	}
	if present(t, dir, "c") {
		t.Fatal("c kept although the last 3 scans did not use it")
	}

	// A scan that crashed (never ended) protects its entries for a day only.
	other.BeginScan()
	if err := other.Put(digestOf([]byte("d")), "", []byte("d")); err != nil {
		t.Fatal(err)
	}
	scanA(4)
	if !present(t, dir, "d") {
		t.Fatal("d removed within a day of its scan's start")
	}
	clk.advance(25 * time.Hour)
	use(t, c, true, "a")
	if present(t, dir, "d") {
		t.Fatal("d kept by a scan that began over a day ago and never ended")
	}
	if act, _ := filepath.Glob(filepath.Join(dir, "scans", "*.active")); len(act) != 0 {
		t.Errorf("stale scan records left: %v", act)
	}
}

// TestUsesPersist: a hit in one process counts as a use for another's
// collection (uses are written with the index at the scan's end).
func TestUsesPersist(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	use(t, open(t, dir, WithKeep(1), WithClock(clk.now)), false, "a", "b")
	clk.advance(time.Hour)
	use(t, open(t, dir, WithKeep(1), WithClock(clk.now)), false, "a") // another process uses a
	clk.advance(time.Hour)
	res := use(t, open(t, dir, WithKeep(1), WithClock(clk.now)), true) // a complete scan using nothing
	if res.Removed != 2 {
		t.Errorf("collected %+v; want a and b, unused by the last complete scan", res)
	}
	use(t, open(t, dir, WithKeep(2), WithClock(clk.now)), false, "a", "b")
	clk.advance(time.Hour)
	use(t, open(t, dir, WithKeep(2), WithClock(clk.now)), true, "a")
	clk.advance(time.Hour)
	use(t, open(t, dir, WithKeep(2), WithClock(clk.now)), true, "a")
	if !present(t, dir, "a") || present(t, dir, "b") {
		t.Errorf("a present %v (want true), b present %v (want false)", present(t, dir, "a"), present(t, dir, "b"))
	}
}

// TestSizeBound: past MaxBytes the least recently used entries go first.
func TestSizeBound(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	const max = 10 << 10
	c := open(t, dir, WithMaxBytes(max), WithClock(clk.now))
	var contents []string
	for i := range 40 {
		contents = append(contents, fmt.Sprintf("%03d", i)+strings.Repeat("x", 1000))
	}
	for _, x := range contents {
		clk.advance(time.Second)
		use(t, c, false, x)
	}
	clk.advance(time.Second)
	res := use(t, c, true)
	if res.Bytes > max || res.Removed == 0 || res.Entries+res.Removed != 40 {
		t.Errorf("collected %+v; want at most %d bytes kept of 40 entries", res, max)
	}
	var total int64
	for _, e := range open(t, dir).Entries() {
		total += e.Length
	}
	if total != res.Bytes || total > max {
		t.Errorf("%d bytes held, collection says %d, bound %d", total, res.Bytes, max)
	}
	// The newest survive, the oldest are gone.
	if !present(t, dir, contents[39]) || present(t, dir, contents[0]) {
		t.Error("size bound did not remove the least recently used first")
	}
	// The segment, mostly dead, was compacted.
	if res.Compacted != 1 || res.DiskBytes > 2*max {
		t.Errorf("collected %+v; want the segment compacted", res)
	}
}

// TestCompaction: a segment whose live records take less than half of it
// is rewritten and removed, and one whose live records take more stays;
// so does one another process writes, whatever it holds, until it lets
// go; what survives reads back whole.
func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	// each run a process of its own
	run := func(complete bool, contents ...string) Collected {
		return use(t, open(t, dir, WithKeep(1), WithClock(clk.now)), complete, contents...)
	}
	var all []string
	for i := range 40 {
		all = append(all, fmt.Sprintf("%03d", i)+strings.Repeat("y", 500))
	}
	run(false, all...)
	clk.advance(time.Hour)
	res := run(true, all[:30]...) // 3/4 live: stays
	if res.Removed != 10 || res.Compacted != 0 || res.Segments != 1 {
		t.Fatalf("collected %+v; want 10 removed, nothing compacted", res)
	}
	before := res.DiskBytes
	// Another process takes the segment over and goes on writing it.
	other := open(t, dir, WithClock(clk.now))
	if err := other.Put(digestOf([]byte("held")), "", []byte("held")); err != nil {
		t.Fatal(err)
	}
	if segs := segments(t, dir); len(segs) != 1 {
		t.Fatalf("segments %v; want the one taken over", segs)
	}
	clk.advance(time.Hour)
	res = run(true, append(all[:5:5], "held")...) // 1/8 live, but written
	if res.Compacted != 0 || res.Entries != 6 || res.Segments != 1 {
		t.Errorf("collected %+v; want 6 entries and the segment another process writes kept", res)
	}
	if _, err := other.BeginScan().End(false); err != nil { // it lets go
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	res = run(true, append(all[:5:5], "held")...)
	if res.Compacted != 1 || res.Entries != 6 || res.Segments != 1 || res.DiskBytes >= before/4 {
		t.Errorf("collected %+v; want the segment compacted to 6 entries, under %d bytes", res, before/4)
	}
	r := open(t, dir)
	for i, x := range all {
		if _, got, ok := r.Get(digestOf([]byte(x))); ok != (i < 5) || ok && string(got) != x {
			t.Errorf("entry %d: hit %v", i, ok)
		}
	}
	if _, got, ok := r.Get(digestOf([]byte("held"))); !ok || string(got) != "held" {
		t.Error("the other process's entry lost in the compaction")
	}
	// The other process writes on. Its scan's end let go of its index, so
	// it reads the directory again, as a new process would, and takes the
	// compacted segment over.
	if err := other.Put(digestOf([]byte("more")), "", []byte("more")); err != nil {
		t.Fatal(err)
	}
	if _, got, ok := open(t, dir).Get(digestOf([]byte("more"))); !ok || string(got) != "more" {
		t.Error("written after the compaction, not found")
	}
	if segs := segments(t, dir); len(segs) != 1 {
		t.Errorf("segments %v; want the compacted one, written on", segs)
	}
	// One that still holds the index from before the compaction (in a scan
	// of its own) writes to a segment of its own: it does not know the new
	// one yet.
	stale := open(t, dir, WithClock(clk.now))
	stale.BeginScan()
	if _, _, ok := stale.Get(digestOf([]byte("more"))); !ok {
		t.Fatal("more not found")
	}
	clk.advance(time.Hour)
	run(true, append(all[:5:5], "held", "more")...)
	if err := stale.Put(digestOf([]byte("last")), "", []byte("last")); err != nil {
		t.Fatal(err)
	}
	if _, got, ok := open(t, dir).Get(digestOf([]byte("last"))); !ok || string(got) != "last" {
		t.Error("written by a process with a stale index, not found")
	}
}

// TestCompactionDiskBound: a segment mostly live is compacted still when
// the segments take over 5/4 of MaxBytes.
func TestCompactionDiskBound(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	const max = 12 << 10
	var all []string
	for i := range 16 {
		all = append(all, fmt.Sprintf("%03d", i)+strings.Repeat("z", 1000))
	}
	use(t, open(t, dir, WithKeep(1), WithMaxBytes(max), WithClock(clk.now)), false, all...)
	clk.advance(time.Hour)
	res := use(t, open(t, dir, WithKeep(1), WithMaxBytes(max), WithClock(clk.now)), true, all[:10]...)
	if res.Entries != 10 || res.Compacted != 1 || res.DiskBytes > max {
		t.Errorf("collected %+v; want 10 entries, the segment (16 KB, 10 live) compacted under %d bytes", res, max)
	}
	for i, x := range all {
		if present(t, dir, x) != (i < 10) {
			t.Errorf("entry %d: present %v", i, !(i < 10))
		}
	}
}

func TestWarm(t *testing.T) {
	c := open(t, t.TempDir())
	if c.BeginScan().Warm() {
		t.Error("an empty cache is warm")
	}
	use(t, c, false, "a")
	if c.BeginScan().Warm() {
		t.Error("warm after an incomplete scan only")
	}
	use(t, c, true, "a")
	if !c.BeginScan().Warm() {
		t.Error("cold after a complete scan")
	}
}

// TestUnloadedAfterScan: once a scan's end has written the index, the
// cache lets go of it in memory and reads it again at the next use; what
// the scan stored and used is still there.
func TestUnloadedAfterScan(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	c := open(t, dir, WithKeep(1), WithClock(clk.now))
	use(t, c, true, "a", "b")
	if c.loaded || c.idx != nil || c.segs != nil {
		t.Fatalf("after the scan's end the index is held: loaded %v, %d entries, %d segments", c.loaded, len(c.idx), len(c.segs))
	}
	clk.advance(time.Hour)
	use(t, c, true, "a") // the same Cache, as the console's next scan
	if !present(t, dir, "a") || present(t, dir, "b") {
		t.Errorf("a present %v (want true), b present %v (want false: unused by the last complete scan)", present(t, dir, "a"), present(t, dir, "b"))
	}
	if c.loaded {
		t.Error("the second scan's end left the index loaded")
	}
}

// TestNotLoadedUnlessUsed: a scan that neither reads nor writes the cache
// (a seeded scan that meets no new digest) reads no index and writes none.
func TestNotLoadedUnlessUsed(t *testing.T) {
	dir := t.TempDir()
	use(t, open(t, dir), false, "a")
	ipath := filepath.Join(dir, idxName)
	if err := os.WriteFile(ipath, []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	var log logBuffer
	c := open(t, dir, log.logger())
	if _, err := c.BeginScan().End(false); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(ipath); string(raw) != "damaged" || log.String() != "" {
		t.Errorf("an unused cache read or wrote its index: %q, log %q", raw, log.String())
	}
}

func TestDisabled(t *testing.T) {
	var c *Cache
	if err := c.Put(digestOf([]byte("x")), "", []byte("x")); err != nil {
		t.Error(err)
	}
	if _, _, ok := c.Get(digestOf([]byte("x"))); ok {
		t.Error("a disabled cache hit")
	}
	s := c.BeginScan()
	if s != nil || s.Warm() {
		t.Error("a disabled cache began a scan")
	}
	if res, err := s.End(true); err != nil || res != (Collected{}) {
		t.Errorf("End: %+v, %v", res, err)
	}
	if c.Stats() != (Stats{}) || c.Dir() != "" || c.Entries() != nil {
		t.Error("a disabled cache has stats, entries or a directory")
	}
}

// TestLeftovers: temporary files a crash left are removed after an hour,
// younger ones and foreign files are left; the file-per-digest cache of
// earlier versions is removed at the first scan's end, with a log line,
// and never read.
func TestLeftovers(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	oldEntry := []byte("cached by an earlier version")
	oldDigest := digestOf(oldEntry)
	oldPath := filepath.Join(dir, "sha256", oldDigest[7:9], oldDigest[7:])
	if err := os.MkdirAll(filepath.Dir(oldPath), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(oldPath, append([]byte("digestcache/1 00000000 \n"), oldEntry...), 0o600); err != nil {
		t.Fatal(err)
	}
	var log logBuffer
	c := open(t, dir, WithClock(clk.now), log.logger())
	if _, _, ok := c.Get(oldDigest); ok {
		t.Error("an entry of the old layout was read")
	}
	use(t, c, false, "a")
	old := filepath.Join(dir, tempPrefix+"index-crashed")
	fresh := filepath.Join(dir, tempPrefix+"seg-writing")
	foreign := filepath.Join(dir, "README")
	for _, p := range []string{old, fresh, foreign} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_ = os.Chtimes(old, clk.now().Add(-2*time.Hour), clk.now().Add(-2*time.Hour))
	_ = os.Chtimes(fresh, clk.now(), clk.now())
	_ = os.Chtimes(foreign, clk.now().Add(-1000*time.Hour), clk.now().Add(-1000*time.Hour))
	use(t, c, true, "a")
	for p, want := range map[string]bool{old: false, fresh: true, foreign: true, filepath.Join(dir, "sha256"): false} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: present %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
	if !strings.Contains(log.String(), "earlier version") {
		t.Errorf("log %q: no line about the old layout", log.String())
	}
	if !present(t, dir, "a") {
		t.Error("a lost")
	}
}

func TestDefaultDir(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tt := range []struct {
		getenv func(string) string
		host   string
		want   string
	}{
		{env("XDG_CACHE_HOME", "/c", "HOME", "/h"), "myreg.azurecr.io", "/c/helmupgradebot/digests/myreg.azurecr.io"},
		{env("HOME", "/h"), "127.0.0.1:5000", "/h/.cache/helmupgradebot/digests/127.0.0.1_5000"},
		{env("XDG_CACHE_HOME", "rel", "HOME", "/h"), "[::1]:80", "/h/.cache/helmupgradebot/digests/___1__80"},
		{env("HOME", "/h"), "../..", "/h/.cache/helmupgradebot/digests/_.._.."},
		{env("HOME", "/h"), "Reg.Example", "/h/.cache/helmupgradebot/digests/reg.example"},
	} {
		got, err := DefaultDir(tt.getenv, tt.host)
		if err != nil || got != tt.want {
			t.Errorf("DefaultDir(%s) = %q, %v; want %q", tt.host, got, err, tt.want)
		}
	}
	if _, err := DefaultDir(env(), "r"); err == nil {
		t.Error("no XDG_CACHE_HOME nor HOME, yet a directory")
	}
	if _, err := DefaultDir(env("HOME", "relative"), "r"); err == nil {
		t.Error("relative HOME accepted")
	}
}
