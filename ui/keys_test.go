package ui

import (
	"testing"

	"charm.land/bubbles/v2/key"

	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// The key names the tests send are the ones the bindings expect, and every
// binding has help text and shows in the full help.
func TestKeyNames(t *testing.T) {
	for _, name := range []string{"enter", "tab", "shift+tab", "esc", "space", "up", "down", "pgup", "pgdown",
		"home", "end", "ctrl+c", "s", "S", "P", "?", "/", "1"} {
		if got := keyMsg(name).String(); got != name {
			t.Errorf("key %q reads as %q", name, got)
		}
	}
	km := common.DefaultKeyMap()
	inHelp := map[string]bool{}
	for _, col := range km.FullHelp() {
		for _, b := range col {
			inHelp[b.Help().Key+" "+b.Help().Desc] = true
		}
	}
	all := []key.Binding{km.NextTab, km.PrevTab, km.ChartsTab, km.RegistryTab, km.Help, km.Quit, km.Up, km.Down,
		km.PageUp, km.PageDown, km.Top, km.Bottom, km.Refresh, km.OpenPR, km.OpenGroupPR, km.Sort, km.Reverse,
		km.Filter, km.Select, km.SelectPlan, km.Clear, km.Delete, km.Confirm, km.Cancel, km.Force, km.FilterApply, km.FilterCancel, km.Errors, km.Close, km.Back, km.Details, km.HistoryTab}
	for _, b := range all {
		h := b.Help()
		if h.Key == "" || h.Desc == "" || len(b.Keys()) == 0 {
			t.Errorf("binding %v has no keys or help", b.Keys())
		}
		if !inHelp[h.Key+" "+h.Desc] {
			t.Errorf("binding %q (%s) is missing from the full help", h.Key, h.Desc)
		}
	}
}
