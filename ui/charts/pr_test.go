package charts

import (
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

func TestPRCellAges(t *testing.T) {
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC) // the tests' fixed clock
	yes := true
	r := model.DependencyStatus{State: model.StatePROpen, PRNumber: 1, PRCreatedAt: now.Add(time.Hour), // a clock behind GitHub's
		PRMergeable: &yes, PRMergeableState: "blocked", PRChecks: model.ChecksNone}
	if got := prCell(r, now, false); got != "0s - blocked" {
		t.Errorf("prCell = %q", got)
	}
	r.PRMergeableState, r.PRMergeable = "unknown", nil
	if got := prCell(r, now, true); got != "0s · - no checks · mergeable?" {
		t.Errorf("long prCell = %q", got)
	}
	// An open PR hides an older merged one in the column; the details say both.
	r.Merged = &model.MergedPR{Number: 3, URL: "u", MergedAt: now.Add(-time.Hour)}
	if got := prCell(r, now, false); strings.Contains(got, "merged") {
		t.Errorf("prCell with an open PR and a merged one = %q", got)
	}
	if got := withMerged("PR #1 x", r, now); got != "PR #1 x · PR #3 merged 1h ago" {
		t.Errorf("withMerged = %q", got)
	}
}
