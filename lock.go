package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/helmupgradebot/helmupgradebot/backend/runlock"
	"github.com/helmupgradebot/helmupgradebot/headless"
)

// lockRun takes the run lock for the configuration file at path: one run at
// a time per configuration, console or headless. When it cannot, it says why
// on stderr and returns the exit code: ExitBusy when another run holds it.
func lockRun(path string, stderr io.Writer, getenv func(string) string) (*runlock.Lock, int) {
	dir, err := runlock.Dir(getenv)
	if err == nil {
		var l *runlock.Lock
		if l, err = runlock.Acquire(dir, path); err == nil {
			return l, headless.ExitOK
		}
	}
	fmt.Fprintln(stderr, "helmupgradebot:", err)
	if held := (*runlock.HeldError)(nil); errors.As(err, &held) {
		return nil, headless.ExitBusy
	}
	return nil, headless.ExitFailure
}
