package headless

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestImageRowsReported: an image row in the JSON report has its kind,
// path and image, and the summary and the log say image and path; a
// grouped entry's charts and image go into one pull request.
func TestImageRowsReported(t *testing.T) {
	tests := []struct {
		name    string
		group   bool
		apply   bool
		status  string
		summary string // in the text summary, after the status
		prs     int
	}{
		{"dry run", false, false, "outdated", " binderhub-ops/hub-deploy hub/values.yaml: image HOST/jupyterhub/repo2docker at binderhub.config.BinderHub.build_image 2021.08.0-136.g47ea95a -> 2024.07.0-184.g5e9e3d0", 0},
		{"apply", false, true, "pr-opened", " binderhub-ops/hub-deploy hub/values.yaml: image HOST/jupyterhub/repo2docker at binderhub.config.BinderHub.build_image 2021.08.0-136.g47ea95a -> 2024.07.0-184.g5e9e3d0 http", 4},
		{"apply, grouped", true, true, "pr-opened", " binderhub-ops/hub-deploy hub/values.yaml: image HOST/jupyterhub/repo2docker at", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := startDemo(t, demo.WithConfigure(func(c *config.Config) { c.Charts[0].Group = tt.group }))
			var text, logs bytes.Buffer
			Run(context.Background(), Options{Apply: tt.apply, Charts: env.Charts, Stdout: &text, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			want := tt.status + strings.Repeat(" ", 12-len(tt.status)) + strings.ReplaceAll(tt.summary, "HOST", env.ImageRegistry)
			if !strings.Contains(text.String(), want) {
				t.Errorf("summary lacks %q:\n%s", want, text.String())
			}
			if prs := env.GitHub.PullRequests(demo.Owner, demo.Repo); len(prs) != tt.prs {
				t.Errorf("%d PRs, want %d", len(prs), tt.prs)
			}

			raw, rep, _ := runJSON(t, env, false)
			var image ChartReport
			for i, c := range rep.Charts {
				row := raw["charts"].([]any)[i].(map[string]any)
				if row["kind"] != c.Kind || (c.Kind != "chart" && c.Kind != "image") {
					t.Errorf("row %s: kind %v", c.Dependency, row["kind"])
				}
				_, hasPath := row["path"]
				_, hasImage := row["image"]
				if hasPath != (c.Kind == "image") || hasImage != (c.Kind == "image") {
					t.Errorf("row %s (%s): path and image present %v %v", c.Dependency, c.Kind, hasPath, hasImage)
				}
				if c.Kind == "image" {
					image = c
				}
			}
			wantStatus := string(model.StateOutdated)
			if tt.apply {
				wantStatus = string(model.StatePROpen)
			}
			if image.File != demo.ValuesFile || image.Path != "binderhub.config.BinderHub.build_image" || image.Image != env.ImageRegistry+"/"+demo.Repo2docker ||
				image.Current != demo.Repo2dockerPinned || image.Latest != demo.Repo2dockerNewest || image.Status != wantStatus {
				t.Errorf("image row: %+v", image)
			}
		})
	}
}

// TestImageErrorsLogged: an image that cannot be looked up is an error in
// the log naming its path and image, and makes the run partial.
func TestImageErrorsLogged(t *testing.T) {
	env := startDemo(t)
	appendFile(t, env, demo.ValuesFile, "gone:\n  image: "+env.ImageRegistry+"/nobody/here:1.0.0\n")
	var text, logs bytes.Buffer
	code := Run(context.Background(), Options{Charts: env.Charts, Stdout: &text, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if code != ExitPartial {
		t.Errorf("exit %d, want %d", code, ExitPartial)
	}
	for _, w := range []string{"level=ERROR msg=image ", "path=gone.image", "image=" + env.ImageRegistry + "/nobody/here", "list the tags of"} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, logs.String())
		}
	}
	if w := "error        binderhub-ops/hub-deploy hub/values.yaml: image " + env.ImageRegistry + "/nobody/here at gone.image: "; !strings.Contains(text.String(), w) {
		t.Errorf("summary lacks %q:\n%s", w, text.String())
	}
}

// appendFile adds text to a file of the deployment on main; it returns
// the file.
func appendFile(t *testing.T, env *demo.Env, path, text string) string {
	t.Helper()
	content, _ := env.GitHub.File(demo.Owner, demo.Repo, "main", path)
	content += text
	if _, err := env.GitHub.Commit(demo.Owner, demo.Repo, "main", path, content); err != nil {
		t.Fatal(err)
	}
	return content
}
