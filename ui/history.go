package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/guptarohit/asciigraph"

	"github.com/helmupgradebot/helmupgradebot/backend/history"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
	"github.com/helmupgradebot/helmupgradebot/ui/components/list"
	"github.com/helmupgradebot/helmupgradebot/ui/pager"
)

// HistoryService is where the console reads the runs before it and
// records its own. *history.Store implements it.
type HistoryService interface {
	Read(since time.Time) ([]history.Run, int, error)
	Append(history.Run) error
}

var _ HistoryService = (*history.Store)(nil)

// historyWindow is how far back the History tab reads.
const historyWindow = 365 * 24 * time.Hour

// historyLoadedMsg delivers the runs read.
type historyLoadedMsg struct {
	runs []history.Run
	err  error
}

// historySection is the History tab: the registry's size over the runs
// against the cap, the growth forecast, and the runs, newest first, with
// one run's details, scrollable, on enter.
type historySection struct {
	c    *common.Common
	svc  HistoryService
	url  string // the registry charted
	runs []history.Run
	err  error
	list.Model
	detail *pager.Model // the run under the cursor in full, when open
	width  int
	height int
	loaded bool
	// dryRecorded: this session has recorded its dry run; rescans add
	// nothing more (see record).
	dryRecorded bool
}

func newHistorySection(c *common.Common, svc HistoryService, url string) *historySection {
	return &historySection{c: c, svc: svc, url: url}
}

// load reads the history in a command.
func (h *historySection) load() tea.Cmd {
	if h.svc == nil {
		return nil
	}
	svc, since := h.svc, h.c.Now().Add(-historyWindow)
	return func() tea.Msg {
		runs, _, err := svc.Read(since)
		return historyLoadedMsg{runs: runs, err: err}
	}
}

// record appends a run of the console's and reloads. A run that applied
// something (deletes, pull requests) is always recorded; a dry run (a
// scan) once a session, its first, so rescanning does not fill the
// history: the size chart gets one point per session.
func (h *historySection) record(run history.Run) tea.Cmd {
	if h.svc == nil || (run.Registry == nil && len(run.Charts) == 0) {
		return nil
	}
	if !run.Applied {
		if h.dryRecorded {
			return nil
		}
		h.dryRecorded = true
	}
	svc, since := h.svc, h.c.Now().Add(-historyWindow)
	run.Face = history.FaceConsole
	if run.Time.IsZero() {
		run.Time = h.c.Now()
	}
	return func() tea.Msg {
		err := svc.Append(run)
		runs, _, rerr := svc.Read(since)
		if err == nil {
			err = rerr
		}
		return historyLoadedMsg{runs: runs, err: err}
	}
}

func (h *historySection) loadedMsg(msg historyLoadedMsg) {
	h.runs, h.err, h.loaded = msg.runs, msg.err, true
	h.Clamp(len(h.runs))
}

// forecast fits the charted registry's growth; ok is false with why when
// there is too little history.
func (h *historySection) forecast(capBytes int64) (model.Forecast, bool, string) {
	return model.FitForecast(history.Points(h.runs, h.url), capBytes)
}

// forecastText says when the cap is reached, for the tab and the gauge.
func forecastText(f model.Forecast, ok bool, why string, now time.Time) string {
	switch {
	case !ok:
		return "no forecast yet: " + why
	case f.OverCap:
		return fmt.Sprintf("growing %s a week; already over the cap", model.FormatBytes(f.GrowthBytesPerWeek))
	case f.CapReachedAt.IsZero():
		return fmt.Sprintf("%s a week: not growing toward the cap", model.FormatBytes(f.GrowthBytesPerWeek))
	}
	return fmt.Sprintf("growing %s a week; %s (%s)", model.FormatBytes(f.GrowthBytesPerWeek), capIn(f.CapReachedAt.Sub(now)), f.CapReachedAt.Format("2006-01-02"))
}

// capIn says how soon the cap is reached: "cap in ~23 days", or "cap
// within a day" rather than "~0 days".
func capIn(d time.Duration) string {
	days := int(d.Hours() / 24)
	if days < 1 {
		return "cap within a day"
	}
	return "cap in ~" + common.Count(days, "day")
}

// update handles a key on the tab.
func (h *historySection) update(msg tea.KeyPressMsg) tea.Cmd {
	k := h.c.Keys
	switch {
	case h.detail != nil:
		if h.detail.Update(msg) {
			h.detail = nil
		}
	case key.Matches(msg, k.Details):
		h.openDetails()
	case key.Matches(msg, k.Refresh):
		return h.load()
	case h.Move(msg, k, len(h.runs)):
		h.Clamp(len(h.runs))
	}
	return nil
}

// run returns the run under the cursor (the list is newest first).
func (h *historySection) run() (history.Run, bool) {
	if h.Cursor < 0 || h.Cursor >= len(h.runs) {
		return history.Run{}, false
	}
	return h.runs[len(h.runs)-1-h.Cursor], true
}

// view renders the tab in w×h cells.
func (h *historySection) view(w, ht int, capBytes int64) string {
	st := h.c.Styles
	switch {
	case h.svc == nil:
		return common.Block(st.Muted.Render("no run history: it is kept beside the audit log"), w, ht)
	case h.err != nil:
		return common.Block(st.Error.Render("history: ")+h.err.Error(), w, ht)
	case !h.loaded:
		return common.Block(st.Muted.Render("reading the run history…"), w, ht)
	case len(h.runs) == 0:
		return common.Block(st.Muted.Render("no runs recorded yet: every run, headless or console, adds one"), w, ht)
	}
	if h.detail != nil {
		return common.Block(h.detail.View(), w, ht)
	}
	f, ok, why := h.forecast(capBytes)
	top := forecastText(f, ok, why, h.c.Now())
	if h.runs[0].Demo {
		top = st.Muted.Render("demo data · ") + top
	}
	top = common.Fit(top, w)
	chartH := min(max(ht/2-2, 3), 12)
	chart := h.chart(w, chartH, capBytes)
	used := 1 + strings.Count(chart, "\n") + 1
	rest := max(ht-used, 1)
	h.SetPage(rest - 1)
	h.Clamp(len(h.runs))
	return common.Block(top+"\n"+chart+"\n"+h.table(w, rest), w, ht)
}

// chart plots the registry's size at each run against the cap, and lists
// the runs that deleted.
func (h *historySection) chart(w, ht int, capBytes int64) string {
	st := h.c.Styles
	var sizes []float64
	var cuts []string
	for _, r := range h.runs {
		if rr := r.Registry; rr != nil && rr.URL == h.url {
			sizes = append(sizes, float64(rr.TotalBytes))
			if rr.FreedBytes > 0 {
				cuts = append(cuts, fmt.Sprintf("%s −%s", r.Time.Format("01-02"), model.FormatBytes(rr.FreedBytes)))
			}
		}
	}
	if len(sizes) < 2 {
		return common.Fit(st.Muted.Render("the size chart needs two runs of this registry"), w)
	}
	const labelW = 11 // "1023.9 MiB ┤"
	series := [][]float64{sizes}
	opts := []asciigraph.Option{asciigraph.Height(ht), asciigraph.Width(max(w-labelW-2, 10)),
		asciigraph.YAxisValueFormatter(func(v float64) string { return fmt.Sprintf("%9s", model.FormatBytes(int64(v))) })}
	if capBytes > 0 {
		line := make([]float64, len(sizes))
		for i := range line {
			line[i] = float64(capBytes)
		}
		series = append(series, line)
	}
	if !h.c.NoColor {
		opts = append(opts, asciigraph.SeriesColors(asciigraph.Blue, asciigraph.Red))
	}
	out := strings.Split(asciigraph.PlotMany(series, opts...), "\n")
	for i := range out {
		out[i] = common.Fit(out[i], w)
	}
	legend := "size"
	if capBytes > 0 {
		legend += " vs cap " + model.FormatBytes(capBytes)
	}
	if len(cuts) > 0 {
		legend += " · deletions: " + strings.Join(cuts, ", ")
	}
	return strings.Join(out, "\n") + "\n" + common.Fit(st.Muted.Render(legend), w)
}

// table lists the runs, newest first.
func (h *historySection) table(w, ht int) string {
	st := h.c.Styles
	var b strings.Builder
	b.WriteString(st.TableHeader.Render(common.Fit(" WHEN              RUN", w)))
	end := min(h.Offset+ht-1, len(h.runs))
	for p := h.Offset; p < end; p++ {
		r := h.runs[len(h.runs)-1-p]
		line := " " + r.Time.Local().Format("2006-01-02 15:04") + "  " + history.Line(r)
		line = common.Fit(line, w)
		if p == h.Cursor {
			line = st.Cursor.Render(line)
		} else if r.Registry != nil && r.Registry.Failed > 0 {
			line = st.Error.Render(line)
		}
		b.WriteString("\n" + line)
	}
	return b.String()
}

// setSize fits the tab in w×ht cells.
func (h *historySection) setSize(w, ht int) {
	h.width, h.height = w, ht
	if h.detail != nil {
		h.detail.SetSize(w, ht)
	}
}

func (h *historySection) restyle() {
	if h.detail != nil {
		h.detail.SetStyles(h.c.Styles.Pager())
	}
}

// openDetails shows the run under the cursor in full, scrollable.
func (h *historySection) openDetails() {
	r, ok := h.run()
	if !ok {
		return
	}
	k := h.c.Keys
	h.detail = pager.New(k.PagerKeys(k.Back), h.c.Styles.Pager())
	h.detail.SetHint("enter or esc: back to the runs")
	h.detail.SetContent("Run of "+r.Time.Local().Format("2006-01-02 15:04"), runParas(r, h.c.Styles))
	h.detail.SetSize(h.width, h.height)
}

// runParas is one run in full: what it saw, what failed (first: what an
// operator acts on), what it deleted, its charts and pull requests.
func runParas(r history.Run, st *common.Styles) []pager.Para {
	out := []pager.Para{{Text: history.Line(r)}}
	head := func(text string, style lipgloss.Style) {
		out = append(out, pager.Para{}, pager.Para{Text: text, Style: style})
	}
	if rr := r.Registry; rr != nil {
		out = append(out, pager.Para{Text: fmt.Sprintf("registry %s: %s, %s (%d untagged), planned %d (%s)",
			rr.URL, model.FormatBytes(rr.TotalBytes), common.Count(rr.Images, "image"), rr.Untagged, rr.Planned, model.FormatBytes(rr.PlannedBytes))})
		if rr.Skipped > 0 || rr.Problems > 0 {
			out = append(out, pager.Para{Text: fmt.Sprintf("%d skipped (changed since the scan), %s in the scan", rr.Skipped, common.Count(rr.Problems, "problem"))})
		}
		if len(rr.Failures) > 0 {
			head(fmt.Sprintf("failed (%d):", len(rr.Failures)), st.Error)
			for _, f := range rr.Failures {
				out = append(out, pager.Para{Text: "  " + shortDigests(f.Ref) + ": " + f.Error})
			}
		}
		if len(rr.Deletions) > 0 {
			head(fmt.Sprintf("deleted (%d, %s):", len(rr.Deletions), model.FormatBytes(rr.FreedBytes)), st.Title)
			for _, d := range rr.Deletions {
				out = append(out, pager.Para{Text: fmt.Sprintf("  %s (%s, %s)", shortDigests(d.Ref), d.Reason, model.FormatBytes(d.Bytes))})
			}
		}
	}
	if len(r.Charts) > 0 {
		head(fmt.Sprintf("charts (%d):", len(r.Charts)), st.Title)
		for _, c := range r.Charts {
			l := fmt.Sprintf("  %s %s: %s", c.Dependency, c.Status, c.Latest)
			for _, s := range []string{c.PullRequest, c.Error} {
				if s != "" {
					l += " " + s
				}
			}
			out = append(out, pager.Para{Text: l})
		}
	}
	return out
}

// capBytes is the registry's cap, 0 when none or no registry.
func (m *Model) capBytes() int64 {
	if m.registry.svc == nil {
		return 0
	}
	return m.registry.svc.Policy().Cap
}

// forecastNote is the gauge's short forecast: "cap in ~23 days".
func (m *Model) forecastNote() string {
	f, ok, _ := m.history.forecast(m.capBytes())
	switch {
	case !ok || m.capBytes() <= 0:
		return ""
	case f.OverCap:
		return fmt.Sprintf("+%s/week", model.FormatBytes(f.GrowthBytesPerWeek))
	case f.CapReachedAt.IsZero():
		return "not growing"
	}
	return capIn(f.CapReachedAt.Sub(m.c.Now()))
}

// runSummary is what the console records after a scan, or, given an
// apply's result, after a delete.
func (r *registrySection) runSummary(done *applyDoneMsg) history.Run {
	if r.svc == nil || r.idx == nil {
		return history.Run{}
	}
	inv := r.idx.inv
	rr := &history.RegistryRun{URL: r.svc.URL(), TotalBytes: r.idx.sizes.Total, CapBytes: r.svc.Policy().Cap,
		Images: len(inv.Images), Untagged: r.idx.untagged(), Problems: len(inv.Errors)}
	run := history.Run{Registry: rr}
	if done != nil {
		run.Applied = true
		rr.TotalBytes = done.plan.TotalBytes
		rr.Planned, rr.PlannedBytes = len(done.plan.Deletions), done.plan.ReclaimBytes
		rr.Deleted, rr.Failed, rr.Skipped = len(done.res.Deleted), len(done.res.Failed), len(done.res.Skipped)
		rr.FreedBytes = done.res.FreedBytes
		for _, d := range done.res.Deleted {
			rr.Deletions = append(rr.Deletions, history.Deletion{Ref: d.Repository + "@" + d.Digest,
				Reason: string(done.plan.Deletions[d.Index].Reason), Bytes: d.Bytes})
		}
		for _, f := range done.res.Failed {
			rr.Failures = append(rr.Failures, history.Failure{Ref: f.Repository + "@" + f.Digest, Error: f.Error})
		}
	}
	return run
}

// chartsSummary is what the console records after opening pull requests.
func chartsSummary(rows []model.DependencyStatus) history.Run {
	run := history.Run{Applied: true}
	for _, d := range rows {
		run.Charts = append(run.Charts, history.ChartRun{Repository: d.Repository, File: d.File, Dependency: d.Dependency,
			Current: d.Current, Latest: d.Latest.Version, Status: string(d.State), PullRequest: d.PRURL, Error: d.Error})
	}
	return run
}
