package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPending(t *testing.T) {
	const reg = "r.example"
	line := func(repo, digest, outcome string) string {
		return `{"action":"delete","registry":"` + reg + `","repository":"` + repo + `","digest":"` + digest + `","bytes":1,"outcome":"` + outcome + `"}` + "\n"
	}
	tests := []struct {
		name string
		log  string
		want []string // digests
		bad  int
	}{
		{"empty", "", nil, 0},
		{"answered", line("a", "d1", "attempt") + line("a", "d1", "deleted"), nil, 0},
		{"killed after the attempt", line("a", "d1", "attempt") + line("a", "d2", "attempt") + line("a", "d2", "failed"), []string{"d1"}, 0},
		{"torn last line", line("a", "d1", "attempt") + `{"action":"delete","regis`, []string{"d1"}, 1},
		{"torn outcome line", line("a", "d1", "attempt") + line("a", "d1", "deleted")[:30], []string{"d1"}, 1},
		{"other registry", `{"action":"delete","registry":"other","repository":"a","digest":"d1","bytes":1,"outcome":"attempt"}` + "\n", nil, 0},
		{"garbage between", line("a", "d1", "attempt") + "not json\n" + line("b", "d1", "attempt") + line("b", "d1", "already-gone"), []string{"d1"}, 1},
		{"retried later", line("a", "d1", "attempt") + line("a", "d1", "attempt") + line("a", "d1", "deleted"), nil, 0},
		{"recovered", line("a", "d1", "attempt") + line("a", "d1", "present"), nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bad, err := pendingIn(strings.NewReader(tt.log), func(r string) bool { return r == reg })
			if err != nil {
				t.Fatal(err)
			}
			var ds []string
			for _, e := range got {
				ds = append(ds, e.Repository+"@"+e.Digest)
			}
			var want []string
			for _, d := range tt.want {
				want = append(want, "a@"+d)
			}
			if strings.Join(ds, ",") != strings.Join(want, ",") || bad != tt.bad {
				t.Errorf("pending %v (bad %d), want %v (bad %d)", ds, bad, want, tt.bad)
			}
		})
	}
}

// TestOpenEndsATornLine: a log whose last line a crash tore is ended
// before new lines are written, so the new ones parse.
func TestOpenEndsATornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, []byte(`{"action":"delete","registry":"r","repository":"a","digest":"d1","bytes":1,"outcome":"attempt"}`+"\n"+`{"action":"del`), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Write(Entry{Action: ActionDelete, Registry: "r", Repository: "a", Digest: "d1", Outcome: OutcomeDeleted, Recovered: true}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	got, bad, err := Pending(path, "r")
	if err != nil || len(got) != 0 || bad != 1 {
		t.Errorf("pending %v, bad %d, err %v; want none pending, one torn line", got, bad, err)
	}
}

// FuzzPending: whatever the log holds, reading it never fails or panics,
// and every pending entry is an attempt of the registry asked for.
func FuzzPending(f *testing.F) {
	f.Add(`{"action":"delete","registry":"r","repository":"a","digest":"d","bytes":1,"outcome":"attempt"}` + "\n")
	f.Add(`{"action":"delete","registry":"r","repository":"a","digest":"d","bytes":1,"outcome":"attempt"}` + "\n" + `{"action":"delete","registry":"r","repository":"a","digest":"d","outcome":"deleted"}`)
	f.Add("{\"action\":\"delete\",\"registry\":\"r\"")
	f.Add("\n\n\x00\xff{}")
	f.Fuzz(func(t *testing.T, log string) {
		got, _, err := pendingIn(strings.NewReader(log), func(r string) bool { return r == "r" })
		if err != nil && !strings.Contains(err.Error(), "token too long") {
			t.Fatal(err)
		}
		for _, e := range got {
			if e.Outcome != OutcomeAttempt || e.Registry != "r" || e.Action != ActionDelete {
				t.Fatalf("pending %+v", e)
			}
		}
	})
}
