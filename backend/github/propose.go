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

// The identity and trailer of the commits this tool writes. A commit is
// the tool's own (Managed) only when its author and committer are both
// this identity and its message ends with the trailer: a person's new
// commit, an amend, a rebase or a merge of the base branch all change the
// committer, so they are never taken for the tool's.
const (
	BotName    = "helmupgradebot"
	BotEmail   = "helmupgradebot@users.noreply.github.com"
	TrailerKey = "Helmupgradebot-Managed"
	Trailer    = TrailerKey + ": true"
)

// Managed reports whether a commit was written by this tool.
func Managed(c *gh.Commit) bool {
	if c == nil {
		return false
	}
	for _, who := range []*gh.CommitAuthor{c.GetAuthor(), c.GetCommitter()} {
		if who.GetName() != BotName || !strings.EqualFold(who.GetEmail(), BotEmail) {
			return false
		}
	}
	return hasTrailer(c.GetMessage())
}

// hasTrailer reports whether the last paragraph of a commit message, where
// git puts trailers, holds the Managed trailer.
func hasTrailer(msg string) bool {
	msg = strings.TrimRight(strings.ReplaceAll(msg, "\r\n", "\n"), "\n ")
	if i := strings.LastIndex(msg, "\n\n"); i >= 0 {
		msg = msg[i+2:]
	} else {
		return false // a subject line alone carries no trailer
	}
	for _, line := range strings.Split(msg, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), TrailerKey) && strings.TrimSpace(v) == "true" {
			return true
		}
	}
	return false
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

// classify sorts the branch's commits that this tool did not write. The
// tool commits only on a base branch's head or on its own commits, and a
// person's commit, amend or rebase is never taken for one of the tool's
// (Managed); so in fork mode the commits under the tool's first commit
// (down the first-parent line from the head) are the base an earlier run
// built on, not edits: the fork's own commits, from when the branch was
// based on the fork's default branch rather than upstream's, or upstream
// commits a force-push has since dropped. Those are inherited: proposing
// them would put foreign commits in the pull request, so the branch is
// rebuilt on upstream's base. Every other commit the tool did not write is
// foreign: someone edited the branch, and it is left alone.
func (st *branchState) classify(fork bool) {
	under := map[string]bool{}
	if fork {
		bySHA := make(map[string]*gh.RepositoryCommit, len(st.commits))
		for _, rc := range st.commits {
			bySHA[rc.GetSHA()] = rc
		}
		var line []*gh.RepositoryCommit // newest first
		for rc := bySHA[st.head]; rc != nil && len(line) < len(st.commits); {
			line = append(line, rc)
			if len(rc.Parents) == 0 {
				break
			}
			rc = bySHA[rc.Parents[0].GetSHA()]
		}
		lowest := -1 // the tool's first commit on the line
		for i, rc := range line {
			if Managed(rc.GetCommit()) {
				lowest = i
			}
		}
		if lowest >= 0 {
			for _, rc := range line[lowest+1:] {
				under[rc.GetSHA()] = true
			}
		}
	}
	for _, rc := range st.commits {
		switch {
		case under[rc.GetSHA()]:
			st.inherited = append(st.inherited, rc)
		case !Managed(rc.GetCommit()):
			st.foreign = append(st.foreign, rc)
		}
	}
}

// decide says what to do about p given its branch: a final Outcome, or one
// with an empty Status when Propose should write (update st.open, or open a
// new pull request).
func (st *branchState) decide(p Proposal) Outcome {
	if pr := st.open; pr != nil {
		out := Outcome{Number: pr.GetNumber(), URL: pr.GetHTMLURL()}
		switch {
		case len(st.foreign) > 0:
			out.Status = StatusEdited
			out.Warnings = []string{fmt.Sprintf("pull request #%d: %s; close it and delete the branch to let helmupgradebot propose again",
				pr.GetNumber(), st.foreignText(p.Branch))}
		case len(st.inherited) > 0: // rebuild the branch, whatever the title
		case pr.GetTitle() == p.Title:
			out.Status = StatusOpen
		}
		return out
	}
	declined := p.Declined
	if declined == nil {
		declined = func(closed PullRequest) bool { return closed.Title == p.Title }
	}
	for _, pr := range st.closed {
		if declined(pullRequest(pr)) {
			return Outcome{Status: StatusClosed, Number: pr.GetNumber(), URL: pr.GetHTMLURL(),
				Warnings: []string{fmt.Sprintf("pull request #%d proposing this was closed without merging: not proposed again", pr.GetNumber())}}
		}
	}
	if len(st.foreign) > 0 {
		return Outcome{Status: StatusEdited, Warnings: []string{st.foreignText(p.Branch) + "; delete the branch to let helmupgradebot propose again"}}
	}
	return Outcome{}
}

// foreignText describes the commits on branch that the tool did not write.
func (st *branchState) foreignText(branch string) string {
	first := st.foreign[len(st.foreign)-1]
	who := first.GetCommit().GetAuthor().GetName()
	if who == "" {
		who = "someone else"
	}
	subject, _, _ := strings.Cut(first.GetCommit().GetMessage(), "\n")
	return fmt.Sprintf("branch %s holds %d commit(s) helmupgradebot did not write (latest %.7s by %s: %q): left alone",
		branch, len(st.foreign), first.GetSHA(), who, subject)
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

// inheritedText says that the branch was rebuilt without its inherited commits.
func (st *branchState) inheritedText(head repoRef, branch string, upstream repoRef, base string) string {
	first := st.inherited[len(st.inherited)-1]
	subject, _, _ := strings.Cut(first.GetCommit().GetMessage(), "\n")
	return fmt.Sprintf("branch %s of %s was built on %d commit(s) that %s's %s lacks (latest %.7s: %q), which the pull request would have proposed: rebuilt on %s's %s",
		branch, head, len(st.inherited), upstream, base, first.GetSHA(), subject, upstream, base)
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
