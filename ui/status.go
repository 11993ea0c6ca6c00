package ui

import (
	"regexp"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// header is the title line: the tabs and the registry's address.
func (m *Model) header(w int) string {
	st := m.c.styles
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
	return fit(b.String(), w)
}

var longDigest = regexp.MustCompile(`(sha256:[0-9a-f]{12})[0-9a-f]{52}`)

// shortDigests cuts full sha256 digests in a message to 12 hex digits.
func shortDigests(s string) string { return longDigest.ReplaceAllString(s, "$1") }

// statusLine renders what is running, the last message and the current
// tab's counts. A message too long for one line takes a second.
func (m *Model) statusLine(w int) string {
	st := m.c.styles
	var running []string
	for _, s := range []string{m.charts.statusText(), m.registry.statusText()} {
		if s != "" {
			running = append(running, s)
		}
	}
	var left string
	if len(running) > 0 {
		left = m.spinner.View() + " " + strings.Join(running, " · ")
		if m.c.status.text != "" {
			left += " · "
		}
	}
	if t := shortDigests(m.c.status.text); t != "" {
		if m.c.status.err {
			left += st.Error.Render("error: ") + t
		} else {
			left += t
		}
	}
	counts := m.charts.counts()
	if m.tab == tabRegistry {
		counts = m.registry.counts()
	}
	right := st.Muted.Render(counts)
	lw, rw := lipgloss.Width(left), lipgloss.Width(right)
	switch {
	case rw > 0 && lw+1+rw <= w:
		return fit(left, w-rw-1) + " " + right
	case lw <= w:
		return fit(left, w)
	}
	maxLines := 2
	if m.c.status.err {
		maxLines = 4 // an error is worth reading in full
	}
	ls := strings.SplitN(ansi.Wrap(left, w, " "), "\n", maxLines+1)
	if len(ls) > maxLines {
		ls = ls[:maxLines]
		ls[maxLines-1] += " …"
	}
	for i := range ls {
		ls[i] = fit(ls[i], w)
	}
	return strings.Join(ls, "\n")
}
