package githubtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// The Git database endpoints (blobs, trees, commits) and the comparison of
// two commits. Trees are stored flat (path → content); tree shas are the
// stand-in's own, blob shas are git's.

func (s *Server) createBlob(w http.ResponseWriter, req *http.Request, r *repository) {
	const doc = docsRoot + "/git/blobs#create-a-blob"
	var body struct {
		Content  *string `json:"content"`
		Encoding string  `json:"encoding"`
	}
	if !decode(w, req, &body) {
		return
	}
	if body.Content == nil {
		validationFailed(w, doc, apiError{Resource: "Blob", Field: "content", Code: "missing_field"})
		return
	}
	content := *body.Content
	switch body.Encoding {
	case "", "utf-8":
	case "base64":
		raw, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(content, "\n", ""))
		if err != nil {
			validationFailed(w, doc, apiError{Resource: "Blob", Field: "content", Code: "invalid", Message: "content is not valid Base64"})
			return
		}
		content = string(raw)
	default:
		validationFailed(w, doc, apiError{Resource: "Blob", Field: "encoding", Code: "invalid",
			Message: fmt.Sprintf("encoding must be utf-8 or base64, not %q", body.Encoding)})
		return
	}
	sha := BlobSHA([]byte(content))
	s.blobs[sha] = content
	w.Header().Set("Location", s.apiURL(r, "/git/blobs/"+sha))
	writeJSON(w, http.StatusCreated, &gh.Blob{SHA: gh.String(sha), URL: gh.String(s.apiURL(r, "/git/blobs/"+sha))})
}

// treeEntryParam is one entry of a create-a-tree body. A sha given as JSON
// null deletes the path.
type treeEntryParam struct {
	Path    string          `json:"path"`
	Mode    string          `json:"mode"`
	Type    string          `json:"type"`
	SHA     json.RawMessage `json:"sha"`
	Content *string         `json:"content"`
}

func (s *Server) createTree(w http.ResponseWriter, req *http.Request, r *repository) {
	const doc = docsRoot + "/git/trees#create-a-tree"
	var body struct {
		BaseTree string           `json:"base_tree"`
		Tree     []treeEntryParam `json:"tree"`
	}
	if !decode(w, req, &body) {
		return
	}
	if body.Tree == nil {
		validationFailed(w, doc, apiError{Resource: "Tree", Field: "tree", Code: "missing_field"})
		return
	}
	files := map[string]string{}
	if body.BaseTree != "" {
		base, ok := s.trees[body.BaseTree]
		if !ok {
			validationFailed(w, doc, apiError{Resource: "Tree", Field: "base_tree", Code: "invalid", Message: "base_tree is not a valid tree oid"})
			return
		}
		files = maps.Clone(base)
	}
	for _, e := range body.Tree {
		invalid := func(field, msg string) {
			validationFailed(w, doc, apiError{Resource: "Tree", Field: field, Code: "invalid", Message: msg})
		}
		switch {
		case e.Path == "" || strings.HasPrefix(e.Path, "/") || strings.HasSuffix(e.Path, "/"):
			invalid("path", fmt.Sprintf("tree.path %q is not a valid path", e.Path))
			return
		case e.Type != "blob":
			invalid("type", fmt.Sprintf("tree.type %q is not supported by the stand-in (only blob)", e.Type))
			return
		case e.Mode != "100644" && e.Mode != "100755":
			invalid("mode", fmt.Sprintf("tree.mode %q is not a blob mode", e.Mode))
			return
		}
		var sha *string
		if len(e.SHA) > 0 && string(e.SHA) != "null" {
			if err := json.Unmarshal(e.SHA, &sha); err != nil {
				invalid("sha", "tree.sha is not a string")
				return
			}
		}
		switch {
		case e.Content != nil && sha != nil:
			invalid("content", "Must supply either tree.sha or tree.content, not both")
			return
		case e.Content != nil:
			files[e.Path] = *e.Content
			s.blobs[BlobSHA([]byte(*e.Content))] = *e.Content
		case sha != nil:
			content, ok := s.blobs[*sha]
			if !ok {
				invalid("sha", fmt.Sprintf("tree.sha %s is not a valid blob", *sha))
				return
			}
			files[e.Path] = content
		case len(e.SHA) > 0: // "sha": null
			if _, ok := files[e.Path]; !ok {
				invalid("path", fmt.Sprintf("tree.path %s does not exist and cannot be deleted", e.Path))
				return
			}
			delete(files, e.Path)
		default:
			invalid("sha", "Must supply either tree.sha or tree.content")
			return
		}
	}
	sha := s.treeLocked(files)
	w.Header().Set("Location", s.apiURL(r, "/git/trees/"+sha))
	writeJSON(w, http.StatusCreated, s.treeJSON(r, sha))
}

func (s *Server) treeJSON(r *repository, sha string) *gh.Tree {
	files := s.trees[sha]
	out := &gh.Tree{SHA: gh.String(sha), Truncated: gh.Bool(false), Entries: []*gh.TreeEntry{}}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		blob := BlobSHA([]byte(files[p]))
		out.Entries = append(out.Entries, &gh.TreeEntry{Path: gh.String(p), Mode: gh.String("100644"), Type: gh.String("blob"),
			SHA: gh.String(blob), Size: gh.Int(len(files[p])), URL: gh.String(s.apiURL(r, "/git/blobs/"+blob))})
	}
	return out
}

func (s *Server) getGitCommit(w http.ResponseWriter, req *http.Request, r *repository) {
	if _, ok := s.commits[req.PathValue("sha")]; !ok {
		writeError(w, http.StatusNotFound, "Not Found", docsRoot+"/git/commits#get-a-commit-object")
		return
	}
	writeJSON(w, http.StatusOK, s.commitJSON(r, req.PathValue("sha")))
}

func (s *Server) createGitCommit(w http.ResponseWriter, req *http.Request, r *repository) {
	const doc = docsRoot + "/git/commits#create-a-commit"
	var body struct {
		Message   *string        `json:"message"`
		Tree      string         `json:"tree"`
		Parents   []string       `json:"parents"`
		Author    *identityParam `json:"author"`
		Committer *identityParam `json:"committer"`
	}
	if !decode(w, req, &body) {
		return
	}
	switch {
	case body.Message == nil:
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"message\" wasn't supplied.", doc)
		return
	case body.Tree == "":
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"tree\" wasn't supplied.", doc)
		return
	case s.trees[body.Tree] == nil:
		writeError(w, http.StatusUnprocessableEntity, "Tree SHA does not exist", doc)
		return
	case len(body.Parents) > 1:
		writeError(w, http.StatusUnprocessableEntity, "githubtest: merge commits (more than one parent) are not supported", doc)
		return
	}
	parent := ""
	if len(body.Parents) == 1 {
		parent = body.Parents[0]
		if s.commits[parent] == nil {
			writeError(w, http.StatusUnprocessableEntity, "Parent SHA does not exist or is not a commit object", doc)
			return
		}
	}
	author, committer, ok := s.identities(w, doc, body.Author, body.Committer)
	if !ok {
		return
	}
	sha := s.newCommitLocked(parent, *body.Message, s.trees[body.Tree], author, committer)
	w.Header().Set("Location", s.apiURL(r, "/git/commits/"+sha))
	writeJSON(w, http.StatusCreated, s.commitJSON(r, sha))
}

// compareSide resolves one side of a comparison, "ref" or "owner:ref"
// (a branch of owner's fork in r's network).
func (s *Server) compareSide(r *repository, side string) (string, bool) {
	repo := r
	if owner, ref, ok := strings.Cut(side, ":"); ok {
		if repo = s.headRepoLocked(r, owner); repo == nil {
			return "", false
		}
		side = ref
	}
	return s.resolve(repo, side)
}

func (s *Server) repoCommitJSON(r *repository, sha string) *gh.RepositoryCommit {
	c := s.commitJSON(r, sha)
	out := &gh.RepositoryCommit{
		SHA: c.SHA, NodeID: c.NodeID, Commit: c, Parents: c.Parents,
		URL:         gh.String(s.apiURL(r, "/commits/"+sha)),
		HTMLURL:     c.HTMLURL,
		CommentsURL: gh.String(s.apiURL(r, "/commits/"+sha+"/comments")),
	}
	// GitHub links an author or committer to an account by its email.
	if cm := s.commits[sha]; cm.author == s.userIdentity() {
		out.Author = s.userJSON(s.login)
	}
	if cm := s.commits[sha]; cm.committer == s.userIdentity() {
		out.Committer = s.userJSON(s.login)
	}
	return out
}

// compare answers GET /repos/{owner}/{repo}/compare/{base}...{head}: the
// commits reachable from head and not from base, oldest first, paginated
// when per_page or page is given (otherwise the first 250).
func (s *Server) compare(w http.ResponseWriter, req *http.Request, r *repository) {
	const doc = docsRoot + "/commits/commits#compare-two-commits"
	baseRef, headRef, ok := strings.Cut(req.PathValue("basehead"), "...")
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found", doc)
		return
	}
	base, ok1 := s.compareSide(r, baseRef)
	head, ok2 := s.compareSide(r, headRef)
	if !ok1 || !ok2 {
		writeError(w, http.StatusNotFound, "Not Found", doc)
		return
	}
	onBase := map[string]bool{}
	for sha := base; sha != ""; sha = s.commits[sha].parent {
		onBase[sha] = true
	}
	var ahead []string
	mergeBase := head
	for ; mergeBase != "" && !onBase[mergeBase]; mergeBase = s.commits[mergeBase].parent {
		ahead = append(ahead, mergeBase)
	}
	if mergeBase == "" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("No common ancestor between %s and %s.", baseRef, headRef), doc)
		return
	}
	slices.Reverse(ahead)
	behind := 0
	for sha := base; sha != mergeBase; sha = s.commits[sha].parent {
		behind++
	}
	status := "diverged"
	switch {
	case len(ahead) == 0 && behind == 0:
		status = "identical"
	case behind == 0:
		status = "ahead"
	case len(ahead) == 0:
		status = "behind"
	}
	page := ahead
	q := req.URL.Query()
	if q.Has("per_page") || q.Has("page") {
		from, to := paginate(w, req, len(ahead))
		page = ahead[from:to]
	} else if len(page) > 250 {
		page = page[:250]
	}
	commits := make([]*gh.RepositoryCommit, 0, len(page))
	for _, sha := range page {
		commits = append(commits, s.repoCommitJSON(r, sha))
	}
	writeJSON(w, http.StatusOK, &gh.CommitsComparison{
		URL:             gh.String(s.apiURL(r, "/compare/"+baseRef+"..."+headRef)),
		HTMLURL:         gh.String(s.root + "/" + r.fullName() + "/compare/" + baseRef + "..." + headRef),
		BaseCommit:      s.repoCommitJSON(r, base),
		MergeBaseCommit: s.repoCommitJSON(r, mergeBase),
		Status:          gh.String(status),
		AheadBy:         gh.Int(len(ahead)),
		BehindBy:        gh.Int(behind),
		TotalCommits:    gh.Int(len(ahead)),
		Commits:         commits,
		Files:           s.changedFiles(mergeBase, head),
	})
}

// paginate picks the page of a list of total items that per_page and page
// ask for and, when more pages follow, points to them in a Link header as
// GitHub does. It returns the page's bounds.
func paginate(w http.ResponseWriter, req *http.Request, total int) (from, to int) {
	q := req.URL.Query()
	per, n := pageParams(q.Get("per_page"), q.Get("page"))
	from = min((n-1)*per, total)
	to = min(from+per, total)
	if last := (total + per - 1) / per; n < last {
		u := *req.URL
		u.Scheme, u.Host = "http", req.Host
		v := u.Query()
		v.Set("per_page", strconv.Itoa(per))
		v.Set("page", strconv.Itoa(n+1))
		u.RawQuery = v.Encode()
		next := u.String()
		v.Set("page", strconv.Itoa(last))
		u.RawQuery = v.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next", <%s>; rel="last"`, next, u.String()))
	}
	return from, to
}

// pageParams reads per_page (default 30, at most 100) and page (from 1).
func pageParams(perPage, page string) (per, n int) {
	per, n = 30, 1
	if v, err := strconv.Atoi(perPage); err == nil && v > 0 {
		per = min(v, 100)
	}
	if v, err := strconv.Atoi(page); err == nil && v > 0 {
		n = v
	}
	return per, n
}

// changedFiles lists the files that differ between two commits.
func (s *Server) changedFiles(from, to string) []*gh.CommitFile {
	a, b := s.commits[from].files, s.commits[to].files
	out := []*gh.CommitFile{}
	for _, p := range slices.Sorted(maps.Keys(b)) {
		old, had := a[p]
		switch {
		case !had:
			out = append(out, fileChange(p, "added", b[p]))
		case old != b[p]:
			out = append(out, fileChange(p, "modified", b[p]))
		}
	}
	for _, p := range slices.Sorted(maps.Keys(a)) {
		if _, ok := b[p]; !ok {
			out = append(out, fileChange(p, "removed", a[p]))
		}
	}
	return out
}

func fileChange(path, status, content string) *gh.CommitFile {
	return &gh.CommitFile{Filename: gh.String(path), Status: gh.String(status), SHA: gh.String(BlobSHA([]byte(content)))}
}
