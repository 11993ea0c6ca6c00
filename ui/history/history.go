// Package history is the console's History tab: the registry's size over
// the runs against the cap, the growth forecast, and the runs, newest
// first, with one run's details, scrollable, on enter.
package history

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/guptarohit/asciigraph"

	hist "github.com/helmupgradebot/helmupgradebot/backend/history"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
	"github.com/helmupgradebot/helmupgradebot/ui/components/list"
	"github.com/helmupgradebot/helmupgradebot/ui/pager"
)

// Service is where the console reads the runs before it and records its
// own. *history.Store implements it.
type Service interface {
	Read(since time.Time) ([]hist.Run, int, error)
	Append(hist.Run) error
}

var _ Service = (*hist.Store)(nil)

// window is how far back the History tab reads.
const window = 365 * 24 * time.Hour

// LoadedMsg delivers the runs read.
type LoadedMsg struct {
	runs []hist.Run
	err  error
}

// Model is the History tab: the registry's size over the runs against the
// cap, the growth forecast, and the runs, newest first, with one run's
// details, scrollable, on enter.
type Model struct {
	c   *common.Common
	svc Service
	url string // the registry charted
	// capBytes is the registry's cap, 0 when none or no registry.
	capBytes int64
	keys     KeyMap
	runs     []hist.Run
	err      error
	list.Model
	detail *pager.Model // the run under the cursor in full, when open
	width  int
	height int
	loaded bool
	// dryRecorded: this session has recorded its dry run; rescans add
	// nothing more (see Record).
	dryRecorded bool
}

// New builds the tab for the registry at url with the cap capBytes (0:
// none); svc nil says there is no history.
func New(c *common.Common, svc Service, url string, capBytes int64) *Model {
	return &Model{c: c, svc: svc, url: url, capBytes: capBytes, keys: NewKeyMap(c.Keys)}
}

// Init reads the history.
func (h *Model) Init() tea.Cmd { return h.Load() }

// Update handles a key on the tab and the runs read.
func (h *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case LoadedMsg:
		h.setRuns(msg)
	case tea.KeyPressMsg:
		return h, h.key(msg)
	}
	return h, nil
}

// View renders the tab at the size SetSize gave.
func (h *Model) View() tea.View { return tea.NewView(h.Render(h.width, h.height)) }

// Paging reports whether a run's details are open (q closes them).
func (h *Model) Paging() bool { return h.detail != nil }

// Detail is the run open in full, nil when none.
func (h *Model) Detail() *pager.Model { return h.detail }

// Keys are the bindings that apply on the tab: a run's details' when
// open.
func (h *Model) Keys() help.KeyMap {
	if h.detail != nil {
		return h.detail.Keys()
	}
	return h.keys
}

// Load reads the history in a command.
func (h *Model) Load() tea.Cmd {
	if h.svc == nil {
		return nil
	}
	svc, since := h.svc, h.c.Now().Add(-window)
	return func() tea.Msg {
		runs, _, err := svc.Read(since)
		return LoadedMsg{runs: runs, err: err}
	}
}

// Record appends a run of the console's and reloads. A run that applied
// something (deletes, pull requests) is always recorded; a dry run (a
// scan) once a session, its first, so rescanning does not fill the
// history: the size chart gets one point per session.
func (h *Model) Record(run hist.Run) tea.Cmd {
	if h.svc == nil || (run.Registry == nil && len(run.Charts) == 0) {
		return nil
	}
	if !run.Applied {
		if h.dryRecorded {
			return nil
		}
		h.dryRecorded = true
	}
	svc, since := h.svc, h.c.Now().Add(-window)
	run.Face = hist.FaceConsole
	if run.Time.IsZero() {
		run.Time = h.c.Now()
	}
	return func() tea.Msg {
		err := svc.Append(run)
		runs, _, rerr := svc.Read(since)
		if err == nil {
			err = rerr
		}
		return LoadedMsg{runs: runs, err: err}
	}
}

func (h *Model) setRuns(msg LoadedMsg) {
	h.runs, h.err, h.loaded = msg.runs, msg.err, true
	h.Clamp(len(h.runs))
}

// forecast fits the charted registry's growth; ok is false with why when
// there is too little history.
func (h *Model) forecast(capBytes int64) (model.Forecast, bool, string) {
	return model.FitForecast(hist.Points(h.runs, h.url), capBytes)
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

// key handles a key on the tab.
func (h *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := h.keys
	switch {
	case h.detail != nil:
		if h.detail.Update(msg) {
			h.detail = nil
		}
	case key.Matches(msg, k.Details):
		h.openDetails()
	case key.Matches(msg, k.Refresh):
		return h.Load()
	case h.Move(msg, h.c.Keys, len(h.runs)):
		h.Clamp(len(h.runs))
	}
	return nil
}

// run returns the run under the cursor (the list is newest first).
func (h *Model) run() (hist.Run, bool) {
	if h.Cursor < 0 || h.Cursor >= len(h.runs) {
		return hist.Run{}, false
	}
	return h.runs[len(h.runs)-1-h.Cursor], true
}

// Render renders the tab in w×ht cells.
func (h *Model) Render(w, ht int) string {
	capBytes := h.capBytes
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
func (h *Model) chart(w, ht int, capBytes int64) string {
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
func (h *Model) table(w, ht int) string {
	st := h.c.Styles
	var b strings.Builder
	b.WriteString(st.TableHeader.Render(common.Fit(" WHEN              RUN", w)))
	end := min(h.Offset+ht-1, len(h.runs))
	for p := h.Offset; p < end; p++ {
		r := h.runs[len(h.runs)-1-p]
		line := " " + r.Time.Local().Format("2006-01-02 15:04") + "  " + hist.Line(r)
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

// SetSize fits the tab in w×ht cells.
func (h *Model) SetSize(w, ht int) {
	h.width, h.height = w, ht
	if h.detail != nil {
		h.detail.SetSize(w, ht)
	}
}

// Restyle follows a change of theme.
func (h *Model) Restyle() {
	if h.detail != nil {
		h.detail.SetStyles(h.c.Styles.Pager())
	}
}

// openDetails shows the run under the cursor in full, scrollable.
func (h *Model) openDetails() {
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
func runParas(r hist.Run, st *common.Styles) []pager.Para {
	out := []pager.Para{{Text: hist.Line(r)}}
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
				out = append(out, pager.Para{Text: "  " + common.ShortDigests(f.Ref) + ": " + f.Error})
			}
		}
		if len(rr.Deletions) > 0 {
			head(fmt.Sprintf("deleted (%d, %s):", len(rr.Deletions), model.FormatBytes(rr.FreedBytes)), st.Title)
			for _, d := range rr.Deletions {
				out = append(out, pager.Para{Text: fmt.Sprintf("  %s (%s, %s)", common.ShortDigests(d.Ref), d.Reason, model.FormatBytes(d.Bytes))})
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

// ForecastNote is the gauge's short forecast: "cap in ~23 days".
func (h *Model) ForecastNote() string {
	f, ok, _ := h.forecast(h.capBytes)
	switch {
	case !ok || h.capBytes <= 0:
		return ""
	case f.OverCap:
		return fmt.Sprintf("+%s/week", model.FormatBytes(f.GrowthBytesPerWeek))
	case f.CapReachedAt.IsZero():
		return "not growing"
	}
	return capIn(f.CapReachedAt.Sub(h.c.Now()))
}
