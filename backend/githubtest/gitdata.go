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
	s.holdLocked(r, sha)
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
		if !ok || !s.holdsLocked(r, body.BaseTree) {
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
		case sha != nil:
			content, ok := s.blobs[*sha]
			if !ok || !s.holdsLocked(r, *sha) {
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
	sha := s.treeLocked(r, files)
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
	if _, ok := s.commitInLocked(r, req.PathValue("sha")); !ok {
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
	case s.trees[body.Tree] == nil || !s.holdsLocked(r, body.Tree):
		writeError(w, http.StatusUnprocessableEntity, "Tree SHA does not exist", doc)
		return
	case len(body.Parents) > 1:
		writeError(w, http.StatusUnprocessableEntity, "githubtest: merge commits (more than one parent) are not supported", doc)
		return
	}
	parent := ""
	if len(body.Parents) == 1 {
		parent = body.Parents[0]
		if _, ok := s.commitInLocked(r, parent); !ok {
			writeError(w, http.StatusUnprocessableEntity, "Parent SHA does not exist or is not a commit object", doc)
			return
		}
	}
	author, committer, ok := s.identities(w, doc, body.Author, body.Committer)
	if !ok {
		return
	}
	sha := s.newCommitLocked(r, parent, *body.Message, s.trees[body.Tree], author, committer)
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

// changedFiles lists the files that differ between two commits, each with
// its line counts and unified diff (patch), as a pull request's diff shows
// them.
func (s *Server) changedFiles(from, to string) []*gh.CommitFile {
	a, b := s.commits[from].files, s.commits[to].files
	out := []*gh.CommitFile{}
	for _, p := range slices.Sorted(maps.Keys(b)) {
		old, had := a[p]
		switch {
		case !had:
			out = append(out, fileChange(p, "added", "", b[p]))
		case old != b[p]:
			out = append(out, fileChange(p, "modified", old, b[p]))
		}
	}
	for _, p := range slices.Sorted(maps.Keys(a)) {
		if _, ok := b[p]; !ok {
			out = append(out, fileChange(p, "removed", a[p], ""))
		}
	}
	return out
}

func fileChange(path, status, old, content string) *gh.CommitFile {
	sha := content
	if status == "removed" {
		sha = old
	}
	patch, add, del := unifiedDiff(old, content)
	return &gh.CommitFile{Filename: gh.String(path), Status: gh.String(status), SHA: gh.String(BlobSHA([]byte(sha))),
		Additions: gh.Int(add), Deletions: gh.Int(del), Changes: gh.Int(add + del), Patch: gh.String(patch)}
}

// diffLine is one line of a diff: ' ' kept, '-' removed, '+' added.
type diffLine struct {
	op   byte
	text string // with its "\n", if it has one
}

// unifiedDiff returns the hunks of a unified diff from a to b with three
// lines of context, as GitHub's "patch" field holds them (no file header),
// and the numbers of lines added and deleted. It finds a longest common
// subsequence of lines: fine for the small files the stand-in holds.
func unifiedDiff(a, b string) (patch string, added, deleted int) {
	x, y := strings.SplitAfter(a, "\n"), strings.SplitAfter(b, "\n")
	if x[len(x)-1] == "" {
		x = x[:len(x)-1]
	}
	if y[len(y)-1] == "" {
		y = y[:len(y)-1]
	}
	// lcs[i][j]: the longest common subsequence of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var lines []diffLine
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			lines = append(lines, diffLine{' ', x[i]})
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			lines = append(lines, diffLine{'-', x[i]})
			i, deleted = i+1, deleted+1
		default:
			lines = append(lines, diffLine{'+', y[j]})
			j, added = j+1, added+1
		}
	}
	const context = 3
	var sb strings.Builder
	oldLine, newLine := 1, 1 // line numbers at lines[k]
	for k := 0; k < len(lines); {
		if lines[k].op == ' ' {
			k, oldLine, newLine = k+1, oldLine+1, newLine+1
			continue
		}
		// A hunk: context before, then changes until a run of more than
		// twice the context of kept lines (or the end), then context after.
		start := max(k-context, 0)
		for ; start < k && lines[start].op != ' '; start++ {
		}
		oldStart, newStart := oldLine-(k-start), newLine-(k-start)
		end := k
		for end < len(lines) {
			if lines[end].op != ' ' {
				end++
				continue
			}
			run := end
			for run < len(lines) && lines[run].op == ' ' {
				run++
			}
			if run == len(lines) || run-end > 2*context {
				end = min(end+context, run)
				break
			}
			end = run
		}
		oldN, newN := 0, 0
		var body strings.Builder
		for _, l := range lines[start:end] {
			if l.op != '+' {
				oldN++
			}
			if l.op != '-' {
				newN++
			}
			body.WriteByte(l.op)
			body.WriteString(strings.TrimSuffix(l.text, "\n"))
			if !strings.HasSuffix(l.text, "\n") {
				body.WriteString("\n\\ No newline at end of file")
			}
			body.WriteByte('\n')
		}
		fmt.Fprintf(&sb, "@@ -%s +%s @@\n%s", hunkRange(oldStart, oldN), hunkRange(newStart, newN), body.String())
		for _, l := range lines[k:end] {
			if l.op != '+' {
				oldLine++
			}
			if l.op != '-' {
				newLine++
			}
		}
		k = end
	}
	return strings.TrimSuffix(sb.String(), "\n"), added, deleted
}

// hunkRange writes a hunk's start and length as diff does: "start,len",
// just "start" for one line, and the line before for none.
func hunkRange(start, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start-1)
	case 1:
		return strconv.Itoa(start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}
