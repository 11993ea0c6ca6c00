package github

import (
	"context"
	"errors"
	"fmt"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// Fork mode: creating the token user's fork and syncing its base branch from
// upstream.

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

// syncFork fast-forwards the fork's copy of branch from upstream. It is a
// courtesy, not a step the pull request needs: the pull request's branch
// is built on upstream's branch, whatever the fork's copy holds. So a fork
// that cannot be synced (its copy has commits of its own, GitHub answers
// 409) or a failed call is left as it is, with a warning saying so.
func (c *Client) syncFork(ctx context.Context, upstream, fork repoRef, branch string) string {
	_, _, err := c.gh.Repositories.MergeUpstream(ctx, fork.owner, fork.name, &gh.RepoMergeUpstreamRequest{Branch: gh.String(branch)})
	if err == nil {
		return ""
	}
	why := "left as it is"
	if is(err, 409) {
		why = fmt.Sprintf("the fork's %s has commits of its own that %s's lacks: left as it is", branch, upstream)
	}
	err = fail(err, fork.String(), fmt.Sprintf("sync branch %s of the fork from upstream %s", branch, upstream), "")
	return fmt.Sprintf("%s; %s (the pull request is built on %s's %s, not on the fork's)", c.redact(err), why, upstream, branch)
}
