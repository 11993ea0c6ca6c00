package github

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// polling is how often and how many more times a pull request is read
// while GitHub computes its mergeable.
type polling struct {
	interval time.Duration
	tries    int
}

// WithMergeablePolling sets how long PullRequestStatus waits for GitHub to
// compute an open pull request's mergeable, which it does in the
// background after a push to the head or the base branch (until then
// mergeable is null): it reads the pull request again up to tries more
// times, interval apart. Default: twice, 1s apart; tries 0 never waits.
func WithMergeablePolling(interval time.Duration, tries int) Option {
	return func(o *options) { o.mergeable = &polling{interval: interval, tries: max(tries, 0)} }
}

func (o options) mergeablePolling() polling {
	if o.mergeable == nil {
		return polling{interval: time.Second, tries: 2}
	}
	return *o.mergeable
}

// PullRequestStatus is a pull request as GET /repos/{owner}/{repo}/pulls/{number}
// reports it.
type PullRequestStatus struct {
	Number    int
	URL       string
	State     string // "open" or "closed"
	Merged    bool
	MergedAt  time.Time
	CreatedAt time.Time
	HeadSHA   string
	// Mergeable is nil while GitHub computes it, and for a closed pull
	// request.
	Mergeable *bool
	// MergeableState is GitHub's mergeable_state: clean, dirty, blocked,
	// behind, unstable, has_hooks, draft or unknown.
	MergeableState string
}

// PullRequestStatus reads a pull request. While GitHub is still computing
// an open pull request's mergeable, it reads it again as
// WithMergeablePolling says; if it is still null then, Mergeable is nil.
func (c *Client) PullRequestStatus(ctx context.Context, owner, repo string, number int) (PullRequestStatus, error) {
	op := fmt.Sprintf("read pull request #%d", number)
	for try := 0; ; try++ {
		pr, _, err := c.gh.PullRequests.Get(ctx, owner, repo, number)
		if err != nil {
			return PullRequestStatus{}, c.redact(fail(err, owner+"/"+repo, op, fmt.Sprintf("pull request #%d not found", number)))
		}
		st := PullRequestStatus{
			Number: pr.GetNumber(), URL: pr.GetHTMLURL(), State: pr.GetState(),
			Merged: pr.GetMerged() || pr.MergedAt != nil, MergedAt: pr.GetMergedAt().Time,
			CreatedAt: pr.GetCreatedAt().Time, HeadSHA: pr.GetHead().GetSHA(),
			Mergeable: pr.Mergeable, MergeableState: pr.GetMergeableState(),
		}
		if st.Mergeable != nil || st.State != "open" || try >= c.mergeable.tries {
			return st, nil
		}
		select {
		case <-time.After(c.mergeable.interval):
		case <-ctx.Done():
			return st, nil
		}
	}
}

// Checks is the rolled-up state of one commit's checks: the check runs
// (GitHub Actions and other apps) and the commit statuses (older CI
// services), both of which a pull request's merge box sums up.
type Checks struct {
	State                            model.ChecksState // passing, failing, pending or none
	Total, Passing, Failing, Pending int
	// Failed names the failing check runs and status contexts.
	Failed []string
}

// maxCheckPages bounds the pages of check runs or statuses read for one commit.
const maxCheckPages = 10

// Checks reads the check runs (GET .../commits/{ref}/check-runs, the latest
// run of each) and the combined commit status (GET .../commits/{ref}/status)
// of ref, and rolls them up like gh does: failing when any failed, errored,
// timed out, was cancelled or needs action; else pending when any has not
// finished; else passing, or none when there are no checks at all. When one
// of the two cannot be read, the error says so and the result holds what
// the other said.
func (c *Client) Checks(ctx context.Context, owner, repo, ref string) (Checks, error) {
	var out Checks
	full := owner + "/" + repo
	add := func(name, bucket string) {
		out.Total++
		switch bucket {
		case "pass":
			out.Passing++
		case "fail":
			out.Failing++
			out.Failed = append(out.Failed, name)
		default:
			out.Pending++
		}
	}
	var errs []error
	opts := &gh.ListCheckRunsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for page := 0; page < maxCheckPages; page++ {
		res, resp, err := c.gh.Checks.ListCheckRunsForRef(ctx, owner, repo, ref, opts)
		if err != nil {
			errs = append(errs, fail(err, full, fmt.Sprintf("read the check runs of %.7s", ref), "commit "+ref+" not found"))
			break
		}
		for _, r := range res.CheckRuns {
			add(r.GetName(), checkRunBucket(r.GetStatus(), r.GetConclusion()))
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	lopts := &gh.ListOptions{PerPage: 100}
	for page := 0; page < maxCheckPages; page++ {
		st, resp, err := c.gh.Repositories.GetCombinedStatus(ctx, owner, repo, ref, lopts)
		if err != nil {
			errs = append(errs, fail(err, full, fmt.Sprintf("read the commit statuses of %.7s", ref), "commit "+ref+" not found"))
			break
		}
		// With no statuses the combined state is "pending": only the
		// statuses themselves count.
		for _, s := range st.Statuses {
			add(s.GetContext(), statusBucket(s.GetState()))
		}
		if resp.NextPage == 0 {
			break
		}
		lopts.Page = resp.NextPage
	}
	switch {
	case out.Failing > 0:
		out.State = model.ChecksFailing
	case out.Pending > 0:
		out.State = model.ChecksPending
	case out.Total > 0:
		out.State = model.ChecksPassing
	default:
		out.State = model.ChecksNone
	}
	return out, c.redact(errors.Join(errs...))
}

// checkRunBucket sorts a check run into pass, fail or pending by its
// status and conclusion.
func checkRunBucket(status, conclusion string) string {
	if status != "completed" {
		return "pending" // queued, in_progress, waiting, requested, pending
	}
	switch conclusion {
	case "success", "neutral", "skipped":
		return "pass"
	case "failure", "timed_out", "cancelled", "action_required", "startup_failure":
		return "fail"
	}
	return "pending" // stale: GitHub gave up waiting for it
}

// statusBucket sorts a commit status into pass, fail or pending by its state.
func statusBucket(state string) string {
	switch state {
	case "success":
		return "pass"
	case "failure", "error":
		return "fail"
	}
	return "pending"
}

// ParsePullRequestURL reads owner, repository and number from a pull
// request's web address, ".../{owner}/{repo}/pull/{number}".
func ParsePullRequestURL(u string) (owner, repo string, number int, ok bool) {
	p, err := url.Parse(u)
	if err != nil {
		return "", "", 0, false
	}
	parts := strings.Split(strings.Trim(p.Path, "/"), "/")
	n := len(parts)
	if n < 4 || parts[n-2] != "pull" || parts[n-4] == "" || parts[n-3] == "" {
		return "", "", 0, false
	}
	number, err = strconv.Atoi(parts[n-1])
	if err != nil || number <= 0 {
		return "", "", 0, false
	}
	return parts[n-4], parts[n-3], number, true
}
