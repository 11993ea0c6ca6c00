package headless

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
)

// TestReportPullRequestStatus: a run opens PRs and records itself; by the
// next run one PR's checks fail and another PR was merged. The report
// says so in its rows and the text summary.
func TestReportPullRequestStatus(t *testing.T) {
	env := startDemo(t)
	run := func(apply, asJSON bool) string {
		t.Helper()
		env.Charts.UseHistory(env.History) // a new run reads the history afresh
		var out bytes.Buffer
		Run(context.Background(), Options{Apply: apply, JSON: asJSON, Charts: env.Charts, Stdout: &out, History: env.History, Now: func() time.Time { return now }})
		return out.String()
	}
	run(true, true)
	prs := env.GitHub.PullRequests(demo.Owner, demo.Repo)
	number := map[string]githubtest.PullRequest{}
	for _, p := range prs {
		for _, dep := range []string{"binderhub", "ingress-nginx", "traefik"} {
			if strings.Contains(p.Title, "Bump "+dep+" ") {
				number[dep] = p
			}
		}
	}
	if len(number) != 3 {
		t.Fatalf("the first run opened %+v", prs)
	}
	if _, err := env.GitHub.AddCheckRun(demo.Owner, demo.Repo, number["binderhub"].HeadSHA, githubtest.CheckRun{Name: "test", Conclusion: "failure"}); err != nil {
		t.Fatal(err)
	}
	if err := env.GitHub.MergePullRequest(demo.Owner, demo.Repo, number["ingress-nginx"].Number); err != nil {
		t.Fatal(err)
	}

	out := run(false, true)
	var raw struct {
		Charts []map[string]any `json:"charts"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rows := map[string]map[string]any{}
	for _, c := range raw.Charts {
		rows[c["dependency"].(string)] = c
	}
	hub := rows["binderhub"]
	if hub["pull_request_state"] != "open" || hub["checks"] != "failing" || hub["mergeable"] != true || hub["mergeable_state"] != "unstable" ||
		hub["pull_request_created_at"] == nil || len(hub["failing_checks"].([]any)) != 1 || hub["merged_since_last_run"] != nil {
		t.Errorf("binderhub row: %v", hub)
	}
	if tr := rows["traefik"]; tr["pull_request_state"] != "open" || tr["checks"] != "none" || tr["mergeable_state"] != "clean" {
		t.Errorf("traefik row: %v", tr)
	}
	nginx := rows["ingress-nginx"]
	merged, _ := nginx["merged_since_last_run"].(map[string]any)
	if nginx["status"] != "up-to-date" || nginx["pull_request_state"] != "merged" || merged == nil ||
		merged["url"] != number["ingress-nginx"].HTMLURL || merged["number"] != float64(number["ingress-nginx"].Number) || merged["merged_at"] == nil {
		t.Errorf("ingress-nginx row: %v", nginx)
	}
	if j := rows["jupyterhub"]; j["pull_request_state"] != nil || j["checks"] != nil || j["mergeable"] != nil {
		t.Errorf("jupyterhub, without a PR: %v", j)
	}

	// The text summary: the second run's was recorded, so the merge is
	// reported once more only to an engine that has not seen that run.
	text := run(false, false)
	for _, want := range []string{"(checks failing: test; mergeable (unstable))", "(checks none; mergeable (clean))"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "merged #") {
		t.Errorf("the run after the one that reported the merge reports it again:\n%s", text)
	}
}

func TestPRNote(t *testing.T) {
	no := false
	got := prNote(ChartReport{Checks: "pending", Mergeable: &no, MergeableState: "dirty",
		MergedSinceLastRun: &MergedReport{Number: 12, URL: "https://github.com/o/r/pull/12"}})
	if want := " (checks pending; not mergeable (dirty)) merged #12 since the last run https://github.com/o/r/pull/12"; got != want {
		t.Errorf("prNote = %q, want %q", got, want)
	}
	if got := prNote(ChartReport{Checks: "unknown", MergeableState: "unknown"}); got != " (checks unknown; mergeable unknown)" {
		t.Errorf("unknown: %q", got)
	}
	if got := prNote(ChartReport{}); got != "" {
		t.Errorf("no PR: %q", got)
	}
}
