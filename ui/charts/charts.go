// Package charts is the console's Charts tab: one row per tracked chart
// dependency and per image a values file pins, and the pull requests that
// bump them.
package charts

import (
	"context"
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
	"github.com/helmupgradebot/helmupgradebot/ui/components/confirm"
	"github.com/helmupgradebot/helmupgradebot/ui/components/list"
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
