package model_test

import (
	"slices"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// Image bumps, and a chart bump of the same entry.
var (
	r2dBump = model.Bump{
		Kind: model.KindImage, File: "hub/values.yaml", Dependency: "binderhub.config.BinderHub.build_image",
		Path: "binderhub.config.BinderHub.build_image", Image: "quay.io/jupyterhub/repo2docker",
		From: "2021.08.0-136.g47ea95a",
		To: model.ChartVersion{Version: "2024.07.0-184.g5e9e3d0", Created: time.Date(2024, 7, 30, 9, 0, 0, 0, time.UTC),
			Sources: []string{"https://github.com/jupyterhub/repo2docker"}},
		Compare: "https://github.com/jupyterhub/repo2docker/compare/47ea95a...5e9e3d0",
	}
	nginxBump = model.Bump{
		Kind: model.KindImage, File: "hub/other.yaml", Dependency: "proxy.image", Path: "proxy.image",
		Image: "index.docker.io/library/nginx", From: "v1.25", To: model.ChartVersion{Version: "1.27"},
	}
	entryChartBump = model.Bump{Dependency: "binderhub", ChartRepository: "https://jupyterhub.github.io/helm-chart", From: "1.0.0", To: model.ChartVersion{Version: "1.1.0"}}
)

// TestImageBumpsDeclined: a closed PR's body declines exactly the tags it
// proposed, keyed by file and path.
func TestImageBumpsDeclined(t *testing.T) {
	for _, bumps := range [][]model.Bump{{r2dBump}, {nginxBump}, {entryChartBump, r2dBump, nginxBump}} {
		title, body := model.PullRequestText("hub/Chart.yaml", bumps)
		if !model.Declines("other", body, title, bumps) {
			t.Errorf("%s: the body does not decline its own bumps", title)
		}
		for i := range bumps {
			newer := slices.Clone(bumps)
			newer[i].To.Version += "-1"
			if model.Declines("other", body, title, newer) {
				t.Errorf("%s: the body declines %s, which it did not propose", title, newer[i].To.Version)
			}
		}
		moved := slices.Clone(bumps)
		moved[len(moved)-1].File = "elsewhere.yaml"
		if model.Declines("other", body, title, moved) {
			t.Errorf("%s: an image at the same path of another file is declined alike", title)
		}
	}
}

func TestImageDisplayName(t *testing.T) {
	for in, want := range map[string]string{
		"index.docker.io/library/nginx":  "nginx",
		"index.docker.io/bitnami/redis":  "bitnami/redis",
		"quay.io/jupyterhub/repo2docker": "quay.io/jupyterhub/repo2docker",
		"127.0.0.1:5000/a/b":             "127.0.0.1:5000/a/b",
	} {
		if got := model.ImageDisplayName(in); got != want {
			t.Errorf("ImageDisplayName(%s) = %s, want %s", in, got, want)
		}
	}
}
