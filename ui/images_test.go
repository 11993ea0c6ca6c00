package ui

import (
	"strconv"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/demo"
)

// TestDemoImagePR: from the Charts tab, p on the demo's repo2docker row
// opens a pull request in the GitHub stand-in that changes exactly the
// tag on its one line of the values file, and the row shows it open.
func TestDemoImagePR(t *testing.T) {
	env := startDemo(t)
	d := demoConsole(t, env, 120, 36)
	before, _ := env.GitHub.File(demo.Owner, demo.Repo, "main", demo.ValuesFile)
	d.press("G") // the image row, after the charts
	mustContain(t, joined(d.screen()), "›image repo2docker", "hub/values.yaml:7 · image "+env.ImageRegistry+"/jupyterhub/repo2docker at binderhub.config.BinderHub.build_image")
	d.press("p")
	mustContain(t, joined(d.screen()), "Open pull request?", "change     hub/values.yaml", "+7:       build_image: ")
	d.press("enter")
	prs := env.GitHub.PullRequests(demo.Owner, demo.Repo)
	if len(prs) != 1 {
		t.Fatalf("the stand-in holds %d PRs, want 1", len(prs))
	}
	after, _ := env.GitHub.File(demo.Owner, demo.Repo, prs[0].HeadRef, demo.ValuesFile)
	want := strings.Replace(before, ":"+demo.Repo2dockerPinned+" ", ":"+demo.Repo2dockerNewest+" ", 1)
	if after != want || after == before {
		t.Errorf("the PR's values file is not exactly the one tag changed:\n%s", after)
	}
	if chart, _ := env.GitHub.File(demo.Owner, demo.Repo, prs[0].HeadRef, demo.File); chart != mustFile(t, env, "main", demo.File) {
		t.Error("the image's PR changed the chart file")
	}
	if l := line(d.screen(), "image repo2docker"); !strings.Contains(l, "PR open #"+strconv.Itoa(prs[0].Number)) {
		t.Errorf("image row after the PR: %q", l)
	}
	// P: one grouped PR for the entry's charts; the image's own PR stays.
	d.press("g", "P")
	mustContain(t, joined(d.screen()), "change     hub/Chart.yaml")
	d.press("enter")
	if prs := env.GitHub.PullRequests(demo.Owner, demo.Repo); len(prs) != 2 {
		t.Errorf("the stand-in holds %d PRs, want the image's and the grouped one", len(prs))
	}
}

func mustFile(t *testing.T, env *demo.Env, branch, path string) string {
	t.Helper()
	f, ok := env.GitHub.File(demo.Owner, demo.Repo, branch, path)
	if !ok {
		t.Fatalf("no %s on %s", path, branch)
	}
	return f
}
