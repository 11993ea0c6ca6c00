package githubtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

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

// resolve turns a ref (branch name, "heads/…", "refs/heads/…" or commit
// sha) into a commit sha.
func (s *Server) resolve(r *repository, ref string) (string, bool) {
	if ref == "" {
		ref = r.defaultBranch
	}
	ref = strings.TrimPrefix(strings.TrimPrefix(ref, "refs/"), "heads/")
	if sha, ok := r.branches[ref]; ok {
		return sha, true
	}
	if _, ok := s.commitInLocked(r, ref); ok && len(ref) == 40 {
		return ref, true
	}
	return "", false
}

// wrap64 encodes like GitHub's contents API: base64 in lines of 60
// characters, each ending in "\n".
func wrap64(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	for len(enc) > 60 {
		sb.WriteString(enc[:60])
		sb.WriteByte('\n')
		enc = enc[60:]
	}
	sb.WriteString(enc)
	sb.WriteByte('\n')
	return sb.String()
}

func (s *Server) contentJSON(r *repository, p, content, ref string, withContent bool) *gh.RepositoryContent {
	sha := BlobSHA([]byte(content))
	out := &gh.RepositoryContent{
		Type:        gh.String("file"),
		Size:        gh.Int(len(content)),
		Name:        gh.String(path.Base(p)),
		Path:        gh.String(p),
		SHA:         gh.String(sha),
		URL:         gh.String(s.apiURL(r, "/contents/"+p+"?ref="+ref)),
		GitURL:      gh.String(s.apiURL(r, "/git/blobs/"+sha)),
		HTMLURL:     gh.String(s.root + "/" + r.fullName() + "/blob/" + ref + "/" + p),
		DownloadURL: gh.String(s.root + "/raw/" + r.fullName() + "/" + ref + "/" + p),
	}
	if withContent {
		out.Encoding = gh.String("base64")
		out.Content = gh.String(wrap64([]byte(content)))
	}
	return out
}

func (s *Server) getContents(w http.ResponseWriter, req *http.Request, r *repository) {
	ref := req.URL.Query().Get("ref")
	sha, ok := s.resolve(r, ref)
	if !ok {
		writeError(w, http.StatusNotFound, "No commit found for the ref "+ref, docsRoot+"/repos/contents#get-repository-content")
		return
	}
	if ref == "" {
		ref = r.defaultBranch
	}
	p := strings.Trim(req.PathValue("path"), "/")
	files := s.commits[sha].files
	if content, ok := files[p]; ok {
		writeJSON(w, http.StatusOK, s.contentJSON(r, p, content, ref, true))
		return
	}
	// A directory: list its direct entries.
	prefix := p + "/"
	if p == "" {
		prefix = ""
	}
	seen := map[string]bool{}
	var entries []*gh.RepositoryContent
	for _, f := range slices.Sorted(maps.Keys(files)) {
		rest, ok := strings.CutPrefix(f, prefix)
		if !ok {
			continue
		}
		if dir, _, isDir := strings.Cut(rest, "/"); isDir {
			if !seen[dir] {
				seen[dir] = true
				entries = append(entries, &gh.RepositoryContent{Type: gh.String("dir"), Name: gh.String(dir), Path: gh.String(prefix + dir)})
			}
			continue
		}
		entries = append(entries, s.contentJSON(r, f, files[f], ref, false))
	}
	if len(entries) == 0 {
		writeError(w, http.StatusNotFound, "Not Found", docsRoot+"/repos/contents#get-repository-content")
		return
	}
	writeJSON(w, http.StatusOK, entries)
}

func (s *Server) commitJSON(r *repository, sha string) *gh.Commit {
	c := s.commits[sha]
	out := &gh.Commit{
		SHA:       gh.String(c.sha),
		NodeID:    gh.String("C_" + c.sha),
		Message:   gh.String(c.message),
		URL:       gh.String(s.apiURL(r, "/git/commits/"+c.sha)),
		HTMLURL:   gh.String(s.root + "/" + r.fullName() + "/commit/" + c.sha),
		Author:    identityJSON(c.author, c.when),
		Committer: identityJSON(c.committer, c.when),
		Tree:      &gh.Tree{SHA: gh.String(c.tree)},
		Parents:   []*gh.Commit{},
		Verification: &gh.SignatureVerification{
			Verified: gh.Bool(false), Reason: gh.String("unsigned"),
		},
	}
	if c.parent != "" {
		out.Parents = []*gh.Commit{{SHA: gh.String(c.parent), URL: gh.String(s.apiURL(r, "/git/commits/"+c.parent)),
			HTMLURL: gh.String(s.root + "/" + r.fullName() + "/commit/" + c.parent)}}
	}
	return out
}

func identityJSON(id Identity, when time.Time) *gh.CommitAuthor {
	return &gh.CommitAuthor{Name: gh.String(id.Name), Email: gh.String(id.Email), Date: &gh.Timestamp{Time: when}}
}

// identityParam is an author or committer in a request body.
type identityParam struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// identities applies GitHub's defaults to a write's author and committer:
// the committer defaults to the author, the author to the token's user.
// It answers 422 and returns false when one lacks a name or email.
func (s *Server) identities(w http.ResponseWriter, doc string, author, committer *identityParam) (Identity, Identity, bool) {
	a, c := s.userIdentity(), Identity{}
	for _, p := range []*identityParam{author, committer} {
		if p != nil && (p.Name == "" || p.Email == "") {
			validationFailed(w, doc, apiError{Resource: "Commit", Code: "custom", Message: "author and committer need a name and an email"})
			return a, c, false
		}
	}
	if author != nil {
		a = Identity(*author)
	}
	c = a
	if committer != nil {
		c = Identity(*committer)
	}
	return a, c, true
}

func (s *Server) putContents(w http.ResponseWriter, req *http.Request, r *repository) {
	const doc = docsRoot + "/repos/contents#create-or-update-file-contents"
	var body struct {
		Message   *string        `json:"message"`
		Content   *string        `json:"content"`
		SHA       *string        `json:"sha"`
		Branch    *string        `json:"branch"`
		Author    *identityParam `json:"author"`
		Committer *identityParam `json:"committer"`
	}
	if !decode(w, req, &body) {
		return
	}
	author, committer, ok := s.identities(w, doc, body.Author, body.Committer)
	if !ok {
		return
	}
	p := strings.Trim(req.PathValue("path"), "/")
	switch {
	case body.Message == nil:
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"message\" wasn't supplied.", doc)
		return
	case body.Content == nil:
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"content\" wasn't supplied.", doc)
		return
	case p == "":
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\npath cannot be empty.", doc)
		return
	}
	content, err := base64.StdEncoding.DecodeString(*body.Content)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "content is not valid Base64", doc)
		return
	}
	branch := r.defaultBranch
	if body.Branch != nil && *body.Branch != "" {
		branch = *body.Branch
	}
	head, ok := r.branches[branch]
	if !ok {
		writeError(w, http.StatusNotFound, "Branch "+branch+" not found", doc)
		return
	}
	if r.protected[branch] {
		writeError(w, http.StatusConflict, "Repository rule violations found\n\nChanges must be made through a pull request.\n\n", docsRoot+"/repos/rules#get-rules-for-a-branch")
		return
	}
	files := maps.Clone(s.commits[head].files)
	old, exists := files[p]
	status := http.StatusCreated
	if exists {
		switch {
		case body.SHA == nil || *body.SHA == "":
			writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"sha\" wasn't supplied.", doc)
			return
		case *body.SHA != BlobSHA([]byte(old)):
			writeError(w, http.StatusConflict, fmt.Sprintf("%s does not match %s", p, *body.SHA), doc)
			return
		}
		status = http.StatusOK
	}
	files[p] = string(content)
	sha := s.newCommitLocked(r, head, *body.Message, files, author, committer)
	r.branches[branch] = sha
	writeJSON(w, status, &gh.RepositoryContentResponse{
		Content: s.contentJSON(r, p, string(content), branch, false),
		Commit:  *s.commitJSON(r, sha),
	})
}

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

func (s *Server) pullHTMLURL(r *repository, p *pull) string {
	return fmt.Sprintf("%s/%s/pull/%d", s.root, r.fullName(), p.number)
}

func (s *Server) pullJSON(r *repository, p *pull) *gh.PullRequest {
	labels := make([]*gh.Label, 0, len(p.labels))
	for _, l := range p.labels {
		labels = append(labels, s.labelJSON(r, l))
	}
	reviewers := make([]*gh.User, 0, len(p.reviewers))
	for _, u := range p.reviewers {
		reviewers = append(reviewers, s.userJSON(u))
	}
	teams := make([]*gh.Team, 0, len(p.teamReviewers))
	for _, t := range p.teamReviewers {
		teams = append(teams, &gh.Team{Slug: gh.String(t), Name: gh.String(t), ID: gh.Int64(numericID("team/" + t))})
	}
	return &gh.PullRequest{
		ID:                 gh.Int64(p.id),
		NodeID:             gh.String(fmt.Sprintf("PR_%d", p.id)),
		Number:             gh.Int(p.number),
		State:              gh.String(p.state),
		Title:              gh.String(p.title),
		Body:               gh.String(p.body),
		User:               s.userJSON(p.user),
		HTMLURL:            gh.String(s.pullHTMLURL(r, p)),
		URL:                gh.String(s.apiURL(r, fmt.Sprintf("/pulls/%d", p.number))),
		IssueURL:           gh.String(s.apiURL(r, fmt.Sprintf("/issues/%d", p.number))),
		CreatedAt:          &gh.Timestamp{Time: p.created},
		UpdatedAt:          &gh.Timestamp{Time: p.updated},
		Draft:              gh.Bool(false),
		Merged:             gh.Bool(!p.merged.IsZero()),
		MergedAt:           timestampOrNil(p.merged),
		Labels:             labels,
		RequestedReviewers: reviewers,
		RequestedTeams:     teams,
		Head: &gh.PullRequestBranch{
			Label: gh.String(p.headRepo.owner + ":" + p.headRef),
			Ref:   gh.String(p.headRef),
			SHA:   gh.String(p.headRepo.branches[p.headRef]),
			Repo:  s.repoJSON(p.headRepo),
			User:  s.userJSON(p.headRepo.owner),
		},
		Base: &gh.PullRequestBranch{
			Label: gh.String(r.owner + ":" + p.base),
			Ref:   gh.String(p.base),
			SHA:   gh.String(r.branches[p.base]),
			Repo:  s.repoJSON(r),
			User:  s.userJSON(r.owner),
		},
	}
}

func timestampOrNil(t time.Time) *gh.Timestamp {
	if t.IsZero() {
		return nil
	}
	return &gh.Timestamp{Time: t}
}

func (s *Server) listPulls(w http.ResponseWriter, req *http.Request, r *repository) {
	q := req.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	headOwner, headRef, hasHead := strings.Cut(q.Get("head"), ":")
	if q.Get("head") != "" && !hasHead {
		headOwner, headRef, hasHead = r.owner, q.Get("head"), true
	}
	out := []*gh.PullRequest{}
	for i := len(r.pulls) - 1; i >= 0; i-- { // newest first, like GitHub's default sort
		p := r.pulls[i]
		switch {
		case state != "all" && p.state != state:
		case hasHead && (!strings.EqualFold(p.headRepo.owner, headOwner) || p.headRef != headRef):
		case q.Get("base") != "" && p.base != q.Get("base"):
		default:
			out = append(out, s.pullJSON(r, p))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// headRepoLocked finds the repository named by a pull request's head
// owner: the base repository itself or its owner's fork in the network.
func (s *Server) headRepoLocked(base *repository, owner string) *repository {
	if strings.EqualFold(owner, base.owner) {
		return base
	}
	for _, r := range s.repos {
		if strings.EqualFold(r.owner, owner) && r.parent == base {
			return r
		}
	}
	return nil
}

func (s *Server) createPull(w http.ResponseWriter, req *http.Request, r *repository) {
	const doc = docsRoot + "/pulls/pulls#create-a-pull-request"
	var body gh.NewPullRequest
	if !decode(w, req, &body) {
		return
	}
	if body.GetTitle() == "" {
		validationFailed(w, doc, apiError{Resource: "PullRequest", Field: "title", Code: "missing_field"})
		return
	}
	headOwner, headRef, ok := strings.Cut(body.GetHead(), ":")
	if !ok {
		headOwner, headRef = r.owner, body.GetHead()
	}
	hr := s.headRepoLocked(r, headOwner)
	if hr == nil || hr.branches[headRef] == "" {
		validationFailed(w, doc, apiError{Resource: "PullRequest", Field: "head", Code: "invalid"})
		return
	}
	baseSHA, ok := r.branches[body.GetBase()]
	if !ok {
		validationFailed(w, doc, apiError{Resource: "PullRequest", Field: "base", Code: "invalid"})
		return
	}
	for _, p := range r.pulls {
		if p.state == "open" && p.headRepo == hr && p.headRef == headRef && p.base == body.GetBase() {
			validationFailed(w, doc, apiError{Resource: "PullRequest", Code: "custom",
				Message: fmt.Sprintf("A pull request already exists for %s:%s.", hr.owner, headRef)})
			return
		}
	}
	if s.isAncestorLocked(hr.branches[headRef], baseSHA) {
		validationFailed(w, doc, apiError{Resource: "PullRequest", Code: "custom",
			Message: fmt.Sprintf("No commits between %s and %s", body.GetBase(), body.GetHead())})
		return
	}
	now := time.Now().UTC()
	p := &pull{
		id: s.nextIDLocked(), number: r.nextNumber, title: body.GetTitle(), body: body.GetBody(), state: "open",
		headRepo: hr, headRef: headRef, base: body.GetBase(), user: s.actor(req), created: now, updated: now,
	}
	r.nextNumber++
	r.pulls = append(r.pulls, p)
	w.Header().Set("Location", s.apiURL(r, fmt.Sprintf("/pulls/%d", p.number)))
	writeJSON(w, http.StatusCreated, s.pullJSON(r, p))
}

func (s *Server) pull(w http.ResponseWriter, req *http.Request, r *repository) *pull {
	n, err := strconv.Atoi(req.PathValue("number"))
	if err == nil {
		for _, p := range r.pulls {
			if p.number == n {
				return p
			}
		}
	}
	writeError(w, http.StatusNotFound, "Not Found", docsRoot+"/pulls/pulls#get-a-pull-request")
	return nil
}

func (s *Server) getPull(w http.ResponseWriter, req *http.Request, r *repository, p *pull) {
	writeJSON(w, http.StatusOK, s.pullDetailJSON(r, p))
}

func (s *Server) editPull(w http.ResponseWriter, req *http.Request, r *repository, p *pull) {
	const doc = docsRoot + "/pulls/pulls#update-a-pull-request"
	var body struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
		Base  *string `json:"base"`
	}
	if !decode(w, req, &body) {
		return
	}
	if body.State != nil && *body.State != "open" && *body.State != "closed" {
		validationFailed(w, doc, apiError{Resource: "PullRequest", Field: "state", Code: "invalid"})
		return
	}
	if body.Base != nil {
		if _, ok := r.branches[*body.Base]; !ok {
			validationFailed(w, doc, apiError{Resource: "PullRequest", Field: "base", Code: "invalid"})
			return
		}
		p.base = *body.Base
	}
	if body.Title != nil {
		p.title = *body.Title
	}
	if body.Body != nil {
		p.body = *body.Body
	}
	if body.State != nil {
		p.state = *body.State
	}
	p.updated = time.Now().UTC()
	writeJSON(w, http.StatusOK, s.pullJSON(r, p))
}

func (s *Server) requestReviewers(w http.ResponseWriter, req *http.Request, r *repository, p *pull) {
	const doc = docsRoot + "/pulls/review-requests#request-reviewers-for-a-pull-request"
	var body gh.ReviewersRequest
	if !decode(w, req, &body) {
		return
	}
	for _, u := range body.Reviewers {
		if strings.EqualFold(u, p.user) {
			writeError(w, http.StatusUnprocessableEntity, "Review cannot be requested from pull request author.", doc)
			return
		}
	}
	notCollaborator := slices.ContainsFunc(body.Reviewers, func(u string) bool { return !r.collaborators[strings.ToLower(u)] }) ||
		slices.ContainsFunc(body.TeamReviewers, func(t string) bool { return !r.teams[strings.ToLower(t)] })
	if notCollaborator {
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("Reviews may only be requested from collaborators. "+
			"One or more of the users or teams you specified is not a collaborator of the %s repository.", r.fullName()), doc)
		return
	}
	for _, u := range body.Reviewers {
		if !slices.Contains(p.reviewers, u) {
			p.reviewers = append(p.reviewers, u)
		}
	}
	for _, t := range body.TeamReviewers {
		if !slices.Contains(p.teamReviewers, t) {
			p.teamReviewers = append(p.teamReviewers, t)
		}
	}
	writeJSON(w, http.StatusCreated, s.pullJSON(r, p))
}

func (s *Server) labelJSON(r *repository, name string) *gh.Label {
	return &gh.Label{
		ID:      gh.Int64(numericID(r.fullName() + "/label/" + name)),
		Name:    gh.String(name),
		Color:   gh.String("ededed"),
		Default: gh.Bool(false),
		URL:     gh.String(s.apiURL(r, "/labels/"+name)),
	}
}

func (s *Server) addLabels(w http.ResponseWriter, req *http.Request, r *repository, p *pull) {
	const doc = docsRoot + "/issues/labels#add-labels-to-an-issue"
	raw, err := readAll(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", doc)
		return
	}
	// GitHub takes {"labels": [...]} or a bare array of names.
	var names []string
	var obj struct {
		Labels []string `json:"labels"`
	}
	if json.Unmarshal(raw, &names) != nil {
		if err := json.Unmarshal(raw, &obj); err != nil {
			writeError(w, http.StatusBadRequest, "Problems parsing JSON", doc)
			return
		}
		names = obj.Labels
	}
	if len(names) == 0 {
		validationFailed(w, doc, apiError{Resource: "Label", Field: "labels", Code: "missing_field"})
		return
	}
	for _, n := range names {
		// Adding a label the repository lacks creates it (with push access).
		existing, ok := r.labels[strings.ToLower(n)]
		if !ok {
			r.labels[strings.ToLower(n)] = n
			existing = n
		}
		if !slices.Contains(p.labels, existing) {
			p.labels = append(p.labels, existing)
		}
	}
	out := make([]*gh.Label, 0, len(p.labels))
	for _, l := range p.labels {
		out = append(out, s.labelJSON(r, l))
	}
	writeJSON(w, http.StatusOK, out)
}

func readAll(req *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(req.Body)
	return b.Bytes(), err
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
