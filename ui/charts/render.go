package charts

import (
	"fmt"
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
	"github.com/helmupgradebot/helmupgradebot/ui/components/table"
	"github.com/helmupgradebot/helmupgradebot/ui/pager"
)

// Drawing the tab: the table of rows with their state, and the details of
// the selected row below it.

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
