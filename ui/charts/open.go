package charts

import (
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
	"github.com/helmupgradebot/helmupgradebot/ui/components/confirm"
)

// Opening pull requests from the tab: the confirm box that previews one (a
// row's, or a group's), and what opening it did to the rows.

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
