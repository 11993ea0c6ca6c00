package common

import (
	"charm.land/bubbles/v2/key"

	"github.com/helmupgradebot/helmupgradebot/ui/pager"
)

// KeyMap is every key the console answers to. It implements help.KeyMap
// with all bindings; the footer shows the subset that applies where the
// operator is (see HelpKeys).
type KeyMap struct {
	NextTab, PrevTab, ChartsTab, RegistryTab, HistoryTab key.Binding
	Help, Quit                                           key.Binding
	// Errors opens the errors of the last actions in full; Close closes
	// that view, Back a run's details.
	Errors, Close, Back key.Binding

	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Refresh                                 key.Binding

	OpenPR, OpenGroupPR key.Binding

	Details key.Binding

	Sort, Reverse, Filter, Untagged, Select, SelectPlan, Clear, Delete key.Binding

	Confirm, Cancel, Force key.Binding

	FilterApply, FilterCancel key.Binding
}

// DefaultKeyMap returns the console's bindings.
func DefaultKeyMap() KeyMap {
	b := func(keys []string, k, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
	}
	return KeyMap{
		NextTab:     b([]string{"tab"}, "tab", "next tab"),
		PrevTab:     b([]string{"shift+tab"}, "shift+tab", "previous tab"),
		ChartsTab:   b([]string{"1"}, "1", "charts"),
		RegistryTab: b([]string{"2"}, "2", "registry"),
		HistoryTab:  b([]string{"3"}, "3", "history"),
		Details:     b([]string{"enter"}, "enter", "run details"),
		Help:        b([]string{"?"}, "?", "toggle help"),
		Errors:      b([]string{"e"}, "e", "full errors"),
		Close:       b([]string{"esc", "q"}, "esc/q", "close"),
		Back:        b([]string{"esc", "q", "enter"}, "esc/q", "back to the runs"),
		Quit:        b([]string{"q", "ctrl+c"}, "q", "quit"),

		Up:       b([]string{"up", "k"}, "↑/k", "up"),
		Down:     b([]string{"down", "j"}, "↓/j", "down"),
		PageUp:   b([]string{"pgup", "ctrl+u"}, "pgup", "page up"),
		PageDown: b([]string{"pgdown", "ctrl+d"}, "pgdn", "page down"),
		Top:      b([]string{"home", "g"}, "g/home", "top"),
		Bottom:   b([]string{"end", "G"}, "G/end", "bottom"),
		Refresh:  b([]string{"r"}, "r", "refresh"),

		OpenPR:      b([]string{"p"}, "p", "open PR"),
		OpenGroupPR: b([]string{"P"}, "P", "grouped PR"),

		Sort:       b([]string{"s"}, "s", "cycle sort"),
		Reverse:    b([]string{"S"}, "S", "reverse sort"),
		Filter:     b([]string{"/"}, "/", "filter"),
		Untagged:   b([]string{"u"}, "u", "show/hide untagged"),
		Select:     b([]string{"space"}, "space", "select"),
		SelectPlan: b([]string{"a"}, "a", "select policy plan"),
		Clear:      b([]string{"esc"}, "esc", "clear selection/filter"),
		Delete:     b([]string{"d"}, "d", "delete selected"),

		Confirm: b([]string{"enter", "y"}, "enter", "confirm"),
		Cancel:  b([]string{"esc", "n"}, "esc", "cancel"),
		Force:   b([]string{"f"}, "f", "force past max_delete_fraction"),

		FilterApply:  b([]string{"enter"}, "enter", "keep filter"),
		FilterCancel: b([]string{"esc"}, "esc", "drop filter"),
	}
}

// ShortHelp implements help.KeyMap.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.NextTab, k.Refresh, k.Help, k.Quit}
}

// FullHelp implements help.KeyMap: every binding, by area.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.NextTab, k.PrevTab, k.ChartsTab, k.RegistryTab, k.HistoryTab, k.Help, k.Errors, k.Quit},
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Refresh},
		{k.OpenPR, k.OpenGroupPR, k.Details, k.Back, k.Close},
		{k.Sort, k.Reverse, k.Filter, k.Untagged, k.Select, k.SelectPlan, k.Clear, k.Delete},
		{k.Confirm, k.Cancel, k.Force, k.FilterApply, k.FilterCancel},
	}
}

// PagerKeys are the keys of a scrollable view that close is closed with.
func (k *KeyMap) PagerKeys(close key.Binding) pager.KeyMap {
	return pager.KeyMap{Up: k.Up, Down: k.Down, PageUp: k.PageUp, PageDown: k.PageDown, Top: k.Top, Bottom: k.Bottom, Close: close}
}

// HelpKeys is a fixed set of bindings as a help.KeyMap: the footer's view
// of the keymap where the operator is.
type HelpKeys struct {
	Short []key.Binding
	Full  [][]key.Binding
}

// ShortHelp implements help.KeyMap.
func (h HelpKeys) ShortHelp() []key.Binding { return h.Short }

// FullHelp implements help.KeyMap.
func (h HelpKeys) FullHelp() [][]key.Binding { return h.Full }
