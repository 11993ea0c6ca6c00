package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// Outcome statuses.
const (
	StatusOpen    = "pr-open"    // a pull request with this title was already open; nothing done
	StatusOpened  = "pr-opened"  // a new pull request was opened
	StatusUpdated = "pr-updated" // an open pull request got a new commit and title/body
)

// Proposal is one file edit to propose as a pull request.
type Proposal struct {
	Owner, Repo string
	Base        string // target branch; the repository's default branch when empty
	Path        string // file to edit, e.g. "mybinder/Chart.yaml"
	Branch      string // head branch, e.g. BranchName(Path, dependency)

	Title, Body   string
	CommitMessage string // Title when empty

	Labels, Reviewers, TeamReviewers []string

	// Fork pushes the branch to the token owner's fork (created if needed)
	// and opens the pull request from there.
	Fork bool

	// Edit turns the file's current content into the bumped content. It
	// must be idempotent: applied to already bumped content it returns it
	// unchanged.
	Edit func(current []byte) ([]byte, error)
}

// Outcome says what Propose did.
type Outcome struct {
	Status string // StatusOpen, StatusOpened or StatusUpdated
	Number int
	URL    string
	Commit string // sha of the commit pushed; empty when none was
	// Warnings are problems that did not stop the pull request, such as
	// labels or reviewers GitHub refused.
	Warnings []string
}

// repoRef names the repository holding the head branch.
type repoRef struct{ owner, name string }

func (r repoRef) String() string { return r.owner + "/" + r.name }

// Propose makes sure a pull request proposes p: it reports an open pull
// request with the same title, updates one from the same branch with an
// older bump, or commits to a fresh branch and opens a new one. A branch
// that moves while committing is retried once from the current base.
func (c *Client) Propose(ctx context.Context, p Proposal) (Outcome, error) {
	out, err := c.propose(ctx, p)
	return out, c.redact(err)
}

func (c *Client) propose(ctx context.Context, p Proposal) (Outcome, error) {
	if err := p.validate(); err != nil {
		return Outcome{}, err
	}
	up, err := c.repository(ctx, p.Owner, p.Repo)
	if err != nil {
		return Outcome{}, err
	}
	if p.Base == "" {
		p.Base = up.GetDefaultBranch()
	}
	if p.CommitMessage == "" {
		p.CommitMessage = p.Title
	}
	headOwner := p.Owner
	if p.Fork {
		login, err := c.user(ctx)
		if err != nil {
			return Outcome{}, err
		}
		if strings.EqualFold(login, p.Owner) {
			return Outcome{}, fmt.Errorf("propose in %s/%s: fork mode is on but the token's user %s owns the repository: turn fork mode off", p.Owner, p.Repo, login)
		}
		headOwner = login
	}
	pr, err := c.openPR(ctx, p.Owner, p.Repo, headOwner, p.Branch, p.Base)
	if err != nil {
		return Outcome{}, err
	}
	if pr != nil {
		if pr.GetTitle() == p.Title {
			return Outcome{Status: StatusOpen, Number: pr.GetNumber(), URL: pr.GetHTMLURL()}, nil
		}
		return c.update(ctx, p, pr)
	}
	head := repoRef{p.Owner, p.Repo}
	if p.Fork {
		if head, err = c.fork(ctx, p.Owner, p.Repo, headOwner); err != nil {
			return Outcome{}, err
		}
	}
	return c.open(ctx, p, head)
}

func (p *Proposal) validate() error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"Owner", p.Owner}, {"Repo", p.Repo}, {"Path", p.Path}, {"Branch", p.Branch}, {"Title", p.Title},
	} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if p.Edit == nil {
		missing = append(missing, "Edit")
	}
	if len(missing) > 0 {
		return fmt.Errorf("proposal for %s/%s: missing %s", p.Owner, p.Repo, strings.Join(missing, ", "))
	}
	if strings.Contains(p.Path, "..") || strings.HasPrefix(p.Path, "/") {
		return fmt.Errorf("proposal for %s/%s: file path %q must be relative to the repository root", p.Owner, p.Repo, p.Path)
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

// open commits the edit to a fresh branch in head and opens the pull request.
func (c *Client) open(ctx context.Context, p Proposal, head repoRef) (Outcome, error) {
	sha, err := retry(func() (string, error) { return c.commitFresh(ctx, p, head) })
	if err != nil {
		return Outcome{}, err
	}
	upstream := p.Owner + "/" + p.Repo
	np := &gh.NewPullRequest{
		Title: gh.String(p.Title),
		Head:  gh.String(head.owner + ":" + p.Branch),
		Base:  gh.String(p.Base),
		Body:  gh.String(p.Body),
	}
	if head.owner != p.Owner {
		np.MaintainerCanModify = gh.Bool(true)
	}
	pr, _, err := c.gh.PullRequests.Create(ctx, p.Owner, p.Repo, np)
	if err != nil {
		return Outcome{}, fail(err, upstream, fmt.Sprintf("open pull request from %s into %s", np.GetHead(), p.Base), "")
	}
	out := Outcome{Status: StatusOpened, Number: pr.GetNumber(), URL: pr.GetHTMLURL(), Commit: sha}
	out.Warnings = c.decorate(ctx, p, pr)
	return out, nil
}

// commitFresh points p.Branch in head at the base's head, commits the edited
// file there and returns the new commit's sha.
func (c *Client) commitFresh(ctx context.Context, p Proposal, head repoRef) (string, error) {
	if head.owner != p.Owner || head.name != p.Repo {
		if err := c.syncFork(ctx, head, p.Base); err != nil {
			return "", err
		}
	}
	ref, _, err := c.gh.Git.GetRef(ctx, head.owner, head.name, "heads/"+p.Base)
	if err != nil {
		return "", fail(err, head.String(), "read base branch "+p.Base, "branch "+p.Base+" does not exist")
	}
	baseSHA := ref.GetObject().GetSHA()
	current, blob, err := c.getFile(ctx, head.owner, head.name, p.Path, baseSHA, fmt.Sprintf("%s (%.7s)", p.Base, baseSHA))
	if err != nil {
		return "", err
	}
	edited, err := p.Edit(current)
	if err != nil {
		return "", fmt.Errorf("edit %s of %s at %s: %w", p.Path, head, p.Base, err)
	}
	if bytes.Equal(edited, current) {
		return "", &Error{Kind: ErrUpToDate, Op: "propose " + p.Title, Repo: head.String(),
			advice: fmt.Sprintf("%s is already at that version on branch %s: nothing to commit", p.Path, p.Base)}
	}
	if err := c.pointBranch(ctx, head, p.Branch, baseSHA); err != nil {
		return "", err
	}
	return c.put(ctx, head, p, edited, blob)
}

// pointBranch creates branch at sha, or force-moves it there when it
// already exists without an open pull request (a stale branch).
func (c *Client) pointBranch(ctx context.Context, head repoRef, branch, sha string) error {
	ref := &gh.Reference{Ref: gh.String("refs/heads/" + branch), Object: &gh.GitObject{SHA: gh.String(sha)}}
	_, _, err := c.gh.Git.CreateRef(ctx, head.owner, head.name, ref)
	if err == nil {
		return nil
	}
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 422 || !strings.Contains(er.Message, "already exists") {
		return fail(err, head.String(), "create branch "+branch, "")
	}
	if _, _, err := c.gh.Git.UpdateRef(ctx, head.owner, head.name, ref, true); err != nil {
		return fail(err, head.String(), "reset stale branch "+branch+" to the base", "branch "+branch+" vanished")
	}
	return nil
}

// put commits content to p.Path on p.Branch in head; blob is the sha of the
// file being replaced.
func (c *Client) put(ctx context.Context, head repoRef, p Proposal, content []byte, blob string) (string, error) {
	opts := &gh.RepositoryContentFileOptions{
		Message: gh.String(p.CommitMessage),
		Content: content,
		Branch:  gh.String(p.Branch),
	}
	if blob != "" {
		opts.SHA = gh.String(blob)
	}
	res, _, err := c.gh.Repositories.UpdateFile(ctx, head.owner, head.name, escapePath(p.Path), opts)
	if err != nil {
		return "", fail(err, head.String(), fmt.Sprintf("commit %s to branch %s", p.Path, p.Branch), "branch "+p.Branch+" not found")
	}
	return res.Commit.GetSHA(), nil
}

// escapePath escapes each segment (go-github sends PUT paths as given).
func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// update brings an open pull request with an older bump up to p: a new
// commit on its branch, then the new title and body.
func (c *Client) update(ctx context.Context, p Proposal, pr *gh.PullRequest) (Outcome, error) {
	head := repoRef{pr.GetHead().GetRepo().GetOwner().GetLogin(), pr.GetHead().GetRepo().GetName()}
	if head.owner == "" || head.name == "" {
		head = repoRef{strings.SplitN(pr.GetHead().GetLabel(), ":", 2)[0], p.Repo}
	}
	if ref := pr.GetHead().GetRef(); ref != "" {
		p.Branch = ref
	}
	sha, err := retry(func() (string, error) {
		current, blob, err := c.getFile(ctx, head.owner, head.name, p.Path, p.Branch, "")
		if err != nil {
			return "", err
		}
		edited, err := p.Edit(current)
		if err != nil {
			return "", fmt.Errorf("edit %s of %s at %s: %w", p.Path, head, p.Branch, err)
		}
		if bytes.Equal(edited, current) {
			return "", nil // already bumped (an earlier run stopped before renaming the PR)
		}
		return c.put(ctx, head, p, edited, blob)
	})
	if err != nil {
		return Outcome{}, err
	}
	edit := &gh.PullRequest{Title: gh.String(p.Title), Body: gh.String(p.Body)}
	pr2, _, err := c.gh.PullRequests.Edit(ctx, p.Owner, p.Repo, pr.GetNumber(), edit)
	if err != nil {
		return Outcome{}, fail(err, p.Owner+"/"+p.Repo, fmt.Sprintf("update title and body of pull request #%d", pr.GetNumber()), "")
	}
	return Outcome{Status: StatusUpdated, Number: pr2.GetNumber(), URL: pr2.GetHTMLURL(), Commit: sha}, nil
}

// decorate adds labels and requests reviewers on a new pull request; what
// GitHub refuses becomes a warning, not a failure.
func (c *Client) decorate(ctx context.Context, p Proposal, pr *gh.PullRequest) []string {
	var warnings []string
	repo := p.Owner + "/" + p.Repo
	n := pr.GetNumber()
	if len(p.Labels) > 0 {
		// GitHub creates labels the repository does not have yet.
		if _, _, err := c.gh.Issues.AddLabelsToIssue(ctx, p.Owner, p.Repo, n, p.Labels); err != nil {
			err = fail(err, repo, fmt.Sprintf("add labels %s to pull request #%d", strings.Join(p.Labels, ", "), n), "")
			warnings = append(warnings, c.redact(err).Error())
		}
	}
	author := pr.GetUser().GetLogin()
	var reviewers []string
	for _, r := range p.Reviewers {
		if strings.EqualFold(r, author) {
			warnings = append(warnings, fmt.Sprintf("reviewer %s skipped on pull request #%d in %s: it is the pull request's author", r, n, repo))
			continue
		}
		reviewers = append(reviewers, r)
	}
	if len(reviewers) > 0 || len(p.TeamReviewers) > 0 {
		req := gh.ReviewersRequest{Reviewers: reviewers, TeamReviewers: p.TeamReviewers}
		if _, _, err := c.gh.PullRequests.RequestReviewers(ctx, p.Owner, p.Repo, n, req); err != nil {
			who := strings.Join(append(append([]string{}, reviewers...), prefixed("team ", p.TeamReviewers)...), ", ")
			err = fail(err, repo, fmt.Sprintf("request reviews from %s on pull request #%d", who, n), "")
			warnings = append(warnings, c.redact(err).Error())
		}
	}
	return warnings
}

func prefixed(prefix string, s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = prefix + v
	}
	return out
}

// fork creates (or finds) login's fork of owner/repo and waits until
// GitHub serves it.
func (c *Client) fork(ctx context.Context, owner, repo, login string) (repoRef, error) {
	upstream := owner + "/" + repo
	f, _, err := c.gh.Repositories.CreateFork(ctx, owner, repo, nil)
	var accepted *gh.AcceptedError
	if err != nil && !errors.As(err, &accepted) {
		return repoRef{}, fail(err, upstream, "fork into "+login+"'s account", "")
	}
	ref := repoRef{login, repo}
	if f != nil && f.GetOwner().GetLogin() != "" && f.GetName() != "" {
		ref = repoRef{f.GetOwner().GetLogin(), f.GetName()}
	}
	wait, cancel := context.WithTimeout(ctx, c.forkTimeout)
	defer cancel()
	for {
		_, _, err := c.gh.Repositories.Get(wait, ref.owner, ref.name)
		switch {
		case err == nil:
			return ref, nil
		case ctx.Err() != nil:
			return repoRef{}, fmt.Errorf("wait for fork %s of %s: %w", ref, upstream, ctx.Err())
		case wait.Err() != nil:
			return repoRef{}, fmt.Errorf("wait for fork %s of %s: it did not appear within %s (GitHub creates forks asynchronously): re-run later", ref, upstream, c.forkTimeout)
		case !is(err, 404):
			return repoRef{}, fail(err, ref.String(), "wait for fork of "+upstream, "")
		}
		select {
		case <-time.After(c.pollInterval):
		case <-wait.Done():
		}
	}
}

// syncFork fast-forwards the fork's copy of branch from upstream.
func (c *Client) syncFork(ctx context.Context, fork repoRef, branch string) error {
	_, _, err := c.gh.Repositories.MergeUpstream(ctx, fork.owner, fork.name, &gh.RepoMergeUpstreamRequest{Branch: gh.String(branch)})
	if err == nil {
		return nil
	}
	if is(err, 409) {
		return fmt.Errorf("sync branch %s of fork %s from upstream: %w (the fork's %s has diverged: reset it to upstream or delete the fork)",
			branch, fork, fail(err, fork.String(), "merge upstream", ""), branch)
	}
	return fail(err, fork.String(), "sync branch "+branch+" of the fork from upstream", "")
}
