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
		{model.DependencyStatus{Kind: model.KindImage, Repository: "o/r", File: "hub/values.yaml", Dependency: "binderhub.config.BinderHub.build_image",
			Path: "binderhub.config.BinderHub.build_image", Image: "quay.io/jupyterhub/repo2docker", Line: 7, Group: true,
			Current: "2021.08.0-136.g47ea95a", State: model.StateOutdated, Latest: model.ChartVersion{Version: "2024.07.0-184.g5e9e3d0"}},
			"outdated", []string{"o/r hub/values.yaml:7 · image quay.io/jupyterhub/repo2docker at binderhub.config.BinderHub.build_image",
				"2021.08.0-136.g47ea95a → 2024.07.0-184.g5e9e3d0", "one with the entry's charts"}, []string{"chart from", "whole file"}},
		{model.DependencyStatus{Kind: model.KindImage, File: "v.yaml", Dependency: "pinned.image", Path: "pinned.image", Image: "index.docker.io/library/nginx", Line: 3,
			Current: "1.27@sha256:5a64", State: model.StateSkipped, Warning: "nginx is pinned by digest: a digest names one build, left alone"},
			"skipped", []string{"v.yaml:3 · image index.docker.io/library/nginx at pinned.image", "nginx is pinned by digest"}, []string{"→"}},
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

func TestImageCells(t *testing.T) {
	tests := []struct {
		row        model.DependencyStatus
		cell, name string
	}{
		{model.DependencyStatus{Dependency: "binderhub"}, "binderhub", "binderhub"},
		{model.DependencyStatus{Kind: model.KindImage, Path: "a.image", Image: "quay.io/jupyterhub/repo2docker"}, "image repo2docker", "image repo2docker at a.image"},
		{model.DependencyStatus{Kind: model.KindImage, Path: "proxy.image", Image: "index.docker.io/library/nginx"}, "image nginx", "image nginx at proxy.image"},
		{model.DependencyStatus{Kind: model.KindImage, File: "hub/values.yaml"}, "images", "the images of hub/values.yaml"},
	}
	for _, tt := range tests {
		if got := depCell(tt.row); got != tt.cell {
			t.Errorf("depCell(%+v) = %q, want %q", tt.row, got, tt.cell)
		}
		if got := rowName(tt.row); got != tt.name {
			t.Errorf("rowName(%+v) = %q, want %q", tt.row, got, tt.name)
		}
	}
}
