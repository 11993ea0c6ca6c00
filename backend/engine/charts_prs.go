package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// Finding each row's pull request, open or closed, alone or grouped, and the
// state it gives the row.

// markGroupPR looks for the grouped PR of an entry's outdated dependencies
// and images. In a grouped entry, a row whose new version a closed grouped
// PR proposed is pr-closed, and the rest are looked at without it; in an
// entry that is not grouped, only an open grouped PR (P in the console)
// counts.
func (c *Charts) markGroupPR(ctx context.Context, rows []model.DependencyStatus, grouped bool) {
	var out []*model.DependencyStatus
	for i := range rows {
		if rows[i].State == model.StateOutdated {
			out = append(out, &rows[i])
		}
	}
	if len(out) == 0 {
		return
	}
	branch := github.BranchName(out[0].EntryFile(), "all")
	fail := func(err error) {
		for _, r := range out {
			r.State, r.Error = model.StateError, err.Error()
		}
	}
	if !grouped {
		found, err := c.inspect(ctx, out, branch)
		if err != nil {
			fail(err)
		} else if found.Status == github.StatusOpen {
			setState(out, found)
		}
		return
	}
	closed, err := c.markPR(ctx, out, branch)
	if err != nil {
		fail(err)
		return
	}
	var rest []*model.DependencyStatus
	for _, r := range out {
		if r.State != model.StateOutdated && r.State != model.StatePROpen {
			return // edited, or every version declined together
		}
		declined := false
		for _, pr := range closed {
			if model.Declines(pr.Title, pr.Body, "", []model.Bump{r.Bump()}) {
				setState([]*model.DependencyStatus{r}, github.Outcome{Status: github.StatusClosed, Number: pr.Number, URL: pr.URL,
					Warnings: []string{fmt.Sprintf("grouped pull request #%d proposing %s %s was closed without merging: not proposed again", pr.Number, r.Dependency, r.Latest.Version)}})
				declined = true
				break
			}
		}
		if !declined {
			rest = append(rest, r)
		}
	}
	if len(rest) > 0 && len(rest) < len(out) {
		for _, r := range rest {
			r.State, r.PRNumber, r.PRURL, r.Warning = model.StateOutdated, 0, "", ""
		}
		if _, err := c.markPR(ctx, rest, branch); err != nil {
			fail(err)
		}
	}
}

// markPR sets rows to what opening their PR on branch would meet: pr-open
// when it is open with exactly the title a run would give it (it carries
// the newest versions), edited, pr-closed, or still outdated (with the
// number of an older open PR to update). It returns the branch's PRs
// closed without merging.
func (c *Charts) markPR(ctx context.Context, rows []*model.DependencyStatus, branch string) ([]github.PullRequest, error) {
	out, err := c.inspect(ctx, rows, branch)
	if err != nil {
		return nil, err
	}
	setState(rows, out)
	return out.Closed, nil
}

// inspect asks GitHub what proposing rows on branch would do.
func (c *Charts) inspect(ctx context.Context, rows []*model.DependencyStatus, branch string) (github.Outcome, error) {
	bumps := make([]model.Bump, len(rows))
	for i, r := range rows {
		bumps[i] = r.Bump()
	}
	title, _ := model.PullRequestText(rows[0].EntryFile(), bumps)
	owner, name, _ := strings.Cut(rows[0].Repository, "/")
	return c.gh.Inspect(ctx, github.Proposal{Owner: owner, Repo: name, Base: rows[0].Base, Path: rows[0].File,
		Branch: branch, Title: title, Fork: c.fork, Declined: declined(title, bumps)})
}

// declined reads a closed pull request as declining bumps (model.Declines).
func declined(title string, bumps []model.Bump) func(github.PullRequest) bool {
	return func(pr github.PullRequest) bool { return model.Declines(pr.Title, pr.Body, title, bumps) }
}

// setState records what Inspect or Propose said about rows' pull request.
func setState(rows []*model.DependencyStatus, out github.Outcome) {
	for _, r := range rows {
		forgetPRStatus(r, out)
		r.PRNumber, r.PRURL = out.Number, out.URL
		r.Warning = strings.Join(out.Warnings, "; ")
		if out.Status != "" {
			r.State = model.DependencyState(out.Status)
		}
	}
}
