package githubtest

import (
	"net/http"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// The Git references endpoints: read, create and move a branch.

func (s *Server) refJSON(r *repository, branch string) *gh.Reference {
	sha := r.branches[branch]
	return &gh.Reference{
		Ref:    gh.String("refs/heads/" + branch),
		NodeID: gh.String("REF_" + branch),
		URL:    gh.String(s.apiURL(r, "/git/refs/heads/"+branch)),
		Object: &gh.GitObject{Type: gh.String("commit"), SHA: gh.String(sha), URL: gh.String(s.apiURL(r, "/git/commits/"+sha))},
	}
}

func (s *Server) getRef(w http.ResponseWriter, req *http.Request, r *repository) {
	branch, ok := strings.CutPrefix(req.PathValue("ref"), "heads/")
	if _, exists := r.branches[branch]; !ok || !exists {
		writeError(w, http.StatusNotFound, "Not Found", docsRoot+"/git/refs#get-a-reference")
		return
	}
	writeJSON(w, http.StatusOK, s.refJSON(r, branch))
}

// validBranch applies the parts of git check-ref-format that matter here.
func validBranch(b string) bool {
	if b == "" || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".lock") ||
		strings.HasSuffix(b, ".") || strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") {
		return false
	}
	return !strings.ContainsAny(b, " ~^:?*[\\\x7f") && !strings.ContainsFunc(b, func(r rune) bool { return r < 0x20 })
}

func (s *Server) createRef(w http.ResponseWriter, req *http.Request, r *repository) {
	const doc = docsRoot + "/git/refs#create-a-reference"
	var body struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	}
	if !decode(w, req, &body) {
		return
	}
	branch, ok := strings.CutPrefix(body.Ref, "refs/heads/")
	if !ok || !validBranch(branch) {
		writeError(w, http.StatusUnprocessableEntity, body.Ref+" is not a valid ref name.", doc)
		return
	}
	if _, ok := s.commitInLocked(r, body.SHA); !ok {
		writeError(w, http.StatusUnprocessableEntity, "Object does not exist", doc)
		return
	}
	if _, exists := r.branches[branch]; exists {
		writeError(w, http.StatusUnprocessableEntity, "Reference already exists", doc)
		return
	}
	if r.protected[branch] {
		writeError(w, http.StatusUnprocessableEntity, "Repository rule violations found\n\nCannot create ref due to creations being restricted.\n\n", docsRoot+"/repos/rules#get-rules-for-a-branch")
		return
	}
	r.branches[branch] = body.SHA
	writeJSON(w, http.StatusCreated, s.refJSON(r, branch))
}

func (s *Server) updateRef(w http.ResponseWriter, req *http.Request, r *repository) {
	const doc = docsRoot + "/git/refs#update-a-reference"
	var body struct {
		SHA   string `json:"sha"`
		Force bool   `json:"force"`
	}
	if !decode(w, req, &body) {
		return
	}
	branch, ok := strings.CutPrefix(req.PathValue("ref"), "heads/")
	head, exists := r.branches[branch]
	switch {
	case !ok || !exists:
		writeError(w, http.StatusUnprocessableEntity, "Reference does not exist", doc)
	case !s.holdsLocked(r, body.SHA) || s.commits[body.SHA] == nil:
		writeError(w, http.StatusUnprocessableEntity, "Object does not exist", doc)
	case r.protected[branch]:
		writeError(w, http.StatusUnprocessableEntity, "Protected branch update failed for refs/heads/"+branch+".", doc)
	case !body.Force && !s.isAncestorLocked(head, body.SHA):
		writeError(w, http.StatusUnprocessableEntity, "Update is not a fast forward", doc)
	default:
		r.branches[branch] = body.SHA
		writeJSON(w, http.StatusOK, s.refJSON(r, branch))
	}
}
