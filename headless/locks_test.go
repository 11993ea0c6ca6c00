package headless

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
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
			if p.Digest.String() == l.Digest && p.Repository == l.Repository {
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

// TestReportLocksDeferred: a run that reads ACR's repository and tag
// locks only where its plan deletes (registry.WithDeferredLocks, as
// headless runs do) plans exactly what a run reading every lock plans,
// lists the same locks in the repositories it deletes in, and says how
// many repositories' locks it did not read.
func TestReportLocksDeferred(t *testing.T) {
	_, full, code := runJSON(t, startDemo(t), false)
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	env := startDemo(t, demo.WithEngineOptions(engine.WithRegistryOptions(registry.WithDeferredLocks())))
	raw, rep, code := runJSON(t, env, false)
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if _, ok := raw["registry"].(map[string]any)["locks_unread"]; !ok {
		t.Error(`registry report lacks "locks_unread"`)
	}
	f, d := full.Registry, rep.Registry
	if !reflect.DeepEqual(d.Plan, f.Plan) || d.ReclaimBytes != f.ReclaimBytes {
		t.Errorf("plan with locks read where it deletes:\n%+v\nwith every lock read:\n%+v", d.Plan, f.Plan)
	}
	planned := map[string]bool{}
	for _, p := range f.Plan {
		planned[p.Repository] = true
	}
	lockedIn := func(r *RegistryReport) map[string][]LockedReport {
		out := map[string][]LockedReport{}
		for _, l := range r.Locked {
			if planned[l.Repository] {
				out[l.Repository] = append(out[l.Repository], l)
			}
		}
		return out
	}
	if !reflect.DeepEqual(lockedIn(d), lockedIn(f)) || len(lockedIn(f)) == 0 {
		t.Errorf("locks in the repositories the plan deletes in: %+v, want %+v", lockedIn(d), lockedIn(f))
	}
	if f.LocksUnread != 0 || d.LocksUnread != f.Repositories-len(planned) || d.LocksUnread == 0 {
		t.Errorf("locks unread: %d (every lock read: %d); want %d of %d repositories", d.LocksUnread, f.LocksUnread, f.Repositories-len(planned), f.Repositories)
	}
	var out bytes.Buffer
	if code := Run(context.Background(), Options{Registry: env.Registry, Stdout: &out}); code != ExitOK {
		t.Fatalf("text run exit %d", code)
	}
	if want := fmt.Sprintf("locks: repository and tag locks read only where the plan deletes; %d of %d repositories not read", d.LocksUnread, d.Repositories); !strings.Contains(out.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, out.String())
	}
}
