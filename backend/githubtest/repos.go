package githubtest

import (
	"fmt"
	"maps"
	"net/http"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// The user and repository endpoints: the authenticated user, a repository,
// creating a fork and syncing it with its upstream.

func (s *Server) userJSON(login string) *gh.User {
	return &gh.User{
		Login:   gh.String(login),
		ID:      gh.Int64(numericID(login)),
		Type:    gh.String("User"),
		URL:     gh.String(s.root + "/users/" + login),
		HTMLURL: gh.String(s.root + "/" + login),
	}
}

func (s *Server) apiURL(r *repository, rest string) string {
	return s.root + "/repos/" + r.fullName() + rest
}

func (s *Server) repoJSON(r *repository) *gh.Repository {
	out := &gh.Repository{
		ID:            gh.Int64(r.id),
		NodeID:        gh.String(fmt.Sprintf("R_%d", r.id)),
		Name:          gh.String(r.name),
		FullName:      gh.String(r.fullName()),
		Owner:         s.userJSON(r.owner),
		Private:       gh.Bool(r.private),
		Fork:          gh.Bool(r.parent != nil),
		DefaultBranch: gh.String(r.defaultBranch),
		HTMLURL:       gh.String(s.root + "/" + r.fullName()),
		URL:           gh.String(s.apiURL(r, "")),
		Visibility:    gh.String(map[bool]string{true: "private", false: "public"}[r.private]),
		Permissions: map[string]bool{
			"admin": strings.EqualFold(r.owner, s.login),
			"push":  !r.readOnly,
			"pull":  true,
		},
	}
	if r.parent != nil {
		out.Parent = s.repoJSON(r.parent)
		out.Source = out.Parent
	}
	return out
}

func (s *Server) getUser(w http.ResponseWriter, req *http.Request) {
	if installationOf(req) != nil {
		writeError(w, http.StatusForbidden, "Resource not accessible by integration", docsRoot+"/users/users#get-the-authenticated-user")
		return
	}
	writeJSON(w, http.StatusOK, s.userJSON(s.login))
}

func (s *Server) getRepo(w http.ResponseWriter, req *http.Request, r *repository) {
	writeJSON(w, http.StatusOK, s.repoJSON(r))
}

func (s *Server) createFork(w http.ResponseWriter, req *http.Request, r *repository) {
	if installationOf(req) != nil {
		writeError(w, http.StatusForbidden, "Resource not accessible by integration", docsRoot+"/repos/forks#create-a-fork")
		return
	}
	if strings.EqualFold(r.owner, s.login) {
		validationFailed(w, docsRoot+"/repos/forks#create-a-fork",
			apiError{Resource: "Repository", Code: "custom", Message: "You cannot fork a repository you own."})
		return
	}
	// An existing fork of r owned by the user is returned as is.
	for _, f := range s.repos {
		if f.parent == r && strings.EqualFold(f.owner, s.login) {
			writeJSON(w, http.StatusAccepted, s.repoJSON(f))
			return
		}
	}
	name := r.name
	for i := 1; s.repos[key(s.login, name)] != nil; i++ {
		name = fmt.Sprintf("%s-%d", r.name, i)
	}
	f := &repository{
		id:            s.nextIDLocked(),
		owner:         s.login,
		name:          name,
		defaultBranch: r.defaultBranch,
		parent:        r,
		branches:      maps.Clone(r.branches),
		protected:     map[string]bool{},
		collaborators: map[string]bool{strings.ToLower(s.login): true},
		teams:         map[string]bool{},
		labels:        map[string]string{},
		nextNumber:    1,
		pendingPolls:  s.forkDelay,
	}
	s.repos[key(f.owner, f.name)] = f
	writeJSON(w, http.StatusAccepted, s.repoJSON(f))
}

func (s *Server) mergeUpstream(w http.ResponseWriter, req *http.Request, r *repository) {
	const doc = docsRoot + "/branches/branches#sync-a-fork-branch-with-the-upstream-repository"
	var body struct {
		Branch string `json:"branch"`
	}
	if !decode(w, req, &body) {
		return
	}
	up := r.parent
	if up == nil {
		writeError(w, http.StatusUnprocessableEntity, "This repository is not a fork.", doc)
		return
	}
	mine, ok1 := r.branches[body.Branch]
	theirs, ok2 := up.branches[body.Branch]
	if !ok1 || !ok2 {
		writeError(w, http.StatusUnprocessableEntity, "Branch "+body.Branch+" could not be synced: it does not exist in both repositories.", doc)
		return
	}
	base := up.owner + ":" + body.Branch
	switch {
	case mine == theirs || s.isAncestorLocked(theirs, mine):
		writeJSON(w, http.StatusOK, &gh.RepoMergeUpstreamResult{
			Message: gh.String("This branch is not behind the upstream " + base + "."), MergeType: gh.String("none"), BaseBranch: gh.String(base)})
	case s.isAncestorLocked(mine, theirs):
		r.branches[body.Branch] = theirs
		writeJSON(w, http.StatusOK, &gh.RepoMergeUpstreamResult{
			Message: gh.String("Successfully fetched and fast-forwarded from upstream " + base + "."), MergeType: gh.String("fast-forward"), BaseBranch: gh.String(base)})
	default:
		writeError(w, http.StatusConflict, "There are merge conflicts", doc)
	}
}
