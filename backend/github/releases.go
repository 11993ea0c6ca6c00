package github

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	gh "github.com/google/go-github/v60/github"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// Releases are read a page of releasesPerPage at a time, at most
// maxReleasePages pages for one repository: release notes are about the
// latest versions, and a repository of many charts would otherwise cost
// many requests.
const (
	releasesPerPage = 100
	maxReleasePages = 3
)

// Releases lists a repository's releases, newest first (GET
// /repos/{owner}/{repo}/releases). It reads page after page until enough
// (when not nil) says the releases of the page just read reach back far
// enough, the list ends, or maxReleasePages pages were read. A repository
// GitHub does not show (404) has no releases, and that is no error.
func (c *Client) Releases(ctx context.Context, owner, repo string, enough func(page []model.Release) bool) ([]model.Release, error) {
	if owner == "" || repo == "" {
		return nil, fmt.Errorf("list the releases of %q/%q: owner and name are both required", owner, repo)
	}
	var out []model.Release
	opts := &gh.ListOptions{PerPage: releasesPerPage}
	for page := 0; page < maxReleasePages; page++ {
		rs, resp, err := c.gh.Repositories.ListReleases(ctx, owner, repo, opts)
		if is(err, http.StatusNotFound) {
			return nil, nil
		}
		if err != nil {
			return out, c.redact(fail(err, owner+"/"+repo, "list the releases", ""))
		}
		got := make([]model.Release, 0, len(rs))
		for _, r := range rs {
			got = append(got, model.Release{
				Tag: r.GetTagName(), Name: r.GetName(), Body: r.GetBody(), URL: r.GetHTMLURL(),
				Draft: r.GetDraft(), Prerelease: r.GetPrerelease(), Published: r.GetPublishedAt().Time,
			})
		}
		out = append(out, got...)
		if resp.NextPage == 0 || (enough != nil && enough(got)) {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// ServesGitHubCom reports whether the client's API is GitHub.com's, where
// the repositories of github.com links live: not a GitHub Enterprise
// Server (whose API is under /api/v3/) nor a GHE.com tenant
// (api.NAME.ghe.com). An API at the root of any other host (a stand-in)
// counts as GitHub.com's.
func (c *Client) ServesGitHubCom() bool {
	u := c.gh.BaseURL
	return strings.Trim(u.Path, "/") == "" && !strings.HasSuffix(strings.ToLower(u.Hostname()), ".ghe.com")
}
