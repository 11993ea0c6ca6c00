package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/helmupgradebot/helmupgradebot/model"
	chartstab "github.com/helmupgradebot/helmupgradebot/ui/charts"
)

// prCharts is a chart service whose rows carry what the check read of
// their pull requests: failing checks, a conflict, pending checks, one
// GitHub would not describe, and a merge since the last run.
func prCharts() *fakeCharts {
	yes, no := true, false
	ver := func(v string) model.ChartVersion {
		return model.ChartVersion{Version: v, Created: fixedNow.Add(-4 * 24 * time.Hour)}
	}
	const repo, file = "jupyterhub/mybinder.org-deploy", "mybinder/Chart.yaml"
	url := func(n int) string { return fmt.Sprintf("https://github.com/%s/pull/%d", repo, n) }
	return &fakeCharts{nextPR: 200, rows: []model.DependencyStatus{
		{Repository: repo, File: file, Base: "main", Dependency: "binderhub", Current: "1.0.0-0.dev.git.3440.h1e0b0d0",
			Latest: ver("1.0.0-0.dev.git.3506.hba24eb2a"), State: model.StatePROpen, PRNumber: 101, PRURL: url(101),
			PRCreatedAt: fixedNow.Add(-3 * 24 * time.Hour), PRMergeable: &yes, PRMergeableState: "unstable",
			PRChecks: model.ChecksFailing, PRFailedChecks: []string{"test", "lint"}},
		{Repository: repo, File: file, Base: "main", Dependency: "jupyterhub", Current: "3.3.7", Latest: ver("3.3.8"),
			State: model.StateOutdated, PRNumber: 90, PRURL: url(90), PRCreatedAt: fixedNow.Add(-15 * 24 * time.Hour),
			PRMergeable: &no, PRMergeableState: "dirty", PRChecks: model.ChecksPending},
		{Repository: repo, File: file, Base: "main", Dependency: "ingress-nginx", Current: "4.12.0", Latest: ver("4.12.0"),
			State: model.StateUpToDate, Merged: &model.MergedPR{Number: 88, URL: url(88), MergedAt: fixedNow.Add(-5 * time.Hour)}},
		{Repository: repo, File: "config/prod/Chart.yaml", Base: "main", Dependency: "traefik", Current: "33.0.0", Latest: ver("34.1.0"),
			State: model.StatePROpen, PRNumber: 77, PRURL: url(77), PRMergeableState: "unknown", PRChecks: model.ChecksUnknown},
		{Repository: repo, File: "config/prod/Chart.yaml", Base: "main", Dependency: "cert-manager", Current: "1.16.1", Latest: ver("1.16.2"),
			State: model.StatePROpen, PRNumber: 95, PRURL: url(95), PRCreatedAt: fixedNow.Add(-26 * time.Hour),
			PRMergeable: &yes, PRMergeableState: "clean", PRChecks: model.ChecksPassing},
	}}
}

func TestChartsPRStatus(t *testing.T) {
	reg := newFakeRegistry(genInventory(120, 7, fixedNow), demoPolicy(15<<30))
	for _, size := range [][2]int{{80, 24}, {160, 48}, {60, 20}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			d := newDriver(t, New(reg, prCharts(), WithNoColor(), WithSize(size[0], size[1])))
			d.settle()
			d.press("r") // the check's status line, not the scan's
			s := d.screen()
			wide := size[0] >= chartstab.PRWideAt
			want := map[string]string{
				"binderhub":     "3d ✗ mergeable",
				"jupyterhub":    "2w * conflict",
				"ingress-nginx": "merged #88 5h",
				"traefik":       "? merge?",
				"cert-manager":  "26h ✓ mergeable",
			}
			if wide {
				want = map[string]string{
					"binderhub":     "3d · ✗ checks fail · mergeable",
					"jupyterhub":    "2w · * checks pending · conflicts",
					"ingress-nginx": "merged #88 5h ago",
					"traefik":       "? checks unknown · mergeable?",
					"cert-manager":  "26h · ✓ checks pass · mergeable",
				}
			}
			if size[0] < 70 { // too narrow: the details say it; the names stay whole
				mustNotContain(t, line(s, "DEPENDENCY"), " PR")
				for dep := range want {
					mustContain(t, line(s, dep+" "), dep+" ")
				}
				want = nil
			} else if !strings.Contains(line(s, "DEPENDENCY"), " PR") {
				t.Errorf("no PR column:\n%s", s)
			}
			for dep, cell := range want {
				l := line(s, dep[:min(len(dep), 9)]) // cut at 80 cells
				if !strings.HasSuffix(strings.TrimRight(l, " "), cell) {
					t.Errorf("%s row %q does not end in %q", dep, l, cell)
				}
			}
			// The status column keeps its words.
			mustContain(t, line(s, "binderhub"), "PR open #101")
			mustContain(t, line(s, "jupyterhub"), "outdated (#90)")
			mustContain(t, joined(s), "checked 5 chart dependencies: 1 outdated, 3 with a PR open, 1 merged since the")
			// The details spell out the row under the cursor (cut at 80 cells).
			mustContain(t, joined(s), "PR #101 opened 3d ago · ✗ checks fail: test, lint · mergeable · https://")
			d.press("j")
			mustContain(t, joined(d.screen()), "PR #90 (opened 2w ago · * checks pending · conflicts with main) carries an")
			d.press("j")
			mustContain(t, joined(d.screen()), "PR #88 merged 5h ago since the last run: https://github.com/")
			d.press("j")
			mustContain(t, joined(d.screen()), "PR #77 ? checks unknown · mergeable? · https://")
			d.press("g")
			golden.RequireEqual(t, d.screen())
		})
	}
}

// Without a PR to describe, the table has no PR column: the rows before
// this feature look as they did.
func TestChartsNoPRColumn(t *testing.T) {
	d, _, _ := fakeEnv(t, 80, 24)
	if l := line(d.screen(), "DEPENDENCY"); strings.Contains(l, " PR") {
		t.Errorf("a PR column with nothing in it: %q", l)
	}
}

// Colour changes no cell: the coloured screen, stripped, is the plain one.
func TestChartsPRStatusColour(t *testing.T) {
	reg := newFakeRegistry(genInventory(120, 7, fixedNow), demoPolicy(15<<30))
	screens := make([]string, 2)
	for i, opts := range [][]Option{{WithNoColor()}, nil} {
		d := newDriver(t, New(reg, prCharts(), append(opts, WithSize(100, 30))...))
		d.settle()
		d.press("r", "j")
		screens[i] = d.screen()
	}
	if screens[0] != screens[1] {
		t.Errorf("colour moved cells:\n%s\nvs\n%s", screens[0], screens[1])
	}
}
