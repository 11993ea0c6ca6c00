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

// commit is one commit: a full snapshot of the tree (path → content).
type commit struct {
	sha     string
	parent  string
	message string
	files   map[string]string
	when    time.Time
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
	pendingPolls  int // a fresh fork answers 404 to this many more GETs
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
}

func key(owner, name string) string { return strings.ToLower(owner + "/" + name) }

// newCommitLocked stores a commit and returns its sha. s.mu must be held.
func (s *Server) newCommitLocked(parent, message string, files map[string]string) string {
	s.seq++
	h := sha1.New()
	paths := slices.Sorted(maps.Keys(files))
	fmt.Fprintf(h, "seq %d\nparent %s\n", s.seq, parent)
	for _, p := range paths {
		fmt.Fprintf(h, "%s %s\n", BlobSHA([]byte(files[p])), p)
	}
	fmt.Fprintf(h, "\n%s", message)
	sha := hex.EncodeToString(h.Sum(nil))
	tree := make(map[string]string, len(files))
	maps.Copy(tree, files)
	s.commits[sha] = &commit{sha: sha, parent: parent, message: message, files: tree, when: time.Now().UTC()}
	return sha
}

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
