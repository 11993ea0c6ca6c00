// Package pager is the console's scrollable text view: a title, text
// wrapped to the width (nothing is cut), and where in it the view is. The
// console shows the full errors of the last actions and a run's details
// in it. It scrolls a bubbles viewport with the keys it is given.
package pager

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// KeyMap is the pager's keys. It implements help.KeyMap.
type KeyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom, Close key.Binding
}

// ShortHelp implements help.KeyMap.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Close, k.Down, k.Up, k.PageDown, k.PageUp, k.Bottom}
}

// FullHelp implements help.KeyMap.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown}, {k.Top, k.Bottom, k.Close}}
}

// Styles is how the pager draws its title and its position line.
type Styles struct {
	Title, Muted lipgloss.Style
}

// Para is a paragraph: wrapped at spaces to the pager's width (a word
// longer than a line is broken), its continuation lines indented like its
// first line, each line drawn in Style.
type Para struct {
	Text  string
	Style lipgloss.Style
}

// Model is a titled, scrollable text. Its zero value is not usable: use New.
type Model struct {
	keys   KeyMap
	styles Styles
	title  string
	hint   string // how to leave, after the position
	paras  []Para
	vp     viewport.Model
	width  int
}

// New returns an empty pager answering to keys.
func New(keys KeyMap, st Styles) *Model {
	return &Model{keys: keys, styles: st, vp: viewport.New()}
}

// Keys are the pager's keys, for the footer.
func (m *Model) Keys() KeyMap { return m.keys }

// SetHint says, after the position, how to leave ("esc: close").
func (m *Model) SetHint(hint string) { m.hint = hint }

// SetStyles changes the styles (the terminal's background was learnt).
func (m *Model) SetStyles(st Styles) { m.styles = st }

// SetContent replaces the text, keeping the scroll position where it can.
func (m *Model) SetContent(title string, paras []Para) {
	m.title, m.paras = title, paras
	m.rewrap()
}

// SetSize fits the pager, title and position line included, in w×h cells.
func (m *Model) SetSize(w, h int) {
	m.vp.SetHeight(max(h-2, 1))
	if w != m.width {
		m.width = w
		m.vp.SetWidth(max(w, 1))
		m.rewrap()
	}
	m.vp.SetYOffset(m.vp.YOffset()) // clamp to the new height
}

func (m *Model) rewrap() {
	var lines []string
	for _, p := range m.paras {
		for _, l := range strings.Split(p.Text, "\n") {
			for _, w := range Wrap(l, m.width) {
				lines = append(lines, p.Style.Render(w))
			}
		}
	}
	y := m.vp.YOffset()
	m.vp.SetContentLines(lines)
	m.vp.SetYOffset(y)
}

// Update scrolls on a key and reports whether the key closes the pager.
func (m *Model) Update(msg tea.KeyPressMsg) (closed bool) {
	k := m.keys
	switch {
	case key.Matches(msg, k.Close):
		return true
	case key.Matches(msg, k.Up):
		m.vp.ScrollUp(1)
	case key.Matches(msg, k.Down):
		m.vp.ScrollDown(1)
	case key.Matches(msg, k.PageUp):
		m.vp.PageUp()
	case key.Matches(msg, k.PageDown):
		m.vp.PageDown()
	case key.Matches(msg, k.Top):
		m.vp.GotoTop()
	case key.Matches(msg, k.Bottom):
		m.vp.GotoBottom()
	}
	return false
}

// Offset is the first line shown, from 0; Lines how many there are.
func (m *Model) Offset() int { return m.vp.YOffset() }

// Lines is how many lines the wrapped text has.
func (m *Model) Lines() int { return m.vp.TotalLineCount() }

// Position says which lines show: "lines 1-15 of 40", or "all 12 lines".
func (m *Model) Position() string {
	total, h := m.vp.TotalLineCount(), m.vp.Height()
	if total <= h {
		return fmt.Sprintf("all %d lines", total)
	}
	first := m.vp.YOffset() + 1
	return fmt.Sprintf("lines %d-%d of %d", first, min(first+h-1, total), total)
}

// View renders the title, the text and the position line, exactly as wide
// and high as SetSize said.
func (m *Model) View() string {
	w := m.width
	body := strings.Split(m.vp.View(), "\n")
	out := make([]string, 0, len(body)+2)
	out = append(out, fit(m.styles.Title.Render(m.title), w))
	for _, l := range body {
		out = append(out, fit(l, w))
	}
	foot := m.Position()
	if m.hint != "" {
		foot += " · " + m.hint
	}
	out = append(out, fit(m.styles.Muted.Render(foot), w))
	return strings.Join(out, "\n")
}

// Wrap breaks s into lines of at most w cells at spaces, breaking a word
// longer than a line; continuation lines are indented like the first.
func Wrap(s string, w int) []string {
	if w <= 0 {
		return nil
	}
	trimmed := strings.TrimLeft(s, " ")
	indent := strings.Repeat(" ", min(len(s)-len(trimmed), w/2))
	room := w - len(indent)
	var out []string
	line := ""
	flush := func() {
		out = append(out, indent+line)
		line = ""
	}
	for _, word := range strings.Fields(trimmed) {
		ww := ansi.StringWidth(word)
		switch {
		case line == "" && ww <= room:
			line = word
		case line != "" && ansi.StringWidth(line)+1+ww <= room:
			line += " " + word
		default:
			if line != "" {
				flush()
			}
			for ansi.StringWidth(word) > room { // a URL, a digest
				out = append(out, indent+ansi.Truncate(word, room, ""))
				word = ansi.TruncateLeft(word, room, "")
			}
			line = word
		}
	}
	if line != "" || len(out) == 0 {
		flush()
	}
	return out
}

// fit cuts s to w cells and pads it to exactly w.
func fit(s string, w int) string {
	if n := ansi.StringWidth(s); n > w {
		s = ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", max(w-ansi.StringWidth(s), 0))
}
