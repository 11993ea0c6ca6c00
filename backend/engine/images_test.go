package engine_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/demo/demotest"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/retry"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// imageRetry gives up quickly: a registry that is down or stalls costs
// its rows little time.
var imageRetry = retry.Policy{MaxAttempts: 2, MaxWait: 2 * time.Second, BaseDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond, StallTimeout: time.Second}

// startImages runs the demo with its values file, the clients under
// imageRetry.
func startImages(t *testing.T, configure func(*config.Config)) *demo.Env {
	t.Helper()
	return demotest.Serve(t, demo.WithNow(now), demo.WithConfigure(configure),
		demo.WithPopulation(smallPopulation()), demo.WithRetry(imageRetry))
}

// setValues replaces a values file of the deployment on main.
func setValues(t *testing.T, env *demo.Env, path, content string) {
	t.Helper()
	setChart(t, env, path, content)
}

// stalled is a registry that accepts connections and never answers.
func stalled(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// richValues pins the demo's repo2docker image every way a values file
// can, on the registry at host; down is a registry that refuses
// connections, slow one that never answers.
func richValues(host, down, slow string) string {
	r2d := host + "/" + demo.Repo2docker
	return `binderhub:
  config:
    BinderHub:
      build_image: ` + r2d + `:2021.08.0-136.g47ea95a # henchbot's
current:
  image: "` + r2d + `:` + demo.Repo2dockerNewest + `"
release:
  image:
    registry: ` + host + `
    repository: ` + demo.Repo2docker + `
    tag: '2022.02.0' # releases only
pinned:
  image: ` + r2d + `@sha256:5a642dfa4769f656efb6d3349f7ab94a4490d155773987df0aebe19a9a982efb
chartpress:
  image:
    name: ` + host + `/jupyterhub/k8s-binderhub
    tag: set-by-chartpress
branch:
  image: ` + r2d + `:main
unlisted:
  image: ` + r2d + `:2099.01.0
down:
  image: ` + down + `/nobody/here:1.0.0
slow:
  image: ` + slow + `/nobody/here:1.0.0
anchored:
  image:
    repository: ` + r2d + `
    tag: &r2d 2022.10.0-101.g8ed6d2a
  again:
    image:
      repository: ` + r2d + `
      tag: *r2d
`
}

// TestImageRows: each reference of a values file is a row beside the chart
// rows, with its state; what cannot be looked up is an error row of its
// own, naming the registry, and the chart rows do not notice.
func TestImageRows(t *testing.T) {
	ctx := context.Background()
	env := startImages(t, func(c *config.Config) {
		c.Charts[0].Values = append(c.Charts[0].Values, "hub/broken.yaml", "hub/missing.yaml")
	})
	down := "127.0.0.1:1"
	slow := stalled(t)
	setValues(t, env, demo.ValuesFile, richValues(env.ImageRegistry, down, slow))
	setValues(t, env, "hub/broken.yaml", "a: 1\nb: c: d\n")

	start := time.Now()
	rows := env.Charts.Check(ctx)
	if took := time.Since(start); took > 3*imageRetry.MaxWait {
		t.Errorf("the check took %s: a stalled registry held it past the retry policy's %s", took, imageRetry.MaxWait)
	}
	byPath := map[string]model.DependencyStatus{}
	var fileErrors []model.DependencyStatus
	for _, r := range rows {
		switch {
		case r.IsImage() && r.Dependency == "":
			fileErrors = append(fileErrors, r)
		case r.IsImage():
			if _, dup := byPath[r.Dependency]; dup {
				t.Errorf("two rows for %s", r.Dependency)
			}
			byPath[r.Dependency] = r
		case r.Kind != model.KindChart:
			t.Errorf("chart row %s has kind %q", r.Dependency, r.Kind)
		}
	}
	wantCharts := map[string]model.DependencyState{"binderhub": model.StateOutdated, "jupyterhub": model.StateUpToDate,
		"ingress-nginx": model.StateOutdated, "traefik": model.StateOutdated}
	for dep, st := range wantCharts {
		if r := row(t, rows, dep); r.State != st {
			t.Errorf("chart row %s is %s beside the images, want %s: %s", dep, r.State, st, r.Error)
		}
	}

	tests := []struct {
		path   string
		state  model.DependencyState
		latest string
		says   []string // in the error or warning
	}{
		{"binderhub.config.BinderHub.build_image", model.StateOutdated, demo.Repo2dockerNewest, nil},
		{"current.image", model.StateUpToDate, demo.Repo2dockerNewest, nil},
		{"release.image", model.StateOutdated, "2023.06.0", nil},
		{"pinned.image", model.StateSkipped, "", []string{"pinned by digest", "left alone"}},
		{"branch.image", model.StateSkipped, "", []string{`"main" has no order`, "images.exclude"}},
		{"unlisted.image", model.StateError, "", []string{"hub/values.yaml line 21", env.ImageRegistry + " does not list the tag 2099.01.0"}},
		{"down.image", model.StateError, "", []string{"hub/values.yaml line 23", "on " + down}},
		{"slow.image", model.StateError, "", []string{"hub/values.yaml line 25", "on " + slow}},
		{"anchored.image", model.StateError, demo.Repo2dockerNewest, []string{"has " + demo.Repo2dockerNewest + " newer", "anchor &r2d", "edit it by hand"}},
		{"anchored.again.image", model.StateError, demo.Repo2dockerNewest, []string{"alias *r2d", "edit it by hand"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r, ok := byPath[tt.path]
			if !ok {
				t.Fatalf("no row")
			}
			if r.State != tt.state || r.Latest.Version != tt.latest {
				t.Errorf("state %s latest %q, want %s %q (error %q, warning %q)", r.State, r.Latest.Version, tt.state, tt.latest, r.Error, r.Warning)
			}
			if r.File != demo.ValuesFile || r.Path != tt.path || r.Entry != demo.File || r.Image == "" || r.Line == 0 {
				t.Errorf("row does not say where: %+v", r)
			}
			for _, w := range tt.says {
				if !strings.Contains(r.Error+r.Warning, w) {
					t.Errorf("%q / %q lacks %q", r.Error, r.Warning, w)
				}
			}
		})
	}
	if _, ok := byPath["chartpress.image"]; ok {
		t.Error("a placeholder tag has a row")
	}
	if len(byPath) != len(tests) {
		t.Errorf("%d image rows, want %d", len(byPath), len(tests))
	}
	wantFiles := map[string]string{"hub/broken.yaml": "values file hub/broken.yaml line 2: mapping values are not allowed", "hub/missing.yaml": "hub/missing.yaml"}
	for _, r := range fileErrors {
		if w, ok := wantFiles[r.File]; !ok || r.State != model.StateError || !strings.Contains(r.Error, w) {
			t.Errorf("file error row %s: %s %q, want an error naming %q", r.File, r.State, r.Error, w)
		}
		delete(wantFiles, r.File)
	}
	for f := range wantFiles {
		t.Errorf("no error row for %s", f)
	}
}

// TestImageRules: an entry's images rules choose the images and the tags.
func TestImageRules(t *testing.T) {
	tests := []struct {
		name  string
		rules config.ImageRules
		want  map[string]string // path → newest tag ("" up to date); only these rows
	}{
		{"every image", config.ImageRules{}, map[string]string{"build_image": demo.Repo2dockerNewest, "release": "2023.06.0", "hub": ""}},
		{"include", config.ImageRules{Include: []string{"*/jupyterhub/repo2docker"}}, map[string]string{"build_image": demo.Repo2dockerNewest, "release": "2023.06.0"}},
		{"exclude as written", config.ImageRules{Exclude: []string{"*/jupyterhub/repo2docker"}}, map[string]string{"hub": ""}},
		{"prereleases", config.ImageRules{Prereleases: true}, map[string]string{"build_image": demo.Repo2dockerNewest, "release": demo.Repo2dockerNewest, "hub": ""}},
		{"constraint", config.ImageRules{Constraint: "<2023"}, map[string]string{"build_image": "2022.10.0-101.g8ed6d2a", "release": "", "hub": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := startImages(t, func(c *config.Config) { c.Charts[0].Images = tt.rules })
			if err := env.PushImage(context.Background(), "jupyterhub/k8s-hub", "4.1.0", now); err != nil {
				t.Fatal(err)
			}
			r2d := env.ImageRegistry + "/" + demo.Repo2docker
			setValues(t, env, demo.ValuesFile, "build_image: "+r2d+":2021.08.0-136.g47ea95a\nrelease:\n  image: "+r2d+":2022.02.0\n"+
				"hub:\n  image:\n    name: "+env.ImageRegistry+"/jupyterhub/k8s-hub\n    tag: 4.1.0\n")
			got := map[string]string{}
			for _, r := range env.Charts.Check(context.Background()) {
				if !r.IsImage() {
					continue
				}
				key, _, _ := strings.Cut(r.Path, ".")
				switch r.State {
				case model.StateOutdated:
					got[key] = r.Latest.Version
				case model.StateUpToDate:
					got[key] = ""
				default:
					t.Errorf("%s: %s %s", r.Path, r.State, r.Error)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("rows %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s: %q (row %v), want %q", k, g, ok, v)
				}
			}
		})
	}
}

// imageRow is the demo's repo2docker row.
func imageRow(t *testing.T, rows []model.DependencyStatus) model.DependencyStatus {
	t.Helper()
	return row(t, rows, "binderhub.config.BinderHub.build_image")
}

// TestImagePullRequests: an image's pull request changes its one line, is
// not opened twice, is moved to a newer tag, and once closed declines
// that tag only.
func TestImagePullRequests(t *testing.T) {
	ctx := context.Background()
	env := startImages(t, func(*config.Config) {})
	main, _ := env.GitHub.File(demo.Owner, demo.Repo, "main", demo.ValuesFile)
	branchFile := func(pr int) string {
		t.Helper()
		for _, p := range env.GitHub.PullRequests(demo.Owner, demo.Repo) {
			if p.Number == pr {
				f, _ := env.GitHub.File(demo.Owner, demo.Repo, p.HeadRef, demo.ValuesFile)
				return f
			}
		}
		t.Fatalf("no PR #%d", pr)
		return ""
	}
	oneLine := func(content, tag string) {
		t.Helper()
		want := strings.Replace(main, ":"+demo.Repo2dockerPinned+" ", ":"+tag+" ", 1)
		if content != want {
			t.Errorf("the PR's values file is not main with the tag %s on its one line:\n%s", tag, engine.LineDiff([]byte(want), []byte(content)))
		}
	}

	img := imageRow(t, env.Charts.Check(ctx))
	p, err := env.Charts.Preview([]model.DependencyStatus{img})
	if err != nil {
		t.Fatal(err)
	}
	if p.Diff != "-7:       build_image: "+img.Image+":"+demo.Repo2dockerPinned+" # the image BinderHub builds with\n"+
		"+7:       build_image: "+img.Image+":"+demo.Repo2dockerNewest+" # the image BinderHub builds with\n" ||
		len(p.Files) != 1 || p.Files[0] != demo.ValuesFile || !strings.HasSuffix(p.Branch, "/binderhub-config-binderhub-build-image-"+p.Branch[len(p.Branch)-7:]) {
		t.Errorf("preview: files %v branch %s diff\n%s", p.Files, p.Branch, p.Diff)
	}
	first := open(t, env, img)
	if first.State != model.StatePROpened {
		t.Fatalf("opened: %+v", first)
	}
	oneLine(branchFile(first.PRNumber), demo.Repo2dockerNewest)

	// No duplicate: the next check finds it open, and Open finds it too.
	img = imageRow(t, env.Charts.Check(ctx))
	if img.State != model.StatePROpen || img.PRNumber != first.PRNumber {
		t.Fatalf("after the PR: %+v", img)
	}
	if again := open(t, env, img); again.State != model.StatePROpen || len(env.GitHub.PullRequests(demo.Owner, demo.Repo)) != 1 {
		t.Errorf("second Open: %+v", again)
	}

	// A newer build: the PR is moved to it.
	newer := "2025.01.0-12.gabc1234"
	if err := env.PushImage(ctx, demo.Repo2docker, newer, now); err != nil {
		t.Fatal(err)
	}
	img = imageRow(t, env.Charts.Check(ctx))
	if img.State != model.StateOutdated || img.PRNumber != first.PRNumber || img.Latest.Version != newer {
		t.Fatalf("with a newer build: %+v", img)
	}
	moved := open(t, env, img)
	if moved.State != model.StatePRUpdated || moved.PRNumber != first.PRNumber {
		t.Fatalf("moved: %+v", moved)
	}
	oneLine(branchFile(first.PRNumber), newer)

	// Closed: not this tag, run after run; a newer one gets a fresh PR.
	if err := env.GitHub.ClosePullRequest(demo.Owner, demo.Repo, first.PRNumber); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if img = imageRow(t, env.Charts.Check(ctx)); img.State != model.StatePRClosed || img.PRNumber != first.PRNumber {
			t.Fatalf("declined %s: %+v", newer, img)
		}
	}
	newest := "2025.02.0-3.gdef5678"
	if err := env.PushImage(ctx, demo.Repo2docker, newest, now); err != nil {
		t.Fatal(err)
	}
	if img = imageRow(t, env.Charts.Check(ctx)); img.State != model.StateOutdated || img.Latest.Version != newest {
		t.Fatalf("after a newer build than the declined one: %+v", img)
	}
	fresh := open(t, env, img)
	if fresh.State != model.StatePROpened || fresh.PRNumber == first.PRNumber {
		t.Fatalf("fresh: %+v", fresh)
	}
	oneLine(branchFile(fresh.PRNumber), newest)
}

// TestGroupedImagePullRequest: group: true puts an entry's charts and
// images in one pull request, one commit changing both files; P does the
// same for an entry that is not grouped.
func TestGroupedImagePullRequest(t *testing.T) {
	for _, grouped := range []bool{true, false} {
		t.Run(map[bool]string{true: "group", false: "P"}[grouped], func(t *testing.T) {
			ctx := context.Background()
			env := startImages(t, func(c *config.Config) { c.Charts[0].Group = grouped })
			rows := outdated(env.Charts.Check(ctx))
			if len(rows) != 4 || !rows[3].IsImage() {
				t.Fatalf("outdated rows: %+v", rows)
			}
			p, err := env.Charts.Preview(rows)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(p.Branch, "/hub-chart-yaml/all") || len(p.Files) != 2 || p.Files[1] != demo.ValuesFile ||
				!strings.Contains(p.Diff, "+"+demo.ValuesFile+":7:") || !strings.Contains(p.Title, " to "+demo.Repo2dockerNewest+" in "+demo.File+", "+demo.ValuesFile) {
				t.Errorf("grouped preview: branch %s files %v title %q diff\n%s", p.Branch, p.Files, p.Title, p.Diff)
			}
			opened, err := env.Charts.Open(ctx, rows)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range opened {
				if r.State != model.StatePROpened || r.PRNumber != opened[0].PRNumber {
					t.Errorf("grouped open: %s %s #%d", r.Dependency, r.State, r.PRNumber)
				}
			}
			prs := env.GitHub.PullRequests(demo.Owner, demo.Repo)
			if len(prs) != 1 {
				t.Fatalf("%d PRs, want one grouped PR", len(prs))
			}
			commits := env.GitHub.Log(demo.Owner, demo.Repo, prs[0].HeadRef)
			mainLog := env.GitHub.Log(demo.Owner, demo.Repo, "main")
			if len(commits) != len(mainLog)+1 {
				t.Errorf("the grouped PR has %d commits over main, want one", len(commits)-len(mainLog))
			}
			values, _ := env.GitHub.File(demo.Owner, demo.Repo, prs[0].HeadRef, demo.ValuesFile)
			chart, _ := env.GitHub.File(demo.Owner, demo.Repo, prs[0].HeadRef, demo.File)
			if !strings.Contains(values, ":"+demo.Repo2dockerNewest+" #") || !strings.Contains(chart, "4.12.0") {
				t.Errorf("the grouped PR lacks a bump:\n%s\n%s", chart, values)
			}
			for _, r := range env.Charts.Check(ctx) {
				if r.State == model.StateOutdated {
					t.Errorf("after the grouped PR, %s is still outdated", r.Dependency)
				}
			}
		})
	}
}

func TestPreviewRefusesTwoEntries(t *testing.T) {
	env := startImages(t, func(*config.Config) {})
	img := imageRow(t, env.Charts.Check(context.Background()))
	other := img
	other.Entry = "elsewhere/Chart.yaml"
	if _, err := env.Charts.Preview([]model.DependencyStatus{img, other}); err == nil || !strings.Contains(err.Error(), "one charts entry") {
		t.Errorf("preview across entries: %v", err)
	}
}
