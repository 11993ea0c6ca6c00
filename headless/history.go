package headless

import (
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/history"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// ForecastReport is the registry's growth and when it reaches the cap,
// from the run history and this run. Without enough runs, the numbers are
// null and Reason says why.
type ForecastReport struct {
	GrowthBytesPerWeek *int64     `json:"growth_bytes_per_week"`
	CapReachedAt       *time.Time `json:"cap_reached_at"`
	OverCap            bool       `json:"over_cap,omitempty"`
	BasedOnRuns        int        `json:"based_on_runs"`
	Reason             string     `json:"reason,omitempty"`
}

// forecast fits the registry's growth over the recorded runs and this one.
func forecast(store *history.Store, rr *RegistryReport, now time.Time) *ForecastReport {
	var runs []history.Run
	if store != nil {
		runs, _, _ = store.Read(now.AddDate(-1, 0, 0)) // an unreadable history only weakens the forecast
	}
	pts := history.Points(runs, rr.URL)
	pts = append(pts, model.SizePoint{At: rr.ScannedAt, TotalBytes: rr.TotalBytes, FreedBytes: freedBytes(rr)})
	return forecastReport(pts, rr.CapBytes)
}

// forecastReport turns a fit into the report's shape.
func forecastReport(pts []model.SizePoint, capBytes int64) *ForecastReport {
	f, ok, why := model.FitForecast(pts, capBytes)
	if !ok {
		return &ForecastReport{BasedOnRuns: len(pts), Reason: why}
	}
	out := &ForecastReport{GrowthBytesPerWeek: &f.GrowthBytesPerWeek, OverCap: f.OverCap, BasedOnRuns: f.BasedOnRuns}
	if !f.CapReachedAt.IsZero() {
		out.CapReachedAt = &f.CapReachedAt
	}
	switch {
	case capBytes <= 0:
		out.Reason = "no cap configured"
	case f.OverCap:
		out.Reason = "already over the cap"
	case f.CapReachedAt.IsZero():
		out.Reason = "not growing"
	}
	return out
}

// freedBytes is what the run's deletions freed; 0 when nothing was
// applied (every deletion sets FreedBytes with it).
func freedBytes(rr *RegistryReport) int64 {
	if rr.FreedBytes == nil {
		return 0
	}
	return *rr.FreedBytes
}

// summary is this run as the history keeps it.
func summary(rep *Report, face string, apply bool, now time.Time) history.Run {
	run := history.Run{Time: now, Face: face, Applied: apply}
	if rr := rep.Registry; rr != nil && !rr.ScannedAt.IsZero() {
		h := &history.RegistryRun{URL: rr.URL, TotalBytes: rr.TotalBytes, CapBytes: rr.CapBytes, Images: rr.Images,
			Untagged: rr.UntaggedImages, Held: rr.Held, Planned: rr.plannedCount(), PlannedBytes: rr.ReclaimBytes,
			Deleted: len(rr.Deleted), FreedBytes: freedBytes(rr), Failed: len(rr.Failed), Skipped: len(rr.Skipped),
			Problems: len(rr.Errors)}
		for _, d := range rr.Deleted {
			h.Deletions = append(h.Deletions, history.Deletion{Ref: d.Repository + "@" + d.Digest.String(), Reason: d.Reason, Bytes: d.ReclaimBytes})
		}
		for _, f := range rr.Failed {
			h.Failures = append(h.Failures, history.Failure{Ref: f.Repository + "@" + f.Digest, Error: f.Error})
		}
		run.Registry = h
	}
	for _, c := range rep.Charts {
		run.Charts = append(run.Charts, history.ChartRun{Repository: c.Repository, File: c.File, Dependency: c.Dependency,
			Current: c.Current, Latest: c.Latest, Status: c.Status, PullRequest: c.PullRequest, Error: c.Error})
	}
	return run
}
