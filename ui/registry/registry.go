// Package registry is the console's Registry tab: the registry's images
// in a table, sorted and filtered, their sizes against the cap, the
// selection and the policy plan, and deletes. It calls the same engine
// methods as --headless and decides nothing on its own.
package registry

import (
	"context"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	reg "github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
	"github.com/helmupgradebot/helmupgradebot/ui/components/confirm"
	"github.com/helmupgradebot/helmupgradebot/ui/components/list"
)

// Service is what the console asks of a registry. *engine.Registry
// implements it; --headless calls the same methods, so the console decides
// nothing on its own.
type Service interface {
	URL() string
	Policy() model.Policy
	Scan(ctx context.Context, progress func(reg.Progress)) (*model.Inventory, error)
	// Recover records what became of deletions a killed run left without
	// an outcome in the audit log.
	Recover(ctx context.Context) ([]reg.Recovered, error)
	// Plan is used both for the preview and for what is applied, so a
	// confirm box always shows what a delete will do.
	Plan(inv *model.Inventory, manual []int, force bool) model.Plan
	Apply(ctx context.Context, inv *model.Inventory, plan model.Plan, progress func(done, total int)) (reg.ApplyResult, error)
	// Recheck re-reads the registry and says which planned deletions
	// changed since the scan (Apply skips the same ones).
	Recheck(ctx context.Context, inv *model.Inventory, plan model.Plan) []reg.Skip
}

var _ Service = (*engine.Registry)(nil)

// Model is the Registry tab: scan progress, then the image table with its
// gauge, selection, sort and filter, and deletes.
type Model struct {
	c    *common.Common
	svc  Service
	keys KeyMap
	// ask is the confirm box the last key opened, until Ask takes it.
	ask *confirm.Model
	// width, height: the tab's size, from SetSize.
	width, height int
	// forecastNote is the history's forecast for the gauge ("cap in ~23
	// days"); empty without enough history.
	forecastNote string
	// stale: the table is the last run's snapshot, shown while the fresh
	// scan runs; nothing is deleted on it.
	stale bool
	// scanStart is when the running scan started, by the wall clock (for
	// its rate and ETA).
	scanStart time.Time
	// needReplan: a selection carried over from the snapshot needs its
	// plan made against the fresh scan.
	needReplan bool

	idx      *imageIndex // nil until a scan succeeds
	scanning bool
	scanErr  error
	scan     reg.Progress

	deleting          bool
	delDone, delTotal int
	stopDelete        context.CancelFunc
	// stopped: Stop was called; no rescan follows the delete.
	stopped bool

	list.Model // over idx.view

	selected []bool
	nsel     int
	// plan is the plan for the current selection, from the registry's
	// Plan; planGen counts selection changes so a stale plan is dropped.
	plan       model.Plan
	planPolicy bool
	planGen    int
	planReady  bool

	filtering bool
	input     textinput.Model

	// afterDelete is the delete's report, kept through the rescan.
	afterDelete common.Status
}

// New builds the tab; svc nil says the registry is not configured.
func New(c *common.Common, svc Service) *Model {
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = "repository or tag"
	in.CharLimit = 200
	return &Model{c: c, svc: svc, keys: NewKeyMap(c.Keys), input: in, planReady: true}
}

// Init starts the first scan and reads the last scan's snapshot, when the
// service keeps one, to show while the scan runs.
func (r *Model) Init() tea.Cmd { return tea.Batch(r.startScan(), r.loadSnapshot()) }

// Update handles a key on the tab and the results and progress of its
// work. A key that asks a question leaves a confirm box for Ask.
func (r *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case ScanProgressMsg:
		r.scan = msg.p
	case ApplyProgressMsg:
		r.delDone, r.delTotal = msg.done, msg.total
	case ScanDoneMsg:
		r.scanDone(msg)
		if r.needReplan {
			r.needReplan = false
			return r, r.replan(false)
		}
	case SnapshotMsg:
		r.snapshotLoaded(msg)
	case ApplyDoneMsg:
		return r, r.applyDone(msg)
	case PlanDoneMsg:
		r.planDone(msg)
	case RecheckDoneMsg:
		r.recheckDone(msg)
	case tea.KeyPressMsg:
		var cmd tea.Cmd
		cmd, r.ask = r.key(msg)
		return r, cmd
	}
	return r, nil
}

// Ask takes the confirm box the last key opened, nil when none.
func (r *Model) Ask() (box *confirm.Model) {
	box, r.ask = r.ask, nil
	return box
}

// Confirmed starts the delete a confirmed box asked for, when the box is
// the tab's.
func (r *Model) Confirmed(c *confirm.Model) (tea.Cmd, bool) {
	if _, ok := c.Payload.(deletion); !ok {
		return nil, false
	}
	return r.startDelete(c), true
}

// Force re-plans the refused plan of the tab's box c past
// max_delete_fraction: the box that replaces it, and the command that
// re-checks the registry for it.
func (r *Model) Force(c *confirm.Model) (*confirm.Model, tea.Cmd) {
	box := r.force(c)
	return box, r.recheck(box)
}

// View renders the tab at the size SetSize gave.
func (r *Model) View() tea.View { return tea.NewView(r.Render(r.width, r.height)) }

// SetSize fits the tab in w×h cells: the gauge, the info line and the
// table's header take four.
func (r *Model) SetSize(w, h int) {
	r.width, r.height = w, h
	r.SetPage(h - 4)
	r.input.SetWidth(max(w-4, 10))
	r.scroll()
}

// Restyle follows a change of theme.
func (r *Model) Restyle() { r.input.SetStyles(r.c.Styles.Input) }

// Keys are the bindings that apply on the tab: the filter's while it is
// typed.
func (r *Model) Keys() help.KeyMap {
	if r.filtering {
		b := []key.Binding{r.keys.FilterApply, r.keys.FilterCancel}
		return common.HelpKeys{Short: b, Full: [][]key.Binding{b}}
	}
	return r.keys
}

// SetForecast gives the gauge the history's forecast ("cap in ~23
// days"); "" says none.
func (r *Model) SetForecast(note string) { r.forecastNote = note }

// Busy reports whether a scan or a delete is running.
func (r *Model) Busy() bool { return r.scanning || r.deleting }

// Deleting reports whether a delete is running.
func (r *Model) Deleting() bool { return r.deleting }

// PlanReady reports whether the selection's plan has come (false while
// the registry plans it).
func (r *Model) PlanReady() bool { return r.planReady }

// Filtering reports whether keys go to the filter's input.
func (r *Model) Filtering() bool { return r.filtering }

// Inventory is the table's inventory: the last scan's, or the snapshot's
// while the first scan runs; nil before either.
func (r *Model) Inventory() *model.Inventory {
	if r.idx == nil {
		return nil
	}
	return r.idx.inv
}

// TotalBytes is the inventory's size, every blob counted once; 0 before a
// scan.
func (r *Model) TotalBytes() int64 {
	if r.idx == nil {
		return 0
	}
	return r.idx.sizes.Total
}

// Untagged counts the inventory's images without tags.
func (r *Model) Untagged() int {
	if r.idx == nil {
		return 0
	}
	return r.idx.untagged()
}

// SortedBy names the table's sort ("age", "size", …) and says whether it
// is reversed.
func (r *Model) SortedBy() (string, bool) {
	if r.idx == nil {
		return sortAge.String(), false
	}
	return r.idx.key.String(), r.idx.reverse
}

// Legend names the table's markers; "" before a scan.
func (r *Model) Legend() string {
	if r.idx == nil {
		return ""
	}
	return r.idx.legend()
}

func (r *Model) configured() bool { return r.svc != nil }

func (r *Model) scroll() {
	if r.idx != nil {
		r.Clamp(len(r.idx.view))
	}
}

// Current is the inventory index of the image under the cursor, or -1.
func (r *Model) Current() int {
	if r.idx == nil || r.Cursor >= len(r.idx.view) {
		return -1
	}
	return r.idx.view[r.Cursor]
}

// key handles a key; it may return a confirm box to open.
func (r *Model) key(msg tea.KeyPressMsg) (tea.Cmd, *confirm.Model) {
	k := r.keys
	if r.filtering {
		switch {
		case key.Matches(msg, k.FilterApply):
			r.filtering = false
			r.input.Blur()
			return nil, nil
		case key.Matches(msg, k.FilterCancel):
			r.filtering = false
			r.input.Blur()
			r.input.SetValue("")
			r.setFilter("")
			return nil, nil
		}
		var cmd tea.Cmd
		r.input, cmd = r.input.Update(msg)
		r.setFilter(r.input.Value())
		return cmd, nil
	}
	if key.Matches(msg, k.Refresh) {
		if r.Busy() {
			r.c.Notef("the registry is busy; r again when it is done")
			return nil, nil
		}
		return r.startScan(), nil
	}
	if r.idx == nil {
		return nil, nil
	}
	switch {
	case r.Move(msg, r.c.Keys, len(r.idx.view)):
	case key.Matches(msg, k.Sort):
		r.resort(r.idx.nextKey(), false)
	case key.Matches(msg, k.Reverse):
		r.resort(r.idx.key, !r.idx.reverse)
	case key.Matches(msg, k.Filter):
		r.filtering = true
		r.input.SetValue(r.idx.filter)
		r.input.CursorEnd()
		return r.input.Focus(), nil
	case key.Matches(msg, k.Untagged):
		cur := r.Current()
		r.idx.setHideUntagged(!r.idx.hideUntagged)
		r.follow(cur)
		if r.idx.hideUntagged {
			r.c.Notef("untagged manifests hidden (%d); u shows them", r.idx.untagged())
		} else {
			r.c.Notef("untagged manifests shown")
		}
	case key.Matches(msg, k.Select):
		return r.toggle(), nil
	case key.Matches(msg, k.SelectPlan):
		return r.selectPolicy(), nil
	case key.Matches(msg, k.Clear):
		switch {
		case r.nsel > 0:
			r.clearSelection()
			r.c.Notef("selection cleared")
		case r.idx.filter != "":
			r.input.SetValue("")
			r.setFilter("")
		}
	case key.Matches(msg, k.Delete):
		box := r.confirmDelete()
		return r.recheck(box), box
	}
	r.scroll()
	return nil, nil
}

// resort re-sorts keeping the cursor on the same image.
func (r *Model) resort(k sortKey, reverse bool) {
	cur := r.Current()
	r.idx.setSort(k, reverse)
	r.follow(cur)
}

func (r *Model) setFilter(f string) {
	if r.idx == nil {
		return
	}
	cur := r.Current()
	r.idx.setFilter(f)
	r.follow(cur)
}

// follow puts the cursor back on image i if it is in view, else at the top.
func (r *Model) follow(i int) {
	r.Cursor = 0
	if i >= 0 {
		if p := r.idx.position(i); p >= 0 {
			r.Cursor = p
			r.Offset = p - r.Page/2
		}
	}
	r.scroll()
}

func (r *Model) toggle() tea.Cmd {
	i := r.Current()
	if i < 0 {
		return nil
	}
	switch h := r.idx.holds[i]; {
	case h == model.HoldLocked: // "is locked (tag hub:stable)"
		r.c.Errorf("%s is %s and cannot be deleted", imageName(&r.idx.inv.Images[i]), r.idx.holdWhy(i, r.c.Now()))
		return nil
	case h.Hard():
		r.c.Errorf("%s is held (%s) and cannot be deleted", imageName(&r.idx.inv.Images[i]), r.idx.holdWhy(i, r.c.Now()))
		return nil
	}
	r.selected[i] = !r.selected[i]
	if r.selected[i] {
		r.nsel++
	} else {
		r.nsel--
	}
	r.Cursor++
	r.scroll()
	return r.replan(false)
}

func (r *Model) clearSelection() {
	clear(r.selected)
	r.nsel = 0
	r.plan, r.planPolicy, r.planReady = model.Plan{}, false, true
	r.planGen++
}

// Selection is the inventory indexes of the selected images, in order.
func (r *Model) Selection() []int {
	out := make([]int, 0, r.nsel)
	for i, s := range r.selected {
		if s {
			out = append(out, i)
		}
	}
	return out
}
