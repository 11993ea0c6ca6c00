package demo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestDemoImageRow: the demo's values file pins an old repo2docker build;
// its row is outdated towards the newest build of that shape, on a
// loopback registry, and its pull request changes exactly that one line.
func TestDemoImageRow(t *testing.T) {
	ctx := context.Background()
	env, err := Start(ctx, WithNow(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()

	var img model.DependencyStatus
	var images int
	for _, r := range env.Charts.Check(ctx) {
		if r.IsImage() {
			img = r
			images++
		} else if r.Kind != model.KindChart {
			t.Errorf("chart row %s has kind %q", r.Dependency, r.Kind)
		}
	}
	if images != 1 { // the chartpress placeholder has no row
		t.Fatalf("%d image rows, want 1", images)
	}
	host, _, _ := strings.Cut(img.Image, "/")
	if !loopback.Host(host) {
		t.Errorf("the demo's image %s is not on a loopback registry", img.Image)
	}
	type row struct {
		kind                                       model.DependencyKind
		file, dep, path, image, cur, latest, entry string
		line                                       int
		state                                      model.DependencyState
	}
	got := row{img.Kind, img.File, img.Dependency, img.Path, img.Image, img.Current, img.Latest.Version, img.Entry, img.Line, img.State}
	want := row{model.KindImage, ValuesFile, "binderhub.config.BinderHub.build_image", "binderhub.config.BinderHub.build_image",
		host + "/" + Repo2docker, Repo2dockerPinned, Repo2dockerNewest, File, 7, model.StateOutdated}
	if got != want {
		t.Fatalf("image row\n got %+v\nwant %+v", got, want)
	}
	if img.Latest.Created.Year() != 2025 || len(img.Latest.Sources) != 1 ||
		img.ImageCompare != "https://github.com/jupyterhub/repo2docker/compare/47ea95a...5e9e3d0" {
		t.Errorf("newest tag's description: created %s, sources %v, compare %q", img.Latest.Created, img.Latest.Sources, img.ImageCompare)
	}

	before, _ := env.GitHub.File(Owner, Repo, "main", ValuesFile)
	opened, err := env.Charts.Open(ctx, []model.DependencyStatus{img})
	if err != nil {
		t.Fatal(err)
	}
	if opened[0].State != model.StatePROpened {
		t.Fatalf("after Open: %+v", opened[0])
	}
	prs := env.GitHub.PullRequests(Owner, Repo)
	if len(prs) != 1 {
		t.Fatalf("%d PRs, want 1", len(prs))
	}
	after, ok := env.GitHub.File(Owner, Repo, prs[0].HeadRef, ValuesFile)
	if !ok {
		t.Fatal("no values file on the PR branch")
	}
	wantAfter := strings.Replace(before, ":"+Repo2dockerPinned+" #", ":"+Repo2dockerNewest+" #", 1)
	if after != wantAfter || after == before {
		t.Errorf("the PR's values file is not exactly the tag changed on its line:\n%s", after)
	}
	chart, _ := env.GitHub.File(Owner, Repo, prs[0].HeadRef, File)
	if main, _ := env.GitHub.File(Owner, Repo, "main", File); chart != main {
		t.Error("the image's PR changed the chart file")
	}
	if w := "Bump " + img.Image + " from " + Repo2dockerPinned + " to " + Repo2dockerNewest; prs[0].Title != w {
		t.Errorf("title %q, want %q", prs[0].Title, w)
	}
	for _, w := range []string{"Source: https://github.com/jupyterhub/repo2docker", "compare/47ea95a...5e9e3d0", "`binderhub.config.BinderHub.build_image`"} {
		if !strings.Contains(prs[0].Body, w) {
			t.Errorf("body lacks %q:\n%s", w, prs[0].Body)
		}
	}
	// The next check finds it open, and proposes nothing again.
	for _, r := range env.Charts.Check(ctx) {
		if r.IsImage() && (r.State != model.StatePROpen || r.PRNumber != prs[0].Number) {
			t.Errorf("after the PR, the image row is %s #%d", r.State, r.PRNumber)
		}
	}
}
