package charts

import (
	"charm.land/bubbles/v2/key"

	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// KeyMap is the Charts tab's keys. It implements help.KeyMap.
type KeyMap struct {
	OpenPR, OpenGroupPR, Refresh            key.Binding
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
}

// NewKeyMap takes the tab's keys from the console's.
func NewKeyMap(k *common.KeyMap) KeyMap {
	return KeyMap{OpenPR: k.OpenPR, OpenGroupPR: k.OpenGroupPR, Refresh: k.Refresh,
		Up: k.Up, Down: k.Down, PageUp: k.PageUp, PageDown: k.PageDown, Top: k.Top, Bottom: k.Bottom}
}

// ShortHelp implements help.KeyMap.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.OpenPR, k.OpenGroupPR, k.Refresh, k.Up, k.Down}
}

// FullHelp implements help.KeyMap: the tab's own keys, then moving.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.OpenPR, k.OpenGroupPR, k.Refresh}, {k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}}
}
