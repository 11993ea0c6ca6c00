// Package confirm is a modal question: enter does it, esc doesn't.
package confirm

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/helmupgradebot/helmupgradebot/ui/common"
	"github.com/helmupgradebot/helmupgradebot/ui/pager"
)

// Model is a modal question: enter does it, esc doesn't. Payload is what
// enter does, for the part of the console that asked.
type Model struct {
	Title string
	lines []boxLine
	// Blocked, when set, says why enter does nothing (a refused plan).
	Blocked string
	// Forceable: f forces past a refusal.
	Forceable bool
	// Checking: the registry is being re-read for changes since the scan;
	// enter waits for it.
	Checking bool

	Payload any
}

// View renders the box for a screen w cells wide.
func (c *Model) View(st *common.Styles, w int) string {
	inner := min(w-4, 96)
	if inner < 20 {
		inner = max(w-2, 1)
	}
	var b strings.Builder
	b.WriteString(st.DialogTitle.Render(common.Fit(c.Title, inner)))
	for _, l := range c.lines {
		for _, out := range l.render(st, inner) {
			b.WriteString("\n")
			b.WriteString(out)
		}
	}
	b.WriteString("\n")
	if c.Blocked != "" {
		for _, l := range pager.Wrap(c.Blocked, inner) {
			b.WriteString("\n" + st.Error.Render(common.Fit(l, inner)))
		}
		hint := "esc cancel"
		if c.Forceable {
			hint = "f force · " + hint
		}
		b.WriteString("\n" + st.Muted.Render(common.Fit(hint, inner)))
	} else if c.Checking {
		b.WriteString("\n" + st.Muted.Render(common.Fit("re-checking the registry for changes since the scan… · esc cancel", inner)))
	} else {
		b.WriteString("\n" + common.Fit(st.Title.Render("enter")+" confirm · "+st.Title.Render("esc")+" cancel", inner))
	}
	return st.Dialog.Render(b.String())
}

// boxLine is one line of a confirm box: plain text cut to the box, or a
// labelled value wrapped under its label.
type boxLine struct {
	label, text string
	wrap        bool
	// long: text goes on under itself rather than cut short (AddLong),
	// in style.
	long  bool
	style lipgloss.Style
}

// labelWidth is the column labelled values start at.
const labelWidth = 11

// Add adds a line of plain text, cut to the box.
func (c *Model) Add(text string) { c.lines = append(c.lines, boxLine{text: text}) }

// AddLabeled adds a labelled value, wrapped under its label.
func (c *Model) AddLabeled(label, text string) {
	c.lines = append(c.lines, boxLine{label: label, text: text, wrap: true})
}

// AddLong adds a line of plain text in style that goes on under itself,
// indented, where it is wider than the box: a diff's line, whose end is
// the change. A third piece is cut.
func (c *Model) AddLong(text string, style lipgloss.Style) {
	c.lines = append(c.lines, boxLine{text: text, long: true, style: style})
}

// longIndent indents the second piece of a long line; longPieces is how
// many it goes on.
const (
	longIndent = "      "
	longPieces = 2
)

func (l boxLine) render(st *common.Styles, w int) []string {
	if l.long {
		var out []string
		rest, prefix := l.text, ""
		for len(out) < longPieces-1 && w > 2*len(longIndent) && ansi.StringWidth(rest) > w-len(prefix) {
			room := w - len(prefix)
			out = append(out, l.style.Render(prefix+ansi.Truncate(rest, room, "")))
			rest, prefix = ansi.TruncateLeft(rest, room, ""), longIndent
		}
		return append(out, common.Fit(l.style.Render(prefix+rest), w))
	}
	if !l.wrap {
		return []string{common.Fit(l.text, w)}
	}
	tw := max(w-labelWidth, 10)
	parts := pager.Wrap(l.text, tw) // at spaces only: versions keep their hyphens
	out := make([]string, len(parts))
	for i, p := range parts {
		label := strings.Repeat(" ", labelWidth)
		if i == 0 {
			label = st.Label.Render(common.Fit(l.label, labelWidth))
		}
		out[i] = common.Fit(label+p, w)
	}
	return out
}

// Place centres the box in a w×h area.
func (c *Model) Place(st *common.Styles, w, h int) string {
	return lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, c.View(st, w))
}
