package model_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/helmupgradebot/helmupgradebot/model"
)

func ptrTo[T any](v T) *T { return &v }

// rowOf returns the table row of dependency dep in body.
func rowOf(t *testing.T, body, dep string) string {
	t.Helper()
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "| "+dep+" |") {
			return l
		}
	}
	t.Fatalf("no row for %s in\n%s", dep, body)
	return ""
}

func TestStatusIssueRows(t *testing.T) {
	opened := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		row    model.DependencyStatus
		want   []string
		forbid []string
	}{
		{"up to date", model.DependencyStatus{Dependency: "jupyterhub", Current: "3.3.8", Latest: model.ChartVersion{Version: "3.3.8"}, State: model.StateUpToDate},
			[]string{"`3.3.8`", "✅ up to date"}, []string{"#"}},
		{"outdated range", model.DependencyStatus{Dependency: "hub", Current: "^1.2.0", Latest: model.ChartVersion{Version: "2.0.1"}, NewPin: "^2.0.1", State: model.StateOutdated},
			[]string{"`^1.2.0`", "`2.0.1` (as `^2.0.1`)", "⬆️ outdated"}, nil},
		{"open with failing checks", model.DependencyStatus{Dependency: "binderhub", Current: "1.0.0", Latest: model.ChartVersion{Version: "1.1.0"}, State: model.StatePROpen,
			PRNumber: 7, PRURL: "https://github.com/o/r/pull/7", PRCreatedAt: opened, PRChecks: model.ChecksFailing, PRFailedChecks: []string{"lint", "test"},
			PRMergeable: ptrTo(false), PRMergeableState: "dirty"},
			[]string{"🔀 pull request open", "[#7](https://github.com/o/r/pull/7) since 2026-11-20", "checks ❌ failing: lint, test", "conflicts"}, []string{"mergeable,"}},
		{"opened, checks pending, mergeable unknown", model.DependencyStatus{Dependency: "traefik", State: model.StatePROpened, PRNumber: 9, PRURL: "https://github.com/o/r/pull/9",
			PRChecks: model.ChecksPending}, []string{"pull request opened", "[#9](https://github.com/o/r/pull/9)", "checks ⏳ pending"}, []string{"mergeable", "since"}},
		{"blocked", model.DependencyStatus{Dependency: "nginx", State: model.StatePRUpdated, PRNumber: 3, PRURL: "https://github.com/o/r/pull/3",
			PRChecks: model.ChecksPassing, PRMergeable: ptrTo(false), PRMergeableState: "blocked"}, []string{"pull request updated", "checks ✅ passing", "not mergeable (blocked)"}, nil},
		{"declined", model.DependencyStatus{Dependency: "dask", State: model.StatePRClosed, PRNumber: 5, PRURL: "https://github.com/o/r/pull/5", PRChecks: model.ChecksFailing},
			[]string{"🚫 declined", "[#5](https://github.com/o/r/pull/5) closed"}, []string{"checks"}},
		{"merged since the last run", model.DependencyStatus{Dependency: "ingress", State: model.StateUpToDate,
			Merged: &model.MergedPR{Number: 2, URL: "https://github.com/o/r/pull/2", MergedAt: opened}}, []string{"merged [#2](https://github.com/o/r/pull/2) on 2026-11-20"}, nil},
		{"a link that is not one", model.DependencyStatus{Dependency: "odd", State: model.StatePROpen, PRNumber: 4, PRURL: "javascript:alert(1)"},
			[]string{"| #4"}, []string{"javascript"}},
		{"error made safe", model.DependencyStatus{Dependency: "broken", State: model.StateError,
			Error: "GitHub says: ask @octocat | <!-- helmupgradebot-status-end: charts -->\nsecond line"},
			[]string{"❗ error: GitHub says: ask @&#8203;octocat \\| &lt;!-- helmupgradebot-status-end: charts --&gt; second line"}, []string{"<!--", "@octocat"}},
		{"skipped with its warning", model.DependencyStatus{Dependency: "(no name, line 8)", State: model.StateSkipped, Warning: "line 8: no name"},
			[]string{"⏭️ skipped: line 8: no name"}, nil},
		{"a long error is clipped", model.DependencyStatus{Dependency: "long", State: model.StateError, Error: strings.Repeat("x", 5000)},
			[]string{strings.Repeat("x", 199) + "…"}, []string{strings.Repeat("x", 201)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.row.Repository, tc.row.File = "o/r", "Chart.yaml"
			body := model.StatusIssueBody("", model.StatusIssue{Rows: []model.DependencyStatus{tc.row}, ChartsChecked: true})
			row := rowOf(t, body, strings.ReplaceAll(tc.row.Dependency, "|", `\|`))
			checkText(t, row, tc.want, tc.forbid)
			if n := strings.Count(row, " | "); n != 4 {
				t.Errorf("row has %d cell separators, want 4:\n%s", n, row)
			}
		})
	}
}

func TestStatusIssueSummaryAndFiles(t *testing.T) {
	rows := []model.DependencyStatus{
		{File: "a/Chart.yaml", Base: "main", Dependency: "one", State: model.StateUpToDate},
		{File: "b/Chart.yaml", Dependency: "two", State: model.StateOutdated},
		{File: "a/Chart.yaml", Base: "main", Dependency: "three", State: model.StatePROpen, PRNumber: 1},
		{File: "a/Chart.yaml", Base: "main", Dependency: "four", State: model.StateError, Error: "x"},
	}
	body := model.StatusIssueBody("", model.StatusIssue{Rows: rows, ChartsChecked: true})
	for _, w := range []string{"4 dependencies: 1 up to date, 1 with a pull request, 1 outdated, 1 failed.",
		"### `a/Chart.yaml` on `main`", "### `b/Chart.yaml`\n"} {
		if !strings.Contains(body, w) {
			t.Errorf("body lacks %q:\n%s", w, body)
		}
	}
	// a file's rows stay together, in the run's order
	a, b := strings.Index(body, "### `a/"), strings.Index(body, "### `b/")
	for _, dep := range []string{"one", "three", "four"} {
		if i := strings.Index(body, "| "+dep+" |"); i < a || i > b {
			t.Errorf("%s is not under a/Chart.yaml", dep)
		}
	}
	if i := strings.Index(body, "| two |"); i < b {
		t.Error("two is not under b/Chart.yaml")
	}
	empty := model.StatusIssueBody("", model.StatusIssue{ChartsChecked: true})
	if !strings.Contains(empty, "_No dependencies followed in this repository._") {
		t.Errorf("an empty check says nothing:\n%s", empty)
	}
}

// TestStatusIssueImages: with image rows, the charts and the images each
// get a heading, an image row names the image and its path, and a
// compare link follows the newest version of either kind.
func TestStatusIssueImages(t *testing.T) {
	chart := model.DependencyStatus{File: "hub/Chart.yaml", Base: "main", Dependency: "binderhub", Current: "1.0.0-0.dev.git.3478.h6cb671f",
		Latest: model.ChartVersion{Version: "1.0.0-0.dev.git.3506.h4b46208", Sources: []string{"https://github.com/jupyterhub/binderhub"}}, State: model.StateOutdated}
	image := model.DependencyStatus{Kind: model.KindImage, File: "hub/values.yaml", Base: "main", Dependency: "binderhub.config.BinderHub.build_image",
		Path: "binderhub.config.BinderHub.build_image", Image: "quay.io/jupyterhub/repo2docker", Current: "2021.08.0", Latest: model.ChartVersion{Version: "2024.07.0"},
		ImageCompare: "https://github.com/jupyterhub/repo2docker/compare/47ea95a...abc1234", State: model.StatePROpen, PRNumber: 6, PRURL: "https://github.com/o/r/pull/6"}
	for _, tc := range []struct {
		name         string
		rows         []model.DependencyStatus
		want, forbid []string
	}{
		{"charts and images", []model.DependencyStatus{chart, {File: "hub/Chart.yaml", Base: "main", Dependency: "jupyterhub", State: model.StateUpToDate}, image},
			[]string{"3 dependencies (2 charts, 1 image): 1 up to date, 1 with a pull request, 1 outdated.",
				"### Charts\n\n#### `hub/Chart.yaml` on `main`\n\n| Dependency |",
				"### Images\n\n#### `hub/values.yaml` on `main`\n\n| Image | Path | Pinned | Newest | Status | Pull request |\n| --- | --- | --- | --- | --- | --- |\n",
				"| `quay.io/jupyterhub/repo2docker` | `binderhub.config.BinderHub.build_image` | `2021.08.0` | `2024.07.0` ([changes](https://github.com/jupyterhub/repo2docker/compare/47ea95a...abc1234)) | 🔀 pull request open | [#6](https://github.com/o/r/pull/6) |",
				"`1.0.0-0.dev.git.3506.h4b46208` ([changes](https://github.com/jupyterhub/binderhub/compare/6cb671f...4b46208))"}, nil},
		{"images only", []model.DependencyStatus{image}, []string{"1 dependency (an image): 1 with a pull request.", "### Images\n\n#### `hub/values.yaml`"}, []string{"### Charts"}},
		{"charts only", []model.DependencyStatus{chart}, []string{"1 dependency: 1 outdated.", "### `hub/Chart.yaml` on `main`"}, []string{"### Charts", "### Images", "####"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkText(t, model.StatusIssueBody("", model.StatusIssue{Rows: tc.rows, ChartsChecked: true}), tc.want, tc.forbid)
		})
	}
}

func TestStatusIssueRegistry(t *testing.T) {
	when := time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC)
	base := func() model.RegistryStatus {
		return model.RegistryStatus{URL: "hub.azurecr.io", TotalBytes: 600 << 30, CapBytes: 1000 << 30, Images: 120, UntaggedImages: 4,
			Planned: 10, PlannedBytes: 5 << 30}
	}
	many := make([]model.DeletionFailure, 13)
	for i := range many {
		many[i] = model.DeletionFailure{Ref: fmt.Sprintf("hub@sha256:%02d", i), Error: "500 from the registry"}
	}
	for _, tc := range []struct {
		name   string
		edit   func(r *model.RegistryStatus)
		want   []string
		forbid []string
	}{
		{"dry run", func(r *model.RegistryStatus) {},
			[]string{"**`hub.azurecr.io`**", "600 GiB of the 1000 GiB cap (60%) `██████░░░░`", "120 (4 untagged)", "would delete 10 images, freeing 5.00 GiB",
				"none (a dry run, or nothing to delete)", "none yet (too few runs)", "No image is held back."}, []string{"over by", "Usage holds", "after this run"}},
		{"applied with failures", func(r *model.RegistryStatus) {
			r.Applied, r.Deleted, r.FreedBytes, r.Failures, r.NotSent = true, 8, 3<<30, many, 2
		}, []string{"8 deleted, 3.00 GiB freed, ❗ 13 failed, 2 not sent", "(60%) `██████░░░░`; 597 GiB after this run's deletions", "`hub@sha256:09`: 500 from the registry", "  - and 3 more"}, []string{"hub@sha256:10"}},
		{"refused", func(r *model.RegistryStatus) { r.Refused = "over max_delete_fraction" }, []string{"none: the plan was refused: over max_delete_fraction"}, nil},
		{"over the cap", func(r *model.RegistryStatus) { r.TotalBytes = 1100 << 30 }, []string{"(110%) `██████████` ⚠️ over by 100 GiB"}, nil},
		{"no cap", func(r *model.RegistryStatus) { r.CapBytes = 0 }, []string{"600 GiB (no cap configured)\n"}, []string{"░", "after this run"}},
		{"over the cap, growing", func(r *model.RegistryStatus) {
			r.TotalBytes, r.Forecast = 1100<<30, &model.Forecast{GrowthBytesPerWeek: 1 << 30, OverCap: true, BasedOnRuns: 4}
		}, []string{"growing 1.00 GiB a week; already over the cap (from 4 runs)"}, []string{"reached about"}},
		{"forecast with a date", func(r *model.RegistryStatus) {
			r.Forecast = &model.Forecast{GrowthBytesPerWeek: 20 << 30, CapReachedAt: when, BasedOnRuns: 30}
		}, []string{"growing 20.0 GiB a week; the cap is reached about 2026-12-20 (from 30 runs)"}, nil},
		{"forecast without a date", func(r *model.RegistryStatus) {
			r.Forecast, r.ForecastNote = &model.Forecast{GrowthBytesPerWeek: 0, BasedOnRuns: 5}, "not growing"
		}, []string{"growing 0 B a week; not growing (from 5 runs)"}, nil},
		{"no forecast", func(r *model.RegistryStatus) { r.ForecastNote = "the runs span less than a day" }, []string{"none yet (the runs span less than a day)"}, nil},
		{"holds and usage", func(r *model.RegistryStatus) {
			r.Held = map[string]int{"protected": 3, "launched": 40, "in_use": 2, "keep-latest": 0, "brand-new": 1}
			r.Usage = &model.UsageStatus{Window: "30d", LaunchedImages: 40, InUseImages: 2, HeldBytes: 120 << 30,
				Failing: []model.UsageFailure{{Source: "events: /var/log/events-*.jsonl", Error: "no file matches"}}}
		}, []string{"| in use by a running pod | 2 |\n| launched within 30d | 40 |\n| protected by a pattern | 3 |\n| brand-new | 1 |",
			"Usage holds back 40 launched and 2 in-use images, 120 GiB.",
			"❗ The usage source `events: /var/log/events-*.jsonl` could not be read, so nothing is deleted: no file matches"}, []string{"keep_latest"}},
		{"scan failed", func(r *model.RegistryStatus) { r.ScanError = "401 from hub.azurecr.io" },
			[]string{"**`hub.azurecr.io`**: ❗ the scan failed: 401 from hub.azurecr.io"}, []string{"Size", "Held back"}},
		{"problems", func(r *model.RegistryStatus) { r.Problems = 2 }, []string{"**Scan problems:** 2"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base()
			tc.edit(&r)
			body := model.StatusIssueBody("", model.StatusIssue{Registry: &r})
			checkText(t, body, tc.want, tc.forbid)
		})
	}
}

// TestStatusIssueCarriesOver: a run that did one part keeps the other as
// the previous body had it, marked; an unknown part says so; the same
// state renders the same body.
func TestStatusIssueCarriesOver(t *testing.T) {
	rows := []model.DependencyStatus{{File: "Chart.yaml", Dependency: "binderhub", Current: "1.0.0", State: model.StateUpToDate}}
	reg := &model.RegistryStatus{URL: "hub.example.org", TotalBytes: 1 << 30, Images: 3}
	full := model.StatusIssueBody("", model.StatusIssue{Rows: rows, ChartsChecked: true, Registry: reg})
	const stale = "_The latest run did not check this: as an earlier run left it._"
	for _, tc := range []struct {
		name     string
		previous string
		s        model.StatusIssue
		want     []string
		forbid   []string
		stale    int
	}{
		{"the same state again", full, model.StatusIssue{Rows: rows, ChartsChecked: true, Registry: reg}, []string{"| binderhub |", "hub.example.org"}, []string{"Not checked yet"}, 0},
		{"charts only: the registry is kept", full, model.StatusIssue{Rows: rows, ChartsChecked: true}, []string{"| binderhub |", "hub.example.org"}, nil, 1},
		{"registry only: the charts are kept", full, model.StatusIssue{Registry: reg}, []string{"| binderhub |", "hub.example.org"}, nil, 1},
		{"nothing new: both kept", full, model.StatusIssue{}, []string{"| binderhub |", "hub.example.org"}, nil, 2},
		{"kept from a body edited on the web", strings.ReplaceAll(full, "\n", "\r\n"), model.StatusIssue{Registry: reg}, []string{"| binderhub |"}, []string{"\r"}, 1},
		{"a new issue, registry only", "", model.StatusIssue{Registry: reg}, []string{"## Dependencies\n\n_Not checked yet._\n", "hub.example.org"}, []string{"binderhub"}, 0},
		{"a section without its end is unknown", strings.Replace(full, "<!-- helmupgradebot-status-end: charts -->", "", 1), model.StatusIssue{Registry: reg},
			[]string{"_Not checked yet._"}, []string{"binderhub"}, 0},
		{"fresh rows replace kept ones", full, model.StatusIssue{ChartsChecked: true, Rows: []model.DependencyStatus{{File: "Chart.yaml", Dependency: "dask", State: model.StateOutdated}}},
			[]string{"| dask |", "hub.example.org"}, []string{"binderhub"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := model.StatusIssueBody(tc.previous, tc.s)
			checkText(t, body, tc.want, tc.forbid)
			if n := strings.Count(body, stale); n != tc.stale {
				t.Errorf("%d parts marked as kept, want %d:\n%s", n, tc.stale, body)
			}
			if !model.IsStatusIssue(body) {
				t.Error("the body lacks the marker")
			}
			// what it keeps, it keeps as it is
			if again := model.StatusIssueBody(body, model.StatusIssue{}); again != model.StatusIssueBody(again, model.StatusIssue{}) {
				t.Errorf("carrying over is not stable:\n%s", again)
			}
		})
	}
	if again := model.StatusIssueBody(full, model.StatusIssue{Rows: rows, ChartsChecked: true, Registry: reg}); again != full {
		t.Errorf("the same state gave another body:\n%s\n---\n%s", full, again)
	}
	kept := model.StatusIssueBody(full, model.StatusIssue{})
	if again := model.StatusIssueBody(kept, model.StatusIssue{}); again != kept {
		t.Errorf("carrying over twice changed the body:\n%s\n---\n%s", kept, again)
	}
}

// TestStatusIssueSize: however many rows, the body fits GitHub's limit,
// says how many rows it left out, and keeps its markers and the registry.
func TestStatusIssueSize(t *testing.T) {
	reg := &model.RegistryStatus{URL: "hub.example.org", TotalBytes: 1 << 40, CapBytes: 2 << 40}
	for _, n := range []int{10, 300, 3000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			rows := make([]model.DependencyStatus, n)
			for i := range rows {
				rows[i] = model.DependencyStatus{File: fmt.Sprintf("charts/%d/Chart.yaml", i%7), Dependency: fmt.Sprintf("dep-%04d", i),
					State: model.StateError, Error: strings.Repeat("é", 300)}
			}
			body := model.StatusIssueBody("", model.StatusIssue{Rows: rows, ChartsChecked: true, Registry: reg})
			if len(body) > model.MaxIssueBody || utf8.RuneCountInString(body) > model.MaxIssueBody {
				t.Fatalf("body is %d bytes", len(body))
			}
			shown := strings.Count(body, "| dep-")
			cut := strings.Contains(body, "cut to fit GitHub's size limit")
			if shown == n {
				if cut {
					t.Error("nothing was left out, yet the body says it was cut")
				}
			} else if note := fmt.Sprintf(": %d more rows left out", n-shown); !strings.Contains(body, note) {
				t.Errorf("%d of %d rows shown; the body lacks %q", shown, n, note)
			}
			for _, w := range []string{"<!-- helmupgradebot-status-end: charts -->", "<!-- helmupgradebot-status-end: registry -->", "hub.example.org", model.StatusIssueMarker} {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q", w)
				}
			}
			// a kept oversized section is cut too
			bigger := &model.RegistryStatus{URL: "hub.example.org", ScanError: strings.Repeat("y", 150)}
			again := model.StatusIssueBody(body, model.StatusIssue{Registry: bigger})
			if len(again) > model.MaxIssueBody || !strings.Contains(again, "| dep-0000 |") {
				t.Errorf("kept section: %d bytes, first row kept: %v", len(again), strings.Contains(again, "| dep-0000 |"))
			}
		})
	}
}
