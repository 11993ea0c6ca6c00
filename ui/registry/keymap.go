package registry

import (
	"charm.land/bubbles/v2/key"

	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// KeyMap is the Registry tab's keys. It implements help.KeyMap.
type KeyMap struct {
	Select, SelectPlan, Clear, Delete        key.Binding
	Sort, Reverse, Filter, Untagged, Refresh key.Binding
	Up, Down, PageUp, PageDown, Top, Bottom  key.Binding
	FilterApply, FilterCancel                key.Binding
}

// NewKeyMap takes the tab's keys from the console's.
func NewKeyMap(k *common.KeyMap) KeyMap {
	return KeyMap{Select: k.Select, SelectPlan: k.SelectPlan, Clear: k.Clear, Delete: k.Delete,
		Sort: k.Sort, Reverse: k.Reverse, Filter: k.Filter, Untagged: k.Untagged, Refresh: k.Refresh,
		Up: k.Up, Down: k.Down, PageUp: k.PageUp, PageDown: k.PageDown, Top: k.Top, Bottom: k.Bottom,
		FilterApply: k.FilterApply, FilterCancel: k.FilterCancel}
}

// ShortHelp implements help.KeyMap.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Select, k.SelectPlan, k.Delete, k.Sort, k.Filter}
}

// FullHelp implements help.KeyMap: the tab's own keys, then moving. (The
// filter's keys are its help while it is typed: see Model.Keys.)
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Select, k.SelectPlan, k.Clear, k.Delete, k.Sort, k.Reverse, k.Filter, k.Untagged, k.Refresh},
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
	}
}
