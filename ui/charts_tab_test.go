package ui

import (
	"errors"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// The Charts tab through the whole console: its rows, opening, cancelling
// and refusing pull requests, and refreshing.

func TestChartsRows(t *testing.T) {
	d, _, _ := fakeEnv(t, 160, 48)
	s := d.screen()
	for _, want := range []struct{ dep, status string }{
		{"binderhub", "outdated"}, {"jupyterhub", "outdated"}, {"ingress-nginx", "up to date"},
		{"traefik", "PR open #77"}, {"grafana", "error"},
	} {
		l := line(s, want.dep+" ")
		if l == "" || !strings.HasSuffix(strings.TrimRight(l, " "), want.status) {
			t.Errorf("row %s: want status %q, got %q", want.dep, want.status, l)
		}
	}
	binder := line(s, "binderhub ")
	mustContain(t, binder, "mybinder/Chart.yaml", "1.0.0-0.dev.git.3440.h1e0b0d0", "1.0.0-0.dev.git.3506.hba24eb2a", " 3d ")
	mustContain(t, s, "error: grafana could not be checked: fetch https://grafana.github.io/helm-charts/index.yaml: 503")
	mustContain(t, d.m.c.Status.Text, "checked 5 chart dependencies: 2 outdated, 1 with a PR open, 1 error")
	mustContain(t, d.m.charts.Counts(), "5 deps · 2 outdated · 1 error")
	mustNotContain(t, d.m.charts.Counts(), "1 errors")
	// The error row's details show the error.
	d.press("G")
	mustContain(t, d.screen(), "error: fetch https://grafana.github.io/helm-charts/index.yaml: 503 Service Unavailable")
}

func TestChartsOpenPR(t *testing.T) {
	d, _, ch := fakeEnv(t, 80, 24)
	d.press("p")
	s := d.screen()
	mustContain(t, s, "Open pull request?", "jupyterhub/mybinder.org-deploy", "title      Bump binderhub",
		"-10:     version: 1.0.0-0.dev.git.3440.h1e0b0d0", "+10:     version: 1.0.0-0.dev.git.3506.hba24eb2a")
	d.press("enter")
	s = d.screen()
	if l := line(s, "›binderhub"); !strings.Contains(l, "PR open #101") {
		t.Errorf("binderhub row after opening: %q\n%s", l, s)
	}
	mustContain(t, s, "opened PR #101", "PR #101 https://github.com/jupyterhub/mybinder.org-deploy/pull/101")
	if len(ch.opened) != 1 || strings.Join(ch.opened[0], ",") != "binderhub" {
		t.Errorf("opened %v, want [[binderhub]]", ch.opened)
	}
	// Opening again says the PR is open already: news, not an error.
	d.press("p")
	mustContain(t, d.screen(), "binderhub already has PR #101 open with the newest version")
	mustNotContain(t, d.screen(), "Open pull request?", "error:")
}

func TestChartsCancelPR(t *testing.T) {
	d, _, ch := fakeEnv(t, 80, 24)
	d.press("p", "esc")
	mustNotContain(t, d.screen(), "Open pull request?")
	if len(ch.opened) != 0 {
		t.Errorf("cancelled box opened %v", ch.opened)
	}
	if l := line(d.screen(), "›binderhub"); !strings.Contains(l, "outdated") {
		t.Errorf("row changed: %q", l)
	}
}

func TestChartsGroupPR(t *testing.T) {
	d, _, ch := fakeEnv(t, 80, 24)
	d.press("P")
	s := d.screen()
	mustContain(t, s, "Open pull request?", "Bump binderhub to 1.0.0-0.dev.git.3506.hba24eb2a,", "3.3.8 in mybinder/Chart.yaml", "3.3.7",
		"branch     helmupgradebot/mybinder-chart-yaml/all → main")
	d.press("enter")
	if len(ch.opened) != 1 || strings.Join(ch.opened[0], ",") != "binderhub,jupyterhub" {
		t.Fatalf("opened %v, want one PR for binderhub and jupyterhub", ch.opened)
	}
	s = d.screen()
	for _, dep := range []string{"binderhub", "jupyterhub"} {
		if l := line(s, dep+" "); !strings.Contains(l, "PR open #101") {
			t.Errorf("%s row: %q", dep, l)
		}
	}
	// No outdated dependency is left in that file.
	d.press("P")
	mustContain(t, d.screen(), "error: nothing outdated in mybinder/Chart.yaml")
}

func TestChartsPRRefused(t *testing.T) {
	d, _, ch := fakeEnv(t, 80, 24)
	ch.failErr = errors.New("open pull request for binderhub in jupyterhub/mybinder.org-deploy: 422 Validation Failed")
	d.press("p", "enter")
	s := d.screen()
	mustContain(t, s, "error: open pull request for binderhub")
	if l := line(s, "›binderhub"); !strings.Contains(l, "outdated") {
		t.Errorf("refused PR changed the row: %q", l)
	}
	// It can be tried again.
	d.press("p", "enter")
	if l := line(d.screen(), "›binderhub"); !strings.Contains(l, "PR open #101") {
		t.Errorf("retry: %q", l)
	}
}

func TestChartsNotOutdated(t *testing.T) {
	d, _, _ := fakeEnv(t, 80, 24)
	d.press("down", "down", "p")
	mustContain(t, d.screen(), "error: ingress-nginx is up to date")
	mustNotContain(t, d.screen(), "Open pull request?")
}

func TestChartsRefresh(t *testing.T) {
	d, _, ch := fakeEnv(t, 80, 24)
	ch.mu.Lock()
	ch.rows[2].State, ch.rows[2].Latest.Version = model.StateOutdated, "4.12.0"
	ch.mu.Unlock()
	d.press("r")
	if l := line(d.screen(), "ingress-ng"); !strings.Contains(l, "outdated") || !strings.Contains(l, "4.12.0") {
		t.Errorf("after refresh: %q", l)
	}
}
