// Package runlock lets one run at a time work on a registry: a run takes an
// exclusive flock(2) on a file keyed by the registry's identity (its
// normalised host[:port], see [RegistryName]), whichever configuration file
// names it, and a second run is told who holds it and with which
// configuration. A run with no registry (charts only) is keyed by its
// configuration file's absolute path ([ConfigName]) instead.
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
	"net"
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
	Name    string // what the lock is for (Acquire's name); "" in an older record
}

// HeldError says that another run holds the lock.
type HeldError struct {
	Path   string // the lock file
	Name   string // what the lock is for: a RegistryName or a ConfigName
	Holder Holder // zero PID when the holder's record could not be read
}

func (e *HeldError) Error() string {
	who := "another run"
	if e.Holder.PID > 0 {
		who = fmt.Sprintf("another run (PID %d, started %s)", e.Holder.PID, e.Holder.Started.Local().Format(time.RFC3339))
	}
	what := e.Name
	switch {
	case what == "":
		what = "this configuration"
		if e.Holder.Config != "" {
			what = e.Holder.Config
		}
	case e.Holder.Config != "" && e.Holder.Config != what:
		what += " with " + e.Holder.Config
	}
	if strings.HasPrefix(e.Name, registryPrefix) {
		return fmt.Sprintf("%s is working on %s; one run at a time per registry, whichever configuration names it (lock %s)", who, what, e.Path)
	}
	return fmt.Sprintf("%s is working on %s; one run at a time (lock %s)", who, what, e.Path)
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

// ConfigName is the lock name of a run that works on no registry (charts
// only): the absolute form of its configuration file's path, symbolic links
// resolved where the file exists. (It is the name every run was locked
// under before locks were per registry, so such a run still meets an older
// binary's run of the same file.)
func ConfigName(config string) (string, error) {
	abs, err := filepath.Abs(config)
	if err != nil {
		return "", fmt.Errorf("run lock: %w", err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return abs, nil
}

// registryPrefix starts every RegistryName; no absolute path starts so.
const registryPrefix = "registry "

// RegistryName is the lock name of the registry at host[:port], the same
// however a configuration spells it: "registry " and the host in lower
// case, without a trailing dot or brackets around an IPv6 address, and
// with its port unless that is 443 or 80 (https's and http's default: a
// registry given with and without it is taken to be one; merging two
// registries only makes their runs take turns, while splitting one would
// let two runs delete from it at once). With acr (the host is an Azure
// Container Registry login server, config.IsACRHost) a regional endpoint,
// NAME.REGION.geo.azurecr.io, names its registry's login server,
// NAME.azurecr.io.
func RegistryName(host string, acr bool) string {
	host = strings.TrimSuffix(strings.TrimSpace(host), "/")
	h, port, err := net.SplitHostPort(host)
	if err != nil { // no port
		h, port = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ""
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if n, err := strconv.Atoi(port); err == nil {
		port = strconv.Itoa(n)
	}
	if port == "443" || port == "80" {
		port = ""
	}
	if acr {
		// NAME.REGION.geo.azurecr.io -> NAME.azurecr.io
		if labels := strings.Split(h, "."); len(labels) == 5 && labels[2] == "geo" {
			h = labels[0] + "." + strings.Join(labels[3:], ".")
		}
	}
	if port != "" {
		h = net.JoinHostPort(h, port)
	} else if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	return registryPrefix + h
}

// File is the lock file in dir for the lock name.
func File(dir, name string) string {
	sum := sha256.Sum256([]byte(name))
	return filepath.Join(dir, "run-"+hex.EncodeToString(sum[:12])+".lock")
}

// Acquire takes the lock name (a RegistryName or a ConfigName) in dir
// (created with mode 0700 if needed) for a run of the configuration file
// config, which the lock records for a run that finds it held. It never
// waits: when another run holds the lock it returns a *HeldError naming
// that run and its configuration.
func Acquire(dir, name, config string) (*Lock, error) {
	if name == "" {
		return nil, errors.New("run lock: no name")
	}
	cfg, err := ConfigName(config)
	if err != nil {
		return nil, err
	}
	path := File(dir, name)
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
		return nil, &HeldError{Path: path, Name: name, Holder: h}
	}
	rec := Holder{PID: os.Getpid(), Started: time.Now(), Config: cfg, Name: name}
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
	return fmt.Sprintf("pid=%d\nstarted=%s\nconfig=%s\nname=%s\nend\n", h.PID, h.Started.Format(time.RFC3339Nano), h.Config, h.Name)
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
		case "name":
			h.Name = v
		case "end":
			complete = true
		}
	}
	if !complete || h.PID <= 0 || h.Started.IsZero() {
		return Holder{}, false
	}
	return h, true
}
