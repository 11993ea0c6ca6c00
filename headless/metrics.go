package headless

import (
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/history"
	"github.com/helmupgradebot/helmupgradebot/backend/metrics"
)

// runStats are what a run measures beside its report, for the metrics.
type runStats struct {
	scan           time.Duration    // how long the registry scan took
	requestsBefore map[string]int64 // the registry's requests before the run
}

// requestsSince is what the registry's request counts grew by since before.
func requestsSince(now, before map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for api, n := range now {
		if d := n - before[api]; d > 0 {
			out[api] = d
		}
	}
	return out
}

// runMetrics is the run as the metrics show it: the report's numbers, the
// registry's requests, and the last successful run of the same parts.
func runMetrics(o Options, rep *Report, stats *runStats, start, end time.Time, code int) metrics.Run {
	run := metrics.Run{Start: start, End: end, ExitCode: code, Applied: o.Apply}
	if code == ExitOK {
		run.LastSuccess = end
	} else {
		run.LastSuccess = lastSuccess(o, start)
	}
	if o.Registry != nil {
		r := &metrics.Registry{Requests: requestsSince(o.Registry.Requests(), stats.requestsBefore), ScanDuration: stats.scan}
		if rr := rep.Registry; rr != nil && !rr.ScannedAt.IsZero() {
			registryMetrics(r, rr, end)
		}
		run.Registry = r
	}
	if o.Charts != nil {
		run.Charts = chartMetrics(rep.Charts)
	}
	return run
}

// registryMetrics fills in what a scan found, planned and did.
func registryMetrics(r *metrics.Registry, rr *RegistryReport, now time.Time) {
	r.Scanned = true
	r.TotalBytes, r.CapBytes, r.ReclaimBytes = rr.TotalBytes, rr.CapBytes, rr.ReclaimBytes
	r.Images, r.Untagged, r.Held = rr.Images, rr.UntaggedImages, rr.Held
	r.Deleted, r.FailedDeletions, r.FreedBytes = len(rr.Deleted), len(rr.Failed), freedBytes(rr)
	if f := rr.Forecast; f != nil {
		if f.GrowthBytesPerWeek != nil {
			perDay := float64(*f.GrowthBytesPerWeek) / 7
			r.GrowthBytesPerDay = &perDay
		}
		switch {
		case f.OverCap && rr.CapBytes > 0:
			zero := time.Duration(0)
			r.TimeToCap = &zero
		case f.CapReachedAt != nil:
			d := f.CapReachedAt.Sub(now)
			r.TimeToCap = &d
		}
	}
	if u := rr.Usage; u != nil {
		mu := &metrics.Usage{EventsRead: u.EventsRead}
		for _, s := range u.Sources {
			mu.Sources = append(mu.Sources, metrics.Source{Kind: s.Kind, Name: s.Source, OK: s.Error == ""})
		}
		r.Usage = mu
	}
}

// chartMetrics counts the dependencies by status and their open pull
// requests, each once however many rows (a grouped file's) share it.
func chartMetrics(rows []ChartReport) *metrics.Charts {
	c := &metrics.Charts{ByStatus: map[string]int{}}
	open, failing := map[string]bool{}, map[string]bool{}
	for _, r := range rows {
		c.ByStatus[r.Status]++
		if r.PullRequestState != "open" || r.PullRequest == "" {
			continue
		}
		open[r.PullRequest] = true
		opened := time.Time{}
		if r.PullRequestCreatedAt != nil {
			opened = *r.PullRequestCreatedAt
		}
		if !opened.IsZero() && (c.OldestPROpened.IsZero() || opened.Before(c.OldestPROpened)) {
			c.OldestPROpened = opened
		}
		if r.Checks == "failing" {
			failing[r.PullRequest] = true
			if !opened.IsZero() && (c.OldestFailingPROpened.IsZero() || opened.Before(c.OldestFailingPROpened)) {
				c.OldestFailingPROpened = opened
			}
		}
	}
	c.OpenPRs, c.FailingPRs = len(open), len(failing)
	return c
}

// lastSuccess is when the newest recorded headless run that exited 0 and
// did at least this run's parts ended (its registry part on the same
// registry); zero when the history has none.
func lastSuccess(o Options, before time.Time) time.Time {
	if o.History == nil {
		return time.Time{}
	}
	runs, _, _ := o.History.Read(before.AddDate(-1, 0, 0)) // an unreadable history only loses the last success
	var last time.Time
	for _, r := range runs {
		if r.Face != history.FaceHeadless || r.Demo || r.ExitCode == nil || *r.ExitCode != ExitOK || !r.Time.Before(before) {
			continue
		}
		if o.Registry != nil && (r.Registry == nil || r.Registry.URL != o.Registry.URL()) {
			continue
		}
		if o.Charts != nil && len(r.Charts) == 0 {
			continue
		}
		if r.Time.After(last) {
			last = r.Time
		}
	}
	return last
}
