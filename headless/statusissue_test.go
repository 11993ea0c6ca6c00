package headless

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// issueRun is one headless run keeping the demo's status issue: its exit
// code, the report's github section as raw JSON and decoded, and the logs.
type issueRun struct {
	code int
	raw  map[string]any
	rep  Report
	logs string
}

func runWithIssue(t *testing.T, env *demo.Env, o Options) issueRun {
	t.Helper()
	var out, logs bytes.Buffer
	o.JSON, o.Stdout, o.Logger = true, &out, slog.New(slog.NewTextHandler(&logs, nil))
	o.StatusIssues = env.Charts.StatusIssues()
	r := issueRun{code: Run(context.Background(), o), logs: logs.String()}
	if err := json.Unmarshal(out.Bytes(), &r.raw); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out.String())
	}
	if err := json.Unmarshal(out.Bytes(), &r.rep); err != nil {
		t.Fatal(err)
	}
	return r
}

// theIssue is the demo repository's one issue, failing the test if there
// is not exactly one.
func theIssue(t *testing.T, env *demo.Env) githubtest.Issue {
	t.Helper()
	is := env.GitHub.Issues(demo.Owner, demo.Repo)
	if len(is) != 1 {
		t.Fatalf("the stand-in holds %d issues, want 1: %+v", len(is), is)
	}
	return is[0]
}

// TestStatusIssueDemo: a headless demo run opens the status issue in the
// demo's GitHub stand-in; later runs update that one issue as things
// change (pull requests opened, images deleted), and leave it alone when
// nothing did. The report lists it each time.
func TestStatusIssueDemo(t *testing.T) {
	env := startDemo(t)
	if env.Charts.StatusIssues() == nil {
		t.Fatal("the demo's status issue is off")
	}
	full := Options{Registry: env.Registry, Charts: env.Charts}
	repo := demo.Owner + "/" + demo.Repo
	var number int
	for i, tc := range []struct {
		name    string
		apply   bool
		outcome string
		want    []string
	}{
		{"a dry run opens it", false, "created", []string{"| binderhub |", "⬆️ outdated", "### Images", "repo2docker` | `", "would delete", "none (a dry run", env.Config.Registry.URL}},
		{"applying updates it", true, "updated", []string{"🔀 pull request opened", "/pull/", " deleted, "}},
		{"a dry run after it updates it", false, "updated", []string{"🔀 pull request open", "nothing to delete", "none (a dry run"}},
		{"nothing changed: left alone", false, "unchanged", []string{"🔀 pull request open"}},
	} {
		r := runWithIssue(t, env, Options{Apply: tc.apply, Registry: full.Registry, Charts: full.Charts})
		if r.code != ExitOK {
			t.Errorf("%s: exit %d\n%s", tc.name, r.code, r.logs)
		}
		raw, _ := r.raw["github"].(map[string]any)
		list, _ := raw["status_issues"].([]any)
		if len(list) != 1 {
			t.Fatalf("%s: github.status_issues %v", tc.name, r.raw["github"])
		}
		entry := list[0].(map[string]any)
		for _, k := range []string{"repository", "number", "url", "outcome"} {
			if _, ok := entry[k]; !ok {
				t.Errorf("%s: github.status_issues[0] lacks %q: %v", tc.name, k, entry)
			}
		}
		got := r.rep.GitHub.StatusIssues[0]
		is := theIssue(t, env)
		if i == 0 {
			number = is.Number
		}
		if got.Repository != repo || got.Outcome != tc.outcome || got.Number != number || is.Number != number || got.URL != is.HTMLURL || got.Error != "" {
			t.Errorf("%s: reported %+v, want %s #%d (%s)", tc.name, got, tc.outcome, number, is.HTMLURL)
		}
		if !strings.Contains(r.logs, "outcome="+tc.outcome) {
			t.Errorf("%s: the log does not say %s:\n%s", tc.name, tc.outcome, r.logs)
		}
		if is.Title != model.StatusIssueTitle || is.State != "open" || !model.IsStatusIssue(is.Body) || len(is.Body) > model.MaxIssueBody {
			t.Errorf("%s: issue %q %s, %d bytes, marked %v", tc.name, is.Title, is.State, len(is.Body), model.IsStatusIssue(is.Body))
		}
		for _, w := range tc.want {
			if !strings.Contains(is.Body, w) {
				t.Errorf("%s: the issue lacks %q:\n%s", tc.name, w, is.Body)
			}
		}
	}
	// Issues and pull requests share numbers: the PRs came after the issue.
	for _, p := range env.GitHub.PullRequests(demo.Owner, demo.Repo) {
		if p.Number == number {
			t.Errorf("pull request #%d has the issue's number", p.Number)
		}
	}

	// A registry-only run keeps the dependencies as the last run left them.
	before := theIssue(t, env).Body
	r := runWithIssue(t, env, Options{Registry: env.Registry})
	after := theIssue(t, env).Body
	if r.rep.GitHub.StatusIssues[0].Outcome != "updated" || !strings.Contains(after, "| binderhub |") ||
		!strings.Contains(after, "The latest run did not check this") || strings.Count(after, "The latest run did not check this") != 1 {
		t.Errorf("registry only: %+v\nbefore:\n%s\nafter:\n%s", r.rep.GitHub, before, after)
	}

	// The text summary names it.
	var out bytes.Buffer
	Run(context.Background(), Options{Registry: env.Registry, Charts: env.Charts, Stdout: &out, StatusIssues: env.Charts.StatusIssues()})
	if want := "status issue " + repo + ": updated #"; !strings.Contains(out.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, out.String())
	}
}

// TestStatusIssueClosedOrFailing: a person closed the issue: the run
// leaves it, opens no other and says so; an issue that cannot be written
// is a warning in the report and the log, and the exit code is the run's.
func TestStatusIssueClosedOrFailing(t *testing.T) {
	env := startDemo(t)
	o := Options{Registry: env.Registry, Charts: env.Charts}
	first := runWithIssue(t, env, o)
	is := theIssue(t, env)
	if err := env.GitHub.CloseIssue(demo.Owner, demo.Repo, is.Number); err != nil {
		t.Fatal(err)
	}
	closed := runWithIssue(t, env, Options{Apply: true, Registry: env.Registry, Charts: env.Charts})
	got := closed.rep.GitHub.StatusIssues[0]
	if got.Outcome != "closed" || got.Number != is.Number || closed.code != ExitOK || !strings.Contains(closed.logs, "status issue is closed") {
		t.Errorf("closed: exit %d, %+v\n%s", closed.code, got, closed.logs)
	}
	if now := theIssue(t, env); now.Body != is.Body || now.State != "closed" {
		t.Error("the closed issue was written or reopened")
	}
	if err := env.GitHub.ReopenIssue(demo.Owner, demo.Repo, is.Number); err != nil {
		t.Fatal(err)
	}
	if r := runWithIssue(t, env, o); r.rep.GitHub.StatusIssues[0].Outcome != "updated" || theIssue(t, env).Body == is.Body {
		t.Errorf("reopened: %+v", r.rep.GitHub.StatusIssues[0])
	}

	if err := env.GitHub.DisableIssues(demo.Owner, demo.Repo); err != nil {
		t.Fatal(err)
	}
	failed := runWithIssue(t, env, o)
	got = failed.rep.GitHub.StatusIssues[0]
	if got.Outcome != "failed" || !strings.Contains(got.Error, "issues are disabled") || failed.code != first.code ||
		!strings.Contains(failed.logs, "level=WARN msg=\"status issue not updated") {
		t.Errorf("failing: exit %d (a working run: %d), %+v\n%s", failed.code, first.code, got, failed.logs)
	}
}
