package githubtest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// What tests call to set up repositories (branches, commits, protection,
// collaborators) and to read back what the code under test wrote (files,
// history, pull requests).

// AddRepository creates (or replaces) a repository whose default branch
// holds one commit with files (path → content). The repository is public
// and the token may read and write it (see Hide and ReadOnly); owner is a
// collaborator (see AddCollaborators).
func (s *Server) AddRepository(owner, name, defaultBranch string, files map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addRepositoryLocked(owner, name, defaultBranch, files)
}

func (s *Server) addRepositoryLocked(owner, name, defaultBranch string, files map[string]string) *repository {
	r := &repository{
		id:            s.nextIDLocked(),
		owner:         owner,
		name:          name,
		defaultBranch: defaultBranch,
		branches:      map[string]string{},
		protected:     map[string]bool{},
		collaborators: map[string]bool{strings.ToLower(owner): true},
		teams:         map[string]bool{},
		labels:        map[string]string{},
		nextNumber:    1,
	}
	who := Identity{Name: owner, Email: owner + "@example.org"}
	r.branches[defaultBranch] = s.newCommitLocked(r, "", "Initial commit", files, who, who)
	s.repos[key(owner, name)] = r
	return r
}

func (s *Server) repoLocked(owner, name string) (*repository, error) {
	r, ok := s.repos[key(owner, name)]
	if !ok {
		return nil, fmt.Errorf("githubtest: no repository %s/%s", owner, name)
	}
	return r, nil
}

// Hide makes a repository private and invisible to the token: every request
// about it gets 404 Not Found, as GitHub answers for private repositories.
func (s *Server) Hide(owner, repo string) error {
	return s.with(owner, repo, func(r *repository) error { r.private, r.hidden = true, true; return nil })
}

// ReadOnly lets the token read a repository but not write to it: writes get
// 403 "Resource not accessible by personal access token".
func (s *Server) ReadOnly(owner, repo string) error {
	return s.with(owner, repo, func(r *repository) error { r.readOnly = true; return nil })
}

// ProtectBranch makes pushes to a branch fail like a branch protection rule
// that requires pull requests: PUT contents gets 409 "Repository rule
// violations found … Changes must be made through a pull request." and ref
// updates get 422 "Protected branch update failed".
func (s *Server) ProtectBranch(owner, repo, branch string) error {
	return s.with(owner, repo, func(r *repository) error { r.protected[branch] = true; return nil })
}

// AddCollaborators lets users be requested as reviewers on a repository.
func (s *Server) AddCollaborators(owner, repo string, logins ...string) error {
	return s.with(owner, repo, func(r *repository) error {
		for _, l := range logins {
			r.collaborators[strings.ToLower(l)] = true
		}
		return nil
	})
}

// AddTeams lets teams (by slug) be requested as reviewers on a repository.
func (s *Server) AddTeams(owner, repo string, slugs ...string) error {
	return s.with(owner, repo, func(r *repository) error {
		for _, t := range slugs {
			r.teams[strings.ToLower(t)] = true
		}
		return nil
	})
}

// Labels returns the names of the labels defined in a repository, sorted.
func (s *Server) Labels(owner, repo string) []string {
	var out []string
	s.with(owner, repo, func(r *repository) error { //nolint:errcheck // nil on a missing repository
		out = slices.Sorted(maps.Values(r.labels))
		return nil
	})
	return out
}

// Commit commits content to path on branch (creating the branch from the
// default branch if needed), as someone else (Someone) pushing would, and
// returns the new commit's sha.
func (s *Server) Commit(owner, repo, branch, path, content string) (string, error) {
	return s.Push(owner, repo, Push{Branch: branch, Files: map[string]string{path: content},
		Message: "Update " + path, Author: Someone, Committer: Someone})
}

// Push is a commit as a git client pushes it.
type Push struct {
	Branch string
	// Parent is the new commit's parent: the branch's head when empty (or
	// the default branch's, for a new branch). A parent other than the
	// head is a force push, as after `git commit --amend`.
	Parent  string
	Message string
	// Files are changed (added, or replaced) on top of the parent's tree.
	Files             map[string]string
	Author, Committer Identity
}

// Push writes a commit and points p.Branch at it, and returns its sha.
func (s *Server) Push(owner, repo string, p Push) (string, error) {
	var sha string
	err := s.with(owner, repo, func(r *repository) error {
		parent := p.Parent
		if parent == "" {
			var ok bool
			if parent, ok = r.branches[p.Branch]; !ok {
				parent = r.branches[r.defaultBranch]
			}
		}
		c, ok := s.commitInLocked(r, parent)
		if !ok {
			return fmt.Errorf("githubtest: no commit %s in the network of %s/%s", parent, owner, repo)
		}
		files := maps.Clone(c.files)
		maps.Copy(files, p.Files)
		sha = s.newCommitLocked(r, parent, p.Message, files, p.Author, p.Committer)
		r.branches[p.Branch] = sha
		return nil
	})
	return sha, err
}

// MoveBranch points branch at an existing commit of the repository's
// network (itself, its upstream and their forks), creating the branch if
// it does not exist.
func (s *Server) MoveBranch(owner, repo, branch, sha string) error {
	return s.with(owner, repo, func(r *repository) error {
		if _, ok := s.commitInLocked(r, sha); !ok {
			return fmt.Errorf("githubtest: no commit %s in the network of %s/%s", sha, owner, repo)
		}
		r.branches[branch] = sha
		return nil
	})
}

// BranchSHA returns the commit a branch points at.
func (s *Server) BranchSHA(owner, repo, branch string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[key(owner, repo)]
	if !ok {
		return "", false
	}
	sha, ok := r.branches[branch]
	return sha, ok
}

// Branches returns a repository's branch names, sorted.
func (s *Server) Branches(owner, repo string) []string {
	var out []string
	s.with(owner, repo, func(r *repository) error { //nolint:errcheck // nil on a missing repository
		out = slices.Sorted(maps.Keys(r.branches))
		return nil
	})
	return out
}

// File returns a file's content at the head of branch.
func (s *Server) File(owner, repo, branch, path string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[key(owner, repo)]
	if !ok {
		return "", false
	}
	sha, ok := r.branches[branch]
	if !ok {
		return "", false
	}
	content, ok := s.commits[sha].files[path]
	return content, ok
}

// Commit is one commit as Log reports it.
type Commit struct {
	SHA               string
	Parent            string // "" for a root commit
	Message           string
	Author, Committer Identity
	Files             map[string]string // the whole tree: path → content
}

// Log returns the history of branch, newest first.
func (s *Server) Log(owner, repo, branch string) []Commit {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[key(owner, repo)]
	if !ok {
		return nil
	}
	var out []Commit
	for sha := r.branches[branch]; sha != ""; {
		c := s.commits[sha]
		out = append(out, Commit{SHA: c.sha, Parent: c.parent, Message: c.message, Author: c.author, Committer: c.committer, Files: maps.Clone(c.files)})
		sha = c.parent
	}
	return out
}

// PullRequest is a pull request as PullRequests reports it.
type PullRequest struct {
	Number        int
	State         string // "open" or "closed"
	Merged        bool
	Title, Body   string
	Head          string // "owner:branch"
	HeadRepo      string // "owner/name" of the repository holding the branch
	HeadRef       string
	HeadSHA       string
	Base          string
	Labels        []string
	Reviewers     []string
	TeamReviewers []string
	User          string
	HTMLURL       string
}

// PullRequests returns a repository's pull requests, open and closed, in
// creation order.
func (s *Server) PullRequests(owner, repo string) []PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[key(owner, repo)]
	if !ok {
		return nil
	}
	out := make([]PullRequest, 0, len(r.pulls))
	for _, p := range r.pulls {
		out = append(out, PullRequest{
			Number:        p.number,
			State:         p.state,
			Merged:        !p.merged.IsZero(),
			Title:         p.title,
			Body:          p.body,
			Head:          p.headRepo.owner + ":" + p.headRef,
			HeadRepo:      p.headRepo.fullName(),
			HeadRef:       p.headRef,
			HeadSHA:       p.headRepo.branches[p.headRef],
			Base:          p.base,
			Labels:        slices.Clone(p.labels),
			Reviewers:     slices.Clone(p.reviewers),
			TeamReviewers: slices.Clone(p.teamReviewers),
			User:          p.user,
			HTMLURL:       s.pullHTMLURL(r, p),
		})
	}
	return out
}

// ClosePullRequest closes a pull request, leaving its branch in place.
func (s *Server) ClosePullRequest(owner, repo string, number int) error {
	return s.with(owner, repo, func(r *repository) error {
		for _, p := range r.pulls {
			if p.number == number {
				p.state = "closed"
				return nil
			}
		}
		return fmt.Errorf("githubtest: no pull request #%d in %s/%s", number, owner, repo)
	})
}

// MergePullRequest merges an open pull request by fast-forwarding its base
// branch to its head, and closes it.
func (s *Server) MergePullRequest(owner, repo string, number int) error {
	return s.with(owner, repo, func(r *repository) error {
		for _, p := range r.pulls {
			if p.number != number {
				continue
			}
			head := p.headRepo.branches[p.headRef]
			if p.state != "open" || !s.isAncestorLocked(r.branches[p.base], head) {
				return fmt.Errorf("githubtest: pull request #%d is not open or cannot be fast-forwarded", number)
			}
			r.branches[p.base] = head
			p.state, p.merged = "closed", time.Now().UTC()
			return nil
		}
		return fmt.Errorf("githubtest: no pull request #%d in %s/%s", number, owner, repo)
	})
}

func (s *Server) with(owner, repo string, fn func(*repository) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.repoLocked(owner, repo)
	if err != nil {
		return err
	}
	return fn(r)
}
