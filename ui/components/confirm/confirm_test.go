package confirm

import (
	"strings"
	"testing"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// TestAddLong: a long line goes on under itself, indented, on two lines at
// the most, none wider than the box; what fits in two is kept whole.
func TestAddLong(t *testing.T) {
	st := common.NewStyles(true, false)
	text := "  +7:       build_image: 127.0.0.1:5000/jupyterhub/repo2docker:2024.07.0-184.g5e9e3d0 # the image"
	tests := []struct {
		w, lines int
		whole    bool
	}{
		{200, 1, true},
		{80, 2, true},
		{60, 2, true},
		{40, 2, false},
	}
	for _, tt := range tests {
		l := boxLine{text: text, long: true, style: lipgloss.NewStyle()}
		out := l.render(st, tt.w)
		if len(out) != tt.lines {
			t.Errorf("w=%d: %d lines, want %d: %q", tt.w, len(out), tt.lines, out)
		}
		for _, o := range out {
			if ansi.StringWidth(o) > tt.w {
				t.Errorf("w=%d: line %q is wider", tt.w, o)
			}
		}
		joined := out[0]
		if len(out) > 1 {
			if !strings.HasPrefix(out[1], longIndent) {
				t.Errorf("w=%d: second piece %q not indented", tt.w, out[1])
			}
			joined += strings.TrimPrefix(out[1], longIndent)
		}
		if got := strings.TrimRight(joined, " ") == text; got != tt.whole {
			t.Errorf("w=%d: kept whole %v, want %v: %q", tt.w, got, tt.whole, out)
		}
	}
}
