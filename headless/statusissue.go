package headless

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// GitHubReport is what the run did on GitHub besides pull requests.
type GitHubReport struct {
	// StatusIssues are the status issues (github.status_issue), one per
	// deployment repository.
	StatusIssues []StatusIssueReport `json:"status_issues"`
}

// StatusIssueReport is one repository's status issue after the run.
type StatusIssueReport struct {
	Repository string `json:"repository"`
	// Number and URL name the issue; absent when it could not be found
	// or opened.
	Number int    `json:"number,omitempty"`
	URL    string `json:"url,omitempty"`
	// Outcome is created, updated, unchanged, closed (someone closed it:
	// it is left alone and the feature is off in the repository until it
	// is reopened), or failed (Error says why; the exit code is not
	// changed).
	Outcome string `json:"outcome"`
	// Duplicates are other issues with the marker, left alone.
	Duplicates []int  `json:"duplicates,omitempty"`
	Error      string `json:"error,omitempty"`
}

// statusIssueFailed is the outcome of an issue that could not be kept.
const statusIssueFailed = "failed"

// statusIssueTimeout bounds the work on one repository's issue.
const statusIssueTimeout = 2 * time.Minute

// keepStatusIssues brings each repository's status issue up to date with
// the run: its dependency rows (when the charts ran, else the issue keeps
// its own) and the registry (likewise). A failure is a warning, never the
// run's: the issue only shows what the run did.
func keepStatusIssues(ctx context.Context, o Options, rep *Report, rows []model.DependencyStatus) *GitHubReport {
	out := &GitHubReport{StatusIssues: []StatusIssueReport{}}
	reg := registryStatus(rep.Registry)
	for _, repo := range o.StatusIssues.Repositories {
		s := model.StatusIssue{ChartsChecked: o.Charts != nil, Registry: reg}
		for _, r := range rows {
			if strings.EqualFold(r.Repository, repo) {
				s.Rows = append(s.Rows, r)
			}
		}
		out.StatusIssues = append(out.StatusIssues, keepStatusIssue(ctx, o, repo, s))
	}
	return out
}

// keepStatusIssue keeps one repository's issue and logs what became of it.
func keepStatusIssue(ctx context.Context, o Options, repo string, s model.StatusIssue) StatusIssueReport {
	log := o.Logger.With("repository", repo)
	out := StatusIssueReport{Repository: repo, Outcome: statusIssueFailed}
	owner, name, _ := strings.Cut(repo, "/")
	ctx, cancel := context.WithTimeout(ctx, statusIssueTimeout)
	defer cancel()
	kept, err := o.StatusIssues.GitHub.KeepIssue(ctx, owner, name, model.StatusIssueMarker, model.StatusIssueTitle,
		func(previous string) string { return model.StatusIssueBody(previous, s) })
	out.Number, out.URL, out.Duplicates = kept.Number, kept.URL, kept.Duplicates
	if err != nil {
		out.Error = err.Error()
		log.Warn("status issue not updated; the run's outcome stands", "number", kept.Number, "err", err)
		return out
	}
	out.Outcome = string(kept.Outcome)
	if len(kept.Duplicates) > 0 {
		log.Warn("status issue has duplicates: the oldest open one is kept, the others are left alone; close or delete them",
			"number", kept.Number, "duplicates", fmt.Sprint(kept.Duplicates))
	}
	if kept.Outcome == github.IssueClosed {
		log.Warn("status issue is closed: it is left alone and none is opened; reopen it to turn the status issue back on here",
			"number", kept.Number, "url", kept.URL)
		return out
	}
	log.Info("status issue", "number", kept.Number, "url", kept.URL, "outcome", kept.Outcome)
	return out
}

// registryStatus is the registry part of a run's report as the status
// issue shows it; nil when the run did not scan.
func registryStatus(rr *RegistryReport) *model.RegistryStatus {
	if rr == nil {
		return nil
	}
	s := &model.RegistryStatus{URL: rr.URL}
	if rr.ScannedAt.IsZero() { // the scan failed; its error is recorded last
		s.ScanError = "no error recorded"
		if n := len(rr.Errors); n > 0 {
			s.ScanError = rr.Errors[n-1].Error
		}
		return s
	}
	s.TotalBytes, s.CapBytes, s.Images, s.UntaggedImages = rr.TotalBytes, rr.CapBytes, rr.Images, rr.UntaggedImages
	s.Planned, s.PlannedBytes, s.Refused = rr.plannedCount(), rr.ReclaimBytes, rr.Refused
	s.Applied, s.Deleted, s.FreedBytes = rr.Applied, len(rr.Deleted), freedBytes(rr)
	s.NotSent, s.Held, s.Problems = len(rr.Skipped)+rr.NotStarted, rr.Held, len(rr.Errors)
	for _, f := range rr.Failed {
		s.Failures = append(s.Failures, model.DeletionFailure{Ref: f.Repository + "@" + f.Digest, Error: f.Error})
	}
	if f := rr.Forecast; f != nil {
		s.ForecastNote = f.Reason
		if f.GrowthBytesPerWeek != nil {
			s.Forecast = &model.Forecast{GrowthBytesPerWeek: *f.GrowthBytesPerWeek, OverCap: f.OverCap, BasedOnRuns: f.BasedOnRuns}
			if f.CapReachedAt != nil {
				s.Forecast.CapReachedAt = *f.CapReachedAt
			}
		}
	}
	if u := rr.Usage; u != nil {
		s.Usage = &model.UsageStatus{Window: u.KeepLaunchedWithin, LaunchedImages: u.LaunchedImages, InUseImages: u.InUseImages, HeldBytes: u.HeldBytes}
		for _, e := range u.Errors {
			s.Usage.Failing = append(s.Usage.Failing, model.UsageFailure{Source: e.Source, Error: e.Error})
		}
	}
	return s
}

// writeStatusIssues is the summary's line for each status issue.
func writeStatusIssues(w io.Writer, g *GitHubReport) {
	if g == nil {
		return
	}
	for _, s := range g.StatusIssues {
		line := fmt.Sprintf("status issue %s: %s", s.Repository, s.Outcome)
		if s.Number > 0 {
			line += fmt.Sprintf(" #%d %s", s.Number, s.URL)
		}
		switch {
		case s.Error != "":
			line += ": " + s.Error
		case s.Outcome == string(github.IssueClosed):
			line += ": someone closed it; reopen it to turn it back on"
		}
		fmt.Fprintln(w, line)
	}
}
