package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// list is a scrolling table's cursor and window, shared by the tabs.
type list struct {
	cursor, offset int // the row under the cursor; the first row on screen
	page           int // table rows on screen
}

// setPage sets how many table rows fit.
func (l *list) setPage(n int) { l.page = max(n, 1) }

// clamp keeps the cursor within n rows and the window around the cursor.
func (l *list) clamp(n int) {
	l.cursor = min(max(l.cursor, 0), max(n-1, 0))
	if l.cursor < l.offset {
		l.offset = l.cursor
	}
	if l.cursor >= l.offset+l.page {
		l.offset = l.cursor - l.page + 1
	}
	l.offset = min(max(l.offset, 0), max(n-l.page, 0))
}

// move applies a navigation key over n rows and reports whether msg was
// one; the caller clamps.
func (l *list) move(msg tea.KeyPressMsg, k *common.KeyMap, n int) bool {
	switch {
	case key.Matches(msg, k.Up):
		l.cursor--
	case key.Matches(msg, k.Down):
		l.cursor++
	case key.Matches(msg, k.PageUp):
		l.cursor -= l.page
	case key.Matches(msg, k.PageDown):
		l.cursor += l.page
	case key.Matches(msg, k.Top):
		l.cursor = 0
	case key.Matches(msg, k.Bottom):
		l.cursor = n - 1
	default:
		return false
	}
	return true
}
