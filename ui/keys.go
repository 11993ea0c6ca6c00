package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// tabKeys are the keys of one tab, beyond moving and those that work
// everywhere.
func tabKeys(k *common.KeyMap, t tab) []key.Binding {
	switch t {
	case tabRegistry:
		return []key.Binding{k.Select, k.SelectPlan, k.Clear, k.Delete, k.Sort, k.Reverse, k.Filter, k.Untagged, k.Refresh}
	case tabHistory:
		return []key.Binding{k.Details, k.Refresh}
	}
	return []key.Binding{k.OpenPR, k.OpenGroupPR, k.Refresh}
}

// elsewhere finds the tab a key works on when it does nothing on tab t:
// d on the Charts tab is the Registry's delete. esc, which goes back
// everywhere, is never reported.
func elsewhere(k *common.KeyMap, msg tea.KeyPressMsg, t tab) (key.Binding, tab, bool) {
	if key.Matches(msg, k.Clear) || key.Matches(msg, tabKeys(k, t)...) {
		return key.Binding{}, t, false
	}
	for o := tab(0); o < numTabs; o++ {
		for _, b := range tabKeys(k, o) {
			if o != t && key.Matches(msg, b) {
				return b, o, true
			}
		}
	}
	return key.Binding{}, t, false
}
