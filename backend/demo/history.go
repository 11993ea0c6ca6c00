package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/history"
)

// demoHistoryDays is how far back the demo's seeded history goes.
const demoHistoryDays = 90

// seedHistory writes a plausible 90-day history for the demo registry,
// every run marked as demo data: a daily dry run whose size grows, with
// the monthly applied runs that cleaned it, and the chart runs' PRs.
func seedHistory(store *history.Store, url string, total, capBytes int64, now time.Time) error {
	r := rand.New(rand.NewPCG(90, 3))
	start := now.AddDate(0, 0, -demoHistoryDays)
	// Grow to today's size: a cleaning run every 30 days freed a fifth.
	perDay := float64(total) * 0.012
	size := float64(total) - perDay*demoHistoryDays + float64(total)*0.5
	for d := range demoHistoryDays {
		at := start.AddDate(0, 0, d).Add(3*time.Hour + 15*time.Minute)
		size += perDay * (0.7 + 0.6*r.Float64())
		run := history.Run{Time: at, Face: history.FaceHeadless, Demo: true,
			Registry: &history.RegistryRun{URL: url, TotalBytes: int64(size), CapBytes: capBytes, Images: 60 + d/4}}
		if d%30 == 15 {
			freed := int64(size * 0.2)
			run.Applied = true
			run.Registry.Deleted, run.Registry.FreedBytes = 8+r.IntN(6), freed
			run.Registry.Planned, run.Registry.PlannedBytes = run.Registry.Deleted, freed
			size -= float64(freed)
		}
		if d%7 == 0 {
			run.Charts = []history.ChartRun{{Repository: Owner + "/" + Repo, File: File, Dependency: "binderhub",
				Status: "pr-opened", PullRequest: fmt.Sprintf("https://github.com/%s/%s/pull/%d", Owner, Repo, 100+d/7)}}
		}
		if err := store.Append(run); err != nil {
			return fmt.Errorf("demo: seed history: %w", err)
		}
	}
	return nil
}
