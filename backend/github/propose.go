package github

import (
	"context"
	"errors"
	"fmt"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// Outcome statuses.
const (
	StatusOpen    = "pr-open"    // a pull request with this title was already open; nothing done
	StatusOpened  = "pr-opened"  // a new pull request was opened
	StatusUpdated = "pr-updated" // an open pull request got a new commit and title/body
	// StatusEdited: the branch holds a commit this tool did not write;
	// nothing was pushed to it (see Managed).
	StatusEdited = "edited"
	// StatusClosed: a pull request proposing the same was closed without
	// being merged; it is not proposed again.
	StatusClosed = "pr-closed"
)

// Files maps file paths to their content; a nil content is a file that
// does not exist.
type Files map[string][]byte

// Proposal is one edit to propose as a pull request.
type Proposal struct {
	Owner, Repo string
	Base        string // target branch; the repository's default branch when empty
	Path        string // file to edit, e.g. "mybinder/Chart.yaml"
	// Also lists other files the edit may change in the same commit, such
	// as the Chart.lock beside a Chart.yaml. Edit sees a missing one as nil.
	Also   []string
	Branch string // head branch, e.g. BranchName(Path, dependency)

	Title, Body   string
	CommitMessage string // Title when empty; the Managed trailer is added

	Labels, Reviewers, TeamReviewers []string

	// Fork pushes the branch to the token owner's fork (created if needed)
	// and opens the pull request from there.
	Fork bool

	// Edit turns the current content of Path and Also into the proposed
	// content; files it leaves out or returns nil for are not changed. It
	// must be idempotent: applied to already edited files it returns them
	// unchanged.
	Edit func(current Files) (Files, error)

	// Declined reports whether a pull request from Branch that was closed
	// without being merged turned this proposal down. When nil, one with
	// the same title did.
	Declined func(closed PullRequest) bool
}

// PullRequest is a pull request from a proposal's branch.
type PullRequest struct {
	Number      int
	URL         string
	Title, Body string
	Head        string // "owner:branch"
	Base        string
	State       string // "open" or "closed"
	Merged      bool
}

// Outcome says what Propose did, or for Inspect what it would do.
type Outcome struct {
	// Status is one of the Status… values. From Inspect it is empty when
	// Propose would write: update pull request Number, or open one when
	// Number is 0.
	Status string
	Number int
	URL    string
	Commit string // sha of the commit pushed; empty when none was
	// Warnings are problems that did not stop the pull request, such as
	// labels or reviewers GitHub refused, or why an edited branch or a
	// declined proposal was left alone.
	Warnings []string
	// Closed, from Inspect only, lists the pull requests from the branch
	// that were closed without being merged, newest first.
	Closed []PullRequest
}

// repoRef names the repository holding the head branch.
type repoRef struct{ owner, name string }

func (r repoRef) String() string { return r.owner + "/" + r.name }

// Propose makes sure a pull request proposes p. It leaves alone a branch
// holding a commit it did not write (StatusEdited) and a proposal a closed
// pull request declined (StatusClosed); otherwise it reports an open pull
// request with the same title, adds a commit to one with an older bump,
// or commits to a fresh branch and opens a new one. A branch that moves
// while committing is looked at again once.
func (c *Client) Propose(ctx context.Context, p Proposal) (Outcome, error) {
	out, err := c.propose(ctx, p)
	return out, c.redact(err)
}

// Inspect says what Propose would do now, without writing anything.
func (c *Client) Inspect(ctx context.Context, p Proposal) (Outcome, error) {
	if err := p.check(false); err != nil {
		return Outcome{}, c.redact(err)
	}
	st, err := c.inspect(ctx, &p)
	if err != nil {
		return Outcome{}, c.redact(err)
	}
	out := st.decide(p)
	for _, pr := range st.closed {
		out.Closed = append(out.Closed, pullRequest(pr))
	}
	return out, nil
}

func (c *Client) propose(ctx context.Context, p Proposal) (Outcome, error) {
	if err := p.check(true); err != nil {
		return Outcome{}, err
	}
	var out Outcome
	_, err := retry(func() (string, error) {
		st, err := c.inspect(ctx, &p)
		if err != nil {
			return "", err
		}
		if out = st.decide(p); out.Status != "" {
			return "", nil
		}
		if st.open != nil && len(st.inherited) == 0 {
			out, err = c.update(ctx, p, st)
		} else {
			out, err = c.open(ctx, p, st)
		}
		return "", err
	})
	return out, err
}

func pullRequest(pr *gh.PullRequest) PullRequest {
	return PullRequest{
		Number: pr.GetNumber(), URL: pr.GetHTMLURL(), Title: pr.GetTitle(), Body: pr.GetBody(),
		Head: pr.GetHead().GetLabel(), Base: pr.GetBase().GetRef(), State: pr.GetState(),
		Merged: pr.MergedAt != nil || pr.GetMerged(),
	}
}

// check validates a proposal; write adds what only Propose needs.
func (p *Proposal) check(write bool) error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"Owner", p.Owner}, {"Repo", p.Repo}, {"Path", p.Path}, {"Branch", p.Branch}, {"Title", p.Title},
	} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if write && p.Edit == nil {
		missing = append(missing, "Edit")
	}
	if len(missing) > 0 {
		return fmt.Errorf("proposal for %s/%s: missing %s", p.Owner, p.Repo, strings.Join(missing, ", "))
	}
	for _, f := range append([]string{p.Path}, p.Also...) {
		if f == "" || strings.Contains(f, "..") || strings.HasPrefix(f, "/") {
			return fmt.Errorf("proposal for %s/%s: file path %q must be relative to the repository root", p.Owner, p.Repo, f)
		}
	}
	if !validBranch(p.Branch) {
		return fmt.Errorf("proposal for %s/%s: %q is not a valid branch name", p.Owner, p.Repo, p.Branch)
	}
	return nil
}

// validBranch applies the rules of git check-ref-format that matter here.
func validBranch(b string) bool {
	if b == "" || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".lock") ||
		strings.HasSuffix(b, ".") || strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") {
		return false
	}
	return !strings.ContainsFunc(b, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune("~^:?*[\\", r) })
}

// retry runs step and, if the branch moved under it (ErrConflict), once more.
func retry(step func() (string, error)) (string, error) {
	sha, err := step()
	if errors.Is(err, ErrConflict) {
		sha, err = step()
		if errors.Is(err, ErrConflict) {
			return "", fmt.Errorf("%w (still conflicting after one retry: something else is pushing to the branch; re-run later)", err)
		}
	}
	return sha, err
}
