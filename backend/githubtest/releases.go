package githubtest

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// Release is a repository's release, as AddRelease seeds it.
type Release struct {
	Tag  string
	Name string
	// Body is the release notes (markdown).
	Body              string
	Draft, Prerelease bool
	// Created is when the release's commit was made (GitHub's created_at),
	// which orders the list; Published is when it was published. Zero
	// means now. A draft is never published.
	Created, Published time.Time
}

// release is a stored Release.
type release struct {
	Release
	id     int64
	author string
}

// AddRelease publishes a release in a repository (or drafts one) and
// returns its id. The repository must exist (AddRepository).
func (s *Server) AddRelease(owner, repo string, r Release) (int64, error) {
	if r.Tag == "" {
		return 0, fmt.Errorf("githubtest: a release of %s/%s needs a tag", owner, repo)
	}
	var id int64
	err := s.with(owner, repo, func(rp *repository) error {
		now := time.Now().UTC().Truncate(time.Second)
		if r.Created.IsZero() {
			r.Created = now
		}
		if r.Published.IsZero() && !r.Draft {
			r.Published = now
		}
		if r.Draft {
			r.Published = time.Time{}
		}
		id = s.nextIDLocked()
		rp.releases = append(rp.releases, &release{Release: r, id: id, author: rp.owner})
		return nil
	})
	return id, err
}

// releaseJSON is a release in GitHub's documented shape.
type releaseJSON struct {
	URL             string     `json:"url"`
	HTMLURL         string     `json:"html_url"`
	AssetsURL       string     `json:"assets_url"`
	UploadURL       string     `json:"upload_url"`
	TarballURL      *string    `json:"tarball_url"`
	ZipballURL      *string    `json:"zipball_url"`
	ID              int64      `json:"id"`
	NodeID          string     `json:"node_id"`
	TagName         string     `json:"tag_name"`
	TargetCommitish string     `json:"target_commitish"`
	Name            *string    `json:"name"`
	Body            *string    `json:"body"`
	Draft           bool       `json:"draft"`
	Prerelease      bool       `json:"prerelease"`
	CreatedAt       time.Time  `json:"created_at"`
	PublishedAt     *time.Time `json:"published_at"`
	Author          *gh.User   `json:"author"`
	Assets          []any      `json:"assets"`
}

// listReleases answers GET /repos/{owner}/{repo}/releases: the newest
// first (by created_at), paginated by per_page and page with a Link
// header. Drafts are listed only to a token that may push.
func (s *Server) listReleases(w http.ResponseWriter, req *http.Request, r *repository) {
	var rs []*release
	for _, rl := range r.releases {
		if !rl.Draft || !r.readOnly {
			rs = append(rs, rl)
		}
	}
	slices.SortStableFunc(rs, func(a, b *release) int {
		return cmp.Or(b.Created.Compare(a.Created), cmp.Compare(b.id, a.id))
	})
	from, to := paginate(w, req, len(rs))
	out := make([]releaseJSON, 0, to-from)
	for _, rl := range rs[from:to] {
		api := s.apiURL(r, fmt.Sprintf("/releases/%d", rl.id))
		js := releaseJSON{
			URL: api, HTMLURL: fmt.Sprintf("%s/%s/releases/tag/%s", s.root, r.fullName(), url.PathEscape(rl.Tag)),
			AssetsURL: api + "/assets", UploadURL: fmt.Sprintf("%s/repos/%s/releases/%d/assets{?name,label}", s.root, r.fullName(), rl.id),
			ID: rl.id, NodeID: fmt.Sprintf("RE_%d", rl.id), TagName: rl.Tag, TargetCommitish: r.defaultBranch,
			Draft: rl.Draft, Prerelease: rl.Prerelease, CreatedAt: rl.Created, Author: s.userJSON(rl.author), Assets: []any{},
		}
		if !rl.Draft {
			tarball, zipball := s.apiURL(r, "/tarball/"+url.PathEscape(rl.Tag)), s.apiURL(r, "/zipball/"+url.PathEscape(rl.Tag))
			js.TarballURL, js.ZipballURL, js.PublishedAt = &tarball, &zipball, &rl.Published
		}
		if rl.Name != "" {
			js.Name = &rl.Name
		}
		if rl.Body != "" {
			js.Body = &rl.Body
		}
		out = append(out, js)
	}
	writeJSON(w, http.StatusOK, out)
}
