package registry

import (
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/helmupgradebot/helmupgradebot/backend/audit"
	reg "github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// startScan scans the registry in a command; sizes, holds and the first
// sort are computed there too, off the event loop.
func (r *Model) startScan() tea.Cmd {
	if !r.configured() || r.Busy() {
		return nil
	}
	r.scanning, r.scan, r.scanStart = true, reg.Progress{}, time.Now()
	svc, ctx := r.svc, r.c.Ctx
	key, rev := sortAge, false
	if r.idx != nil {
		key, rev = r.idx.key, r.idx.reverse
	}
	return common.RunJob(func(progress func(tea.Msg)) tea.Msg {
		rec, recErr := svc.Recover(ctx)
		inv, err := svc.Scan(ctx, func(p reg.Progress) { progress(ScanProgressMsg{p}) })
		if err != nil {
			return ScanDoneMsg{err: err, recovered: rec, recErr: recErr}
		}
		x := indexImages(inv, svc.Policy(), usageOf(svc, inv))
		if key != sortAge || rev {
			x.setSort(key, rev)
		}
		return ScanDoneMsg{index: x, recovered: rec, recErr: recErr}
	})
}

func (r *Model) scanDone(msg ScanDoneMsg) {
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
func (r *Model) scanProblems(msg ScanDoneMsg) (first string, all []string) {
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
