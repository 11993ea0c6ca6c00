package ui

import (
	"strings"

	"github.com/helmupgradebot/helmupgradebot/ui/common"
	"github.com/helmupgradebot/helmupgradebot/ui/components/statusline"
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
	if m.reg != nil {
		b.WriteString(" " + st.Muted.Render(m.reg.URL()))
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
	if r := statusline.Join(m.charts.StatusText(), m.registry.StatusText()); r != "" {
		running = m.spinner.View() + " " + r
	}
	counts := m.charts.Counts()
	if m.tab == tabRegistry {
		counts = m.registry.Counts()
	}
	return statusline.Render(st, w, running, m.c.Status, m.c.ErrorsHint(), counts)
}
