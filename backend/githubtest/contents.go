package githubtest

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// The contents endpoints (read and write a file on a branch), and the commit
// JSON and author/committer handling they share with the Git database
// endpoints.

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
