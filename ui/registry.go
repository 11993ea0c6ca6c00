package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/helmupgradebot/helmupgradebot/backend/audit"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
	"github.com/helmupgradebot/helmupgradebot/ui/components/confirm"
	"github.com/helmupgradebot/helmupgradebot/ui/components/list"
)

// registrySection is the Registry tab: scan progress, then the image table
// with its gauge, selection, sort and filter, and deletes.
type registrySection struct {
	c   *common.Common
	svc RegistryService
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
	scan     registry.Progress

	deleting          bool
	delDone, delTotal int
	stopDelete        context.CancelFunc

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

func newRegistrySection(c *common.Common, svc RegistryService) *registrySection {
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = "repository or tag"
	in.CharLimit = 200
	return &registrySection{c: c, svc: svc, input: in, planReady: true}
}

func (r *registrySection) configured() bool { return r.svc != nil }

func (r *registrySection) busy() bool { return r.scanning || r.deleting }

// startScan scans the registry in a command; sizes, holds and the first
// sort are computed there too, off the event loop.
func (r *registrySection) startScan() tea.Cmd {
	if !r.configured() || r.busy() {
		return nil
	}
	r.scanning, r.scan, r.scanStart = true, registry.Progress{}, time.Now()
	svc, ctx := r.svc, r.c.Ctx
	key, rev := sortAge, false
	if r.idx != nil {
		key, rev = r.idx.key, r.idx.reverse
	}
	return common.RunJob(func(progress func(tea.Msg)) tea.Msg {
		rec, recErr := svc.Recover(ctx)
		inv, err := svc.Scan(ctx, func(p registry.Progress) { progress(scanProgressMsg{p}) })
		if err != nil {
			return scanDoneMsg{err: err, recovered: rec, recErr: recErr}
		}
		x := indexImages(inv, svc.Policy(), usageOf(svc, inv))
		if key != sortAge || rev {
			x.setSort(key, rev)
		}
		return scanDoneMsg{index: x, recovered: rec, recErr: recErr}
	})
}

func (r *registrySection) scanDone(msg scanDoneMsg) {
	r.scanning = false
	if msg.err != nil {
		r.scanErr = msg.err
		r.c.Report(common.SrcScan, msg.err.Error())
		return
	}
	r.scanErr = nil
	keep := r.carryOver()
	wasStale := r.stale
	r.stale = false
	prefix := r.afterDelete
	r.afterDelete = common.Status{}
	pos := -1
	if r.idx != nil && r.Cursor < len(r.idx.view) {
		pos = r.Cursor
	}
	old := r.idx
	r.idx = msg.index
	if old != nil { // the sort, filter and u chosen while the scan ran stay
		if r.idx.key != old.key || r.idx.reverse != old.reverse {
			r.idx.setSort(old.key, old.reverse)
		}
		r.idx.hideUntagged = old.hideUntagged
		r.idx.setFilter(old.filter)
	}
	r.selected = make([]bool, len(r.idx.inv.Images))
	r.nsel, r.plan, r.planPolicy, r.planReady = 0, model.Plan{}, false, true
	r.planGen++
	offset := r.Offset
	r.Cursor, r.Offset = 0, 0
	if pos >= 0 { // the same place, if its image is gone
		r.Cursor, r.Offset = min(pos, max(len(r.idx.view)-1, 0)), offset
	}
	r.scroll()
	keep.cursorTo(r)
	if wasStale {
		keep.selectAgain(r)
		r.needReplan = r.nsel > 0
	}
	inv := r.idx.inv
	msgText := fmt.Sprintf("scanned %s: %s, %s, %s", r.svc.URL(), common.Count(inv.Repositories, "repository"), common.Count(len(inv.Images), "image"), common.Count(inv.Tags(), "tag"))
	first, details := r.scanProblems(msg)
	switch {
	case prefix.Text != "":
		// After a delete, what the delete did matters most: the scan's
		// problems go to the errors view only.
		r.c.Errs.Set(common.ErrEntry{Src: common.SrcScan, At: r.c.Now(), Text: first, Details: details})
		r.c.Status = common.Status{Text: prefix.Text + "; rescanned: " + common.Count(len(inv.Images), "image"), Err: prefix.Err}
	case first != "": // the problem leads: the status line shows the first line
		r.c.Report(common.SrcScan, first+"\n"+msgText, details...)
	default:
		r.c.Report(common.SrcScan, "")
		r.c.Infof("%s", msgText)
	}
}

// maxProblems is how many scan problems the errors view lists.
const maxProblems = 200

// scanProblems is what went wrong in a scan that ended: the first problem,
// for the status line, and, when there are more, every one.
func (r *registrySection) scanProblems(msg scanDoneMsg) (first string, all []string) {
	add := func(s string) {
		if first == "" {
			first = s
		}
		all = append(all, s)
	}
	if msg.recErr != nil {
		add(msg.recErr.Error())
	}
	if n := len(msg.recovered); n > 0 {
		gone := 0
		for _, x := range msg.recovered {
			if x.Outcome == audit.OutcomeDeleted {
				gone++
			}
		}
		add(fmt.Sprintf("a killed run left %s unrecorded: %d had taken effect, %d had not; the audit log now says so",
			common.Count(n, "deletion"), gone, n-gone))
	}
	if why := r.idx.usageProblem(); why != "" {
		add(why)
	}
	if errs := r.idx.inv.Errors; len(errs) > 0 {
		add(fmt.Sprintf("%s, first: %s", common.Count(len(errs), "problem"), scanErrorText(errs[0])))
		all[len(all)-1] = common.Count(len(errs), "problem") + ":"
		for _, e := range errs[:min(len(errs), maxProblems)] {
			all = append(all, "  "+scanErrorText(e))
		}
		if more := len(errs) - maxProblems; more > 0 {
			all = append(all, fmt.Sprintf("  … and %d more", more))
		}
	}
	if len(all) < 2 {
		all = nil // the first says it all
	}
	return first, all
}

func scanErrorText(e model.ScanError) string {
	where := e.Repository
	if e.Reference != "" {
		where += "@" + e.Reference
	}
	if where == "" {
		return e.Error
	}
	return where + ": " + e.Error
}

// setRows sets how many table rows fit.
func (r *registrySection) setRows(n int) {
	r.SetPage(n)
	r.input.SetWidth(max(r.c.Width-4, 10))
	r.scroll()
}

func (r *registrySection) scroll() {
	if r.idx != nil {
		r.Clamp(len(r.idx.view))
	}
}

// current is the image under the cursor, or -1.
func (r *registrySection) current() int {
	if r.idx == nil || r.Cursor >= len(r.idx.view) {
		return -1
	}
	return r.idx.view[r.Cursor]
}

// update handles a key; it may return a confirm box to open.
func (r *registrySection) update(msg tea.KeyPressMsg) (tea.Cmd, *confirm.Model) {
	k := r.c.Keys
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
		if r.busy() {
			r.c.Notef("the registry is busy; r again when it is done")
			return nil, nil
		}
		return r.startScan(), nil
	}
	if r.idx == nil {
		return nil, nil
	}
	switch {
	case r.Move(msg, k, len(r.idx.view)):
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
		cur := r.current()
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
func (r *registrySection) resort(k sortKey, reverse bool) {
	cur := r.current()
	r.idx.setSort(k, reverse)
	r.follow(cur)
}

func (r *registrySection) setFilter(f string) {
	if r.idx == nil {
		return
	}
	cur := r.current()
	r.idx.setFilter(f)
	r.follow(cur)
}

// follow puts the cursor back on image i if it is in view, else at the top.
func (r *registrySection) follow(i int) {
	r.Cursor = 0
	if i >= 0 {
		if p := r.idx.position(i); p >= 0 {
			r.Cursor = p
			r.Offset = p - r.Page/2
		}
	}
	r.scroll()
}

func (r *registrySection) toggle() tea.Cmd {
	i := r.current()
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

func (r *registrySection) clearSelection() {
	clear(r.selected)
	r.nsel = 0
	r.plan, r.planPolicy, r.planReady = model.Plan{}, false, true
	r.planGen++
}

func (r *registrySection) selection() []int {
	out := make([]int, 0, r.nsel)
	for i, s := range r.selected {
		if s {
			out = append(out, i)
		}
	}
	return out
}

// replan asks the registry for the plan of the current selection (or its
// policy plan) in a command: with a large inventory it takes a moment.
func (r *registrySection) replan(policy bool) tea.Cmd {
	r.planGen++
	r.planPolicy = policy
	if !policy && r.nsel == 0 {
		r.plan, r.planReady = model.Plan{}, true
		return nil
	}
	r.planReady = false
	gen, svc, inv := r.planGen, r.svc, r.idx.inv
	var manual []int
	if !policy {
		manual = r.selection()
	}
	return func() tea.Msg {
		return planDoneMsg{gen: gen, plan: svc.Plan(inv, manual, false)}
	}
}

func (r *registrySection) selectPolicy() tea.Cmd {
	r.clearSelection()
	return r.replan(true)
}

func (r *registrySection) planDone(msg planDoneMsg) {
	if msg.gen != r.planGen || r.idx == nil {
		return
	}
	r.plan, r.planReady = msg.plan, true
	if r.planPolicy {
		clear(r.selected)
		r.nsel = 0
		for _, d := range msg.plan.Deletions {
			r.selected[d.Image] = true
			r.nsel++
		}
		text := fmt.Sprintf("policy plan: %s, frees %s", common.Count(len(msg.plan.Deletions), "image"), model.FormatBytes(msg.plan.ReclaimBytes))
		if msg.plan.Shortfall > 0 {
			text += fmt.Sprintf("; still %s over the cap without held images", model.FormatBytes(msg.plan.Shortfall))
		}
		if msg.plan.Refused != "" {
			r.c.Report(common.SrcPlan, text+"; "+msg.plan.Refused)
			return
		}
		r.c.Report(common.SrcPlan, "")
		r.c.Infof("%s", text)
	}
}

// confirmDelete opens the delete box for the current plan; the plan shown
// is the plan applied.
func (r *registrySection) confirmDelete() *confirm.Model {
	if r.stale {
		r.c.Errorf("this is the snapshot %s; deletes wait for the fresh scan", r.staleText())
		return nil
	}
	if r.busy() {
		r.c.Notef("the registry is busy")
		return nil
	}
	if r.nsel == 0 {
		r.c.Errorf("nothing selected: space selects an image, a selects the policy plan")
		return nil
	}
	if !r.planReady {
		var manual []int
		if !r.planPolicy {
			manual = r.selection()
		}
		r.plan, r.planReady = r.svc.Plan(r.idx.inv, manual, false), true
	}
	return r.deleteBox(r.plan, r.planPolicy)
}

func (r *registrySection) deleteBox(p model.Plan, policy bool) *confirm.Model {
	inv := r.idx.inv
	n := len(p.Deletions)
	c := &confirm.Model{Payload: deletion{plan: p, policy: policy}}
	c.Title = fmt.Sprintf("Delete %s from %s?", common.Count(n, "image"), r.svc.URL())
	line := fmt.Sprintf("frees %s: %s → %s", model.FormatBytes(p.ReclaimBytes), model.FormatBytes(p.TotalBytes), model.FormatBytes(p.TotalAfterBytes))
	if p.CapBytes > 0 {
		line += fmt.Sprintf(" (cap %s)", model.FormatBytes(p.CapBytes))
	}
	c.Add(line)
	if policy {
		c.Add("the policy plan: " + planReasons(p))
	}
	largest := slices.Clone(p.Deletions)
	slices.SortStableFunc(largest, func(a, b model.Deletion) int { return int(signum(b.Reclaim - a.Reclaim)) })
	if len(largest) > 0 {
		c.Add("largest:")
	}
	for _, d := range largest[:min(3, len(largest))] {
		c.Add(fmt.Sprintf("  %s  %s", model.FormatBytes(d.Reclaim), imageName(&inv.Images[d.Image])))
	}
	if more := n - 3; more > 0 {
		c.Add(fmt.Sprintf("  … and %d more", more))
	}
	if x := len(p.Excluded); x > 0 {
		c.Add(common.Count(x, "held image") + " left out")
	}
	if p.Shortfall > 0 {
		c.Add(shortfallText(p.Shortfall, policy))
	}
	if n == 0 {
		c.Blocked = "nothing to delete: every selected image is held"
	}
	c.Checking = n > 0
	if p.Refused != "" {
		c.Blocked, c.Forceable = p.Refused, true
	}
	return c
}

// recheck re-reads the registry for a delete box's plan: a tag moved onto
// a planned image, or a new index using one, since the scan.
func (r *registrySection) recheck(c *confirm.Model) tea.Cmd {
	if c == nil || !c.Checking {
		return nil
	}
	d, ok := c.Payload.(deletion)
	if !ok {
		return nil
	}
	svc, inv, plan, ctx := r.svc, r.idx.inv, d.plan, r.c.Ctx
	return func() tea.Msg {
		return recheckDoneMsg{box: c, skips: svc.Recheck(ctx, inv, plan)}
	}
}

// recheckDone shows what changed since the scan in the open delete box.
func (r *registrySection) recheckDone(msg recheckDoneMsg) {
	c := msg.box
	c.Checking = false
	if len(msg.skips) == 0 {
		c.Add("✓ re-checked: the registry still matches the scan")
		return
	}
	n := len(msg.skips)
	c.Add(common.Count(n, "image") + " changed since the scan and will be skipped:")
	for _, s := range msg.skips[:min(3, n)] {
		why := strings.TrimPrefix(strings.TrimPrefix(s.Reason, registry.ChangedSinceScan), ": ")
		c.AddLabeled("", fmt.Sprintf("%s@%s: %s", s.Repository, shortDigest(s.Digest), why))
	}
	if n > 3 {
		c.Add(fmt.Sprintf("  … and %d more", n-3))
	}
	if d, _ := c.Payload.(deletion); n == len(d.plan.Deletions) && c.Blocked == "" {
		c.Blocked = "nothing left to delete: every planned image changed since the scan; r rescans"
	}
}

// deletion is a delete box's payload: the plan to apply, and whether it is
// the policy's.
type deletion struct {
	plan   model.Plan
	policy bool
}

// force re-plans a refused plan past max_delete_fraction.
func (r *registrySection) force(c *confirm.Model) *confirm.Model {
	d, _ := c.Payload.(deletion)
	var manual []int
	if !d.policy {
		manual = r.selection()
	}
	p := r.svc.Plan(r.idx.inv, manual, true)
	return r.deleteBox(p, d.policy)
}

// shortfallText says why a plan leaves the registry over the cap: the
// policy plan stops at held images; a hand-picked one at what was picked.
func shortfallText(short int64, policy bool) string {
	if policy {
		return fmt.Sprintf("still %s over the cap: the rest is held", model.FormatBytes(short))
	}
	return fmt.Sprintf("still %s over the cap: the rest is not selected (a selects the policy plan)", model.FormatBytes(short))
}

func planReasons(p model.Plan) string {
	var age, capN int
	for _, d := range p.Deletions {
		switch d.Reason {
		case model.ReasonAge:
			age++
		case model.ReasonCap:
			capN++
		}
	}
	return fmt.Sprintf("%d over the max age, %d to get under the cap", age, capN)
}

func signum(v int64) int64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// startDelete applies the confirmed plan.
func (r *registrySection) startDelete(c *confirm.Model) tea.Cmd {
	d, ok := c.Payload.(deletion)
	if r.busy() || !ok {
		return nil
	}
	r.deleting, r.delDone, r.delTotal = true, 0, len(d.plan.Deletions)
	ctx, cancel := context.WithCancel(r.c.Ctx)
	r.stopDelete = cancel
	svc, inv, plan, inflight := r.svc, r.idx.inv, d.plan, &r.c.Deletes
	return common.RunJob(func(progress func(tea.Msg)) tea.Msg {
		inflight.Add(1)
		defer inflight.Add(-1)
		defer cancel()
		res, err := svc.Apply(ctx, inv, plan, func(done, total int) { progress(applyProgressMsg{done, total}) })
		return applyDoneMsg{plan: plan, res: res, err: err}
	})
}

// stop asks a running delete to start no further deletions; the ones
// under way finish and are recorded.
func (r *registrySection) stop() {
	if r.stopDelete != nil {
		r.stopDelete()
	}
}

// applyDone reports a delete and, when rescan is set, rescans so table and
// gauge show the registry as it now is.
func (r *registrySection) applyDone(msg applyDoneMsg, rescan bool) tea.Cmd {
	r.deleting, r.stopDelete = false, nil
	res := msg.res
	total := len(msg.plan.Deletions)
	text := fmt.Sprintf("deleted %d of %s (%s)", len(res.Deleted), common.Count(total, "image"), model.FormatBytes(res.FreedBytes))
	if k := len(res.Skipped); k > 0 {
		text += fmt.Sprintf("; %d skipped (%s)", k, res.Skipped[0].Reason)
	}
	var details []string
	for _, f := range res.Failed {
		details = append(details, fmt.Sprintf("  failed %s@%s: %s", f.Repository, f.Digest, f.Error))
	}
	for _, s := range res.Skipped {
		details = append(details, fmt.Sprintf("  skipped %s@%s: %s", s.Repository, s.Digest, s.Reason))
	}
	switch {
	case len(res.Failed) > 0:
		f := res.Failed[0]
		first := f.Error
		if !strings.Contains(first, f.Repository) {
			first += fmt.Sprintf(" (%s@%s)", f.Repository, shortDigest(f.Digest))
		}
		text += fmt.Sprintf("; %d failed, first: %s", len(res.Failed), first)
		if res.NotStarted > 0 {
			text += fmt.Sprintf("; %d not started", res.NotStarted)
		}
		r.c.Report(common.SrcDelete, text, details...)
	case msg.err != nil:
		r.c.Report(common.SrcDelete, fmt.Sprintf("%s: %v", text, msg.err), details...)
	case res.Interrupted:
		r.c.Report(common.SrcDelete, fmt.Sprintf("%s: interrupted, %d not started", text, res.NotStarted), details...)
	case len(res.Skipped) > 0:
		r.c.Report(common.SrcDelete, text, details...)
	default:
		r.c.Report(common.SrcDelete, "")
		r.c.Infof("%s", text)
	}
	r.clearSelection()
	if !rescan {
		return nil
	}
	r.afterDelete = r.c.Status
	return r.startScan()
}

func shortDigest(d string) string {
	if _, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return d[:len(d)-len(hex)] + hex[:12]
	}
	return d
}
