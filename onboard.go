package main

// Onboarding: helmupgradebot init writes a starter configuration, and
// --check-config verifies one without changing anything.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"charm.land/huh/v2"
	"github.com/charmbracelet/x/term"

	"github.com/helmupgradebot/helmupgradebot/backend/check"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/starter"
	"github.com/helmupgradebot/helmupgradebot/headless"
)

// checkOptions are added to the check's engine options (tests keep it on
// loopback with them).
var checkOptions []engine.Option

// checkConfig runs --check-config: the checklist on stdout, exit 0 when
// everything passed, 1 when something failed, 2 when the file does not load.
func checkConfig(ctx context.Context, path string, asJSON bool, stdout io.Writer, getenv func(string) string) int {
	if path == "" {
		path = config.DefaultPath(getenv)
	}
	r := check.File(ctx, path, append([]engine.Option{engine.WithGetenv(getenv)}, checkOptions...)...)
	write := r.WriteText
	if asJSON {
		write = r.WriteJSON
	}
	if err := write(stdout); err != nil {
		return headless.ExitFailure
	}
	return r.ExitCode()
}

const initUsage = `Usage: helmupgradebot init [--force] [PATH]

Writes a commented starter configuration to PATH (default ./helmupgradebot.yaml),
every key in it (the optional ones commented out, with their defaults).
On a terminal it first asks for the registry, its login, its Azure identity
(ACR), its size cap, where BinderHub's launches come from (events, running
pods, both or none), the deployment repository, the Chart.yaml path and the
GitHub token reference; an empty answer takes the default its field shows.
Otherwise it writes the template with examples. An existing file is kept
unless --force.

Flags:
`

// isTerminal reports whether the program talks to a person; tests replace it.
var isTerminal = func(stdout io.Writer) bool {
	f, ok := stdout.(*os.File)
	return ok && term.IsTerminal(f.Fd()) && term.IsTerminal(os.Stdin.Fd())
}

// initInput is where init reads the answers; nil: the terminal (tests
// answer through it).
var initInput io.Reader

// runInit is helmupgradebot init [--force] [PATH].
func runInit(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("helmupgradebot init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, initUsage); fs.PrintDefaults() }
	force := fs.Bool("force", false, "overwrite an existing file")
	accessible := fs.Bool("accessible", getenv("ACCESSIBLE") != "", "ask line by line, without redrawing the screen (screen readers; also $ACCESSIBLE)")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return headless.ExitOK
	} else if err != nil {
		return headless.ExitUsage
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "helmupgradebot init: one PATH at most, got %q\n", fs.Args())
		return headless.ExitUsage
	}
	path := starter.DefaultPath
	if fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	if _, err := os.Stat(path); err == nil && !*force {
		fmt.Fprintf(stderr, "helmupgradebot init: %s exists; pass --force to overwrite it, or give another PATH\n", path)
		return headless.ExitUsage
	}

	var a starter.Answers
	asked := isTerminal(stdout)
	if asked {
		err := starter.Ask(ctx, &a, starter.AskOptions{Accessible: *accessible, NoColor: getenv("NO_COLOR") != "", Input: initInput, Output: stdout})
		if errors.Is(err, huh.ErrUserAborted) {
			fmt.Fprintln(stderr, "helmupgradebot init: cancelled; nothing written")
			return headless.ExitFailure
		}
		if err != nil {
			fmt.Fprintln(stderr, "helmupgradebot init:", err)
			return headless.ExitFailure
		}
	}
	data, err := starter.Render(a, path)
	if err != nil {
		fmt.Fprintln(stderr, "helmupgradebot init:", err)
		return headless.ExitUsage
	}
	if err := starter.Write(path, data, *force); err != nil {
		fmt.Fprintln(stderr, "helmupgradebot init:", err)
		if errors.Is(err, starter.ErrExists) {
			return headless.ExitUsage
		}
		return headless.ExitFailure
	}
	if asked {
		fmt.Fprintf(stdout, "Wrote %s. Every other key is there, commented.\n", path)
	} else {
		fmt.Fprintf(stdout, "Wrote %s from the template (no terminal to ask on): replace its examples.\n", path)
	}
	fmt.Fprintf(stdout, "Next: put the secrets where it points, then check everything with\n  helmupgradebot --check-config --config %s\n", path)
	return headless.ExitOK
}
