package gauge

import (
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

func TestGaugeLevels(t *testing.T) {
	st := common.NewStyles(true, true)
	cases := []struct {
		g        Model
		text     string
		level    Level
		hasFreed bool
	}{
		{Model{Total: 50, After: 50, CapBytes: 100}, "(50%, under cap)", LevelOK, false},
		{Model{Total: 90, After: 90, CapBytes: 100}, "(90%, near cap)", LevelNear, false},
		{Model{Total: 150, After: 150, CapBytes: 100}, "(150%, over cap)", LevelOver, false},
		{Model{Total: 150, After: 70, CapBytes: 100, Selected: 3}, "(150% → 70%, under cap) · frees 80 B", LevelOK, true},
		{Model{Total: 150, After: 120, CapBytes: 100, Selected: 1}, "(150% → 120%, over cap)", LevelOver, true},
		{Model{Total: 150, After: 150}, "registry 150 B (no cap configured)", LevelOK, false},
	}
	for _, c := range cases {
		v := ansi.Strip(c.g.View(st, 80))
		if !strings.Contains(v, c.text) {
			t.Errorf("%+v: %q lacks %q", c.g, v, c.text)
		}
		if got := LevelOf(c.g.After, c.g.CapBytes); got != c.level {
			t.Errorf("%+v: level %v, want %v", c.g, got, c.level)
		}
		bar := strings.Split(v, "\n")[0]
		if strings.Contains(bar, "▒") != c.hasFreed {
			t.Errorf("%+v: bar %q", c.g, bar)
		}
		if c.g.CapBytes > 0 && strings.Count(bar, "┃") != 1 {
			t.Errorf("%+v: bar %q has no cap mark", c.g, bar)
		}
	}
	// The cap mark sits where the cap is: 100 of 150 over 60 cells.
	bar := []rune(ansi.Strip(strings.Split(Model{Total: 150, After: 150, CapBytes: 100}.View(st, 60), "\n")[0]))
	if at := slices.Index(bar, '┃'); at != 39 {
		t.Errorf("cap mark at %d, want 39", at)
	}
}
