package githubtest

import (
	"encoding/json"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
)

// The routes of the stand-in and what every handler shares: GitHub-shaped
// error bodies, finding the request's repository and pull request, decoding
// a body.

const docsRoot = "https://docs.github.com/rest"

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /user", s.getUser)
	m.HandleFunc("GET /repos/{owner}/{repo}", s.inRepo(false, s.getRepo))
	m.HandleFunc("GET /repos/{owner}/{repo}/contents/{path...}", s.inRepo(false, s.getContents))
	m.HandleFunc("PUT /repos/{owner}/{repo}/contents/{path...}", s.inRepo(true, s.putContents))
	m.HandleFunc("GET /repos/{owner}/{repo}/git/ref/{ref...}", s.inRepo(false, s.getRef))
	m.HandleFunc("GET /repos/{owner}/{repo}/git/refs/{ref...}", s.inRepo(false, s.getRef))
	m.HandleFunc("POST /repos/{owner}/{repo}/git/refs", s.inRepo(true, s.createRef))
	m.HandleFunc("PATCH /repos/{owner}/{repo}/git/refs/{ref...}", s.inRepo(true, s.updateRef))
	m.HandleFunc("POST /repos/{owner}/{repo}/git/blobs", s.inRepo(true, s.createBlob))
	m.HandleFunc("POST /repos/{owner}/{repo}/git/trees", s.inRepo(true, s.createTree))
	m.HandleFunc("GET /repos/{owner}/{repo}/git/commits/{sha}", s.inRepo(false, s.getGitCommit))
	m.HandleFunc("POST /repos/{owner}/{repo}/git/commits", s.inRepo(true, s.createGitCommit))
	m.HandleFunc("GET /repos/{owner}/{repo}/compare/{basehead...}", s.inRepo(false, s.compare))
	m.HandleFunc("GET /repos/{owner}/{repo}/commits/{rest...}", s.inRepo(false, s.commitChecks))
	m.HandleFunc("GET /repos/{owner}/{repo}/pulls", s.inRepo(false, s.listPulls))
	m.HandleFunc("POST /repos/{owner}/{repo}/pulls", s.inRepo(true, s.createPull))
	m.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}", s.inPull(false, s.getPull))
	m.HandleFunc("PATCH /repos/{owner}/{repo}/pulls/{number}", s.inPull(true, s.editPull))
	m.HandleFunc("POST /repos/{owner}/{repo}/pulls/{number}/requested_reviewers", s.inPull(true, s.requestReviewers))
	m.HandleFunc("POST /repos/{owner}/{repo}/issues/{number}/labels", s.inPull(true, s.addLabels))
	m.HandleFunc("GET /repos/{owner}/{repo}/issues", s.inRepo(false, s.listIssues))
	m.HandleFunc("POST /repos/{owner}/{repo}/issues", s.inRepo(true, s.createIssue))
	m.HandleFunc("GET /repos/{owner}/{repo}/issues/{number}", s.inRepo(false, s.getIssue))
	m.HandleFunc("PATCH /repos/{owner}/{repo}/issues/{number}", s.inRepo(true, s.editIssue))
	m.HandleFunc("POST /repos/{owner}/{repo}/forks", s.inRepo(false, s.createFork))
	m.HandleFunc("POST /repos/{owner}/{repo}/merge-upstream", s.inRepo(true, s.mergeUpstream))
	m.HandleFunc("GET /repos/{owner}/{repo}/releases", s.inRepo(false, s.listReleases))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not Found", docsRoot)
	})
	return m
}

// apiError is one entry of an error body's "errors" list.
type apiError struct {
	Resource string `json:"resource,omitempty"`
	Field    string `json:"field,omitempty"`
	Code     string `json:"code,omitempty"`
	Message  string `json:"message,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // client gone
}

func writeError(w http.ResponseWriter, status int, message, doc string, errs ...apiError) {
	body := struct {
		Message          string     `json:"message"`
		Errors           []apiError `json:"errors,omitempty"`
		DocumentationURL string     `json:"documentation_url"`
		Status           string     `json:"status"`
	}{message, errs, doc, strconv.Itoa(status)}
	writeJSON(w, status, body)
}

func validationFailed(w http.ResponseWriter, doc string, errs ...apiError) {
	writeError(w, http.StatusUnprocessableEntity, "Validation Failed", doc, errs...)
}

// repo finds the repository of a request and writes GitHub's answer when
// the token cannot see it (404) or cannot write to it (403). s.mu must be held.
func (s *Server) repo(w http.ResponseWriter, req *http.Request, write bool) *repository {
	r, ok := s.repos[key(req.PathValue("owner"), req.PathValue("repo"))]
	if ok && r.pendingPolls > 0 {
		if req.Method == http.MethodGet && req.URL.Path == "/repos/"+req.PathValue("owner")+"/"+req.PathValue("repo") {
			r.pendingPolls--
		}
		ok = false
	}
	if !ok || r.hidden {
		writeError(w, http.StatusNotFound, "Not Found", docsRoot+"/repos/repos#get-a-repository")
		return nil
	}
	if integrationRefuses(w, req, r, write) {
		return nil
	}
	if write && r.readOnly {
		writeError(w, http.StatusForbidden, "Resource not accessible by personal access token", docsRoot)
		return nil
	}
	return r
}

// inRepo adapts a handler about one repository: it holds s.mu for the whole
// request and calls h only when s.repo finds the repository (and, for a
// write, the token may write to it); otherwise s.repo has answered.
func (s *Server) inRepo(write bool, h func(w http.ResponseWriter, req *http.Request, r *repository)) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if r := s.repo(w, req, write); r != nil {
			h(w, req, r)
		}
	}
}

// inPull is inRepo for a handler about one pull request ({number} in the
// path): after the repository it finds the pull request, or answers 404.
func (s *Server) inPull(write bool, h func(w http.ResponseWriter, req *http.Request, r *repository, p *pull)) http.HandlerFunc {
	return s.inRepo(write, func(w http.ResponseWriter, req *http.Request, r *repository) {
		if p := s.pull(w, req, r); p != nil {
			h(w, req, r, p)
		}
	})
}

func decode(w http.ResponseWriter, req *http.Request, v any) bool {
	if err := json.NewDecoder(req.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", docsRoot)
		return false
	}
	return true
}

func numericID(s string) int64 {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(s)))
	return int64(h.Sum32())
}
