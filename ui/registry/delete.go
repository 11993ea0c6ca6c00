package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	reg "github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
	"github.com/helmupgradebot/helmupgradebot/ui/components/confirm"
)

// replan asks the registry for the plan of the current selection (or its
// policy plan) in a command: with a large inventory it takes a moment.
func (r *Model) replan(policy bool) tea.Cmd {
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
		manual = r.Selection()
	}
	return func() tea.Msg {
		return PlanDoneMsg{gen: gen, plan: svc.Plan(inv, manual, false)}
	}
}

func (r *Model) selectPolicy() tea.Cmd {
	r.clearSelection()
	return r.replan(true)
}

func (r *Model) planDone(msg PlanDoneMsg) {
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
func (r *Model) confirmDelete() *confirm.Model {
	if r.stale {
		r.c.Errorf("this is the snapshot %s; deletes wait for the fresh scan", r.staleText())
		return nil
	}
	if r.Busy() {
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
			manual = r.Selection()
		}
		r.plan, r.planReady = r.svc.Plan(r.idx.inv, manual, false), true
	}
	return r.deleteBox(r.plan, r.planPolicy)
}

func (r *Model) deleteBox(p model.Plan, policy bool) *confirm.Model {
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
func (r *Model) recheck(c *confirm.Model) tea.Cmd {
	if c == nil || !c.Checking {
		return nil
	}
	d, ok := c.Payload.(deletion)
	if !ok {
		return nil
	}
	svc, inv, plan, ctx := r.svc, r.idx.inv, d.plan, r.c.Ctx
	return func() tea.Msg {
		return RecheckDoneMsg{Box: c, skips: svc.Recheck(ctx, inv, plan)}
	}
}

// recheckDone shows what changed since the scan in the open delete box.
func (r *Model) recheckDone(msg RecheckDoneMsg) {
	c := msg.Box
	c.Checking = false
	if len(msg.skips) == 0 {
		c.Add("✓ re-checked: the registry still matches the scan")
		return
	}
	n := len(msg.skips)
	c.Add(common.Count(n, "image") + " changed since the scan and will be skipped:")
	for _, s := range msg.skips[:min(3, n)] {
		why := strings.TrimPrefix(strings.TrimPrefix(s.Reason, reg.ChangedSinceScan), ": ")
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
func (r *Model) force(c *confirm.Model) *confirm.Model {
	d, _ := c.Payload.(deletion)
	var manual []int
	if !d.policy {
		manual = r.Selection()
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
func (r *Model) startDelete(c *confirm.Model) tea.Cmd {
	d, ok := c.Payload.(deletion)
	if r.Busy() || !ok {
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
		res, err := svc.Apply(ctx, inv, plan, func(done, total int) { progress(ApplyProgressMsg{done, total}) })
		return ApplyDoneMsg{Plan: plan, Result: res, err: err}
	})
}

// Stop asks a running delete to start no further deletions (the ones
// under way finish and are recorded) and no rescan to follow it: the
// console stops a delete to quit.
func (r *Model) Stop() {
	r.stopped = true
	if r.stopDelete != nil {
		r.stopDelete()
	}
}

// applyDone reports a delete and, unless it was stopped, rescans so table
// and gauge show the registry as it now is.
func (r *Model) applyDone(msg ApplyDoneMsg) tea.Cmd {
	r.deleting, r.stopDelete = false, nil
	res := msg.Result
	total := len(msg.Plan.Deletions)
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
	if r.stopped {
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
