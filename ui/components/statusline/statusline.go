// Package statusline renders the console's status line: what is running,
// the last message, the errors hint and the current tab's counts.
package statusline

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// Render renders the status line w cells wide: running (what is running,
// its spinner first), the last message and the counts, with hint pointing
// at the errors view. An error comes first, its first line cut to the
// screen; other messages too long for one line take a second.
func Render(st *common.Styles, w int, running string, status common.Status, hint, counts string) string {
	left := Join(running, common.ShortDigests(status.Text))
	if t := common.ShortDigests(status.Text); t != "" && status.Err {
		left = Join(st.Error.Render("error: ")+common.FirstLine(t), running)
	}
	if hint != "" {
		hint = st.Title.Render(hint)
	}
	// The hint and the counts when they fit; the hint alone if not.
	for _, right := range []string{Join(hint, st.Muted.Render(counts)), hint} {
		if rw := lipgloss.Width(right); rw > 0 && lipgloss.Width(left)+1+rw <= w {
			return common.Fit(left, w-rw-1) + " " + right
		}
	}
	hw := lipgloss.Width(hint)
	switch {
	case status.Err && hw > 0 && hw < w/2:
		return common.Fit(left, w-hw-1) + " " + hint
	case status.Err || lipgloss.Width(left) <= w-hw:
		return common.Fit(left, w)
	}
	// A long note takes two lines, the hint at the end of the second.
	ls := strings.SplitN(ansi.Wrap(left, w, " "), "\n", 3)
	if len(ls) > 2 {
		ls = ls[:2]
		ls[1] += " …"
	}
	last := len(ls) - 1
	for i := range ls {
		ls[i] = common.Fit(ls[i], w)
	}
	if hw > 0 && hw < w/2 {
		ls[last] = common.Fit(ls[last], w-hw-1) + " " + hint
	}
	return strings.Join(ls, "\n")
}

// Join joins the non-empty parts with " · ".
func Join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " · ")
}
