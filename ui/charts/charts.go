// Package charts is the console's Charts tab: one row per tracked chart
// dependency and per image a values file pins, and the pull requests that
// bump them.
package charts

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
	"github.com/helmupgradebot/helmupgradebot/ui/components/confirm"
	"github.com/helmupgradebot/helmupgradebot/ui/components/list"
	"github.com/helmupgradebot/helmupgradebot/ui/components/table"
	"github.com/helmupgradebot/helmupgradebot/ui/pager"
)

// Service is what the console asks of the chart upgrader.
// *engine.Charts implements it.
type Service interface {
	Check(ctx context.Context) []model.DependencyStatus
	Preview(deps []model.DependencyStatus) (engine.Proposal, error)
	Open(ctx context.Context, deps []model.DependencyStatus) ([]model.DependencyStatus, error)
}

var _ Service = (*engine.Charts)(nil)

// Messages from the tab's work.
type (
	// CheckDoneMsg delivers a chart check's rows.
	CheckDoneMsg struct{ rows []model.DependencyStatus }
	// OpenDoneMsg says what opening a pull request did to its Rows.
	OpenDoneMsg struct {
		prop engine.Proposal
		Rows []model.DependencyStatus
		err  error
	}
)

// Model is the Charts tab: one row per tracked dependency, and the pull
// requests that bump them.
type Model struct {
	c    *common.Common
	svc  Service
	keys KeyMap
	// ask is the confirm box the last key opened, until Ask takes it.
	ask *confirm.Model
	// width, height: the tab's size, from SetSize.
	width, height int

	rows    []model.DependencyStatus
	checked bool
	list.Model

	checking bool
	opening  string // what a PR is being opened for
}

// New builds the tab; svc nil says charts are not configured.
func New(c *common.Common, svc Service) *Model {
	return &Model{c: c, svc: svc, keys: NewKeyMap(c.Keys)}
}

// Init starts the first chart check.
func (s *Model) Init() tea.Cmd { return s.startCheck() }

// Update handles a key on the tab and the results of its work. A key that
// asks a question leaves a confirm box for Ask.
func (s *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case CheckDoneMsg:
		s.checkDone(msg)
	case OpenDoneMsg:
		s.openDone(msg)
	case tea.KeyPressMsg:
		cmd, box := s.key(msg)
		s.ask = box
		return s, cmd
	}
	return s, nil
}

// Ask takes the confirm box the last key opened, nil when none.
func (s *Model) Ask() *confirm.Model {
	box := s.ask
	s.ask = nil
	return box
}

// Confirmed does what a confirmed box asked, when the box is the tab's.
func (s *Model) Confirmed(c *confirm.Model) (tea.Cmd, bool) {
	if _, ok := c.Payload.(pullRequest); !ok {
		return nil, false
	}
	return s.startOpen(c), true
}

// View renders the tab at the size SetSize gave.
func (s *Model) View() tea.View { return tea.NewView(s.Render(s.width, s.height)) }

// SetSize fits the tab in w×h cells: the table, and the details of the
// row under the cursor below it.
func (s *Model) SetSize(w, h int) {
	s.width, s.height = w, h
	s.setRows(h - 1 - s.detailHeight(w, h))
}

// Keys are the tab's bindings.
func (s *Model) Keys() KeyMap { return s.keys }

func (s *Model) configured() bool { return s.svc != nil }

// Busy reports whether a check or a pull request is running.
func (s *Model) Busy() bool { return s.checking || s.opening != "" }

// startCheck checks every dependency in a command.
func (s *Model) startCheck() tea.Cmd {
	if !s.configured() || s.Busy() {
		return nil
	}
	s.checking = true
	svc, ctx := s.svc, s.c.Ctx
	return func() tea.Msg { return CheckDoneMsg{rows: svc.Check(ctx)} }
}

func (s *Model) checkDone(msg CheckDoneMsg) {
	s.checking, s.checked = false, true
	s.rows = msg.rows
	s.scroll()
	out, errs, open := s.tally()
	text := fmt.Sprintf("checked %s: %d outdated, %d with a PR open", rowsCount(s.rows), out, open)
	if n := mergedCount(s.rows); n > 0 {
		text += fmt.Sprintf(", %d merged since the last run", n)
	}
	if errs > 0 {
		// The error leads: the status line shows the first line.
		var lead string
		var details []string
		for _, r := range s.rows {
			if r.State != model.StateError {
				continue
			}
			if lead == "" {
				lead = fmt.Sprintf("%s could not be checked: %s", rowName(r), r.Error)
				if errs > 1 {
					lead = fmt.Sprintf("%s could not be checked, first %s: %s", common.Count(errs, "row"), rowName(r), r.Error)
				}
			}
			details = append(details, fmt.Sprintf("  %s (%s %s): %s", rowName(r), r.Repository, r.File, r.Error))
		}
		s.c.Report(common.SrcCheck, fmt.Sprintf("%s\n%s, %s", lead, text, common.Count(errs, "error")), details...)
		return
	}
	s.c.Report(common.SrcCheck, "")
	s.c.Infof("%s", text)
}

func (s *Model) tally() (outdated, errs, open int) {
	for _, r := range s.rows {
		switch r.State {
		case model.StateOutdated:
			outdated++
		case model.StateError:
			errs++
		case model.StatePROpen, model.StatePROpened, model.StatePRUpdated:
			open++
		}
	}
	return
}

func (s *Model) setRows(n int) {
	s.SetPage(n)
	s.scroll()
}

func (s *Model) scroll() { s.Clamp(len(s.rows)) }

func (s *Model) key(msg tea.KeyPressMsg) (tea.Cmd, *confirm.Model) {
	k := s.keys
	switch {
	case key.Matches(msg, k.Refresh):
		if s.Busy() {
			s.c.Notef("charts are busy; r again when they are done")
			return nil, nil
		}
		return s.startCheck(), nil
	case s.Move(msg, s.c.Keys, len(s.rows)):
	case key.Matches(msg, k.OpenPR):
		return nil, s.confirmPR(false)
	case key.Matches(msg, k.OpenGroupPR):
		return nil, s.confirmPR(true)
	}
	s.scroll()
	return nil, nil
}

// confirmPR previews the PR for the row under the cursor (or, grouped, for
// every outdated dependency and image of its charts entry) in a confirm
// box.
func (s *Model) confirmPR(group bool) *confirm.Model {
	if s.Cursor >= len(s.rows) {
		return nil
	}
	if s.Busy() {
		s.c.Notef("charts are busy")
		return nil
	}
	row := s.rows[s.Cursor]
	var deps []model.DependencyStatus
	if group || row.Group {
		for _, r := range s.rows {
			if r.Repository == row.Repository && r.EntryFile() == row.EntryFile() && r.Outdated() {
				deps = append(deps, r)
			}
		}
		if len(deps) == 0 {
			s.c.Errorf("nothing outdated in %s", entryFiles(s.rows, row))
			return nil
		}
	} else {
		if !row.Outdated() {
			s.notOutdated(row)
			return nil
		}
		deps = []model.DependencyStatus{row}
	}
	p, err := s.svc.Preview(deps)
	if err != nil {
		s.c.Errorf("preview pull request: %v", err)
		return nil
	}
	c := &confirm.Model{Payload: pullRequest{deps: deps, proposal: p}}
	c.Title = "Open pull request?"
	st := s.c.Styles
	c.AddLabeled("repository", p.Repository)
	c.AddLabeled("branch", p.Branch+" → "+p.Base)
	c.AddLabeled("title", p.Title)
	c.AddLabeled("change", strings.Join(changed(p), ", "))
	for _, l := range strings.Split(strings.TrimRight(p.Diff, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "-"):
			c.AddLong("  "+l, st.DiffDel)
		case strings.HasPrefix(l, "+"):
			c.AddLong("  "+l, st.DiffAdd)
		}
	}
	return c
}

// notOutdated says why p opens nothing for a row: a pull request already
// open is news, not an error.
func (s *Model) notOutdated(r model.DependencyStatus) {
	name := rowName(r)
	switch {
	case r.State == model.StateEdited || r.State == model.StatePRClosed:
		s.c.Infof("%s is left alone (%s): %s", name, r.State, r.Warning)
	case r.HasOpenPR():
		s.c.Infof("%s already has PR #%d open with the newest version: %s", name, r.PRNumber, r.PRURL)
	case r.State == model.StateError:
		s.c.Errorf("%s could not be checked, so it gets no PR: %s", name, r.Error)
	case r.State == model.StateSkipped:
		s.c.Infof("%s is skipped, so it gets no PR: %s", name, r.Warning)
	default:
		s.c.Errorf("%s is %s: only an outdated dependency or image gets a PR", name, stateText(r))
	}
}

// pullRequest is a PR box's payload: the rows it bumps and what it will
// do.
type pullRequest struct {
	deps     []model.DependencyStatus
	proposal engine.Proposal
}

// startOpen opens the confirmed PR.
func (s *Model) startOpen(c *confirm.Model) tea.Cmd {
	pr, ok := c.Payload.(pullRequest)
	if s.Busy() || !ok {
		return nil
	}
	names := make([]string, len(pr.deps))
	for i, d := range pr.deps {
		names[i] = rowName(d)
	}
	s.opening = strings.Join(names, ", ")
	svc, ctx, deps, prop := s.svc, s.c.Ctx, pr.deps, pr.proposal
	return func() tea.Msg {
		rows, err := svc.Open(ctx, deps)
		return OpenDoneMsg{prop: prop, Rows: rows, err: err}
	}
}

func (s *Model) openDone(msg OpenDoneMsg) {
	s.opening = ""
	if msg.err != nil {
		s.c.Report(common.SrcPR, msg.err.Error())
		return
	}
	s.c.Report(common.SrcPR, "")
	for _, nr := range msg.Rows {
		for i := range s.rows {
			r := &s.rows[i]
			if r.Repository == nr.Repository && r.File == nr.File && r.Dependency == nr.Dependency {
				*r = nr
			}
		}
	}
	if len(msg.Rows) > 0 {
		r := msg.Rows[0]
		verb := "opened"
		switch r.State {
		case model.StatePRUpdated:
			verb = "updated"
		case model.StatePROpen:
			verb = "found open"
		case model.StateEdited, model.StatePRClosed:
			s.c.Infof("left alone (%s): %s", r.State, r.Warning)
			return
		}
		if r.Warning != "" {
			s.c.Infof("%s PR #%d: %s (warning: %s)", verb, r.PRNumber, r.PRURL, r.Warning)
		} else {
			s.c.Infof("%s PR #%d: %s", verb, r.PRNumber, r.PRURL)
		}
	}
}

// StatusText says what is running, "" when nothing.
func (s *Model) StatusText() string {
	switch {
	case s.opening != "":
		return "opening pull request for " + s.opening
	case s.checking:
		return "checking chart versions"
	}
	return ""
}

// Counts is the status line's summary of the rows.
func (s *Model) Counts() string {
	if !s.checked {
		return ""
	}
	out, errs, _ := s.tally()
	noun := "dep"
	if _, images := kinds(s.rows); images > 0 {
		noun = "row"
	}
	t := fmt.Sprintf("%s · %d outdated", common.Count(len(s.rows), noun), out)
	if errs > 0 {
		t += " · " + common.Count(errs, "error")
	}
	return t
}

// stateText is a row's status column.
func stateText(r model.DependencyStatus) string {
	switch r.State {
	case model.StateUpToDate:
		return "up to date"
	case model.StateOutdated:
		if r.PRNumber > 0 {
			return fmt.Sprintf("outdated (#%d)", r.PRNumber)
		}
		return "outdated"
	case model.StatePROpen, model.StatePROpened, model.StatePRUpdated:
		return fmt.Sprintf("PR open #%d", r.PRNumber)
	case model.StateError:
		return "error"
	}
	return string(r.State)
}

func (s *Model) stateStyle(r model.DependencyStatus) string {
	st := s.c.Styles
	t := stateText(r)
	switch r.State {
	case model.StateUpToDate:
		return st.OK.Render(t)
	case model.StateOutdated:
		return st.Warn.Render(t)
	case model.StateError:
		return st.Error.Render(t)
	case model.StateSkipped:
		return st.Muted.Render(t)
	}
	return st.Title.Render(t)
}

// detailLines is the fewest lines under the table that describe the
// current row: a rule, then where it is, its versions and its state, each
// wrapped to the screen.
const detailLines = 4

// detailHeight is the lines under the table: enough for the longest
// row's details at width w, up to half the body's h lines. It does not
// change as the cursor moves.
func (s *Model) detailHeight(w, h int) int {
	n := detailLines
	for _, r := range s.rows {
		n = max(n, 1+len(s.details(r, w)))
	}
	return min(n, max(detailLines, h/2))
}

// statusW is the status column's width ("PR open #1234").
const statusW = 14

// chartTable is the Charts table's columns laid out for a width: the
// dependency keeps its name whole and the versions their room; as the
// screen narrows FILE goes first, then PR, then AGE (the details under the
// table say all three).
type chartTable struct {
	dep, file, cur, newest, age, status, pr table.Column
}

func (s *Model) layout(w int, now time.Time) *chartTable {
	var dep, file, cur, newest int
	for _, r := range s.rows {
		dep, file = max(dep, len([]rune(depCell(r)))), max(file, len(r.File))
		cur, newest = max(cur, len(r.Current)), max(newest, len(r.Latest.Version))
	}
	name := func(need, header, room, most, drop int) table.Column {
		need = max(need, header)
		return table.Column{Want: min(need, most), Min: min(need, max(room, header)), Drop: drop, Name: true}
	}
	t := &chartTable{
		dep:    name(dep, len("DEPENDENCY"), 16, 30, 0),
		file:   name(file, len("FILE"), 10, 30, 1),
		cur:    name(cur, len("CURRENT"), 11, 32, 0),
		newest: name(newest, len("NEWEST"), 11, 32, 0),
		age:    table.Column{Want: 5, Min: 5, Drop: 3},
		status: table.Column{Want: statusW, Min: statusW},
		pr:     table.Column{Hidden: true},
	}
	cols := []*table.Column{&t.dep, &t.file, &t.cur, &t.newest, &t.age, &t.status}
	if s.hasPRColumn(now) {
		t.pr = table.Column{Want: prNarrowW, Min: prNarrowW, Drop: 2}
		if w >= PRWideAt {
			t.pr.Want = prWideW
		}
		cols = append(cols, &t.pr)
	}
	table.Layout(w-1, cols) // after the cursor's gutter
	return t
}

// Render renders the tab in w×h cells.
func (s *Model) Render(w, h int) string {
	st := s.c.Styles
	if !s.configured() {
		return common.Block(st.Muted.Render("charts not configured: add charts to the config"), w, h)
	}
	if !s.checked {
		return common.Block(st.Muted.Render("checking chart versions…"), w, h)
	}
	if len(s.rows) == 0 {
		return common.Block(st.Muted.Render("no chart dependencies tracked: add charts to the config"), w, h)
	}
	now := s.c.Now()
	t := s.layout(w, now)
	var b strings.Builder
	head := " " + common.Fit("DEPENDENCY", t.dep.Width) + t.file.Cell("FILE", false) + t.cur.Cell("CURRENT", false) +
		t.newest.Cell("NEWEST", false) + t.age.Cell("AGE", true) + t.status.Cell("STATUS", false) + t.pr.Cell("PR", false)
	b.WriteString(st.TableHeader.Render(common.Fit(head, w)))
	dh := s.detailHeight(w, h)
	rows := max(h-1-dh, 1)
	end := min(s.Offset+rows, len(s.rows))
	for p := s.Offset; p < end; p++ {
		r := s.rows[p]
		age := ""
		if a := r.LatestAge(now); a > 0 {
			age = model.FormatAge(a)
		}
		gutter := " "
		if p == s.Cursor {
			gutter = "›"
		}
		line := gutter + common.Fit(depCell(r), t.dep.Width) + t.file.Cell(r.File, false) + t.cur.Middle(r.Current) +
			t.newest.Middle(r.Latest.Version) + t.age.Cell(age, true)
		state, styled := t.status.Cell(stateText(r), false), t.status.Cell(s.stateStyle(r), false)
		pr := t.pr.Cell(prCell(r, now, t.pr.Width >= prWideW), false)
		if p == s.Cursor {
			line = st.Cursor.Render(common.Fit(line+state+pr, w))
		} else {
			line = common.Fit(line+styled+s.prStyle(r, pr), w)
		}
		b.WriteString("\n" + line)
	}
	var details []string
	if s.Cursor < len(s.rows) {
		details = s.details(s.rows[s.Cursor], w)
	}
	rule := st.Muted.Render(strings.Repeat("─", w))
	return common.Block(b.String(), w, h-dh) + "\n" + common.Block(rule+"\n"+strings.Join(details, "\n"), w, dh)
}

// details describes a row in full, wrapped to w cells: where it is, its
// versions, its state and pull requests.
func (s *Model) details(r model.DependencyStatus, w int) []string {
	st := s.c.Styles
	where := r.Repository + " " + r.File
	if r.ChartRepository != "" {
		where += " · chart from " + r.ChartRepository
	}
	if r.IsImage() && r.Path != "" {
		where = fmt.Sprintf("%s %s:%d · image %s at %s", r.Repository, r.File, r.Line, r.Image, r.Path)
	}
	versions := r.Current + " → " + r.Latest.Version
	if r.NewPin != "" {
		versions = r.Current + " → " + r.NewPin + " (admits " + r.Latest.Version + ")"
	}
	var third string
	switch r.State {
	case model.StateError:
		versions = r.Current
		third = st.Error.Render("error: ") + r.Error
	case model.StateSkipped:
		versions = r.Current
		third = st.Muted.Render("skipped: ") + r.Warning
	case model.StatePROpen, model.StatePROpened, model.StatePRUpdated:
		third = fmt.Sprintf("PR #%d %s", r.PRNumber, r.PRURL)
		if about := prAbout(r, s.c.Now()); about != "" {
			third = fmt.Sprintf("PR #%d %s · %s", r.PRNumber, about, r.PRURL)
		}
	case model.StateEdited, model.StatePRClosed:
		third = "left alone: " + r.Warning
	case model.StateOutdated:
		third = "p opens a pull request"
		switch {
		case r.Group && r.IsImage():
			third += " (one with the entry's charts: the entry is grouped)"
		case r.Group:
			third += " (one for the whole file: the file is grouped)"
		}
		if r.PRNumber > 0 {
			third = fmt.Sprintf("PR #%d carries an older version; p updates it: %s", r.PRNumber, r.PRURL)
			if about := prAbout(r, s.c.Now()); about != "" {
				third = fmt.Sprintf("PR #%d (%s) carries an older version; p updates it: %s", r.PRNumber, about, r.PRURL)
			}
		}
	default:
		versions = r.Current + " is the newest accepted version"
	}
	third = withMerged(third, r, s.c.Now())
	var out []string
	for _, l := range []string{where, versions, third} {
		out = append(out, pager.Wrap(l, w)...)
	}
	return out
}
