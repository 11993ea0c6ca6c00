package github

import (
	"fmt"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// Telling the tool's own commits (Managed) from someone else's edits, and
// deciding from that and the branch's pull requests what Propose does.

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

// inheritedText says that the branch was rebuilt without its inherited commits.
func (st *branchState) inheritedText(head repoRef, branch string, upstream repoRef, base string) string {
	first := st.inherited[len(st.inherited)-1]
	subject, _, _ := strings.Cut(first.GetCommit().GetMessage(), "\n")
	return fmt.Sprintf("branch %s of %s was built on %d commit(s) that %s's %s lacks (latest %.7s: %q), which the pull request would have proposed: rebuilt on %s's %s",
		branch, head, len(st.inherited), upstream, base, first.GetSHA(), subject, upstream, base)
}
