package ui

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/helmupgradebot/helmupgradebot/backend/history"
)

// loopbackPort hides the demo's ephemeral ports, the one thing that
// differs between runs.
var loopbackPort = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// TestGoldenScreens snapshots the main screens of the real demo, with a
// fixed clock and seed and no colour, at 80x24, 160x48 and 60x20, in
// testdata/TestGoldenScreens (go test ./ui -run TestGoldenScreens -update
// rewrites them).
func TestGoldenScreens(t *testing.T) {
	env := startDemo(t)
	d := demoConsole(t, env, 80, 24)
	for _, size := range [][2]int{{80, 24}, {160, 48}, {60, 20}} {
		d.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		snap := func(name string) {
			t.Helper()
			screen := loopbackPort.ReplaceAllString(d.screen(), "127.0.0.1:PORT")
			t.Run(fmt.Sprintf("%s-%dx%d", name, size[0], size[1]), func(t *testing.T) {
				golden.RequireEqual(t, screen)
			})
		}
		d.press("1", "r") // a known status line: the check's
		snap("charts")
		d.press("p")
		snap("pr-confirm")
		d.press("esc", "G") // the image row, last
		snap("charts-image")
		d.press("p")
		snap("pr-confirm-image")
		d.press("esc", "g", "2", "r") // the scan's status line
		snap("registry")
		d.press("a")
		snap("registry-plan")
		d.press("d")
		snap("delete-confirm")
		d.press("esc", "esc", "?")
		snap("registry-help")
		d.press("?", "3")
		snap("history")
		d.press("enter")
		snap("history-detail")
		d.press("esc")
	}
}

// loginError is a registry's refusal as long as real ones are.
const loginError = `scan hub23registry.azurecr.io: log in to hub23registry.azurecr.io: exchange the Entra ID token for a registry refresh token: ` +
	`POST https://hub23registry.azurecr.io/oauth2/exchange: 401 Unauthorized: {"errors":[{"code":"UNAUTHORIZED",` +
	`"message":"the managed identity 3f1c9a2e-5b7d-4e8a-9c61-0d2f4b8e7a13 has no AcrPull or AcrDelete role on this registry"}]}`

// TestGoldenErrors: a registry that refuses the login, then a chart check
// with an error. The status line shows the last error's first line and
// points at e; e shows both errors whole, at 80x24 and 60x20.
func TestGoldenErrors(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {60, 20}} {
		reg := newFakeRegistry(genInventory(10, 7, fixedNow), demoPolicy(0))
		reg.ScanErr = errors.New(loginError)
		ch := newFakeCharts()
		ch.gate = make(chan struct{})
		d := newDriver(t, New(reg, ch, WithNoColor(), WithSize(size[0], size[1])))
		d.waitFor("error: scan hub23registry")
		close(ch.gate) // the chart error comes second, as it did
		d.settle()
		snap := func(name string) {
			t.Helper()
			t.Run(fmt.Sprintf("%s-%dx%d", name, size[0], size[1]), func(t *testing.T) { golden.RequireEqual(t, d.screen()) })
		}
		mustContain(t, d.screen(), "e: all 2 errors")
		snap("status")
		d.press("e")
		s := joined(d.screen())
		mustContain(t, s, "registry scan", "chart check", "no AcrPull or AcrDelete role on this registry\"}]}", "503 Service Unavailable")
		snap("errors")
		if !strings.HasPrefix(d.m.errView.Position(), "all ") { // the rest, scrolled
			d.press("G")
			mustContain(t, joined(d.screen()), "grafana (jupyterhub/mybinder.org-deploy config/prod/Chart.yaml)")
			snap("errors-end")
		}
		d.press("2") // the view has the keys: nothing switches
		mustContain(t, d.screen(), "errors of the last actions")
		d.press("q") // closes, does not quit
		if d.quit {
			t.Fatal("q in the errors view quit")
		}
		d.press("2")
		snap("registry")
	}
}

// TestGoldenRunDetails: a delete in which some deletions fail, then its
// run on the History tab: failures first, every deletion reachable by
// scrolling, at 80x24 and 60x20.
func TestGoldenRunDetails(t *testing.T) {
	store := history.Open(filepath.Join(t.TempDir(), "history.jsonl"))
	d, reg, _ := fakeEnv(t, 80, 24, WithHistory(store))
	d.press("2", "a")
	n := len(d.m.registry.Selection())
	reg.FailAfter = n - 3
	reg.FailErr = "DELETE https://registry.example.org/v2/REF: 403 Forbidden: manifest is locked by a retention rule"
	d.press("d", "enter", "3", "enter")
	for _, size := range [][2]int{{80, 24}, {60, 20}} {
		d.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		snap := func(name string) {
			t.Helper()
			t.Run(fmt.Sprintf("%s-%dx%d", name, size[0], size[1]), func(t *testing.T) { golden.RequireEqual(t, d.screen()) })
		}
		d.press("g")
		s := d.screen()
		mustContain(t, joined(s), "failed (3):", "manifest is locked")
		if strings.Index(s, "failed (3):") > strings.Index(s, "deleted (") && strings.Contains(s, "deleted (") {
			t.Error("deletions before failures")
		}
		snap("details-top")
		d.press("G")
		mustContain(t, d.screen(), fmt.Sprintf("of %d ", d.m.history.Detail().Lines()))
		snap("details-end")
	}
	// Every line was reachable: j scrolls the details, not the runs.
	cursor := d.m.history.Cursor
	d.press("g", "j", "j")
	if d.m.history.Cursor != cursor || d.m.history.Detail().Offset() != 2 {
		t.Errorf("j moved the run cursor (%d→%d) or did not scroll (offset %d)", cursor, d.m.history.Cursor, d.m.history.Detail().Offset())
	}
	d.press("esc")
	mustContain(t, d.screen(), "WHEN")
}
