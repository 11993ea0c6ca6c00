package headless

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestReportLocks: the demo's ACR has a lock at every level; the JSON
// report lists each image a lock holds with the lock, counts them by
// level and names the repository locks; the text summary says the same.
func TestReportLocks(t *testing.T) {
	env := startDemo(t)
	raw, rep, code := runJSON(t, env, false)
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	reg := raw["registry"].(map[string]any)
	for _, k := range []string{"locked", "locked_by", "repository_locks"} {
		if _, ok := reg[k]; !ok {
			t.Errorf("registry report lacks %q", k)
		}
	}
	r := rep.Registry
	if len(r.Locked) != r.Held["locked"] {
		t.Errorf("%d locked images listed, held.locked %d", len(r.Locked), r.Held["locked"])
	}
	levels := map[string]int{}
	for _, l := range r.Locked {
		levels[l.Level]++
		want := "locked (" + l.Lock + ")"
		if l.Level == model.LockManifest {
			want = "locked"
		}
		if l.Hold != want || (l.Level != model.LockManifest && !strings.HasPrefix(l.Lock, l.Level)) || l.Tags == nil {
			t.Errorf("locked %+v", l)
		}
	}
	for _, level := range []string{model.LockManifest, model.LockTag, model.LockPlatform, model.LockRepository} {
		if levels[level] == 0 || r.LockedBy[level] != levels[level] {
			t.Errorf("level %s: %d listed, locked_by %v", level, levels[level], r.LockedBy)
		}
	}
	var deleteOnly, writeOff *RepositoryLockReport
	for k, l := range r.RepositoryLocks {
		switch {
		case !l.DeleteEnabled && l.WriteEnabled:
			deleteOnly = &r.RepositoryLocks[k]
		case !l.WriteEnabled:
			writeOff = &r.RepositoryLocks[k]
		}
	}
	if deleteOnly == nil || deleteOnly.LockedImages != 0 || writeOff == nil || writeOff.LockedImages != levels[model.LockRepository] {
		t.Fatalf("repository locks %+v", r.RepositoryLocks)
	}
	for _, p := range r.Plan {
		for _, l := range r.Locked {
			if p.Digest == l.Digest && p.Repository == l.Repository {
				t.Errorf("%s@%s is planned and %s", p.Repository, p.Digest, l.Hold)
			}
		}
	}

	var out bytes.Buffer
	if code := Run(context.Background(), Options{Registry: env.Registry, Stdout: &out}); code != ExitOK {
		t.Fatalf("text run exit %d", code)
	}
	text := out.String()
	for _, want := range []string{
		fmt.Sprintf("locked: %d images held (1 by its own lock, 1 by a tag, 1 by a platform manifest, %d by the repository)\n", len(r.Locked), levels[model.LockRepository]),
		fmt.Sprintf("repository %s: writes disabled, %d images locked (repository)\n", writeOff.Repository, writeOff.LockedImages),
		fmt.Sprintf("repository %s: deletes disabled: it cannot be deleted, its images can\n", deleteOnly.Repository),
		": locked (tag ", ": locked (platform linux/arm64)\n", ": locked\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, ": locked (repository)\n") {
		t.Errorf("summary lists the repository's images one by one:\n%s", text)
	}
}
