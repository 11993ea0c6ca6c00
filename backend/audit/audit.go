// Package audit keeps an append-only JSON Lines record of registry deletions:
// an "attempt" line before each delete and an outcome line after it, each
// flushed to disk before the next step, so a crash or Ctrl-C leaves an
// accurate trail.
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Actions.
const (
	ActionDelete = "delete"
)

// Outcomes. An attempt line precedes the delete; one of the others follows it.
const (
	OutcomeAttempt     = "attempt"
	OutcomeDeleted     = "deleted"
	OutcomeAlreadyGone = "already-gone"
	OutcomeFailed      = "failed"
	// OutcomeSkipped: the deletion was not sent (the image changed since
	// the scan, or its index was not deleted); no attempt line precedes it.
	OutcomeSkipped = "skipped"
)

// Entry is one line of the audit log.
type Entry struct {
	Time       time.Time `json:"time"`
	Action     string    `json:"action"`
	Registry   string    `json:"registry"`
	Repository string    `json:"repository"`
	Digest     string    `json:"digest"`
	Tags       []string  `json:"tags,omitempty"`
	// Children are the platform manifests of an index planned to go
	// after it; each has attempt and outcome lines of its own.
	Children []string `json:"children,omitempty"`
	// Index is, on a platform manifest's lines, the digest of the index
	// it was deleted with.
	Index  string `json:"index,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Bytes is what the plan expected this deletion to free.
	Bytes   int64  `json:"bytes"`
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
	// DryRun marks lines written by a run that deleted nothing.
	DryRun bool `json:"dry_run,omitempty"`
	// Recovered marks an outcome found by a later run for an attempt that
	// a killed run left without one.
	Recovered bool `json:"recovered,omitempty"`
}

// Log is an open audit log file. It is safe for concurrent use.
type Log struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// DefaultPath returns $XDG_STATE_HOME/helmupgradebot/audit.jsonl, or
// ~/.local/state/helmupgradebot/audit.jsonl when XDG_STATE_HOME is unset or
// not absolute (as the XDG base directory specification asks).
func DefaultPath() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "helmupgradebot", "audit.jsonl")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		// No home: a relative path is the least surprising fallback.
		return filepath.Join(".local", "state", "helmupgradebot", "audit.jsonl")
	}
	return filepath.Join(home, ".local", "state", "helmupgradebot", "audit.jsonl")
}

// Open opens (creating it and its parent directories if needed) the audit
// log at path for appending. New directories get mode 0700, a new file 0600.
func Open(path string) (*Log, error) {
	if path == "" {
		return nil, errors.New("open audit log: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	// A run killed mid-write leaves a torn last line: end it, so that the
	// next line starts on its own.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				_ = f.Close()
				return nil, fmt.Errorf("open audit log %s: end a torn line: %w", path, err)
			}
		}
	}
	return &Log{f: f, path: path}, nil
}

// Path returns the file the log writes to.
func (l *Log) Path() string { return l.path }

// Write appends e as one JSON line and fsyncs the file before returning. A
// zero Time is set to the current time.
func (l *Log) Write(e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("write audit log %s: encode entry: %w", l.path, err)
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("write audit log %s: log is closed", l.path)
	}
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("write audit log %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("sync audit log %s: %w", l.path, err)
	}
	return nil
}

// Close closes the file. Writes after Close fail; a second Close is a no-op.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("close audit log %s: %w", l.path, err)
	}
	return nil
}
