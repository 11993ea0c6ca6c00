package githubtest

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// BlobSHA returns git's object id for a blob with the given content:
// sha1("blob <len>\x00" + content), what `git hash-object` prints and what
// GitHub's contents API reports as a file's sha.
func BlobSHA(content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// Identity is a git author or committer.
type Identity struct {
	Name, Email string
}

// commit is one commit: a full snapshot of the tree (path → content).
type commit struct {
	sha       string
	parent    string
	message   string
	files     map[string]string
	tree      string // the sha of files as a tree
	author    Identity
	committer Identity
	when      time.Time
}

// repository is one repository's state.
type repository struct {
	id            int64
	owner, name   string
	defaultBranch string
	private       bool
	hidden        bool // the token cannot see it: 404 everywhere
	readOnly      bool // the token can read but not write: 403 on writes
	parent        *repository
	branches      map[string]string // branch → commit sha
	protected     map[string]bool
	collaborators map[string]bool // lower-case logins
	teams         map[string]bool // lower-case team slugs
	labels        map[string]string
	pulls         []*pull
	nextNumber    int
	pendingPolls  int             // a fresh fork answers 404 to this many more GETs
	checkRuns     []*checkRun     // oldest first (checks.go)
	statuses      []*commitStatus // oldest first
	releases      []*release      // in the order added (releases.go)
	issues        []*issue        // in the order opened; numbered with pulls (issues.go)
	issuesOff     bool            // issues are disabled: 410 Gone
}

func (r *repository) fullName() string { return r.owner + "/" + r.name }

// pull is one pull request, stored on its base repository.
type pull struct {
	id            int64
	number        int
	title, body   string
	state         string
	headRepo      *repository
	headRef       string
	base          string
	labels        []string
	reviewers     []string
	teamReviewers []string
	user          string
	created       time.Time
	updated       time.Time
	merged        time.Time // zero unless merged
	// mergeKey is the head and base its mergeability was last asked for:
	// GitHub computes it in the background, so the first GET after either
	// moves says null (checks.go).
	mergeKey string
	// mergeableState, when set, overrides the computed mergeable_state.
	mergeableState string
}

func key(owner, name string) string { return strings.ToLower(owner + "/" + name) }

// object is a git object (commit, tree or blob) as held by one repository
// network.
type object struct {
	network int64
	sha     string
}

// networkOf returns the id of r's repository network, its root's id.
// GitHub keeps one object store per network: a fork can reference commits
// pushed to its upstream after it was forked (and the other way round),
// while an unrelated repository cannot, even with the same content.
func networkOf(r *repository) int64 {
	for r.parent != nil {
		r = r.parent
	}
	return r.id
}

// holdLocked records that r's network holds the objects. s.mu must be held.
func (s *Server) holdLocked(r *repository, shas ...string) {
	for _, sha := range shas {
		s.held[object{networkOf(r), sha}] = true
	}
}

// holdsLocked reports whether r's network holds the object. s.mu must be held.
func (s *Server) holdsLocked(r *repository, sha string) bool {
	return s.held[object{networkOf(r), sha}]
}

// commitInLocked returns the commit sha if r's network holds it. s.mu must be held.
func (s *Server) commitInLocked(r *repository, sha string) (*commit, bool) {
	c, ok := s.commits[sha]
	return c, ok && s.holdsLocked(r, sha)
}

// newCommitLocked stores a commit in r's network and returns its sha.
// s.mu must be held.
func (s *Server) newCommitLocked(r *repository, parent, message string, files map[string]string, author, committer Identity) string {
	s.seq++
	tree := s.treeLocked(r, files)
	h := sha1.New()
	fmt.Fprintf(h, "seq %d\nparent %s\ntree %s\nauthor %s <%s>\ncommitter %s <%s>\n\n%s",
		s.seq, parent, tree, author.Name, author.Email, committer.Name, committer.Email, message)
	sha := hex.EncodeToString(h.Sum(nil))
	s.commits[sha] = &commit{sha: sha, parent: parent, message: message, files: s.trees[tree], tree: tree,
		author: author, committer: committer, when: time.Now().UTC()}
	s.holdLocked(r, sha)
	return sha
}

// treeLocked stores files as a tree in r's network and returns its sha:
// the stand-in's own hash over the paths and their git blob shas (a real
// tree object nests one tree per folder). s.mu must be held.
func (s *Server) treeLocked(r *repository, files map[string]string) string {
	h := sha1.New()
	for _, p := range slices.Sorted(maps.Keys(files)) {
		blob := BlobSHA([]byte(files[p]))
		s.blobs[blob] = files[p]
		s.holdLocked(r, blob)
		fmt.Fprintf(h, "100644 %s %s\n", blob, p)
	}
	sha := hex.EncodeToString(h.Sum(nil))
	s.holdLocked(r, sha)
	if _, ok := s.trees[sha]; !ok {
		s.trees[sha] = make(map[string]string, len(files))
		maps.Copy(s.trees[sha], files)
	}
	return sha
}

// userIdentity is the identity GitHub gives commits written through the API
// without an author: the token's user.
func (s *Server) userIdentity() Identity {
	return Identity{Name: s.login, Email: s.login + "@users.noreply.github.com"}
}

// Someone is the identity of commits that Commit writes: a person pushing
// to the repository, not the token's user.
var Someone = Identity{Name: "Mona Maintainer", Email: "mona@example.org"}

// isAncestorLocked reports whether anc is desc or one of its ancestors.
func (s *Server) isAncestorLocked(anc, desc string) bool {
	for sha := desc; sha != ""; {
		if sha == anc {
			return true
		}
		c, ok := s.commits[sha]
		if !ok {
			return false
		}
		sha = c.parent
	}
	return false
}

func (s *Server) nextIDLocked() int64 {
	s.ids++
	return s.ids
}
