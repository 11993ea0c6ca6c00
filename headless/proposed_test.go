package headless

import (
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestChartReportProposed: proposed is what a pull request writes when it
// is not latest as spelled, and absent where no pull request would write.
func TestChartReportProposed(t *testing.T) {
	for _, tc := range []struct {
		name string
		row  model.DependencyStatus
		want string
	}{
		{"a rewritten range", model.DependencyStatus{Current: "~1.7.0", NewPin: "~1.8.0", Latest: model.ChartVersion{Version: "1.8.0"}, State: model.StateOutdated}, "~1.8.0"},
		{"a pin without v against a v index", model.DependencyStatus{Current: "1.7.1", Latest: model.ChartVersion{Version: "v1.8.0"}, State: model.StatePROpen}, "1.8.0"},
		{"a v pin", model.DependencyStatus{Current: "v1.7.1", Latest: model.ChartVersion{Version: "v1.8.0"}, State: model.StateOutdated}, ""},
		{"a plain bump", model.DependencyStatus{Current: "1.7.1", Latest: model.ChartVersion{Version: "1.8.0"}, State: model.StateOutdated}, ""},
		{"up to date", model.DependencyStatus{Current: "~1.7.0", Latest: model.ChartVersion{Version: "1.7.4"}, State: model.StateUpToDate}, ""},
		{"an error", model.DependencyStatus{Current: "1.7.1", Latest: model.ChartVersion{Version: "v1.6.0"}, State: model.StateError}, ""},
		{"an image", model.DependencyStatus{Kind: model.KindImage, Current: "v1", Latest: model.ChartVersion{Version: "2"}, State: model.StateOutdated}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := chartReport(tc.row).Proposed; got != tc.want {
				t.Errorf("proposed %q, want %q", got, tc.want)
			}
		})
	}
}

// TestImageReportPushed: pushed is the registry's push time where it
// records one, and absent where it does not.
func TestImageReportPushed(t *testing.T) {
	pushed := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	built := pushed.AddDate(0, 0, -3)
	for _, tc := range []struct {
		name string
		im   model.Image
		want *time.Time
	}{
		{"ACR, age from the push", model.Image{Created: pushed, Pushed: pushed}, &pushed},
		{"ACR, age from the build", model.Image{Created: built, Pushed: pushed}, &pushed},
		{"distribution", model.Image{Created: built}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.im.Repository, tc.im.Digest = "hub", model.ParseDigest("sha256:"+strings.Repeat("a", 64))
			inv := &model.Inventory{Images: []model.Image{tc.im}}
			got := imageReport(inv, model.Deletion{Image: 0}).Pushed
			if (got == nil) != (tc.want == nil) || (got != nil && !got.Equal(*tc.want)) {
				t.Errorf("pushed %v, want %v", got, tc.want)
			}
		})
	}
}
