package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %q", len(out)+1, err, sc.Text())
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOpenCreatesPrivateDirsAndFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, p := range []struct {
		path string
		want os.FileMode
	}{
		{filepath.Join(dir, "a"), 0o700 | os.ModeDir},
		{filepath.Join(dir, "a", "b"), 0o700 | os.ModeDir},
		{path, 0o600},
	} {
		fi, err := os.Stat(p.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != p.want {
			t.Errorf("%s: mode %v, want %v", p.path, fi.Mode(), p.want)
		}
	}
	if l.Path() != path {
		t.Errorf("Path() = %q, want %q", l.Path(), path)
	}
}

func TestWriteFieldNamesAndAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	when := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	entries := []Entry{
		{Time: when, Action: ActionDelete, Registry: "r.example", Repository: "binder-x", Digest: "sha256:aa",
			Tags: []string{"t1", "t2"}, Reason: "age", Bytes: 1234, Outcome: OutcomeAttempt},
		{Time: when, Action: ActionDelete, Registry: "r.example", Repository: "binder-x", Digest: "sha256:aa",
			Children: []string{"sha256:c1"}, Bytes: 1234, Outcome: OutcomeFailed, Error: "boom", DryRun: true},
	}
	// Two opens: the second appends rather than truncating.
	for _, e := range entries {
		l, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Write(e); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	lines := readLines(t, path)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	want0 := map[string]any{
		"time": "2024-05-06T07:08:09Z", "action": "delete", "registry": "r.example", "repository": "binder-x",
		"digest": "sha256:aa", "tags": []any{"t1", "t2"}, "reason": "age", "bytes": float64(1234), "outcome": "attempt",
	}
	if fmt.Sprint(lines[0]) != fmt.Sprint(want0) {
		t.Errorf("line 1 = %v\nwant     %v", lines[0], want0)
	}
	for _, k := range []string{"error", "dry_run", "children"} {
		if _, ok := lines[0][k]; ok {
			t.Errorf("line 1 has %q although empty", k)
		}
	}
	if lines[1]["error"] != "boom" || lines[1]["dry_run"] != true || lines[1]["outcome"] != "failed" ||
		fmt.Sprint(lines[1]["children"]) != "[sha256:c1]" {
		t.Errorf("line 2 = %v", lines[1])
	}
}

func TestWriteSetsTimeWhenZero(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := l.Write(Entry{Action: ActionDelete, Outcome: OutcomeAttempt}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	got, err := time.Parse(time.RFC3339Nano, readLines(t, path)[0]["time"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if got.Before(before.Add(-time.Second)) || got.After(time.Now().Add(time.Second)) {
		t.Errorf("time %v is not now", got)
	}
}

func TestConcurrentWritesStayWholeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				e := Entry{Action: ActionDelete, Repository: fmt.Sprintf("repo-%d", w), Digest: fmt.Sprintf("sha256:%d", i),
					Tags: []string{strings.Repeat("x", 500)}, Outcome: OutcomeDeleted}
				if err := l.Write(e); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	l.Close()
	lines := readLines(t, path)
	if len(lines) != writers*each {
		t.Fatalf("%d lines, want %d", len(lines), writers*each)
	}
	seen := map[string]bool{}
	for _, m := range lines {
		seen[fmt.Sprint(m["repository"], m["digest"])] = true
	}
	if len(seen) != writers*each {
		t.Errorf("%d distinct entries, want %d", len(seen), writers*each)
	}
}

func TestErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(blocker, "audit.jsonl") // parent is a file
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Open under a file: err = %v, want one naming %s", err, path)
	}
	if _, err := Open(""); err == nil {
		t.Error("Open(\"\") succeeded")
	}

	good := filepath.Join(dir, "audit.jsonl")
	l, err := Open(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := l.Write(Entry{}); err == nil || !strings.Contains(err.Error(), good) {
		t.Errorf("Write after Close: err = %v, want one naming %s", err, good)
	}
}

func TestDefaultPath(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		name, xdg, want string
	}{
		{"xdg set", "/state", "/state/helmupgradebot/audit.jsonl"},
		{"xdg unset", "", filepath.Join(home, ".local/state/helmupgradebot/audit.jsonl")},
		{"xdg relative is ignored", "rel/state", filepath.Join(home, ".local/state/helmupgradebot/audit.jsonl")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HOME", home)
			t.Setenv("XDG_STATE_HOME", tt.xdg)
			if got := DefaultPath(); got != tt.want {
				t.Errorf("DefaultPath() = %q, want %q", got, tt.want)
			}
		})
	}
}
