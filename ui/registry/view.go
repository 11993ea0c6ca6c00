package registry

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/progress"

	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
	"github.com/helmupgradebot/helmupgradebot/ui/components/gauge"
	"github.com/helmupgradebot/helmupgradebot/ui/pager"
)

// StatusText says what the tab is doing, for the status line; "" when
// nothing.
func (r *Model) StatusText() string {
	switch {
	case r.deleting:
		return fmt.Sprintf("deleting %d/%s", r.delDone, common.Count(r.delTotal, "image"))
	case r.scanning:
		s := fmt.Sprintf("scanning %s: %d/%s, %d/%s", r.svc.URL(),
			r.scan.RepositoriesDone, common.Count(r.scan.Repositories, "repository"), r.scan.ImagesDone, common.Count(r.scan.Images, "image"))
		if rate, eta, ok := r.scan.Rate(time.Since(r.scanStart)); ok {
			s += fmt.Sprintf(", %.0f/s", rate)
			if eta > 0 {
				s += ", about " + eta.String() + " left"
			}
		}
		if r.stale {
			s = r.staleText() + " " + s
		}
		return s
	case !r.planReady:
		return "planning"
	}
	return ""
}

// Counts summarises the table for the status line.
func (r *Model) Counts() string {
	if r.idx == nil {
		return ""
	}
	s := common.Count(len(r.idx.inv.Images), "image")
	if r.nsel > 0 {
		s += fmt.Sprintf(" · %d selected", r.nsel)
	}
	return s
}

// Render renders the tab in w×h cells.
func (r *Model) Render(w, h int) string {
	st := r.c.Styles
	if !r.configured() {
		return common.Block(st.Muted.Render("registry not configured: add registry.url to the config"), w, h)
	}
	if r.idx == nil {
		switch {
		case r.scanning:
			return common.Block(r.scanView(w), w, h)
		case r.scanErr != nil: // wrapped: the reason is what matters
			ls := pager.Wrap(st.Error.Render("scan failed:")+" "+r.scanErr.Error(), w)
			return common.Block(strings.Join(ls, "\n")+"\n"+st.Muted.Render("r scans again"), w, h)
		}
		return common.Block(st.Muted.Render("no scan yet: r scans "+r.svc.URL()), w, h)
	}
	var top string
	switch {
	case r.deleting:
		top = r.deleteView(w)
	case r.scanning:
		top = r.scanView(w)
	default:
		top = r.gauge().View(st, w)
	}
	if h < 4 {
		return common.Block(r.infoLine(w), w, h)
	}
	top = common.Block(top, w, 2)
	return top + "\n" + r.infoLine(w) + "\n" + r.table(w, h-3)
}

func (r *Model) gauge() gauge.Model {
	g := gauge.Model{Total: r.idx.sizes.Total, After: r.idx.sizes.Total, CapBytes: r.svc.Policy().Cap, Note: r.forecastNote}
	if r.nsel > 0 && r.planReady {
		g.After, g.Selected = r.plan.TotalAfterBytes, len(r.plan.Deletions)
	}
	return g
}

func (r *Model) bar(w int) progress.Model {
	st := r.c.Styles
	return progress.New(progress.WithWidth(w), progress.WithColors(st.ProgressFull), progress.WithFillCharacters('█', '░'),
		progress.WithoutPercentage())
}

func ratio(a, b int) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (r *Model) scanView(w int) string {
	p := r.scan
	label := func(s string) string { return common.Fit(s, 24) }
	bw := max(w-26, 10)
	bar := r.bar(bw)
	bar.EmptyColor = r.c.Styles.ProgressEmpty
	return label(fmt.Sprintf("repositories %d/%d", p.RepositoriesDone, p.Repositories)) + "  " + bar.ViewAs(ratio(p.RepositoriesDone, p.Repositories)) + "\n" +
		label(fmt.Sprintf("images %d/%d", p.ImagesDone, p.Images)) + "  " + bar.ViewAs(ratio(p.ImagesDone, p.Images))
}

func (r *Model) deleteView(w int) string {
	bw := max(w-26, 10)
	bar := r.bar(bw)
	bar.EmptyColor = r.c.Styles.ProgressEmpty
	return common.Fit(fmt.Sprintf("deleting %d/%s", r.delDone, common.Count(r.delTotal, "image")), 24) + "  " + bar.ViewAs(ratio(r.delDone, r.delTotal))
}

func (r *Model) infoLine(w int) string {
	st := r.c.Styles
	if r.filtering {
		return common.Fit(r.input.View(), w)
	}
	x := r.idx
	dir := x.key.defaultOrder()
	if x.reverse {
		dir = "reversed"
	}
	parts := []string{st.Title.Render("sort: "+x.key.String()) + " (" + dir + ")"}
	switch {
	case x.filter != "":
		parts = append(parts, fmt.Sprintf("filter %q: %d of %d", x.filter, len(x.view), len(x.inv.Images)))
	case x.hideUntagged:
		parts = append(parts, fmt.Sprintf("%d of %s, untagged hidden", len(x.view), common.Count(len(x.inv.Images), "image")))
	default:
		parts = append(parts, common.Count(len(x.inv.Images), "image"))
	}
	if r.nsel > 0 {
		parts = append(parts, st.Selected.Render(fmt.Sprintf("%d selected", r.nsel)))
	}
	if i := r.Current(); i >= 0 {
		if t := timesInfo(&x.inv.Images[i]); t != "" {
			parts = append(parts, t)
		}
		parts = append(parts, lockInfo(x.inv, i)...)
		parts = append(parts, ruleInfo(x.inv, i)...)
	}
	parts = append(parts, r.usageInfo()...)
	parts = append(parts, st.Muted.Render(x.legend())) // whole in the ? help
	return common.Fit(strings.Join(parts, " · "), w)
}

// ruleInfo is what the info line says of the registry's own retention
// rule over image i's repository (an ECR lifecycle policy): the registry
// may expire images by it whatever the plan keeps.
func ruleInfo(inv *model.Inventory, i int) []string {
	repo := inv.Images[i].Repository
	for _, rr := range inv.RegistryRules {
		if rr.Repository == repo {
			return []string{rr.Kind + " of " + repo + " (the registry expires by it on its own): " + rr.Summary}
		}
	}
	return nil
}

// timesInfo is what the info line says of an image's times where it
// knows two: its push time and its build time when the age is the build
// time (ACR with registry.age_from: built) and they differ ("pushed
// 2025-05-01, built 2025-04-20"), or the config's time beside a push
// time ("pushed 2025-05-01, config says 1970-01-01", a snapshot of an
// earlier version); "" otherwise.
func timesInfo(im *model.Image) string {
	day := func(t time.Time) string { return t.Format(time.DateOnly) }
	switch {
	case !im.ConfigCreated.IsZero():
		return "pushed " + day(im.Created) + ", config says " + day(im.ConfigCreated)
	case im.Pushed.IsZero() || (im.CreatedProblem == model.CreatedOK && im.Created.Equal(im.Pushed)):
		return ""
	case im.Created.IsZero():
		return "pushed " + day(im.Pushed) + ", build time unknown"
	}
	return "pushed " + day(im.Pushed) + ", built " + day(im.Created)
}

// lockInfo is what the info line says of image i's locks: the lock that
// holds it ("locked (tag hub:stable)"), and its repository's own lock when
// that holds nothing ("repository hub: deletes disabled, its images can
// be deleted").
func lockInfo(inv *model.Inventory, i int) []string {
	im := &inv.Images[i]
	var out []string
	if im.Locked {
		out = append(out, im.LockText())
	}
	if l, ok := inv.RepositoryLock(im.Repository); ok && !l.WriteDisabled {
		out = append(out, "repository "+im.Repository+": deletes disabled, its images can be deleted")
	}
	if !inv.LocksRead(im.Repository) {
		// a headless run's snapshot: read where its plan deleted
		out = append(out, "repository and tag locks not read")
	}
	return out
}

// holdMark is the table's marker for a hold ("[ ]" for none); the info
// line's legend names them.
func holdMark(h model.Hold) string {
	switch h {
	case model.HoldProtected:
		return "[P]"
	case model.HoldLocked:
		return "[L]"
	case model.HoldKeep:
		return "[K]"
	case model.HoldUndated:
		return "[U]"
	case model.HoldIncomplete:
		return "[!]"
	case model.HoldInIndex:
		return "[I]"
	case model.HoldInUse:
		return "[R]"
	case model.HoldLaunched:
		return "[W]"
	case model.HoldUsageUnknown:
		return "[?]"
	case model.HoldPulled:
		return "[D]"
	}
	return "[ ]"
}
