package digestcache

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

func open(t *testing.T, dir string, opts ...Option) *Cache {
	t.Helper()
	c, err := Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// entryPath is where the cache in dir keeps digest.
func entryPath(dir, digest string) string {
	algo, h, _ := strings.Cut(digest, ":")
	return filepath.Join(dir, algo, h[:2], h)
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
	// A second handle on the same directory (another process) sees them.
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
	if st := c.Stats(); st != (Stats{Hits: 3, Misses: 1, Stored: 3}) {
		t.Errorf("stats %+v", st)
	}
	if info, err := os.Stat(entryPath(dir, md)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("entry file: %v, %v; want mode 0600", info, err)
	}
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
	big := bytes.Repeat([]byte{'x'}, MaxEntryBytes+1)
	if err := c.Put(digestOf(big), "", big); err != nil {
		t.Errorf("oversized Put: %v", err)
	}
	if _, _, ok := c.Get(digestOf(big)); ok {
		t.Error("an entry over MaxEntryBytes was stored")
	}
	// Nothing escaped the directory, nothing was left behind.
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Errorf("files left: %v", files)
	}
}

// TestDamagedEntries: a truncated, corrupt or foreign file is a miss, is
// removed, and a Put afterwards repairs it.
func TestDamagedEntries(t *testing.T) {
	data := []byte(`{"schemaVersion":2,"config":{},"layers":[]}`)
	d := digestOf(data)
	const mt = "application/vnd.docker.distribution.manifest.v2+json"
	damage := map[string]func([]byte) []byte{
		"truncated body":   func(b []byte) []byte { return b[:len(b)-3] },
		"truncated header": func(b []byte) []byte { return b[:10] },
		"empty":            func([]byte) []byte { return nil },
		"body bit flipped": func(b []byte) []byte { b[len(b)-2] ^= 1; return b },
		"media type flipped": func(b []byte) []byte {
			i := bytes.Index(b, []byte("docker"))
			b[i] = 'D'
			return b
		},
		"no header":  func([]byte) []byte { return data },
		"appended":   func(b []byte) []byte { return append(b, '\n') },
		"other file": func([]byte) []byte { return []byte("digestcache/1 00000000 \n" + "not it") },
	}
	for name, fn := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, dir)
			if err := c.Put(d, mt, data); err != nil {
				t.Fatal(err)
			}
			p := entryPath(dir, d)
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, fn(raw), 0o600); err != nil {
				t.Fatal(err)
			}
			if gotMT, got, ok := c.Get(d); ok {
				t.Fatalf("damaged entry trusted: %q %q", gotMT, got)
			}
			if st := c.Stats(); st.Corrupt != 1 || st.Hits != 0 {
				t.Errorf("stats %+v", st)
			}
			if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("damaged entry not removed: %v", err)
			}
			if err := c.Put(d, mt, data); err != nil {
				t.Fatal(err)
			}
			if gotMT, got, ok := c.Get(d); !ok || gotMT != mt || !bytes.Equal(got, data) {
				t.Errorf("repaired entry: %q %q %v", gotMT, got, ok)
			}
		})
	}
}

// use is one scan using digests: each is read, and stored when missing.
func use(t *testing.T, c *Cache, complete bool, contents ...string) {
	t.Helper()
	s := c.BeginScan()
	for _, x := range contents {
		if _, _, ok := c.Get(digestOf([]byte(x))); !ok {
			if err := c.Put(digestOf([]byte(x)), "", []byte(x)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.End(complete); err != nil {
		t.Fatal(err)
	}
}

func present(dir string, x string) bool {
	_, err := os.Stat(entryPath(dir, digestOf([]byte(x))))
	return err == nil
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
	if !present(dir, "b") {
		t.Fatal("b removed while among the last 3 scans")
	}
	clk.advance(time.Hour)
	use(t, c, true, "a") // generation 4: b unused in 2, 3, 4
	if present(dir, "b") {
		t.Fatal("b kept after 3 scans without it")
	}
	if !present(dir, "a") {
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
	if !present(dir, "c") {
		t.Fatal("c removed while the scan that wrote it runs")
	}
	// It ends; the 5 scans since it began did not use c: c is unused.
	if _, err := long.End(true); err != nil {
		t.Fatal(err)
	}
	if present(dir, "c") {
		t.Fatal("c kept although the last 3 scans did not use it")
	}

	// A scan that crashed (never ended) protects its entries for a day only.
	other.BeginScan()
	if err := other.Put(digestOf([]byte("d")), "", []byte("d")); err != nil {
		t.Fatal(err)
	}
	scanA(4)
	if !present(dir, "d") {
		t.Fatal("d removed within a day of its scan's start")
	}
	clk.advance(25 * time.Hour)
	use(t, c, true, "a")
	if present(dir, "d") {
		t.Fatal("d kept by a scan that began over a day ago and never ended")
	}
	if act, _ := filepath.Glob(filepath.Join(dir, "scans", "*.active")); len(act) != 0 {
		t.Errorf("stale scan records left: %v", act)
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
	s := c.BeginScan()
	res, err := s.End(true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes > max || res.Removed == 0 || res.Entries+res.Removed != 40 {
		t.Errorf("collected %+v; want at most %d bytes kept of 40 entries", res, max)
	}
	var total int64
	_ = filepath.WalkDir(filepath.Join(dir, "sha256"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			info, _ := d.Info()
			total += info.Size()
		}
		return nil
	})
	if total != res.Bytes || total > max {
		t.Errorf("%d bytes on disk, collection says %d, bound %d", total, res.Bytes, max)
	}
	// The newest survive, the oldest are gone.
	if !present(dir, contents[39]) || present(dir, contents[0]) {
		t.Error("size bound did not remove the least recently used first")
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
	if c.Stats() != (Stats{}) || c.Dir() != "" {
		t.Error("a disabled cache has stats or a directory")
	}
}

func TestLeftovers(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	c := open(t, dir, WithClock(clk.now))
	use(t, c, false, "a")
	shard := filepath.Dir(entryPath(dir, digestOf([]byte("a"))))
	old := filepath.Join(shard, tempPrefix+"crashed")
	fresh := filepath.Join(shard, tempPrefix+"writing")
	foreign := filepath.Join(shard, "README")
	for _, p := range []string{old, fresh, foreign} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_ = os.Chtimes(old, clk.now().Add(-2*time.Hour), clk.now().Add(-2*time.Hour))
	_ = os.Chtimes(fresh, clk.now(), clk.now())
	_ = os.Chtimes(foreign, clk.now().Add(-1000*time.Hour), clk.now().Add(-1000*time.Hour))
	if _, err := c.BeginScan().End(true); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{old: false, fresh: true, foreign: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: present %v, want %v", filepath.Base(p), err == nil, want)
		}
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

// The helper process for TestTwoProcesses.
const helperEnv = "DIGESTCACHE_TEST_HELPER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(helper(dir))
	}
	os.Exit(m.Run())
}

// contentsFor is the shared population both processes read and write.
func contentsFor(i int) []byte {
	return []byte(strconv.Itoa(i) + strings.Repeat("-", 512+i%1024))
}

const shared = 300

// helper runs scans over the shared population, checking every hit, with
// an aggressive collection (Keep 1), and exits non-zero on any error.
func helper(dir string) int {
	c, err := Open(dir, WithKeep(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for round := range 20 {
		s := c.BeginScan()
		var wg sync.WaitGroup
		errs := make(chan error, shared)
		for i := range shared {
			wg.Go(func() {
				data := contentsFor((i + round*37) % shared)
				d := digestOf(data)
				if mt, got, ok := c.Get(d); ok {
					if mt != "m" || !bytes.Equal(got, data) {
						errs <- fmt.Errorf("wrong hit for %s", d)
					}
					return
				}
				if err := c.Put(d, "m", data); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if _, err := s.End(round%2 == 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	st := c.Stats()
	fmt.Printf("hits=%d misses=%d corrupt=%d stored=%d failed=%d\n", st.Hits, st.Misses, st.Corrupt, st.Stored, st.Failed)
	if st.Corrupt != 0 || st.Failed != 0 {
		return 1
	}
	return 0
}

// TestTwoProcesses runs two processes at once on one cache directory, each
// reading, writing and collecting concurrently: neither waits for the other,
// no read returns wrong bytes, nothing is found corrupt, and the cache is
// whole afterwards.
func TestTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+dir)
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		outs = append(outs, out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d: %v\n%s", i, err, outs[i])
		} else {
			t.Logf("process %d: %s", i, strings.TrimSpace(outs[i].String()))
		}
	}
	c := open(t, dir)
	for i := range shared {
		data := contentsFor(i)
		if _, got, ok := c.Get(digestOf(data)); ok && !bytes.Equal(got, data) {
			t.Errorf("entry %d wrong", i)
		}
	}
	if st := c.Stats(); st.Corrupt != 0 || st.Hits == 0 {
		t.Errorf("after both processes: %+v", st)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "sha256", "*", tempPrefix+"*")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}
