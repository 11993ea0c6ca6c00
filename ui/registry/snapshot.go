package registry

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

// SnapshotMsg delivers the last scan's inventory, indexed.
type SnapshotMsg struct{ index *imageIndex }

// loadSnapshot reads the last scan's inventory in a command, when the
// service keeps one.
func (r *Model) loadSnapshot() tea.Cmd {
	s, ok := r.svc.(snapshotter)
	if !ok || r.svc == nil {
		return nil
	}
	pol := r.svc.Policy()
	return func() tea.Msg {
		inv, err := s.Snapshot()
		if err != nil || inv == nil {
			return SnapshotMsg{}
		}
		return SnapshotMsg{index: newImageIndex(inv, pol)}
	}
}

// snapshotLoaded shows the snapshot, marked stale, unless the fresh scan
// has already ended.
func (r *Model) snapshotLoaded(msg SnapshotMsg) {
	if msg.index == nil || r.idx != nil || !r.scanning {
		return
	}
	r.idx, r.stale = msg.index, true
	r.selected = make([]bool, len(r.idx.inv.Images))
	r.nsel, r.plan, r.planPolicy, r.planReady = 0, model.Plan{}, false, true
	r.Cursor, r.Offset = 0, 0
	r.scroll()
	r.c.Infof("%s", r.staleText())
}

// staleText says what the table shows while it is a snapshot.
func (r *Model) staleText() string {
	return "as of " + r.idx.inv.ScannedAt.Local().Format(time.DateTime) + ", refreshing…"
}

// carry keeps the cursor and the selection on the same images (by
// repository and digest) when a fresh scan replaces the table.
type carry struct {
	cursor   string
	selected []string
}

func (r *Model) carryOver() carry {
	var c carry
	if r.idx == nil {
		return c
	}
	if i := r.Current(); i >= 0 {
		c.cursor = r.idx.inv.Images[i].Ref()
	}
	for _, i := range r.Selection() {
		c.selected = append(c.selected, r.idx.inv.Images[i].Ref())
	}
	return c
}

// cursorTo puts the cursor back on its image in the new table, when it
// is still there (and in view), keeping it on screen.
func (c carry) cursorTo(r *Model) {
	if c.cursor == "" {
		return
	}
	for i := range r.idx.inv.Images {
		if r.idx.inv.Images[i].Ref() == c.cursor {
			if p := r.idx.position(i); p >= 0 && p != r.Cursor {
				r.follow(i)
			}
			return
		}
	}
}

// selectAgain selects the same images in the new table, held ones aside.
func (c carry) selectAgain(r *Model) {
	sel := make(map[string]bool, len(c.selected))
	for _, ref := range c.selected {
		sel[ref] = true
	}
	for i := range r.idx.inv.Images {
		if sel[r.idx.inv.Images[i].Ref()] && !r.idx.holds[i].Hard() {
			r.selected[i] = true
			r.nsel++
		}
	}
}
