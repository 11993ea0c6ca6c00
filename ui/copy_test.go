package ui

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/history"
)

// A hand-picked selection that leaves the registry over the cap says the
// rest is not selected, not that it is held (the policy plan's shortfall:
// ui/registry's TestShortfallText).
func TestShortfallText(t *testing.T) {
	d, _, _ := fakeEnv(t, 80, 24)
	d.press("2", "space", "space", "d")
	s := d.screen()
	mustContain(t, s, "Delete 2 images", "over the cap: the rest is not selected")
	mustNotContain(t, s, "the rest is held")
}

// A note answering a key ("cancelled") goes at the next key press; an
// error stays until read.
func TestNotesClearOnNextKey(t *testing.T) {
	d, _, _ := fakeEnv(t, 80, 24)
	d.press("p", "esc")
	mustContain(t, line(d.screen(), "cancelled"), "cancelled")
	d.press("j")
	mustNotContain(t, d.screen(), "cancelled")
	d.press("2", "u")
	mustContain(t, d.screen(), "untagged manifests hidden")
	d.press("u", "j")
	mustNotContain(t, d.screen(), "untagged manifests")
}

// Keys of another tab say where they work instead of doing nothing.
func TestKeysOfAnotherTab(t *testing.T) {
	d, _, _ := fakeEnv(t, 100, 30)
	for _, c := range []struct{ tab, key, want string }{
		{"1", "d", "d (delete selected) works on the Registry tab: 2 goes there"},
		{"1", "s", "s (cycle sort) works on the Registry tab: 2 goes there"},
		{"1", "/", "/ (filter) works on the Registry tab: 2 goes there"},
		{"1", "space", "space (select) works on the Registry tab"},
		{"2", "p", "p (open PR) works on the Charts tab: 1 goes there"},
		{"3", "P", "P (grouped PR) works on the Charts tab"},
		{"3", "a", "a (select policy plan) works on the Registry tab"},
	} {
		d.press(c.tab, c.key)
		if got := d.m.c.Status.Text; got != c.want && !strings.HasPrefix(got, c.want) {
			t.Errorf("tab %s key %s: status %q, want %q", c.tab, c.key, got, c.want)
		}
	}
	// A key of the tab itself is not reported; esc never is.
	d.press("1", "esc")
	if got := d.m.c.Status.Text; strings.Contains(got, "works on") {
		t.Errorf("esc on the Charts tab: %q", got)
	}
	if by, _ := d.m.registry.SortedBy(); len(d.m.registry.Selection()) != 0 || by != "age" {
		t.Error("a Registry key acted from another tab")
	}
}

// The console records a dry run once a session, however often it
// rescans, and every delete.
func TestConsoleRecordsOneDryRun(t *testing.T) {
	store := history.Open(filepath.Join(t.TempDir(), "history.jsonl"))
	d, _, _ := fakeEnv(t, 80, 24, WithHistory(store))
	d.press("2", "r", "r", "r")
	runs, _, err := store.Read(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Applied || runs[0].Face != history.FaceConsole {
		t.Fatalf("after a scan and 3 rescans the history holds %d runs: %+v", len(runs), runs)
	}
	d.press("space", "d", "enter")
	runs, _, _ = store.Read(time.Time{})
	if len(runs) != 2 || !runs[1].Applied || runs[1].Registry.Deleted != 1 {
		t.Errorf("after a delete and its rescan: %d runs, want the dry run and the delete", len(runs))
	}
}
