package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/history"
	"github.com/helmupgradebot/helmupgradebot/headless"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// historyFlags defines the history subcommand's flags; the main usage
// lists them too.
func historyFlags() (fs *flag.FlagSet, asJSON *bool, since, path *string) {
	fs = flag.NewFlagSet("helmupgradebot history", flag.ContinueOnError)
	asJSON = fs.Bool("json", false, "print the runs as one JSON document")
	since = fs.String("since", "30d", "how far back: a duration such as 30d, 12w or 36h")
	path = fs.String("file", "", "the history file (default $XDG_STATE_HOME/helmupgradebot/history.jsonl)")
	return fs, asJSON, since, path
}

func printHistoryUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, "Usage:\n  helmupgradebot history [--json] [--since 30d] [--file PATH]   list the past runs, newest first\n\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// runHistory prints the run history: `helmupgradebot history [--json]
// [--since 30d]`.
func runHistory(args []string, stdout, stderr io.Writer, getenv func(string) string, now time.Time) int {
	fs, asJSON, since, path := historyFlags()
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed below: on stdout when asked for
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHistoryUsage(stdout, fs)
			return headless.ExitOK
		}
		printHistoryUsage(stderr, fs)
		return headless.ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "helmupgradebot history: unexpected argument %q\n", fs.Arg(0))
		return headless.ExitUsage
	}
	back, err := model.ParseAge(*since)
	if err != nil {
		fmt.Fprintf(stderr, "helmupgradebot history: --since: %v\n", err)
		return headless.ExitUsage
	}
	p := *path
	if p == "" {
		p = history.DefaultPath(getenv)
	}
	runs, bad, err := history.Open(p).Read(now.Add(-back))
	if err != nil {
		fmt.Fprintln(stderr, "helmupgradebot:", err)
		return headless.ExitFailure
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "helmupgradebot history: %d damaged lines in %s skipped\n", bad, p)
	}
	if *asJSON {
		out := struct {
			Since string        `json:"since"`
			Runs  []history.Run `json:"runs"`
		}{Since: now.Add(-back).UTC().Format(time.RFC3339), Runs: runs}
		if out.Runs == nil {
			out.Runs = []history.Run{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return headless.ExitFailure
		}
		return headless.ExitOK
	}
	if len(runs) == 0 {
		fmt.Fprintf(stdout, "no runs since %s (history: %s)\n", now.Add(-back).Format("2006-01-02"), p)
		return headless.ExitOK
	}
	for i := len(runs) - 1; i >= 0; i-- {
		fmt.Fprintln(stdout, runs[i].Time.Local().Format("2006-01-02 15:04")+"  "+history.Line(runs[i]))
	}
	return headless.ExitOK
}
