// Package list is a scrolling table's cursor and window.
package list

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// Model is a scrolling table's cursor and window, shared by the tabs.
type Model struct {
	Cursor, Offset int // the row under the cursor; the first row on screen
	Page           int // table rows on screen
}

// SetPage sets how many table rows fit.
func (l *Model) SetPage(n int) { l.Page = max(n, 1) }

// Clamp keeps the cursor within n rows and the window around the cursor.
func (l *Model) Clamp(n int) {
	l.Cursor = min(max(l.Cursor, 0), max(n-1, 0))
	if l.Cursor < l.Offset {
		l.Offset = l.Cursor
	}
	if l.Cursor >= l.Offset+l.Page {
		l.Offset = l.Cursor - l.Page + 1
	}
	l.Offset = min(max(l.Offset, 0), max(n-l.Page, 0))
}

// Move applies a navigation key over n rows and reports whether msg was
// one; the caller clamps.
func (l *Model) Move(msg tea.KeyPressMsg, k *common.KeyMap, n int) bool {
	switch {
	case key.Matches(msg, k.Up):
		l.Cursor--
	case key.Matches(msg, k.Down):
		l.Cursor++
	case key.Matches(msg, k.PageUp):
		l.Cursor -= l.Page
	case key.Matches(msg, k.PageDown):
		l.Cursor += l.Page
	case key.Matches(msg, k.Top):
		l.Cursor = 0
	case key.Matches(msg, k.Bottom):
		l.Cursor = n - 1
	default:
		return false
	}
	return true
}
