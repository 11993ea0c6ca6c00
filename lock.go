package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/runlock"
	"github.com/helmupgradebot/helmupgradebot/headless"
)

// lockRun takes the run lock for cfg, loaded from the file at path: one run
// at a time per registry, console or headless, whichever configuration file
// names it (two runs on one registry would each take the other's in-flight
// deletions for its own to recover); a configuration with no registry
// (charts only) is locked by its file. When it cannot, it says why on
// stderr and returns the exit code: ExitBusy when another run holds it.
func lockRun(cfg *config.Config, path string, stderr io.Writer, getenv func(string) string) (*runlock.Lock, int) {
	dir, err := runlock.Dir(getenv)
	if err == nil {
		var name string
		if name, err = lockName(cfg, path); err == nil {
			var l *runlock.Lock
			if l, err = runlock.Acquire(dir, name, path); err == nil {
				return l, headless.ExitOK
			}
		}
	}
	fmt.Fprintln(stderr, "helmupgradebot:", err)
	if held := (*runlock.HeldError)(nil); errors.As(err, &held) {
		return nil, headless.ExitBusy
	}
	return nil, headless.ExitFailure
}

// lockName is what a run of cfg is locked under: its registry, else its
// configuration file.
func lockName(cfg *config.Config, path string) (string, error) {
	if u := cfg.Registry.URL; u != "" {
		return runlock.RegistryName(u, config.IsACRHost(u)), nil
	}
	return runlock.ConfigName(path)
}
