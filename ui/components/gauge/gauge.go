// Package gauge draws the registry's size against its cap.
package gauge

import (
	"fmt"
	"math"
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// Gauge thresholds: under 80% of the cap is fine, up to the cap is close.
const warnRatio = 0.8

// Level names how close a size is to the cap.
type Level int

const (
	LevelOK Level = iota
	LevelNear
	LevelOver
)

// LevelOf is how close size is to capBytes.
func LevelOf(size, capBytes int64) Level {
	switch {
	case capBytes <= 0:
		return LevelOK
	case size > capBytes:
		return LevelOver
	case float64(size) >= warnRatio*float64(capBytes):
		return LevelNear
	}
	return LevelOK
}

func (l Level) String() string { return [...]string{"under cap", "near cap", "over cap"}[l] }

func levelStyle(st *common.Styles, l Level) lipgloss.Style {
	return [...]lipgloss.Style{st.OK, st.Warn, st.Danger}[l]
}

// Model shows the registry's deduplicated size against its cap, with the
// size after the selected deletions marked on it.
type Model struct {
	Total, After, CapBytes int64
	Selected               int    // images in the plan
	Note                   string // the forecast, when there is one
}

// View renders the gauge in two lines of width w: the bar, then figures.
// The bar fills to the size after the plan (coloured by how close that is
// to the cap), shades the part the plan frees, and marks the cap with ┃.
func (g Model) View(st *common.Styles, w int) string {
	freed := g.Total - g.After
	var text string
	switch {
	case g.CapBytes <= 0 && g.Selected == 0:
		return common.Fit(fmt.Sprintf("registry %s (no cap configured)", model.FormatBytes(g.Total)), w) + "\n" + strings.Repeat(" ", w)
	case g.CapBytes <= 0:
		text = fmt.Sprintf("%s → %s (no cap configured) · frees %s", model.FormatBytes(g.Total), model.FormatBytes(g.After), model.FormatBytes(freed))
	case g.Selected == 0:
		lv := LevelOf(g.Total, g.CapBytes)
		text = fmt.Sprintf("%s of %s cap (%s, %s)", model.FormatBytes(g.Total), model.FormatBytes(g.CapBytes),
			pct(g.Total, g.CapBytes), levelStyle(st, lv).Render(lv.String()))
	default:
		la := LevelOf(g.After, g.CapBytes)
		text = fmt.Sprintf("%s → %s of %s cap (%s → %s, %s) · frees %s", model.FormatBytes(g.Total), model.FormatBytes(g.After),
			model.FormatBytes(g.CapBytes), pct(g.Total, g.CapBytes), pct(g.After, g.CapBytes), levelStyle(st, la).Render(la.String()),
			model.FormatBytes(freed))
	}
	if g.Note != "" {
		text += " · " + g.Note
	}
	return g.bar(st, w) + "\n" + common.Fit(text, w)
}

func pct(a, b int64) string {
	return fmt.Sprintf("%.0f%%", 100*float64(a)/float64(b))
}

func (g Model) bar(st *common.Styles, w int) string {
	if w <= 0 {
		return ""
	}
	scale := float64(max(g.Total, g.CapBytes))
	if scale <= 0 {
		return strings.Repeat(" ", w)
	}
	cell := func(v int64) int { return int(math.Round(float64(v) / scale * float64(w))) }
	keptEnd := cell(g.After)
	freedEnd := max(cell(g.Total), keptEnd)
	capAt := -1
	if g.CapBytes > 0 {
		capAt = min(max(cell(g.CapBytes)-1, 0), w-1)
	}
	keptStyle := levelStyle(st, LevelOf(g.After, g.CapBytes))
	var b strings.Builder
	seg := func(from, to int, ch string, style lipgloss.Style) {
		if to <= from {
			return
		}
		if capAt >= from && capAt < to {
			seg2 := func(f, t int) {
				if t > f {
					b.WriteString(style.Render(strings.Repeat(ch, t-f)))
				}
			}
			seg2(from, capAt)
			b.WriteString(st.GaugeCap.Render("┃"))
			seg2(capAt+1, to)
			return
		}
		b.WriteString(style.Render(strings.Repeat(ch, to-from)))
	}
	seg(0, keptEnd, "█", keptStyle)
	seg(keptEnd, freedEnd, "▒", st.GaugeFreed)
	seg(freedEnd, w, "░", st.GaugeEmpty)
	return b.String()
}
