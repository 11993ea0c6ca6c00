package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/headless"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestDemoStatusIssue: `--demo --headless --json` opens the demo's status
// issue, and the report names it.
func TestDemoStatusIssue(t *testing.T) {
	azuretest.HermeticEnv(t)
	rep, _ := demoHeadless(t)
	if rep.GitHub == nil || len(rep.GitHub.StatusIssues) != 1 {
		t.Fatalf("github: %+v", rep.GitHub)
	}
	s := rep.GitHub.StatusIssues[0]
	if s.Repository != "binderhub-ops/hub-deploy" || s.Outcome != "created" || s.Number <= 0 || !strings.Contains(s.URL, "/issues/") {
		t.Errorf("status issue %+v", s)
	}
}

// TestOnlyRegistryStatusIssue: with github.status_issue on, a registry-only
// run still resolves the GitHub token to write the registry's part of
// each deployment repository's issue, once per repository; without the
// token the issue is a warning and the run's exit code stands.
func TestOnlyRegistryStatusIssue(t *testing.T) {
	reg := registrytest.Serve(t)
	gh := githubtest.NewServer()
	t.Cleanup(gh.Close)
	for _, r := range []string{"deploy", "staging"} {
		gh.AddRepository("hub", r, "main", map[string]string{"chart/Chart.yaml": "apiVersion: v2\nname: x\n"})
	}
	config := "registry:\n  url: " + reg.Host() + "\n" +
		"github:\n  api_url: " + gh.URL() + "\n  token: env:HUB_GITHUB_TOKEN\n  status_issue: true\n" +
		"charts:\n  - repository: hub/deploy\n    file: chart/Chart.yaml\n  - repository: Hub/Deploy\n    file: other/Chart.yaml\n" +
		"  - repository: hub/staging\n    file: chart/Chart.yaml\nretry: {max_attempts: 1}\n"

	code, stdout, stderr := runConfigHeadless(t, config, map[string]string{"HUB_GITHUB_TOKEN": gh.Token()}, "--only", "registry", "--json")
	if code != headless.ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var rep headless.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || rep.GitHub == nil {
		t.Fatalf("report (%v): %s", err, stdout)
	}
	if n := len(rep.GitHub.StatusIssues); n != 2 {
		t.Errorf("%d status issues, want one for each of hub/deploy and hub/staging: %+v", n, rep.GitHub.StatusIssues)
	}
	for _, r := range []string{"deploy", "staging"} {
		is := gh.Issues("hub", r)
		if len(is) != 1 || !model.IsStatusIssue(is[0].Body) || !strings.Contains(is[0].Body, reg.Host()) ||
			!strings.Contains(is[0].Body, "## Dependencies\n\n_Not checked yet._") {
			t.Errorf("hub/%s: %+v", r, is)
		}
	}

	code, _, stderr = runConfigHeadless(t, config, nil, "--only", "registry")
	if code != headless.ExitOK || !strings.Contains(stderr, "status issues not updated: no GitHub client") || !strings.Contains(stderr, "HUB_GITHUB_TOKEN") {
		t.Errorf("without the token: exit %d\n%s", code, stderr)
	}
}
