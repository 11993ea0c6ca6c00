package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/history"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// RunHistory is where the chart engine reads what the runs before it
// recorded; *history.Store is one.
type RunHistory interface {
	Read(since time.Time) ([]history.Run, int, error)
}

// UseHistory lets Check compare with the runs recorded in h before its
// next check, as a new run would: a pull request the last run recorded
// open for a dependency that GitHub now reports merged shows as
// DependencyStatus.Merged, and keeps showing for as long as this engine
// lives (a console shows it refresh after refresh; the next run, whose
// last run recorded no open pull request, no longer does). Pull requests
// this engine has seen open count too.
func (c *Charts) UseHistory(h RunHistory) {
	c.prs.mu.Lock()
	defer c.prs.mu.Unlock()
	c.prs.history, c.prs.loaded, c.prs.open = h, false, nil
}

// maxKnownPRs bounds the pull requests remembered per dependency.
const maxKnownPRs = 5

// prTracker remembers, per dependency, the pull requests known to have
// been open: the one the last run recorded, and those this engine has seen
// since.
type prTracker struct {
	mu      sync.Mutex
	history RunHistory
	loaded  bool
	open    map[depKey][]string // PR web addresses, oldest first
}

type depKey struct{ repo, file, dep string }

func keyOf(r *model.DependencyStatus) depKey { return depKey{r.Repository, r.File, r.Dependency} }

// known returns the pull requests known open for a dependency, reading the
// history the first time: for each dependency, the newest run that
// recorded it other than as an error.
func (t *prTracker) known(k depKey) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.loaded {
		t.loaded = true
		if t.open == nil {
			t.open = map[depKey][]string{}
		}
		if t.history != nil {
			runs, _, _ := t.history.Read(time.Time{}) // unreadable: nothing to compare with
			last := map[depKey]history.ChartRun{}
			for _, r := range runs { // oldest first
				for _, c := range r.Charts {
					if c.Status != string(model.StateError) {
						last[depKey{c.Repository, c.File, c.Dependency}] = c
					}
				}
			}
			for k, c := range last {
				if c.PullRequest != "" && c.Status != string(model.StatePRClosed) && !slices.Contains(t.open[k], c.PullRequest) {
					t.open[k] = append([]string{c.PullRequest}, t.open[k]...)
				}
			}
		}
	}
	return slices.Clone(t.open[k])
}

// remember adds the rows' open pull requests to those known.
func (t *prTracker) remember(rows []model.DependencyStatus) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open == nil {
		t.open = map[depKey][]string{}
	}
	for i := range rows {
		r := &rows[i]
		k := keyOf(r)
		if r.HasOpenPR() && r.PRURL != "" && !slices.Contains(t.open[k], r.PRURL) {
			t.open[k] = append(t.open[k], r.PRURL)
			if len(t.open[k]) > maxKnownPRs {
				t.open[k] = t.open[k][1:]
			}
		}
	}
}

// forget drops a pull request that turned out closed unmerged or gone.
func (t *prTracker) forget(k depKey, url string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.open[k] = slices.DeleteFunc(t.open[k], func(u string) bool { return u == url })
}

// prRead is one pull request as GitHub reported it during a check, with
// its head commit's checks.
type prRead struct {
	st     github.PullRequestStatus
	err    error
	checks *github.Checks // read only for an open pull request's row
	cerr   error
}

// describePRs fills in each row's open pull request as GitHub reports it
// (age, mergeable, checks) and a pull request known open before that has
// been merged since. A pull request that cannot be read leaves its row
// as it is, with mergeable and checks unknown.
func (c *Charts) describePRs(ctx context.Context, rows []model.DependencyStatus) {
	reads := map[string]*prRead{} // "owner/repo#n": one read per PR (grouped rows share one)
	read := func(owner, repo string, n int) *prRead {
		k := fmt.Sprintf("%s/%s#%d", owner, repo, n)
		if r, ok := reads[k]; ok {
			return r
		}
		st, err := c.gh.PullRequestStatus(ctx, owner, repo, n)
		reads[k] = &prRead{st: st, err: err}
		return reads[k]
	}
	for i := range rows {
		r := &rows[i]
		if r.HasOpenPR() {
			owner, name, _ := strings.Cut(r.Repository, "/")
			pr := read(owner, name, r.PRNumber)
			if pr.err == nil && pr.checks == nil {
				ch, err := c.gh.Checks(ctx, owner, name, pr.st.HeadSHA)
				pr.checks, pr.cerr = &ch, err
			}
			describePR(r, pr)
		}
		c.findMerged(r, read)
	}
	c.prs.remember(rows)
}

// describePR copies what GitHub said of a row's open pull request.
func describePR(r *model.DependencyStatus, pr *prRead) {
	r.PRChecks, r.PRMergeableState = model.ChecksUnknown, "unknown"
	if pr.err != nil {
		return
	}
	r.PRCreatedAt, r.PRMergeable = pr.st.CreatedAt, pr.st.Mergeable
	if pr.st.MergeableState != "" {
		r.PRMergeableState = pr.st.MergeableState
	}
	switch ch := pr.checks; {
	case ch == nil:
	case pr.cerr != nil && ch.State != model.ChecksFailing:
		// One of check runs and statuses is unreadable (a token without
		// checks or statuses read): only a failure is certain.
	default:
		r.PRChecks, r.PRFailedChecks = ch.State, ch.Failed
	}
}

// findMerged sets r.Merged to the most recently merged of the pull
// requests known open for r other than its current one.
func (c *Charts) findMerged(r *model.DependencyStatus, read func(owner, repo string, n int) *prRead) {
	k := keyOf(r)
	for _, url := range c.prs.known(k) {
		if url == r.PRURL && r.HasOpenPR() {
			continue
		}
		owner, name, n, ok := github.ParsePullRequestURL(url)
		if !ok {
			c.prs.forget(k, url)
			continue
		}
		pr := read(owner, name, n)
		switch {
		case errors.Is(pr.err, github.ErrNotFound):
			c.prs.forget(k, url) // not this GitHub's, or deleted
		case pr.err != nil, pr.st.State == "open":
		case !pr.st.Merged:
			c.prs.forget(k, url) // closed without merging
		case r.Merged == nil || pr.st.MergedAt.After(r.Merged.MergedAt):
			r.Merged = &model.MergedPR{Number: n, URL: url, MergedAt: pr.st.MergedAt}
		}
	}
}

// forgetPRStatus clears what a check read of a row's pull request once it
// is another pull request or has a new head commit.
func forgetPRStatus(r *model.DependencyStatus, out github.Outcome) {
	if r.PRNumber != out.Number {
		r.PRCreatedAt = time.Time{}
	}
	if r.PRNumber != out.Number || out.Commit != "" {
		r.PRMergeable, r.PRMergeableState, r.PRChecks, r.PRFailedChecks = nil, "", "", nil
	}
}
