package ui

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// header is the title line: the tabs and the registry's address.
func (m *Model) header(w int) string {
	st := m.c.Styles
	var b strings.Builder
	b.WriteString(st.Title.Render("helmupgradebot") + " ")
	for t := tab(0); t < numTabs; t++ {
		label := string(rune('1'+t)) + " " + t.String()
		if t == m.tab {
			b.WriteString(st.TabActive.Render(label))
		} else {
			b.WriteString(st.TabInactive.Render(label))
		}
	}
	if m.registry.svc != nil {
		b.WriteString(" " + st.Muted.Render(m.registry.svc.URL()))
	}
	return common.Fit(b.String(), w)
}

// statusLine renders what is running, the last message and the current
// tab's counts. An error comes first, its first line cut to the screen,
// and points at the errors view (e shows it whole); other messages too
// long for one line take a second.
func (m *Model) statusLine(w int) string {
	st := m.c.Styles
	var running string
	if r := join(m.charts.StatusText(), m.registry.statusText()); r != "" {
		running = m.spinner.View() + " " + r
	}
	left := join(running, common.ShortDigests(m.c.Status.Text))
	if t := common.ShortDigests(m.c.Status.Text); t != "" && m.c.Status.Err {
		left = join(st.Error.Render("error: ")+common.FirstLine(t), running)
	}
	counts := m.charts.Counts()
	if m.tab == tabRegistry {
		counts = m.registry.counts()
	}
	hint := m.c.ErrorsHint()
	if hint != "" {
		hint = st.Title.Render(hint)
	}
	// The hint and the counts when they fit; the hint alone if not.
	for _, right := range []string{join(hint, st.Muted.Render(counts)), hint} {
		if rw := lipgloss.Width(right); rw > 0 && lipgloss.Width(left)+1+rw <= w {
			return common.Fit(left, w-rw-1) + " " + right
		}
	}
	hw := lipgloss.Width(hint)
	switch {
	case m.c.Status.Err && hw > 0 && hw < w/2:
		return common.Fit(left, w-hw-1) + " " + hint
	case m.c.Status.Err || lipgloss.Width(left) <= w-hw:
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

// join joins the non-empty parts with " · ".
func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " · ")
}
