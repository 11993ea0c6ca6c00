package github

import (
	"context"
	"fmt"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// Reading a proposal's branch: its pull requests, open and closed, and the
// commits it has that the base lacks.

// branchState is what inspect finds about a proposal's branch.
type branchState struct {
	headOwner string
	open      *gh.PullRequest        // the open pull request from the branch, if any
	closed    []*gh.PullRequest      // those closed without being merged, newest first
	exists    bool                   // the branch exists
	head      string                 // its head commit, when it exists
	commits   []*gh.RepositoryCommit // the branch's commits that the base lacks, oldest first
	foreign   []*gh.RepositoryCommit // those someone else added (see classify)
	// inherited, in fork mode, are the commits under the tool's first
	// commit on the branch: the base an earlier run built on that upstream's
	// base lacks (see classify). The branch is rebuilt without them.
	inherited []*gh.RepositoryCommit
}

// inspect fills in p's defaults and reads the branch's pull requests and
// the commits it has that p.Base lacks.
func (c *Client) inspect(ctx context.Context, p *Proposal) (*branchState, error) {
	up, err := c.repository(ctx, p.Owner, p.Repo)
	if err != nil {
		return nil, err
	}
	if p.Base == "" {
		p.Base = up.GetDefaultBranch()
	}
	if p.CommitMessage == "" {
		p.CommitMessage = p.Title
	}
	st := &branchState{headOwner: p.Owner}
	if p.Fork {
		login, err := c.user(ctx)
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(login, p.Owner) {
			return nil, fmt.Errorf("propose in %s/%s: fork mode is on but the token's user %s owns the repository: turn fork mode off", p.Owner, p.Repo, login)
		}
		st.headOwner = login
	}
	prs, err := c.pulls(ctx, p.Owner, p.Repo, st.headOwner, p.Branch)
	if err != nil {
		return nil, err
	}
	for _, pr := range prs {
		switch {
		case pr.GetState() == "open":
			if st.open == nil || pr.GetBase().GetRef() == p.Base && st.open.GetBase().GetRef() != p.Base {
				st.open = pr
			}
		case pr.MergedAt == nil && !pr.GetMerged():
			st.closed = append(st.closed, pr)
		}
	}
	head := p.Branch
	if p.Fork {
		head = st.headOwner + ":" + p.Branch
	}
	if err := c.compare(ctx, p.Owner, p.Repo, p.Base, head, st); err != nil {
		return nil, err
	}
	st.classify(p.Fork)
	return st, nil
}

// pulls lists every pull request (open and closed) from headOwner:branch.
func (c *Client) pulls(ctx context.Context, owner, repo, headOwner, branch string) ([]*gh.PullRequest, error) {
	opts := &gh.PullRequestListOptions{State: "all", Head: headOwner + ":" + branch, ListOptions: gh.ListOptions{PerPage: 100}}
	var all []*gh.PullRequest
	for {
		prs, resp, err := c.gh.PullRequests.List(ctx, owner, repo, opts)
		if err != nil {
			return nil, fail(err, owner+"/"+repo, "list pull requests from "+opts.Head, "")
		}
		all = append(all, prs...)
		if resp == nil || resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}

// compare finds the commits of head that base lacks. A missing branch is
// no error: st.exists stays false.
func (c *Client) compare(ctx context.Context, owner, repo, base, head string, st *branchState) error {
	opts := &gh.ListOptions{PerPage: 100}
	for {
		cmp, resp, err := c.gh.Repositories.CompareCommits(ctx, owner, repo, base, head, opts)
		if is(err, 404) {
			return nil
		}
		if err != nil {
			return fail(err, owner+"/"+repo, fmt.Sprintf("compare branch %s with %s", head, base), "")
		}
		st.exists = true
		for _, rc := range cmp.Commits {
			st.head = rc.GetSHA()
			st.commits = append(st.commits, rc)
		}
		if len(cmp.Commits) == 0 && st.head == "" {
			st.head = cmp.GetMergeBaseCommit().GetSHA() // the branch is behind or at the base
		}
		if resp == nil || resp.NextPage == 0 {
			return nil
		}
		opts.Page = resp.NextPage
	}
}
