package ui

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// snapshotter is a registry service that keeps the last scan's inventory
// (*engine.Registry does): the console opens on it while a fresh scan runs.
type snapshotter interface {
	Snapshot() (*model.Inventory, error)
}

// snapshotMsg delivers the last scan's inventory, indexed.
type snapshotMsg struct{ index *imageIndex }

// loadSnapshot reads the last scan's inventory in a command, when the
// service keeps one.
func (r *registrySection) loadSnapshot() tea.Cmd {
	s, ok := r.svc.(snapshotter)
	if !ok || r.svc == nil {
		return nil
	}
	pol := r.svc.Policy()
	return func() tea.Msg {
		inv, err := s.Snapshot()
		if err != nil || inv == nil {
			return snapshotMsg{}
		}
		return snapshotMsg{index: newImageIndex(inv, pol)}
	}
}

// snapshotLoaded shows the snapshot, marked stale, unless the fresh scan
// has already ended.
func (r *registrySection) snapshotLoaded(msg snapshotMsg) {
	if msg.index == nil || r.idx != nil || !r.scanning {
		return
	}
	r.idx, r.stale = msg.index, true
	r.selected = make([]bool, len(r.idx.inv.Images))
	r.nsel, r.plan, r.planPolicy, r.planReady = 0, model.Plan{}, false, true
	r.cursor, r.offset = 0, 0
	r.scroll()
	r.c.infof("%s", r.staleText())
}

// staleText says what the table shows while it is a snapshot.
func (r *registrySection) staleText() string {
	return "as of " + r.idx.inv.ScannedAt.Local().Format(time.DateTime) + ", refreshing…"
}

// carry keeps the cursor and the selection on the same images (by
// repository and digest) when a fresh scan replaces the table.
type carry struct {
	cursor   string
	selected []string
	filter   string
}

func (r *registrySection) carryOver() carry {
	var c carry
	if r.idx == nil {
		return c
	}
	c.filter = r.idx.filter
	if i := r.current(); i >= 0 {
		c.cursor = r.idx.inv.Images[i].Ref()
	}
	for _, i := range r.selection() {
		c.selected = append(c.selected, r.idx.inv.Images[i].Ref())
	}
	return c
}

// apply puts the cursor and selection back on the new table.
func (c carry) apply(r *registrySection) {
	at := map[string]int{}
	for i := range r.idx.inv.Images {
		at[r.idx.inv.Images[i].Ref()] = i
	}
	for _, ref := range c.selected {
		if i, ok := at[ref]; ok && !r.idx.holds[i].Hard() {
			r.selected[i] = true
			r.nsel++
		}
	}
	if i, ok := at[c.cursor]; ok {
		r.follow(i)
	}
}
