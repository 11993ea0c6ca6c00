// Package runlock lets one run at a time work on a configuration: a run takes
// an exclusive flock(2) on a file keyed by the configuration file's absolute
// path, and a second run on the same configuration is told who holds it.
//
// The kernel drops a flock when its holder exits, however it exits, so a
// killed run never leaves a stale lock behind. The lock file itself stays
// (removing it would let two runs lock two different files); it only
// records the holder, and is read only while someone holds the lock.
package runlock

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Holder is the run that holds a lock.
type Holder struct {
	PID     int
	Started time.Time
	Config  string // the configuration file's absolute path
}

// HeldError says that another run holds the lock.
type HeldError struct {
	Path   string // the lock file
	Holder Holder // zero PID when the holder's record could not be read
}

func (e *HeldError) Error() string {
	who := "another run"
	if e.Holder.PID > 0 {
		who = fmt.Sprintf("another run (PID %d, started %s)", e.Holder.PID, e.Holder.Started.Local().Format(time.RFC3339))
	}
	cfg := e.Holder.Config
	if cfg == "" {
		cfg = "this configuration"
	}
	return fmt.Sprintf("%s is working on %s; one run at a time (lock %s)", who, cfg, e.Path)
}

// Lock is a held run lock. Keep it until the run ends, then Release it.
type Lock struct {
	f    *os.File
	path string
}

// Path is the lock file.
func (l *Lock) Path() string { return l.path }

// Release drops the lock. It is safe to call more than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	// Clear the record first: a run that finds the lock free never reads
	// it, but a person looking at the file should not see a finished run.
	_ = f.Truncate(0)
	unlockErr := unlock(f)
	if err := f.Close(); err != nil && unlockErr == nil {
		unlockErr = err
	}
	return unlockErr
}

// Dir is where lock files live: $XDG_STATE_HOME/helmupgradebot, else
// ~/.local/state/helmupgradebot (the same place as the audit log, so that a
// cron run and a console run of one user meet there), else, without a home,
// $XDG_RUNTIME_DIR/helmupgradebot.
func Dir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "helmupgradebot"), nil
	}
	if h := getenv("HOME"); h != "" && filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", "helmupgradebot"), nil
	}
	if d := getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "helmupgradebot"), nil
	}
	return "", errors.New("no directory for the run lock: set XDG_STATE_HOME, HOME or XDG_RUNTIME_DIR")
}

// Key is the absolute form of config (symbolic links resolved where the file
// exists), the name a lock is taken under.
func Key(config string) (string, error) {
	abs, err := filepath.Abs(config)
	if err != nil {
		return "", fmt.Errorf("run lock: %w", err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return abs, nil
}

// File is the lock file in dir for the configuration file config.
func File(dir, config string) (string, error) {
	key, err := Key(config)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(dir, "run-"+hex.EncodeToString(sum[:12])+".lock"), nil
}

// Acquire takes the lock for the configuration file config, in dir (created
// with mode 0700 if needed). It never waits: when another run holds the
// lock it returns a *HeldError naming that run.
func Acquire(dir, config string) (*Lock, error) {
	key, err := Key(config)
	if err != nil {
		return nil, err
	}
	path, err := File(dir, key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("run lock: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("run lock: %w", err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("run lock %s: %w", path, err)
	}
	if held {
		h := readHolder(f)
		f.Close()
		return nil, &HeldError{Path: path, Holder: h}
	}
	rec := Holder{PID: os.Getpid(), Started: time.Now(), Config: key}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(rec.format()), 0)
	}
	if err != nil {
		unlock(f)
		f.Close()
		return nil, fmt.Errorf("run lock %s: record the holder: %w", path, err)
	}
	return &Lock{f: f, path: path}, nil
}

// readHolder reads the holder's record. The holder writes it right after
// taking the lock, so a run that finds the lock held may read it a moment
// early, empty or half written: it reads again for up to half a second.
func readHolder(f *os.File) Holder {
	deadline := time.Now().Add(500 * time.Millisecond)
	for {
		buf := make([]byte, 4096)
		n, _ := f.ReadAt(buf, 0)
		if h, ok := parse(string(buf[:n])); ok || time.Now().After(deadline) {
			return h
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h Holder) format() string {
	return fmt.Sprintf("pid=%d\nstarted=%s\nconfig=%s\nend\n", h.PID, h.Started.Format(time.RFC3339Nano), h.Config)
}

// parse reads a record written by format; ok only when it is whole.
func parse(s string) (Holder, bool) {
	var h Holder
	lines := strings.Split(s, "\n")
	complete := false
	for _, line := range lines {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "pid":
			h.PID, _ = strconv.Atoi(v)
		case "started":
			h.Started, _ = time.Parse(time.RFC3339Nano, v)
		case "config":
			h.Config = v
		case "end":
			complete = true
		}
	}
	if !complete || h.PID <= 0 || h.Started.IsZero() {
		return Holder{}, false
	}
	return h, true
}
