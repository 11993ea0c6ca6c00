package github

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// What Propose writes: the commit of the edit, the branch pointed at it, and
// the pull request opened or updated, with its labels and reviewers.

// open commits the edit on top of the base branch's head in a fresh (or
// reset) branch and opens the pull request; given an open one (st.open,
// whose branch carries inherited commits) it rebuilds that one's branch
// and updates it. In fork mode the base is upstream's, whatever the fork's
// own copy of it holds: the branch is created in the fork at upstream's
// commit (a fork shares its network's objects), so the pull request
// proposes the bump and nothing else.
func (c *Client) open(ctx context.Context, p Proposal, st *branchState) (Outcome, error) {
	upstream := repoRef{p.Owner, p.Repo}
	head := upstream
	var warnings []string
	if p.Fork {
		var err error
		if st.open != nil {
			head, p.Branch = prHead(st.open, p)
		} else if head, err = c.fork(ctx, p.Owner, p.Repo, st.headOwner); err != nil {
			return Outcome{}, err
		}
		if w := c.syncFork(ctx, upstream, head, p.Base); w != "" {
			warnings = append(warnings, w)
		}
	}
	ref, _, err := c.gh.Git.GetRef(ctx, upstream.owner, upstream.name, "heads/"+p.Base)
	if err != nil {
		return Outcome{}, fail(err, upstream.String(), "read base branch "+p.Base, "branch "+p.Base+" does not exist")
	}
	baseSHA := ref.GetObject().GetSHA()
	sha, err := c.commit(ctx, upstream, head, p, baseSHA, fmt.Sprintf("%s (%.7s)", p.Base, baseSHA))
	if err != nil {
		return Outcome{}, err
	}
	if sha == "" {
		return Outcome{}, &Error{Kind: ErrUpToDate, Op: "propose " + p.Title, Repo: upstream.String(),
			advice: fmt.Sprintf("%s is already at that version on branch %s: nothing to commit", p.Path, p.Base)}
	}
	if err := c.pointBranch(ctx, head, p.Branch, sha, st); err != nil {
		return Outcome{}, err
	}
	if len(st.inherited) > 0 {
		warnings = append(warnings, st.inheritedText(head, p.Branch, upstream, p.Base))
	}
	if p.Fork {
		if err := c.onBase(ctx, upstream, head, p, baseSHA); err != nil {
			return Outcome{}, err
		}
	}
	if st.open != nil {
		out, err := c.retitle(ctx, p, st.open, sha)
		if err != nil {
			return Outcome{}, err
		}
		out.Warnings = warnings
		return out, nil
	}
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
		return Outcome{}, fail(err, upstream.String(), fmt.Sprintf("open pull request from %s into %s", np.GetHead(), p.Base), "")
	}
	out := Outcome{Status: StatusOpened, Number: pr.GetNumber(), URL: pr.GetHTMLURL(), Commit: sha}
	out.Warnings = append(warnings, c.decorate(ctx, p, pr)...)
	return out, nil
}

// onBase checks that the branch just pushed to head proposes nothing under
// its new commit: that base, the upstream commit the commit was built on,
// is still in the history of upstream's base branch. It is not when the
// base branch was rewritten (force-pushed) between reading it and pushing
// the branch; the pull request would then propose the dropped commits too.
// ErrConflict makes Propose look again and rebuild the branch on the new
// base.
func (c *Client) onBase(ctx context.Context, upstream, head repoRef, p Proposal, base string) error {
	op := fmt.Sprintf("compare branch %s of %s with %s", p.Branch, head, p.Base)
	cmp, _, err := c.gh.Repositories.CompareCommits(ctx, upstream.owner, upstream.name, p.Base, head.owner+":"+p.Branch, &gh.ListOptions{PerPage: 1})
	if err != nil {
		return fail(err, upstream.String(), op, "branch "+p.Branch+" of "+head.String()+" or "+p.Base+" vanished while committing")
	}
	if mb := cmp.GetMergeBaseCommit().GetSHA(); mb != base {
		return &Error{Kind: ErrConflict, Op: op, Repo: upstream.String(),
			advice: fmt.Sprintf("%s was rewritten while committing: it no longer holds %.7s, the commit the bump was built on, so the branch would propose %d commit(s) besides the bump",
				p.Base, base, max(cmp.GetAheadBy()-1, 0))}
	}
	return nil
}

// prHead returns the repository and branch an open pull request is from.
func prHead(pr *gh.PullRequest, p Proposal) (repoRef, string) {
	head := repoRef{pr.GetHead().GetRepo().GetOwner().GetLogin(), pr.GetHead().GetRepo().GetName()}
	if head.owner == "" || head.name == "" {
		head = repoRef{strings.SplitN(pr.GetHead().GetLabel(), ":", 2)[0], p.Repo}
	}
	branch := p.Branch
	if ref := pr.GetHead().GetRef(); ref != "" {
		branch = ref
	}
	return head, branch
}

// pointBranch points branch at sha: it creates the branch, or moves one
// that exists, which inspect found to hold no one else's edits (only this
// tool's commits, and in fork mode maybe inherited ones under them), as
// long as it has not moved since.
func (c *Client) pointBranch(ctx context.Context, head repoRef, branch, sha string, st *branchState) error {
	ref := &gh.Reference{Ref: gh.String("refs/heads/" + branch), Object: &gh.GitObject{SHA: gh.String(sha)}}
	if !st.exists {
		_, _, err := c.gh.Git.CreateRef(ctx, head.owner, head.name, ref)
		if err == nil {
			return nil
		}
		var er *gh.ErrorResponse
		if !errors.As(err, &er) || er.Response.StatusCode != 422 || !strings.Contains(er.Message, "already exists") {
			return fail(err, head.String(), "create branch "+branch, "")
		}
		return &Error{Kind: ErrConflict, Op: "create branch " + branch, Repo: head.String(), err: err,
			advice: "the branch appeared while committing"}
	}
	now, _, err := c.gh.Git.GetRef(ctx, head.owner, head.name, "heads/"+branch)
	if err != nil {
		return fail(err, head.String(), "read branch "+branch, "branch "+branch+" vanished")
	}
	if now.GetObject().GetSHA() != st.head {
		return &Error{Kind: ErrConflict, Op: "reset branch " + branch, Repo: head.String(),
			advice: fmt.Sprintf("the branch moved from %.7s to %.7s while committing", st.head, now.GetObject().GetSHA())}
	}
	if _, _, err := c.gh.Git.UpdateRef(ctx, head.owner, head.name, ref, true); err != nil {
		return fail(err, head.String(), "reset branch "+branch+" (it holds no one else's edits) to the base", "branch "+branch+" vanished")
	}
	return nil
}

// commit writes one commit on parent in head with p's edit of the files as
// they are at parent (described by where), and returns its sha; "" when
// the edit changes nothing. It reads parent from src: head itself, or in
// fork mode upstream, whose objects the fork shares. No branch moves.
func (c *Client) commit(ctx context.Context, src, head repoRef, p Proposal, parent, where string) (string, error) {
	current := Files{}
	for i, path := range append([]string{p.Path}, p.Also...) {
		content, _, err := c.getFile(ctx, src.owner, src.name, path, parent, where)
		if i > 0 && errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		current[path] = content
	}
	edited, err := p.Edit(current)
	if err != nil {
		return "", fmt.Errorf("edit %s of %s at %s: %w", p.Path, src, where, err)
	}
	var entries []*gh.TreeEntry
	for _, path := range append([]string{p.Path}, p.Also...) {
		content, ok := edited[path]
		if !ok || content == nil || bytes.Equal(content, current[path]) {
			continue
		}
		blob, _, err := c.gh.Git.CreateBlob(ctx, head.owner, head.name, &gh.Blob{
			Content: gh.String(encode64(content)), Encoding: gh.String("base64")})
		if err != nil {
			return "", fail(err, head.String(), fmt.Sprintf("commit %s to branch %s", path, p.Branch), "")
		}
		entries = append(entries, &gh.TreeEntry{Path: gh.String(path), Mode: gh.String("100644"), Type: gh.String("blob"), SHA: blob.SHA})
	}
	if len(entries) == 0 {
		return "", nil
	}
	op := fmt.Sprintf("commit %s to branch %s", p.Path, p.Branch)
	base, _, err := c.gh.Git.GetCommit(ctx, src.owner, src.name, parent)
	if err != nil {
		return "", fail(err, src.String(), "read the commit at "+where+" to build on", "commit "+parent+" not found")
	}
	tree, _, err := c.gh.Git.CreateTree(ctx, head.owner, head.name, base.GetTree().GetSHA(), entries)
	if err != nil {
		return "", fail(err, head.String(), op, "")
	}
	bot := &gh.CommitAuthor{Name: gh.String(BotName), Email: gh.String(BotEmail), Date: &gh.Timestamp{Time: time.Now().UTC().Truncate(time.Second)}}
	commit, _, err := c.gh.Git.CreateCommit(ctx, head.owner, head.name, &gh.Commit{
		Message: gh.String(strings.TrimRight(p.CommitMessage, "\n") + "\n\n" + Trailer + "\n"),
		Tree:    tree, Parents: []*gh.Commit{{SHA: gh.String(parent)}},
		Author: bot, Committer: bot,
	}, nil)
	if err != nil {
		return "", fail(err, head.String(), op, "")
	}
	return commit.GetSHA(), nil
}

// update brings an open pull request with an older bump up to p: a new
// commit on its branch, then the new title and body.
func (c *Client) update(ctx context.Context, p Proposal, st *branchState) (Outcome, error) {
	pr := st.open
	var head repoRef
	head, p.Branch = prHead(pr, p)
	sha, err := c.commit(ctx, head, head, p, st.head, fmt.Sprintf("%s (%.7s)", p.Branch, st.head))
	if err != nil {
		return Outcome{}, err
	}
	if sha != "" { // "": already bumped (an earlier run stopped before renaming the PR)
		ref := &gh.Reference{Ref: gh.String("refs/heads/" + p.Branch), Object: &gh.GitObject{SHA: gh.String(sha)}}
		if _, _, err := c.gh.Git.UpdateRef(ctx, head.owner, head.name, ref, false); err != nil {
			return Outcome{}, fail(err, head.String(), fmt.Sprintf("push to branch %s of pull request #%d", p.Branch, pr.GetNumber()), "branch "+p.Branch+" vanished")
		}
	}
	return c.retitle(ctx, p, pr, sha)
}

// retitle gives pull request pr p's title and body once commit sha (""
// for none) was pushed to its branch.
func (c *Client) retitle(ctx context.Context, p Proposal, pr *gh.PullRequest, sha string) (Outcome, error) {
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

func encode64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func prefixed(prefix string, s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = prefix + v
	}
	return out
}
