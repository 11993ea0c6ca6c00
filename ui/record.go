package ui

import (
	"github.com/helmupgradebot/helmupgradebot/backend/history"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// runSummary is what the console records after a scan, or, given an
// apply's result, after a delete.
func (r *registrySection) runSummary(done *applyDoneMsg) history.Run {
	if r.svc == nil || r.idx == nil {
		return history.Run{}
	}
	inv := r.idx.inv
	rr := &history.RegistryRun{URL: r.svc.URL(), TotalBytes: r.idx.sizes.Total, CapBytes: r.svc.Policy().Cap,
		Images: len(inv.Images), Untagged: r.idx.untagged(), Problems: len(inv.Errors)}
	run := history.Run{Registry: rr}
	if done != nil {
		run.Applied = true
		rr.TotalBytes = done.plan.TotalBytes
		rr.Planned, rr.PlannedBytes = len(done.plan.Deletions), done.plan.ReclaimBytes
		rr.Deleted, rr.Failed, rr.Skipped = len(done.res.Deleted), len(done.res.Failed), len(done.res.Skipped)
		rr.FreedBytes = done.res.FreedBytes
		for _, d := range done.res.Deleted {
			rr.Deletions = append(rr.Deletions, history.Deletion{Ref: d.Repository + "@" + d.Digest,
				Reason: string(done.plan.Deletions[d.Index].Reason), Bytes: d.Bytes})
		}
		for _, f := range done.res.Failed {
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
