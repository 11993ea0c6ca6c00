package ui

import (
	"fmt"
	"regexp"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
)

// loopbackPort hides the demo's ephemeral ports, the one thing that
// differs between runs.
var loopbackPort = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// TestGoldenScreens snapshots the main screens of the real demo, with a
// fixed clock and seed and no colour, at 80x24 and 160x48, in
// testdata/TestGoldenScreens (go test ./ui -run TestGoldenScreens -update
// rewrites them).
func TestGoldenScreens(t *testing.T) {
	env := startDemo(t)
	d := demoConsole(t, env, 80, 24)
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
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
		d.press("esc", "2", "r") // the scan's status line
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
