package history

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func run(i int) Run {
	return Run{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour), Face: FaceHeadless,
		Registry: &RegistryRun{URL: "r", TotalBytes: int64(1000 + i), FreedBytes: int64(i % 3)}}
}

func TestAppendAndRead(t *testing.T) {
	s := Open(filepath.Join(t.TempDir(), "state", "history.jsonl"))
	if runs, bad, err := s.Read(time.Time{}); err != nil || len(runs) != 0 || bad != 0 {
		t.Fatalf("empty store: %v %d %v", runs, bad, err)
	}
	for i := range 5 {
		if err := s.Append(run(i)); err != nil {
			t.Fatal(err)
		}
	}
	runs, _, err := s.Read(run(2).Time)
	if err != nil || len(runs) != 3 || runs[0].Registry.TotalBytes != 1002 {
		t.Fatalf("since run 2: %+v %v", runs, err)
	}
	if pts := Points(runs, "r"); len(pts) != 3 || pts[2].FreedBytes != 1 {
		t.Errorf("points %+v", pts)
	}
	if st, err := os.Stat(s.Path()); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v %v", st.Mode(), err)
	}
}

// TestTornLine: a run killed mid-write leaves half a line; reading skips
// it and the next append starts on a line of its own.
func TestTornLine(t *testing.T) {
	s := Open(filepath.Join(t.TempDir(), "history.jsonl"))
	if err := s.Append(run(0)); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(s.Path(), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"2026-01-01T05:00:00Z","face":"headl`)
	f.Close()
	if err := s.Append(run(1)); err != nil {
		t.Fatal(err)
	}
	runs, bad, err := s.Read(time.Time{})
	if err != nil || len(runs) != 2 || bad != 1 {
		t.Errorf("runs %d, bad %d, err %v; want 2 and 1 torn", len(runs), bad, err)
	}
}

// TestConcurrentAndBounded: appends from many writers at once, through
// compactions, lose nothing recent and keep the file bounded.
func TestConcurrentAndBounded(t *testing.T) {
	s := Open(filepath.Join(t.TempDir(), "history.jsonl"))
	s.max = 50
	var wg sync.WaitGroup
	// Each writer's last run comes after every writer's others: a writer
	// done early would otherwise see its last run compacted away as old,
	// by the file's order, before the test looks (one run in twenty).
	var others sync.WaitGroup
	others.Add(4)
	for w := range 4 {
		wg.Go(func() {
			for i := range 60 {
				if i == 59 {
					others.Done()
					others.Wait()
				}
				if err := s.Append(run(w*1000 + i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Go(func() { // a reader alongside
		for range 30 {
			if _, bad, err := s.Read(time.Time{}); err != nil || bad != 0 {
				t.Errorf("read during appends: bad %d, err %v", bad, err)
			}
		}
	})
	wg.Wait()
	runs, bad, err := s.Read(time.Time{})
	if err != nil || bad != 0 {
		t.Fatal(err, bad)
	}
	if len(runs) < s.max || len(runs) > 2*s.max {
		t.Errorf("%d runs kept, want between %d and %d", len(runs), s.max, 2*s.max)
	}
	// the newest run of every writer survives
	for w := range 4 {
		found := false
		for _, r := range runs {
			if r.Registry.TotalBytes == int64(1000+w*1000+59) {
				found = true
			}
		}
		if !found {
			t.Errorf("writer %d's last run is lost", w)
		}
	}
}
