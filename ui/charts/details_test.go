package charts

import (
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// TestDetailsSkippedAndRanges: a skipped row's details say why, not that
// it is the newest version; a range row names the range it becomes and
// the version that admits.
func TestDetailsSkippedAndRanges(t *testing.T) {
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	keys := common.DefaultKeyMap()
	s := New(&common.Common{Styles: common.NewStyles(true, false), Keys: &keys, Now: func() time.Time { return now }}, nil)
	tests := []struct {
		row       model.DependencyStatus
		state     string
		want, not []string
	}{
		{model.DependencyStatus{Dependency: "(no name, line 8)", Current: "1.0.0", State: model.StateSkipped,
			Warning: "chart file line 8: dependency 2: has no name; skipped, as helm skips it"},
			"skipped", []string{"1.0.0", "skipped: ", "chart file line 8: dependency 2: has no name"}, []string{"newest", "→"}},
		{model.DependencyStatus{Dependency: "cert-manager", Current: "~1.7.0", NewPin: "~1.8.0", State: model.StateOutdated,
			Latest: model.ChartVersion{Version: "v1.8.0"}},
			"outdated", []string{"~1.7.0 → ~1.8.0 (admits v1.8.0)", "p opens a pull request"}, nil},
	}
	for _, tt := range tests {
		got := strings.Join(s.details(tt.row, 200), "\n")
		if stateText(tt.row) != tt.state {
			t.Errorf("%s: state %q, want %q", tt.row.Dependency, stateText(tt.row), tt.state)
		}
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: details lack %q:\n%s", tt.row.Dependency, w, got)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(got, w) {
				t.Errorf("%s: details have %q:\n%s", tt.row.Dependency, w, got)
			}
		}
	}
}
