// Package headless runs helmupgradebot without a terminal: from cron or a
// Kubernetes CronJob. It calls the same engine as the console and reports
// a short summary or one JSON document.
package headless

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/history"
	"github.com/helmupgradebot/helmupgradebot/backend/metrics"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// Exit codes, documented in the README.
const (
	ExitOK      = 0 // done, or nothing to do
	ExitFailure = 1 // the run failed
	ExitUsage   = 2 // bad usage or configuration
	ExitPartial = 3 // partly done: some deletions or pull requests failed
	ExitBusy    = 4 // another run holds the lock on this configuration
)

// progressEvery is how often a headless scan logs its progress.
const progressEvery = 5 * time.Second

// progressLog decides when a headless scan logs its progress: the first
// time, then every progressEvery, and once when it has read everything.
type progressLog struct {
	last     time.Time
	finished bool
}

func (l *progressLog) due(now time.Time, p registry.Progress) bool {
	complete := p.Repositories > 0 && p.RepositoriesDone == p.Repositories && p.ImagesDone >= p.Images
	switch {
	case complete && !l.finished:
		l.finished = true
	case !l.last.IsZero() && now.Sub(l.last) < progressEvery:
		return false
	}
	l.last = now
	return true
}

// Options control a run.
type Options struct {
	// Apply deletes images and opens pull requests; without it the run
	// only reports what it would do.
	Apply bool
	// Force applies a registry plan over max_delete_fraction.
	Force bool
	// JSON prints one JSON document instead of a summary.
	JSON bool
	// Registry and Charts select the chores to run.
	Registry *engine.Registry
	Charts   *engine.Charts
	Stdout   io.Writer
	Logger   *slog.Logger
	// History, when set, records the run and feeds the forecast.
	History *history.Store
	// StatusIssues, when set, keeps each deployment repository's status
	// issue up to date after the run (github.status_issue).
	StatusIssues *engine.StatusIssues
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Metrics, when it names a file or a Pushgateway, receives the run's
	// Prometheus metrics after the run (metrics.go); MetricsClient pushes
	// them (nil: http.DefaultClient).
	Metrics       metrics.Targets
	MetricsClient *http.Client
}

// Run performs one run and returns its exit code.
func Run(ctx context.Context, o Options) int {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var rep Report
	var stats runStats
	start := o.Now()
	if o.Registry != nil {
		stats.requestsBefore = o.Registry.Requests() // an engine that ran before counted its requests too
	}
	code := ExitOK
	worse := func(c int) {
		if c == ExitFailure || (c == ExitPartial && code == ExitOK) {
			code = c
		}
	}
	var deps []model.DependencyStatus
	if o.Charts != nil {
		rows, d, c := runCharts(ctx, o)
		rep.Charts, deps = rows, d
		worse(c)
	}
	if o.Registry != nil {
		rr, c := runRegistry(ctx, o, &stats)
		rep.Registry = rr
		worse(c)
	}
	if rr := rep.Registry; rr != nil && !rr.ScannedAt.IsZero() {
		rr.Forecast = forecast(o.History, rr, o.Now())
	}
	end := o.Now()
	if o.History != nil {
		run := summary(&rep, history.FaceHeadless, o.Apply, end)
		run.ExitCode = &code
		if err := o.History.Append(run); err != nil {
			o.Logger.Warn("history not recorded", "err", err)
		}
	}
	if o.StatusIssues != nil {
		rep.GitHub = keepStatusIssues(ctx, o, &rep, deps) // its failures leave the exit code alone
	}
	if o.JSON {
		if err := writeReport(o.Stdout, rep); err != nil {
			o.Logger.Error("write report", "err", err)
			return ExitFailure
		}
	} else {
		writeSummary(o.Stdout, &rep, o.Apply)
		writeStatusIssues(o.Stdout, rep.GitHub)
	}
	if o.Metrics.File != "" || o.Metrics.Push != "" {
		if err := o.Metrics.Write(ctx, runMetrics(o, &rep, &stats, start, end, code), o.MetricsClient); err != nil {
			o.Logger.Error("metrics not written", "err", err)
			worse(ExitPartial)
		}
	}
	return code
}

func runRegistry(ctx context.Context, o Options, stats *runStats) (*RegistryReport, int) {
	reg := o.Registry
	log := o.Logger.With("registry", reg.URL())
	recovered, rerr := reg.Recover(ctx)
	log.Info("scanning")
	start, plog := time.Now(), progressLog{}
	inv, err := reg.Scan(ctx, func(p registry.Progress) {
		if !plog.due(time.Now(), p) {
			return
		}
		args := []any{"repositories_done", p.RepositoriesDone, "repositories", p.Repositories, "images_done", p.ImagesDone, "images", p.Images}
		if rate, eta, ok := p.Rate(time.Since(start)); ok {
			args = append(args, "images_per_second", int(rate), "eta", eta.String())
		}
		log.Info("scan progress", args...)
	})
	stats.scan = time.Since(start)
	rr := &RegistryReport{URL: reg.URL(), Flavor: reg.Flavor(), CapBytes: reg.Policy().Cap, Plan: []ImageReport{}, Deleted: []ImageReport{}, Failed: []FailedReport{}, Errors: []ErrorReport{},
		Held: map[string]int{}, SkippedRepositories: []SkippedRepository{}, Skipped: []SkippedReport{}, Recovered: []RecoveredReport{},
		Locked: []LockedReport{}, LockedBy: map[string]int{}, RepositoryLocks: []RepositoryLockReport{}}
	for _, r := range recovered {
		rr.Recovered = append(rr.Recovered, RecoveredReport(r))
		log.Warn("recovered a deletion a killed run did not record", "repository", r.Repository, "digest", r.Digest, "outcome", r.Outcome)
	}
	if rerr != nil {
		log.Error("recover unrecorded deletions", "err", rerr)
		rr.Errors = append(rr.Errors, ErrorReport{Error: rerr.Error()})
	}
	if err != nil {
		log.Error("scan failed", "err", err)
		rr.Errors = append(rr.Errors, ErrorReport{Error: err.Error()})
		return rr, ExitFailure
	}
	for _, e := range inv.Errors {
		log.Warn("scan problem", "repository", e.Repository, "reference", e.Reference, "err", e.Error)
		rr.Errors = append(rr.Errors, ErrorReport(e))
	}
	plan := reg.Plan(inv, nil, o.Force)
	ures, usageFailed := reportUsage(rr, reg, inv, log)
	rr.ScannedAt = inv.ScannedAt
	rr.Repositories, rr.Images, rr.Tags = inv.Repositories, len(inv.Images), inv.Tags()
	for i := range inv.Images {
		if len(inv.Images[i].Tags) == 0 {
			rr.UntaggedImages++
		}
	}
	rr.TotalBytes, rr.ReclaimBytes, rr.TotalAfterBytes = plan.TotalBytes, plan.ReclaimBytes, plan.TotalAfterBytes
	rr.ShortfallBytes, rr.UnknownAge, rr.Refused = plan.Shortfall, plan.UnknownAge, plan.Refused
	rr.Plan = []ImageReport{}
	if len(plan.Deletions) > 0 {
		rr.planned = &plannedImages{inv: inv, dels: plan.Deletions, use: ures}
	}
	for h, n := range plan.Held {
		rr.Held[heldKey(h)] = n
	}
	rr.Locked, rr.LockedBy, rr.RepositoryLocks = lockReports(inv)
	rr.LocksUnread = len(inv.LocksUnread)
	for _, sk := range plan.Skipped {
		rr.SkippedRepositories = append(rr.SkippedRepositories, SkippedRepository(sk))
		log.Warn("repository skipped: its scan is incomplete, so nothing in it is deleted", "repository", sk.Repository, "why", sk.Reason)
	}
	rr.Notes = plan.Notes
	for _, r := range inv.RegistryRules {
		rr.RegistryRules = append(rr.RegistryRules, RegistryRuleReport{Repository: r.Repository, Kind: r.Kind, Summary: r.Summary})
		rr.Notes = append(slices.Clip(rr.Notes), fmt.Sprintf("%s of %s: %s; the registry expires images by it on its own, whatever this plan keeps", r.Kind, r.Repository, r.Summary))
	}
	for _, n := range rr.Notes {
		log.Info("policy note", "note", n)
	}
	log.Info("planned", "images", len(plan.Deletions), "reclaim_bytes", plan.ReclaimBytes, "total_bytes", plan.TotalBytes)
	if plan.Shortfall > 0 {
		log.Warn("cap cannot be reached without deleting protected, locked or kept images", "over_by_bytes", plan.Shortfall)
	}
	code := ExitOK
	if len(inv.Errors) > 0 || rerr != nil || usageFailed {
		code = ExitPartial
	}
	if !o.Apply || len(plan.Deletions) == 0 {
		return rr, code
	}
	if plan.Refused != "" {
		log.Error("plan refused", "why", plan.Refused)
		return rr, ExitFailure
	}
	rr.AuditLog = reg.AuditPath()
	res, err := reg.Apply(ctx, inv, plan, func(done, total int) {
		if done == total || done%50 == 0 {
			log.Info("delete progress", "done", done, "total", total)
		}
	})
	rr.Applied = true
	for _, d := range res.Deleted {
		ir := withUsage(imageReport(inv, plan.Deletions[d.Index]), ures, plan.Deletions[d.Index].Image)
		ir.AlreadyGone, ir.Left = d.AlreadyGone, d.Left
		rr.Deleted = append(rr.Deleted, ir)
	}
	for _, f := range res.Failed {
		rr.Failed = append(rr.Failed, FailedReport{Repository: f.Repository, Digest: f.Digest, Index: f.Of, Error: f.Error, Unknown: f.Unknown})
	}
	rr.FreedBytes = &res.FreedBytes
	for _, sk := range res.Skipped {
		rr.Skipped = append(rr.Skipped, SkippedReport{Repository: sk.Repository, Digest: sk.Digest, Reason: sk.Reason})
		log.Warn("deletion skipped", "repository", sk.Repository, "digest", sk.Digest, "why", sk.Reason)
	}
	rr.Interrupted, rr.NotStarted = res.Interrupted, res.NotStarted
	log.Info("deleted", "images", len(rr.Deleted), "freed_bytes", res.FreedBytes, "failed", len(rr.Failed), "skipped", len(rr.Skipped), "not_started", res.NotStarted, "interrupted", res.Interrupted, "audit_log", rr.AuditLog)
	switch {
	case err != nil && len(rr.Deleted) == 0:
		log.Error("delete failed", "err", err)
		rr.Errors = append(rr.Errors, ErrorReport{Error: err.Error()})
		return rr, ExitFailure
	case err != nil:
		rr.Errors = append(rr.Errors, ErrorReport{Error: err.Error()})
		return rr, ExitPartial
	case len(rr.Failed) > 0 || len(rr.Skipped) > 0 || res.NotStarted > 0 || res.Interrupted:
		return rr, ExitPartial
	}
	return rr, code
}

func runCharts(ctx context.Context, o Options) ([]ChartReport, []model.DependencyStatus, int) {
	rows := o.Charts.Check(ctx)
	code := ExitOK
	if o.Apply {
		rows, code = openPRs(ctx, o, rows)
	}
	out := make([]ChartReport, 0, len(rows))
	for _, r := range rows {
		out = append(out, chartReport(r))
		what, where := rowLog(r)
		switch {
		case r.State == model.StateSkipped:
			o.Logger.Warn(what+" skipped", append(where, "warning", r.Warning)...)
		case r.Warning != "":
			o.Logger.Warn("pull request", "url", r.PRURL, "warning", r.Warning)
		}
		if r.State == model.StateError {
			o.Logger.Error(what, append(where, "err", r.Error)...)
			if code == ExitOK {
				code = ExitPartial
			}
		}
	}
	if len(rows) > 0 && allErrors(rows) {
		code = ExitFailure
	}
	return out, rows, code
}

// rowLog is what a log line calls a row, and where it is: a chart
// dependency, or an image at its YAML path in a values file.
func rowLog(r model.DependencyStatus) (string, []any) {
	where := []any{"repository", r.Repository, "file", r.File}
	if r.IsImage() {
		if r.Path == "" {
			return "values file", where
		}
		return "image", append(where, "path", r.Path, "image", r.Image)
	}
	return "chart dependency", append(where, "dependency", r.Dependency)
}

func allErrors(rows []model.DependencyStatus) bool {
	for _, r := range rows {
		if r.State != model.StateError {
			return false
		}
	}
	return true
}

// openPRs opens a PR per outdated dependency or image, or one per entry
// for grouped entries (its chart file and values files), and returns the
// rows as they now stand.
func openPRs(ctx context.Context, o Options, rows []model.DependencyStatus) ([]model.DependencyStatus, int) {
	code := ExitOK
	type fk struct{ repo, file string }
	slot := map[fk]int{} // grouped file -> its place in order
	var order [][]int
	for i, r := range rows {
		if r.State != model.StateOutdated {
			continue
		}
		if !r.Group {
			order = append(order, []int{i})
			continue
		}
		k := fk{r.Repository, r.EntryFile()}
		j, ok := slot[k]
		if !ok {
			j = len(order)
			slot[k] = j
			order = append(order, nil)
		}
		order[j] = append(order[j], i)
	}
	for _, idx := range order {
		deps := make([]model.DependencyStatus, len(idx))
		for k, i := range idx {
			deps[k] = rows[i]
		}
		names := make([]string, len(deps))
		for k, d := range deps {
			names[k] = d.Dependency
		}
		o.Logger.Info("opening pull request", "repository", deps[0].Repository, "file", deps[0].File, "dependencies", strings.Join(names, ","))
		updated, err := o.Charts.Open(ctx, deps)
		if err != nil {
			for _, i := range idx {
				rows[i].State, rows[i].Error = model.StateError, err.Error()
			}
			code = ExitPartial
			if errors.Is(err, context.Canceled) {
				return rows, ExitPartial
			}
			continue
		}
		for k, i := range idx {
			rows[i] = updated[k]
		}
		o.Logger.Info("pull request", "url", updated[0].PRURL, "status", updated[0].State)
	}
	return rows, code
}

func writeSummary(w io.Writer, rep *Report, apply bool) {
	for _, c := range rep.Charts {
		line := fmt.Sprintf("%-12s %s %s: %s", c.Status, c.Repository, c.File, c.what())
		switch {
		case c.Error != "":
			line += ": " + c.Error
		case c.Status == string(model.StateSkipped):
			line += ": " + c.Warning
		case c.Latest != "" && c.Latest != c.Current:
			line += fmt.Sprintf(" %s -> %s", c.Current, c.Latest)
		default:
			line += " " + c.Current
		}
		if c.PullRequest != "" {
			line += " " + c.PullRequest
		}
		line += prNote(c)
		fmt.Fprintln(w, line)
	}
	r := rep.Registry
	if r == nil {
		return
	}
	if r.ScannedAt.IsZero() {
		// The scan failed: there is no inventory and no plan, so no
		// counts and no "would delete 0 images". runRegistry records the
		// scan's error last, after any error recovering a killed run's
		// deletions.
		scan, others := "no error recorded", r.Errors
		if n := len(r.Errors); n > 0 {
			scan, others = r.Errors[n-1].Error, r.Errors[:n-1]
		}
		fmt.Fprintf(w, "registry %s: scan failed: %s\n", r.URL, scan)
		writeProblems(w, others)
		return
	}
	fmt.Fprintf(w, "registry %s: %d repositories, %d images, %d tags, %s", r.URL, r.Repositories, r.Images, r.Tags, model.FormatBytes(r.TotalBytes))
	if r.CapBytes > 0 {
		fmt.Fprintf(w, " of %s cap", model.FormatBytes(r.CapBytes))
	}
	fmt.Fprintln(w)
	verb := "would delete"
	if apply && r.Applied {
		verb = "planned"
	}
	fmt.Fprintf(w, "%s %d images, freeing %s (%s after)\n", verb, r.plannedCount(), model.FormatBytes(r.ReclaimBytes), model.FormatBytes(r.TotalAfterBytes))
	if r.ShortfallBytes > 0 {
		fmt.Fprintf(w, "the cap cannot be reached without protected, locked or kept images: %s over\n", model.FormatBytes(r.ShortfallBytes))
	}
	if r.Refused != "" {
		fmt.Fprintln(w, "refused:", r.Refused)
	}
	lockSummary(w, r)
	if r.Applied {
		fmt.Fprintf(w, "deleted %d (%s freed), failed %d, skipped %d, not started %d; audit log %s\n", len(r.Deleted), model.FormatBytes(freedBytes(r)), len(r.Failed), len(r.Skipped), r.NotStarted, r.AuditLog)
		for _, f := range r.Failed {
			fmt.Fprintf(w, "  failed %s@%s: %s\n", f.Repository, f.Digest, f.Error)
		}
		for _, sk := range r.Skipped {
			fmt.Fprintf(w, "  skipped %s@%s: %s\n", sk.Repository, sk.Digest, sk.Reason)
		}
	} else if r.plannedCount() > 0 {
		fmt.Fprintln(w, "dry run: rerun with --apply to delete")
	}
	for _, sk := range r.SkippedRepositories {
		what := sk.Repository
		if what == "" {
			what = "(the catalog)"
		}
		fmt.Fprintf(w, "skipped repository %s: its scan is incomplete, nothing in it is deleted\n", what)
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	writeUsageSummary(w, r.Usage)
	if f := r.Forecast; f != nil {
		switch {
		case f.GrowthBytesPerWeek == nil:
			fmt.Fprintf(w, "forecast: none (%s)\n", f.Reason)
		case f.CapReachedAt != nil:
			fmt.Fprintf(w, "forecast: growing %s a week; the cap is reached about %s (%d runs)\n",
				model.FormatBytes(*f.GrowthBytesPerWeek), f.CapReachedAt.Format("2006-01-02"), f.BasedOnRuns)
		default:
			fmt.Fprintf(w, "forecast: %s a week; %s (%d runs)\n", model.FormatBytes(*f.GrowthBytesPerWeek), f.Reason, f.BasedOnRuns)
		}
	}
	writeProblems(w, r.Errors)
}

func writeProblems(w io.Writer, errs []ErrorReport) {
	for _, e := range errs {
		fmt.Fprintf(w, "problem: %s %s %s\n", e.Repository, e.Reference, e.Error)
	}
}
