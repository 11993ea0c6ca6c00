package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/headless"
)

// TestHelp: --help (and -h) prints the usage on stdout, so that `--help |
// less` shows it, and exits 0; the usage names every subcommand and every
// flag, the history subcommand's included. A wrong flag prints the usage
// on stderr and exits 2.
func TestHelp(t *testing.T) {
	var every []string
	var f flags
	newFlagSet(&f).VisitAll(func(fl *flag.Flag) { every = append(every, "-"+fl.Name) })
	hs, _, _, _ := historyFlags()
	var history []string
	hs.VisitAll(func(fl *flag.Flag) { history = append(history, "-"+fl.Name) })
	if len(every) < 12 || len(history) < 3 {
		t.Fatalf("flags: %v, history flags: %v", every, history)
	}
	for _, tc := range []struct {
		name      string
		args      []string
		code      int
		toStdout  bool
		want      []string
		wantError string // on stderr, before the usage
	}{
		{"--help", []string{"--help"}, headless.ExitOK, true, append(append([]string{"helmupgradebot init", "helmupgradebot history", "Exit codes"}, every...), history...), ""},
		{"-h", []string{"-h"}, headless.ExitOK, true, append([]string{"helmupgradebot history"}, every...), ""},
		{"-help with other flags", []string{"--headless", "-help"}, headless.ExitOK, true, []string{"Exit codes"}, ""},
		{"wrong flag", []string{"--bogus"}, headless.ExitUsage, false, append([]string{"helmupgradebot history", "Exit codes"}, every...), "flag provided but not defined: -bogus"},
		{"wrong value", []string{"--demo-faults", "lots"}, headless.ExitUsage, false, []string{"Exit codes"}, `invalid value "lots" for flag -demo-faults`},
		{"history --help", []string{"history", "--help"}, headless.ExitOK, true, append([]string{"helmupgradebot history"}, history...), ""},
		{"history wrong flag", []string{"history", "--bogus"}, headless.ExitUsage, false, history, "flag provided but not defined: -bogus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr, func(string) string { return "" })
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			out, other := stdout.String(), stderr.String()
			if !tc.toStdout {
				out, other = other, out
			}
			if other != "" {
				t.Errorf("the other stream has %q", other)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("usage lacks %q:\n%s", w, out)
				}
			}
			if tc.wantError != "" && !strings.Contains(out, tc.wantError) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantError, out)
			}
		})
	}
}
