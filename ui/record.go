package ui

import (
	"github.com/helmupgradebot/helmupgradebot/backend/history"
	"github.com/helmupgradebot/helmupgradebot/model"
	registrytab "github.com/helmupgradebot/helmupgradebot/ui/registry"
)

// registrySummary is what the console records after a scan, or, given
// an apply's result, after a delete.
func (m *Model) registrySummary(done *registrytab.ApplyDoneMsg) history.Run {
	inv := m.registry.Inventory()
	if m.reg == nil || inv == nil {
		return history.Run{}
	}
	rr := &history.RegistryRun{URL: m.reg.URL(), TotalBytes: m.registry.TotalBytes(), CapBytes: m.reg.Policy().Cap,
		Images: len(inv.Images), Untagged: m.registry.Untagged(), Problems: len(inv.Errors)}
	run := history.Run{Registry: rr}
	if done != nil {
		run.Applied = true
		rr.TotalBytes = done.Plan.TotalBytes
		rr.Planned, rr.PlannedBytes = len(done.Plan.Deletions), done.Plan.ReclaimBytes
		rr.Deleted, rr.Failed, rr.Skipped = len(done.Result.Deleted), len(done.Result.Failed), len(done.Result.Skipped)
		rr.FreedBytes = done.Result.FreedBytes
		for _, d := range done.Result.Deleted {
			rr.Deletions = append(rr.Deletions, history.Deletion{Ref: d.Repository + "@" + d.Digest,
				Reason: string(done.Plan.Deletions[d.Index].Reason), Bytes: d.Bytes})
		}
		for _, f := range done.Result.Failed {
			rr.Failures = append(rr.Failures, history.Failure{Ref: f.Repository + "@" + f.Digest, Error: f.Error})
		}
	}
	return run
}

// chartsSummary is what the console records after opening pull requests.
func chartsSummary(rows []model.DependencyStatus) history.Run {
	run := history.Run{Applied: true}
	for _, d := range rows {
		run.Charts = append(run.Charts, history.ChartRun{Repository: d.Repository, File: d.File, Dependency: d.Dependency,
			Current: d.Current, Latest: d.Latest.Version, Status: string(d.State), PullRequest: d.PRURL, Error: d.Error})
	}
	return run
}
