package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The systemd units: the service template, its timers, their dependencies,
// and systemd-analyze verify where systemd is installed.

// unit is a systemd unit file: section, key, values in order.
type unit map[string]map[string][]string

// parseUnit reads a unit file as systemd does: [Section] headers, Key=Value
// lines, # and ; comments, backslash continuations. Anything else is an
// error.
func parseUnit(t *testing.T, file string) unit {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	section := ""
	lines := strings.Split(strings.ReplaceAll(string(data), "\\\n", " "), "\n")
	for n, line := range lines {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			if u[section] != nil {
				t.Errorf("%s:%d: section [%s] twice", file, n+1, section)
			}
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.TrimSpace(k) == "" {
				t.Errorf("%s:%d: not a Key=Value line in a section: %q", file, n+1, line)
				continue
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u
}

func (u unit) get(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

const serviceFile = "systemd/helmupgradebot@.service"

var timerFiles = map[string]string{ // chore: timer
	"charts":   "systemd/helmupgradebot-charts.timer",
	"registry": "systemd/helmupgradebot-registry.timer",
}

func TestSystemdUnits(t *testing.T) {
	svc := parseUnit(t, serviceFile)
	for key, want := range map[string]string{
		"Type":            "oneshot",
		"DynamicUser":     "yes",
		"ProtectSystem":   "strict",
		"ProtectHome":     "yes",
		"NoNewPrivileges": "yes",
		"PrivateTmp":      "yes",
		"StateDirectory":  "helmupgradebot",
		"CacheDirectory":  "helmupgradebot",
	} {
		if got := svc.get("Service", key); got != want {
			t.Errorf("%s: %s=%q, want %q", serviceFile, key, got, want)
		}
	}
	// The state (run lock, audit log, history) and the digest cache go to
	// the directories systemd makes writable, not under the read-only
	// system or the dynamic user's home.
	for _, want := range []string{"XDG_STATE_HOME=%S", "XDG_CACHE_HOME=%C"} {
		if !slices.Contains(svc["Service"]["Environment"], want) {
			t.Errorf("%s: no Environment=%s (has %q)", serviceFile, want, svc["Service"]["Environment"])
		}
	}
	if svc.get("Service", "CapabilityBoundingSet") != "" || svc["Service"]["CapabilityBoundingSet"] == nil {
		t.Errorf("%s: want an empty CapabilityBoundingSet=", serviceFile)
	}
	execStart := strings.Fields(svc.get("Service", "ExecStart"))
	if len(execStart) == 0 || execStart[0] != "/usr/local/bin/helmupgradebot" || flagValue(execStart, "--only") != "%i" ||
		!slices.Contains(execStart, "--headless") || !slices.Contains(execStart, "--apply") || flagValue(execStart, "--config") == "" {
		t.Errorf("%s: ExecStart %q: want /usr/local/bin/helmupgradebot --headless --apply --only %%i --config PATH", serviceFile, execStart)
	}

	// The metrics go to node_exporter's textfile collector, a file per
	// chore, in a directory the hardened service may write.
	file := flagValue(execStart, "--metrics-file")
	if filepath.Ext(file) != ".prom" || !strings.Contains(file, "%i") {
		t.Errorf("%s: --metrics-file %q: want a .prom file per chore (%%i)", serviceFile, file)
	}
	if rw := strings.TrimPrefix(svc.get("Service", "ReadWritePaths"), "-"); rw == "" || filepath.Dir(file) != rw {
		t.Errorf("%s: ReadWritePaths=%q, want the metrics file's directory %s (ProtectSystem=strict makes the rest read-only)", serviceFile, rw, filepath.Dir(file))
	}

	crontab := cronLines(t)
	for chore, file := range timerFiles {
		tm := parseUnit(t, file)
		if got := tm.get("Timer", "Persistent"); got != "true" {
			t.Errorf("%s: Persistent=%q, want true", file, got)
		}
		if got, want := tm.get("Timer", "Unit"), "helmupgradebot@"+chore+".service"; got != want {
			t.Errorf("%s: Unit=%q, want %q", file, got, want)
		}
		if got := tm.get("Install", "WantedBy"); got != "timers.target" {
			t.Errorf("%s: WantedBy=%q, want timers.target", file, got)
		}
		// The same times as the crontab's lines.
		cal := tm.get("Timer", "OnCalendar")
		f := strings.Fields(crontab[chore])
		if len(f) != 5 {
			t.Errorf("crontab has no %s line", chore)
			continue
		}
		dom := "*"
		if f[2] != "*" {
			dom = "01"
		}
		if want := "*-*-" + dom + " " + twoDigits(f[1]) + ":" + twoDigits(f[0]) + ":00"; cal != want {
			t.Errorf("%s: OnCalendar=%q; the crontab runs it at %q", file, cal, want)
		}
	}
}

// dependencyKeys are the [Unit] keys that name other units: requirements
// and orderings.
var dependencyKeys = []string{"Requires", "Requisite", "Wants", "BindsTo", "PartOf", "Upholds", "Conflicts", "Before", "After", "OnFailure", "OnSuccess", "PropagatesReloadTo", "ReloadPropagatedFrom"}

// instanceUnit is helmupgradebot@chore.service as systemd loads it: the
// template, then its drop-ins (helmupgradebot@.service.d/*.conf, then
// helmupgradebot@chore.service.d/*.conf), with %i, %I, %n, %N, %p and %P
// resolved.
func instanceUnit(t *testing.T, chore string) unit {
	t.Helper()
	name := "helmupgradebot@" + chore + ".service"
	files := []string{serviceFile}
	for _, dir := range []string{"helmupgradebot@.service.d", name + ".d"} {
		dropIns, err := filepath.Glob(filepath.Join("systemd", dir, "*.conf"))
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(dropIns)
		files = append(files, dropIns...)
	}
	spec := strings.NewReplacer("%i", chore, "%I", chore, "%n", name, "%N", strings.TrimSuffix(name, ".service"), "%p", "helmupgradebot", "%P", "helmupgradebot", "%%", "%")
	u := unit{}
	for _, f := range files {
		for section, keys := range parseUnit(t, f) {
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			for k, vs := range keys {
				for _, v := range vs {
					if v == "" { // an empty assignment resets the list
						u[section][k] = nil
						continue
					}
					u[section][k] = append(u[section][k], spec.Replace(v))
				}
			}
		}
	}
	return u
}

// checkUnitDependencies checks the units' dependencies as systemd would
// load them, without systemd: no instance names itself (systemd drops such
// a dependency with a warning), no orderings form a cycle, each timer
// starts its own instance, and a registry run waits for a chart run.
func checkUnitDependencies(t *testing.T) {
	t.Helper()
	after := map[string][]string{} // unit: the units it starts after
	for chore := range timerFiles {
		name := "helmupgradebot@" + chore + ".service"
		u := instanceUnit(t, chore)
		for _, key := range dependencyKeys {
			for _, v := range u["Unit"][key] {
				for _, dep := range strings.Fields(v) {
					if dep == name {
						t.Errorf("%s: %s=%s: the unit depends on itself", name, key, dep)
						continue
					}
					switch key {
					case "After":
						after[name] = append(after[name], dep)
					case "Before":
						after[dep] = append(after[dep], name)
					}
				}
			}
		}
	}
	// A cycle of orderings: systemd breaks it by dropping a job.
	var visit func(unit string, path []string) bool
	visit = func(unit string, path []string) bool {
		if slices.Contains(path, unit) {
			t.Errorf("ordering cycle: %s", strings.Join(append(path, unit), " after "))
			return false
		}
		for _, dep := range after[unit] {
			if !visit(dep, append(slices.Clone(path), unit)) {
				return false
			}
		}
		return true
	}
	for unit := range after {
		if !visit(unit, nil) {
			break
		}
	}
	if !slices.Contains(after["helmupgradebot@registry.service"], "helmupgradebot@charts.service") {
		t.Error("helmupgradebot@registry.service is not ordered after helmupgradebot@charts.service: when both timers fire at boot, the registry run meets the chart run's lock")
	}
	if slices.Contains(after["helmupgradebot@charts.service"], "helmupgradebot@registry.service") {
		t.Error("helmupgradebot@charts.service waits for the registry run")
	}
}

func TestSystemdDependencies(t *testing.T) {
	checkUnitDependencies(t)
}

func twoDigits(s string) string {
	if len(s) == 1 {
		return "0" + s
	}
	return s
}

// systemd-analyze verify checks the units as systemd loads them: every key
// known, each instance with its drop-ins, each timer's unit found, no
// dependency dropped. The binary the service starts is replaced by a
// stand-in, since it is not installed here. Where systemd-analyze is not
// installed (apt-get install systemd brings it), the units' dependencies
// are checked by parsing instead (TestSystemdDependencies does too), and
// the keys only as TestSystemdUnits does.
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the units' dependencies are checked by parsing them")
		checkUnitDependencies(t)
		return
	}
	dir := t.TempDir()
	stand := filepath.Join(dir, "helmupgradebot")
	if err := os.WriteFile(stand, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Every unit file and drop-in, the binary's path replaced.
	err = filepath.WalkDir("systemd", func(p string, d os.DirEntry, err error) error {
		if err != nil || p == "systemd" {
			return err
		}
		rel, _ := filepath.Rel("systemd", p)
		if d.IsDir() {
			return os.Mkdir(filepath.Join(dir, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		data = bytes.ReplaceAll(data, []byte("/usr/local/bin/helmupgradebot"), []byte(stand))
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The instances by name, so that systemd reads their drop-ins.
	var names []string
	for chore, f := range timerFiles {
		names = append(names, "helmupgradebot@"+chore+".service", filepath.Base(f))
	}
	slices.Sort(names)
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no"}, names...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// verify exits 0 on warnings (an unknown key, a bad value ignored, a
	// dependency dropped): any line of output fails the test.
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
}
