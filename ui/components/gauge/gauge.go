package ui

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

// level names how close a size is to the cap.
type level int

const (
	levelOK level = iota
	levelNear
	levelOver
)

func levelOf(size, capBytes int64) level {
	switch {
	case capBytes <= 0:
		return levelOK
	case size > capBytes:
		return levelOver
	case float64(size) >= warnRatio*float64(capBytes):
		return levelNear
	}
	return levelOK
}

func (l level) String() string { return [...]string{"under cap", "near cap", "over cap"}[l] }

func levelStyle(st *common.Styles, l level) lipgloss.Style {
	return [...]lipgloss.Style{st.OK, st.Warn, st.Danger}[l]
}

// gauge shows the registry's deduplicated size against its cap, with the
// size after the selected deletions marked on it.
type gauge struct {
	total, after, capBytes int64
	selected               int    // images in the plan
	note                   string // the forecast, when there is one
}

// view renders the gauge in two lines of width w: the bar, then figures.
// The bar fills to the size after the plan (coloured by how close that is
// to the cap), shades the part the plan frees, and marks the cap with ┃.
func (g gauge) view(st *common.Styles, w int) string {
	freed := g.total - g.after
	var text string
	switch {
	case g.capBytes <= 0 && g.selected == 0:
		return common.Fit(fmt.Sprintf("registry %s (no cap configured)", model.FormatBytes(g.total)), w) + "\n" + strings.Repeat(" ", w)
	case g.capBytes <= 0:
		text = fmt.Sprintf("%s → %s (no cap configured) · frees %s", model.FormatBytes(g.total), model.FormatBytes(g.after), model.FormatBytes(freed))
	case g.selected == 0:
		lv := levelOf(g.total, g.capBytes)
		text = fmt.Sprintf("%s of %s cap (%s, %s)", model.FormatBytes(g.total), model.FormatBytes(g.capBytes),
			pct(g.total, g.capBytes), levelStyle(st, lv).Render(lv.String()))
	default:
		la := levelOf(g.after, g.capBytes)
		text = fmt.Sprintf("%s → %s of %s cap (%s → %s, %s) · frees %s", model.FormatBytes(g.total), model.FormatBytes(g.after),
			model.FormatBytes(g.capBytes), pct(g.total, g.capBytes), pct(g.after, g.capBytes), levelStyle(st, la).Render(la.String()),
			model.FormatBytes(freed))
	}
	if g.note != "" {
		text += " · " + g.note
	}
	return g.bar(st, w) + "\n" + common.Fit(text, w)
}

func pct(a, b int64) string {
	return fmt.Sprintf("%.0f%%", 100*float64(a)/float64(b))
}

func (g gauge) bar(st *common.Styles, w int) string {
	if w <= 0 {
		return ""
	}
	scale := float64(max(g.total, g.capBytes))
	if scale <= 0 {
		return strings.Repeat(" ", w)
	}
	cell := func(v int64) int { return int(math.Round(float64(v) / scale * float64(w))) }
	keptEnd := cell(g.after)
	freedEnd := max(cell(g.total), keptEnd)
	capAt := -1
	if g.capBytes > 0 {
		capAt = min(max(cell(g.capBytes)-1, 0), w-1)
	}
	keptStyle := levelStyle(st, levelOf(g.after, g.capBytes))
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
