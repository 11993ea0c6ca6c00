package digestcache

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The helper processes of the tests below: helperEnv names what the test
// binary does instead of testing (shared, write or full), helperDir the
// cache directory.
const (
	helperEnv = "DIGESTCACHE_TEST_HELPER"
	helperDir = "DIGESTCACHE_TEST_DIR"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		dir := os.Getenv(helperDir)
		switch mode {
		case "shared":
			os.Exit(helperShared(dir))
		case "write":
			os.Exit(helperWrite(dir))
		case "full":
			os.Exit(helperFull(dir))
		}
		fmt.Fprintln(os.Stderr, "unknown helper", mode)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// helper starts this test binary as a helper process.
func helper(t *testing.T, mode, dir string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperDir+"="+dir)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// contentsFor is the population the helpers read and write.
func contentsFor(i int) []byte {
	return []byte(strconv.Itoa(i) + strings.Repeat("-", 512+i%1024))
}

const shared = 300

// helperShared runs scans over the shared population, checking every hit,
// with an aggressive collection (Keep 1), and exits non-zero on any error.
func helperShared(dir string) int {
	c, err := Open(dir, WithKeep(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for round := range 20 {
		s := c.BeginScan()
		var wg sync.WaitGroup
		errs := make(chan error, shared)
		// each round uses a part of the population, so that collections
		// drop entries and compact segments
		for i := range shared / 2 {
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

// checkAll reads the whole population from the cache in dir: every hit
// must be right. It returns the hits.
func checkAll(t *testing.T, dir string, n int) (*Cache, int) {
	t.Helper()
	c := open(t, dir)
	hits := 0
	for i := range n {
		data := contentsFor(i)
		if mt, got, ok := c.Get(digestOf(data)); ok {
			hits++
			if mt != "m" || !bytes.Equal(got, data) {
				t.Errorf("entry %d wrong", i)
			}
		}
	}
	if st := c.Stats(); st.Corrupt != 0 {
		t.Errorf("stats %+v: damage found", st)
	}
	return c, hits
}

// TestTwoProcesses runs two processes at once on one cache directory, each
// reading, writing and collecting concurrently: neither fails, no read
// returns wrong bytes, nothing is found corrupt, and the cache is whole
// afterwards.
func TestTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for range 2 {
		cmd, out := helper(t, "shared", dir)
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
	if _, hits := checkAll(t, dir, shared); hits == 0 {
		t.Error("nothing cached after both processes")
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, tempPrefix+"*")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// helperWrite writes the population over and over in scans of 50 entries,
// until it is killed.
func helperWrite(dir string) int {
	c, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 0; ; i++ {
		s := c.BeginScan()
		for j := range 50 {
			data := contentsFor(i*50 + j)
			if err := c.Put(digestOf(data), "m", data); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		if _, err := s.End(i%3 == 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
}

// TestKilledWriter kills a process writing the cache at several moments
// (mid-record, mid-index, mid-collection, wherever it is): what the next
// process reads is always right, it finds most of what was written, and
// it can go on writing and collecting.
func TestKilledWriter(t *testing.T) {
	dir := t.TempDir()
	for round, after := range []time.Duration{150 * time.Millisecond, 230 * time.Millisecond, 310 * time.Millisecond} {
		cmd, out := helper(t, "write", dir)
		time.Sleep(after)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("round %d: the writer ended on its own: %v\n%s", round, err, out)
		}
		c, hits := checkAll(t, dir, 20000)
		t.Logf("round %d: %d entries found after the kill", round, hits)
		if hits == 0 {
			t.Fatalf("round %d: nothing found", round)
		}
		// This process carries on: it stores, collects and reads back.
		s := c.BeginScan()
		for i := range 100 {
			data := contentsFor(100000*(round+1) + i)
			if err := c.Put(digestOf(data), "m", data); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.End(true); err != nil {
			t.Fatal(err)
		}
		r := open(t, dir)
		for i := range 100 {
			data := contentsFor(100000*(round+1) + i)
			if _, got, ok := r.Get(digestOf(data)); !ok || !bytes.Equal(got, data) {
				t.Fatalf("round %d: entry %d written after the kill: hit %v", round, i, ok)
			}
		}
	}
}

// helperFull writes with a file size limit of 64 KiB, as on a full disk:
// writes past it fail. It exits non-zero when a failed write broke the
// cache: a Put reported nothing, or what was stored before no longer
// reads back.
func helperFull(dir string) int {
	signal.Ignore(syscall.SIGXFSZ) // else the signal ends the process
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 64 << 10, Max: 64 << 10}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s := c.BeginScan()
	var failed, ok int
	for i := range 200 {
		data := contentsFor(i)
		if err := c.Put(digestOf(data), "m", data); err != nil {
			failed++
			continue
		}
		ok++
	}
	for i := range 200 {
		data := contentsFor(i)
		if _, got, hit := c.Get(digestOf(data)); hit && !bytes.Equal(got, data) {
			fmt.Fprintln(os.Stderr, "wrong hit", i)
			return 1
		}
	}
	_, endErr := s.End(true)
	st := c.Stats()
	fmt.Printf("stored=%d failed=%d end=%v\n", st.Stored, st.Failed, endErr)
	if failed == 0 || st.Failed != int64(failed) || st.Stored != int64(ok) || st.Corrupt != 0 {
		return 1
	}
	return 0
}

// TestFullDisk: writes that fail (a full disk) are reported and leave the
// cache sound: every segment still ends with a whole record, and what was
// stored reads back in the next process.
func TestFullDisk(t *testing.T) {
	dir := t.TempDir()
	cmd, out := helper(t, "full", dir)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	t.Logf("helper: %s", strings.TrimSpace(out.String()))
	var stored int
	if _, err := fmt.Sscanf(out.String(), "stored=%d", &stored); err != nil {
		t.Fatal(err)
	}
	c, hits := checkAll(t, dir, 200)
	if hits != stored {
		t.Errorf("%d entries read back, %d were stored", hits, stored)
	}
	for _, path := range segments(t, dir) {
		var s segment
		s.path = path
		if err := s.scan(func(int64, int, record) {}); err != nil || s.torn {
			t.Errorf("segment %s: torn %v, %v", path, s.torn, err)
		}
	}
	// Without the limit, it fills up.
	use := c.BeginScan()
	for i := range 200 {
		data := contentsFor(i)
		if _, _, ok := c.Get(digestOf(data)); !ok {
			if err := c.Put(digestOf(data), "m", data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := use.End(true); err != nil {
		t.Fatal(err)
	}
	if _, hits := checkAll(t, dir, 200); hits != 200 {
		t.Errorf("%d of 200 after filling", hits)
	}
}
