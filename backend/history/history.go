// Package history keeps a summary of every run, headless or console: what
// the registry held, what was planned, deleted and freed, and what became
// of each chart dependency. It feeds `helmupgradebot history`, the
// console's History tab and the growth forecast.
//
// The store is one JSON Lines file. A run appends its line under an
// exclusive flock and fsyncs it; readers take a shared flock, so they never
// see half a line; a line torn by a crash is skipped when read and ended
// before the next append. The file is bounded: past twice MaxRuns lines it
// is rewritten, keeping the newest MaxRuns, through a temporary file
// renamed into place.
package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// MaxRuns is how many runs the store keeps: two years of daily headless
// runs with room for the console's.
const MaxRuns = 3000

// Faces.
const (
	FaceHeadless = "headless"
	FaceConsole  = "console"
)

// Run is one run's summary.
type Run struct {
	Time time.Time `json:"time"`
	Face string    `json:"face"`
	// Applied: the run could delete and open PRs (not a dry run).
	Applied  bool         `json:"applied"`
	Registry *RegistryRun `json:"registry,omitempty"`
	Charts   []ChartRun   `json:"charts,omitempty"`
	// Demo marks runs the demo seeded, not real ones.
	Demo bool `json:"demo,omitempty"`
	// ExitCode is a headless run's exit code (absent for the console's
	// runs and older ones): the metrics' last success is read from it.
	ExitCode *int `json:"exit_code,omitempty"`
}

// RegistryRun is what a run saw of the registry and did to it.
type RegistryRun struct {
	URL        string         `json:"url"`
	TotalBytes int64          `json:"total_bytes"`
	CapBytes   int64          `json:"cap_bytes"`
	Images     int            `json:"images"`
	Untagged   int            `json:"untagged"`
	Held       map[string]int `json:"held,omitempty"`
	Planned    int            `json:"planned"`
	// PlannedBytes is what the plan would free.
	PlannedBytes int64      `json:"planned_bytes"`
	Deleted      int        `json:"deleted"`
	FreedBytes   int64      `json:"freed_bytes"`
	Failed       int        `json:"failed"`
	Skipped      int        `json:"skipped"`
	Problems     int        `json:"problems"`
	Deletions    []Deletion `json:"deletions,omitempty"`
	Failures     []Failure  `json:"failures,omitempty"`
}

// Deletion is one image a run deleted.
type Deletion struct {
	Ref    string `json:"ref"`
	Reason string `json:"reason"`
	Bytes  int64  `json:"bytes"`
}

// Failure is one deletion or PR that failed.
type Failure struct {
	Ref   string `json:"ref"`
	Error string `json:"error"`
}

// ChartRun is one chart dependency as a run left it.
type ChartRun struct {
	Repository  string `json:"repository"`
	File        string `json:"file"`
	Dependency  string `json:"dependency"`
	Current     string `json:"current"`
	Latest      string `json:"latest"`
	Status      string `json:"status"`
	PullRequest string `json:"pull_request,omitempty"`
	Error       string `json:"error,omitempty"`
}

// DefaultPath is $XDG_STATE_HOME/helmupgradebot/history.jsonl, beside the
// audit log (~/.local/state when unset).
func DefaultPath(getenv func(string) string) string {
	dir := getenv("XDG_STATE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		dir = filepath.Join(getenv("HOME"), ".local", "state")
	}
	return filepath.Join(dir, "helmupgradebot", "history.jsonl")
}

// Store is the history file at a path.
type Store struct {
	path string
	max  int
}

// Open names the store at path; nothing is read or created until used.
func Open(path string) *Store { return &Store{path: path, max: MaxRuns} }

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// Append records a run.
func (s *Store) Append(r Run) error {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("record the run in %s: %w", s.path, err)
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("record the run in %s: %w", s.path, err)
	}
	f, err := s.lockedFile(syscall.LOCK_EX)
	if err != nil {
		return fmt.Errorf("record the run in %s: %w", s.path, err)
	}
	defer f.Close() // and unlocks
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("record the run in %s: %w", s.path, err)
	}
	if st.Size() > 0 { // end a line a crash tore
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("record the run in %s: %w", s.path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("record the run in %s: %w", s.path, err)
	}
	return s.compact(f)
}

// compact rewrites the file with its newest runs when it holds more than
// twice the bound; f is the open, exclusively locked file.
func (s *Store) compact(f *os.File) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil
	}
	lines, _ := readLines(f)
	if len(lines) <= 2*s.max {
		return nil
	}
	keep := lines[len(lines)-s.max:]
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".history-*")
	if err != nil {
		return fmt.Errorf("compact %s: %w", s.path, err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	for _, l := range keep {
		w.Write(l)
		w.WriteByte('\n')
	}
	if err := errors.Join(w.Flush(), tmp.Sync(), tmp.Chmod(0o600), tmp.Close()); err != nil {
		return fmt.Errorf("compact %s: %w", s.path, err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("compact %s: %w", s.path, err)
	}
	return nil
}

// Read returns the runs since a time, oldest first, and how many lines did
// not parse (a line torn by a crash). A missing file has no runs.
func (s *Store) Read(since time.Time) ([]Run, int, error) {
	if _, err := os.Stat(s.path); errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	f, err := s.lockedFile(syscall.LOCK_SH)
	if err != nil {
		return nil, 0, fmt.Errorf("read history %s: %w", s.path, err)
	}
	defer f.Close()
	lines, err := readLines(f)
	if err != nil {
		return nil, 0, fmt.Errorf("read history %s: %w", s.path, err)
	}
	var runs []Run
	bad := 0
	for _, l := range lines {
		var r Run
		if json.Unmarshal(l, &r) != nil || r.Time.IsZero() {
			bad++
			continue
		}
		if !r.Time.Before(since) {
			runs = append(runs, r)
		}
	}
	slices.SortStableFunc(runs, func(a, b Run) int { return a.Time.Compare(b.Time) })
	return runs, bad, nil
}

// lockedFile opens the store's file and flocks it. A compaction renames a
// new file into place: a lock won on the file it replaced is let go and
// taken again on the new one.
func (s *Store) lockedFile(how int) (*os.File, error) {
	for {
		f, err := os.OpenFile(s.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), how); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock: %w", err)
		}
		held, err1 := f.Stat()
		now, err2 := os.Stat(s.path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
		if err1 != nil {
			return nil, err1
		}
	}
}

// readLines reads every non-empty line.
func readLines(r io.Reader) ([][]byte, error) {
	var out [][]byte
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, bytes.Clone(l))
		}
	}
	return out, sc.Err()
}

// Points are the registry's sizes over the runs that scanned url, for the
// forecast.
func Points(runs []Run, url string) []model.SizePoint {
	var out []model.SizePoint
	for _, r := range runs {
		if rr := r.Registry; rr != nil && rr.URL == url && rr.TotalBytes > 0 {
			out = append(out, model.SizePoint{At: r.Time, TotalBytes: rr.TotalBytes, FreedBytes: rr.FreedBytes})
		}
	}
	return out
}

// Line sums a run up in one line (after its time), as `helmupgradebot
// history` and the console's History tab list it.
func Line(r Run) string {
	var parts []string
	mode := "dry run"
	if r.Applied {
		mode = "applied"
	}
	if r.Demo {
		mode += ", demo data"
	}
	parts = append(parts, fmt.Sprintf("%-8s %s", r.Face, mode))
	if rr := r.Registry; rr != nil {
		parts = append(parts, fmt.Sprintf("%s %s, %d images", rr.URL, model.FormatBytes(rr.TotalBytes), rr.Images))
		if rr.Deleted > 0 {
			parts = append(parts, fmt.Sprintf("deleted %d, freed %s", rr.Deleted, model.FormatBytes(rr.FreedBytes)))
		} else if rr.Planned > 0 {
			parts = append(parts, fmt.Sprintf("planned %d (%s)", rr.Planned, model.FormatBytes(rr.PlannedBytes)))
		}
		if rr.Failed > 0 {
			parts = append(parts, fmt.Sprintf("%d failed", rr.Failed))
		}
	}
	prs, errs := 0, 0
	for _, c := range r.Charts {
		switch c.Status {
		case string(model.StatePROpened), string(model.StatePRUpdated):
			prs++
		case string(model.StateError):
			errs++
		}
	}
	if prs > 0 {
		parts = append(parts, fmt.Sprintf("%d %s opened or updated", prs, plural(prs, "PR")))
	}
	if errs > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", errs, plural(errs, "chart error")))
	}
	return strings.Join(parts, " · ")
}

// plural is word, with an s unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
