package githubtest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
)

func TestListReleases(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	s.AddRepository("o", "r", "main", map[string]string{"README.md": "r\n"})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Added out of order: the list is by created_at, newest first.
	for _, n := range []int{3, 1, 5, 2, 4} {
		r := githubtest.Release{Tag: fmt.Sprintf("v1.%d.0", n), Name: fmt.Sprintf("One %d", n), Body: fmt.Sprintf("Fixes #%d", n),
			Created: base.AddDate(0, 0, n), Published: base.AddDate(0, 0, n).Add(time.Hour), Prerelease: n == 5}
		if _, err := s.AddRelease("o", "r", r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddRelease("o", "r", githubtest.Release{Tag: "v2.0.0", Draft: true, Created: base.AddDate(0, 0, 9)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddRelease("o", "nope", githubtest.Release{Tag: "v1"}); err == nil {
		t.Error("a release of a missing repository was added")
	}
	c := s.Client(s.Token())

	var tags []string
	pages := 0
	opts := &gh.ListOptions{PerPage: 2}
	for {
		rs, resp, err := c.Repositories.ListReleases(ctx, "o", "r", opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range rs {
			tags = append(tags, r.GetTagName())
		}
		if resp.NextPage == 0 {
			break
		}
		if resp.LastPage != 3 {
			t.Errorf("page %d: last page %d, want 3", pages, resp.LastPage)
		}
		opts.Page = resp.NextPage
	}
	if want := []string{"v2.0.0", "v1.5.0", "v1.4.0", "v1.3.0", "v1.2.0", "v1.1.0"}; !slices.Equal(tags, want) || pages != 3 {
		t.Errorf("%d pages of %v, want 3 of %v", pages, tags, want)
	}

	rs, _, err := c.Repositories.ListReleases(ctx, "o", "r", nil)
	if err != nil || len(rs) != 6 {
		t.Fatalf("default page: %d releases, %v", len(rs), err)
	}
	draft, newest := rs[0], rs[1]
	if !draft.GetDraft() || draft.PublishedAt != nil || draft.TarballURL != nil || draft.Name != nil || draft.Body != nil {
		t.Errorf("draft: %+v", draft)
	}
	if newest.GetTagName() != "v1.5.0" || newest.GetName() != "One 5" || newest.GetBody() != "Fixes #5" || !newest.GetPrerelease() ||
		!newest.GetCreatedAt().Time.Equal(base.AddDate(0, 0, 5)) || !newest.GetPublishedAt().Time.Equal(base.AddDate(0, 0, 5).Add(time.Hour)) ||
		!strings.HasSuffix(newest.GetHTMLURL(), "/o/r/releases/tag/v1.5.0") || newest.GetID() == 0 || newest.GetAuthor().GetLogin() != "o" ||
		newest.GetTargetCommitish() != "main" || !strings.HasSuffix(newest.GetTarballURL(), "/repos/o/r/tarball/v1.5.0") {
		t.Errorf("newest release: %+v", newest)
	}

	// A token that may not push sees no drafts.
	if err := s.ReadOnly("o", "r"); err != nil {
		t.Fatal(err)
	}
	if rs, _, err := c.Repositories.ListReleases(ctx, "o", "r", nil); err != nil || len(rs) != 5 || rs[0].GetDraft() {
		t.Errorf("read-only: %d releases, %v", len(rs), err)
	}

	for _, repo := range []string{"missing", "hidden"} {
		if repo == "hidden" {
			s.AddRepository("o", "hidden", "main", nil)
			if err := s.Hide("o", "hidden"); err != nil {
				t.Fatal(err)
			}
		}
		_, resp, err := c.Repositories.ListReleases(ctx, "o", repo, nil)
		var er *gh.ErrorResponse
		if !errors.As(err, &er) || resp == nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s repository: %v", repo, err)
		}
	}
}
