// Command helmupgradebot keeps a Helm-deployed BinderHub current and within
// budget: it bumps chart versions through pull requests and cleans its
// container registry, from a terminal console or headless from cron.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/history"
	"github.com/helmupgradebot/helmupgradebot/backend/membudget"
	"github.com/helmupgradebot/helmupgradebot/backend/metrics"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/backend/retry"
	"github.com/helmupgradebot/helmupgradebot/headless"
	"github.com/helmupgradebot/helmupgradebot/ui"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// startDemo starts the embedded demo (demo.ForCommand): the registry,
// chart repository and GitHub stand-ins it runs on, and stop. Only a build
// with -tags demo links it (demo_linked.go), and the tests: without it
// --demo is demoElsewhere's (demo_exec.go), and the production binary
// carries no embedded registry.
var startDemo func(ctx context.Context, faults float64, registryKind string, engineOpts ...engine.Option) (*engine.Registry, *engine.Charts, *history.Store, func(), error)

// demoRegistries are the registry stand-ins --demo-registry takes (the
// demo package's RegistryKinds; this package cannot import it).
var demoRegistries = []string{"acr", "ecr", "gar", "harbor"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// A soft memory limit a margin above the live heap, under GOMEMLIMIT
	// and the container's limit (the process's: run's tests share theirs).
	stopBudget := membudget.Start(ctx, membudget.WithGetenv(os.Getenv))
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stopBudget()
	stop()
	os.Exit(code)
}

const usage = `helmupgradebot keeps a Helm-deployed BinderHub up to date and within budget.

Usage:
  helmupgradebot [flags]              the console (charts and registry tabs)
  helmupgradebot --headless [flags]   one run for cron; dry run unless --apply
  helmupgradebot --check-config       check the configuration, its secrets and access; changes nothing
  helmupgradebot init [--force] [PATH]  write a commented starter configuration
  helmupgradebot history [--json] [--since 30d] [--file PATH]  list the past runs (see history --help)

Flags:
`

const exitCodes = "\nExit codes: 0 done or nothing to do, 1 failure, 2 bad usage or config, 3 partly done, 4 another run holds the lock.\n"

// printUsage writes the usage with every flag of fs: to stdout when asked
// for (--help, -h), to stderr after a wrong flag.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, usage)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, "\nhistory flags:\n")
	hs, _, _, _ := historyFlags()
	hs.SetOutput(w)
	hs.PrintDefaults()
	fmt.Fprint(w, exitCodes)
}

type flags struct {
	config            string
	headless, demo    bool
	apply, force      bool
	json, showVersion bool
	only              string
	noCache           bool
	logFormat         string
	checkConfig       bool
	demoFaults        float64
	demoRegistry      string
	metricsFile       string
	metricsPush       string
}

// parseFlags reads the flags, writing any usage to stderr.
func parseFlags(args []string, stderr io.Writer) (flags, error) {
	return parseCommandLine(args, stderr, stderr)
}

// parseCommandLine reads the flags. --help and -h print the usage on
// stdout and return flag.ErrHelp; a wrong flag is said, with the usage, on
// stderr.
func parseCommandLine(args []string, stdout, stderr io.Writer) (flags, error) {
	var f flags
	fs := newFlagSet(&f)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed below, where it is known whether it was asked for
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout, fs)
		return f, err
	case err != nil:
		printUsage(stderr, fs)
		return f, err
	}
	return f, f.check(fs)
}

// newFlagSet defines the flags into f.
func newFlagSet(f *flags) *flag.FlagSet {
	fs := flag.NewFlagSet("helmupgradebot", flag.ContinueOnError)
	fs.StringVar(&f.config, "config", "", "configuration file (default ./helmupgradebot.yaml, else $XDG_CONFIG_HOME/helmupgradebot/config.yaml)")
	fs.BoolVar(&f.headless, "headless", false, "run once without a terminal and report")
	fs.BoolVar(&f.demo, "demo", false, "run on an embedded demo: a real registry, a chart repository and a GitHub stand-in, all in-process (a build with -tags demo has it; go run . --demo runs one)")
	fs.BoolVar(&f.apply, "apply", false, "with --headless: delete images and open pull requests (default: dry run)")
	fs.BoolVar(&f.force, "force", false, "with --apply: accept a plan over max_delete_fraction")
	fs.BoolVar(&f.json, "json", false, "with --headless or --check-config: print one JSON document on stdout (logs go to stderr)")
	fs.BoolVar(&f.checkConfig, "check-config", false, "check everything a run needs (configuration, secrets, registry, GitHub, chart repositories), print a checklist and exit: 0 all pass, 1 something fails, 2 bad configuration; changes nothing")
	fs.StringVar(&f.only, "only", "", "with --headless: run only charts or registry")
	fs.BoolVar(&f.showVersion, "version", false, "print the version and exit")
	fs.StringVar(&f.demoRegistry, "demo-registry", "", "with --demo: the registry stand-in the demo runs behind: "+strings.Join(demoRegistries, ", ")+" (default acr)")
	fs.Float64Var(&f.demoFaults, "demo-faults", 0, "with --demo: put a fault-injecting proxy in front of every demo service, failing this share (0 to 1) of requests")
	fs.BoolVar(&f.noCache, "no-cache", false, "read every manifest and config from the registry, bypassing the digest cache ($XDG_CACHE_HOME/helmupgradebot/digests)")
	fs.StringVar(&f.logFormat, "log-format", "text", "stderr log format: text or json (one JSON object a line)")
	fs.StringVar(&f.metricsFile, "metrics-file", "", "with --headless: after the run, write its Prometheus metrics to this *.prom file for node_exporter's textfile collector (default metrics.file)")
	fs.StringVar(&f.metricsPush, "metrics-push", "", "with --headless: after the run, push its Prometheus metrics to this Pushgateway URL, replacing its group (default metrics.push)")
	return fs
}

// check refuses flags that do not go together, and stray arguments.
func (f flags) check(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	switch f.only {
	case "", "charts", "registry":
	default:
		return fmt.Errorf("--only %q: want charts or registry", f.only)
	}
	if f.logFormat != "text" && f.logFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", f.logFormat)
	}
	if f.checkConfig && (f.headless || f.demo || f.apply || f.force || f.only != "") {
		return errors.New("--check-config takes --config and --json only")
	}
	if !f.headless && (f.apply || (f.json && !f.checkConfig) || f.only != "" || f.force) {
		return errors.New("--apply, --force, --json and --only go with --headless; the console asks before it acts")
	}
	if (f.metricsFile != "" || f.metricsPush != "") && !f.headless {
		return errors.New("--metrics-file and --metrics-push go with --headless")
	}
	if f.metricsFile != "" && filepath.Ext(f.metricsFile) != ".prom" {
		return fmt.Errorf("--metrics-file %s: node_exporter's textfile collector reads only *.prom files", f.metricsFile)
	}
	if err := config.CheckPushURL(f.metricsPush); err != nil {
		return fmt.Errorf("--metrics-push %w", err)
	}
	if f.force && !f.apply {
		return errors.New("--force goes with --apply")
	}
	if f.demoFaults != 0 && (!f.demo || !(f.demoFaults > 0 && f.demoFaults <= 1)) {
		return fmt.Errorf("--demo-faults %v: a share from 0 to 1, with --demo", f.demoFaults)
	}
	if f.demoRegistry != "" && (!f.demo || !slices.Contains(demoRegistries, f.demoRegistry)) {
		return fmt.Errorf("--demo-registry %q: one of %s, with --demo", f.demoRegistry, strings.Join(demoRegistries, ", "))
	}
	if f.demo && f.config != "" {
		return errors.New("--demo brings its own configuration; drop --config")
	}
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 && args[0] == "init" {
		return runInit(ctx, args[1:], stdout, stderr, getenv)
	}
	if len(args) > 0 && args[0] == "history" {
		return runHistory(args[1:], stdout, stderr, getenv, time.Now())
	}
	f, err := parseCommandLine(args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return headless.ExitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "helmupgradebot:", err)
		return headless.ExitUsage
	}
	if f.showVersion {
		fmt.Fprintln(stdout, "helmupgradebot", version)
		return headless.ExitOK
	}
	if f.checkConfig {
		return checkConfig(ctx, f.config, f.json, stdout, getenv)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if f.logFormat == "json" {
		logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if !f.headless {
		// The console owns the terminal; logs would tear it.
		logger = slog.New(slog.DiscardHandler)
	}

	var reg *engine.Registry
	var charts *engine.Charts
	var issues *engine.StatusIssues // github.status_issue
	var engineOpts []engine.Option
	// The metrics' targets: the flags, else the configuration's keys.
	mcfg := config.Metrics{Instance: "demo", Job: config.DefaultMetricsJob}
	retryPolicy := retry.Policy{}
	store := history.Open(history.DefaultPath(getenv))
	engineOpts = append(engineOpts, engine.WithRetryObserver(func(r retry.Retry) {
		logger.Info("retrying", "method", r.Method, "host", r.Host, "attempt", r.Attempt, "wait", r.Wait, "reason", r.Reason)
	}))
	if f.noCache {
		engineOpts = append(engineOpts, engine.WithoutDigestCache())
	}
	engineOpts = append(engineOpts, engine.WithDigestCacheLogger(logger))
	if f.headless {
		// A run reads ACR's repository and tag locks where its plan
		// deletes; the console reads them all, to show them.
		engineOpts = append(engineOpts, engine.WithRegistryOptions(registry.WithDeferredLocks()))
	}
	if f.demo {
		if startDemo == nil {
			exe, _ := os.Executable()
			return demoElsewhere(exe, args, stderr)
		}
		var stopDemo func()
		reg, charts, store, stopDemo, err = startDemo(ctx, f.demoFaults, f.demoRegistry, engineOpts...)
		if err != nil {
			fmt.Fprintln(stderr, "helmupgradebot: start demo:", err)
			return headless.ExitFailure
		}
		defer stopDemo()
		issues = charts.StatusIssues()
	} else {
		path := f.config
		if path == "" {
			path = config.DefaultPath(getenv)
		}
		cfg, err := config.Load(path)
		if err != nil {
			fmt.Fprintln(stderr, "helmupgradebot:", err)
			if f.config == "" && errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintln(stderr, "helmupgradebot: no configuration found: write ./helmupgradebot.yaml (docs/configuration.md has every key), pass --config PATH, or try --demo")
			}
			return headless.ExitUsage
		}
		mcfg, retryPolicy = cfg.Metrics, cfg.Retry.Policy()
		mcfg.Instance = cfg.InstanceName()
		lock, code := lockRun(cfg, path, stderr, getenv)
		if lock == nil {
			return code
		}
		defer lock.Release()
		// --only: the other part's secrets are not resolved
		engineOpts = append(engineOpts, engine.WithGetenv(getenv), engine.WithOnly(engine.Part(f.only)))
		reg, charts, err = engine.FromConfig(ctx, cfg, engineOpts...)
		if err != nil {
			fmt.Fprintln(stderr, "helmupgradebot:", err)
			return headless.ExitUsage
		}
		if issues, err = statusIssues(ctx, cfg, charts, f.headless, engineOpts); err != nil {
			logger.Warn("status issues not updated: no GitHub client", "err", err)
		}
	}
	switch f.only {
	case "charts":
		reg = nil
	case "registry":
		charts = nil
	}
	if charts != nil {
		charts.UseHistory(store) // PRs merged since the last run
	}

	if f.headless {
		if reg != nil {
			reg.SeedOnly() // no screen shows the snapshot
		}
		return headless.Run(ctx, headless.Options{
			Apply: f.apply, Force: f.force, JSON: f.json,
			Registry: reg, Charts: charts, Stdout: stdout, Logger: logger, History: store, StatusIssues: issues,
			Metrics: metricsTargets(f, mcfg), MetricsClient: &http.Client{Transport: retry.New(retry.NewBaseTransport(retryPolicy), retryPolicy)},
		})
	}
	var opts []ui.Option
	if getenv("NO_COLOR") != "" {
		opts = append(opts, ui.WithNoColor())
	}
	var rs ui.RegistryService
	if reg != nil {
		rs = reg
	}
	var cs ui.ChartService
	if charts != nil {
		cs = charts
	}
	opts = append(opts, ui.WithHistory(store))
	if err := ui.Run(ctx, rs, cs, opts...); err != nil {
		fmt.Fprintln(stderr, "helmupgradebot:", err)
		return headless.ExitFailure
	}
	return headless.ExitOK
}

// statusIssues is what keeps the status issues (github.status_issue) of a
// headless run: with the chart engine's GitHub client, or, for --only
// registry, with one of its own, whose credentials it resolves.
func statusIssues(ctx context.Context, cfg *config.Config, charts *engine.Charts, isHeadless bool, opts []engine.Option) (*engine.StatusIssues, error) {
	switch {
	case !isHeadless:
		return nil, nil
	case charts != nil:
		return charts.StatusIssues(), nil
	}
	return engine.NewBuilder(cfg, opts...).StatusIssues(ctx)
}

// metricsTargets are where a headless run's metrics go: --metrics-file and
// --metrics-push, else the configuration's metrics keys; the Pushgateway
// group is the job, the instance (the demo's: demo) and the part run
// (--only charts or registry, else all), so that a CronJob of each part
// keeps its own group and each run replaces its own.
func metricsTargets(f flags, m config.Metrics) metrics.Targets {
	part := cmp.Or(f.only, "all")
	return metrics.Targets{
		File: cmp.Or(f.metricsFile, m.File), Push: cmp.Or(f.metricsPush, m.Push),
		Group: metrics.Group{Job: cmp.Or(m.Job, metrics.DefaultJob), Labels: []metrics.Label{{Name: "instance", Value: m.Instance}, {Name: "part", Value: part}}},
	}
}
