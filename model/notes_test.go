package model_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/helmupgradebot/helmupgradebot/model"
)

func versionsOf(n model.ReleaseNotes) []string {
	var out []string
	for _, v := range n.Versions {
		out = append(out, v.Version)
	}
	return out
}

func TestChangeNotes(t *testing.T) {
	added := []model.Change{{Kind: model.ChangeAdded, Description: "a"}}
	plain := []model.Change{{Description: "plain"}}
	index := []model.ChartVersion{
		{Version: "1.0.0", Changes: plain},
		{Version: "1.1.0", Changes: added},
		{Version: "1.2.0-beta.1", Changes: added},
		{Version: "1.2.0"},
		{Version: "1.3.0", Changes: plain},
		{Version: "1.4.0", ChangesProblem: "not YAML"},
		{Version: "2.0.0", Changes: added},
	}
	tests := []struct {
		name, from, to string
		versions       []model.ChartVersion
		repo           string
		want           []string // versions, newest first; nil: no notes
		wantMore       string
	}{
		{name: "pin excluded, newest included, newest first", from: "1.0.0", to: "1.3.0", versions: index,
			want: []string{"1.3.0", "1.1.0"}},
		{name: "a version with an unreadable annotation is listed with the others", from: "1.1.0", to: "2.0.0", versions: index,
			repo: "https://github.com/o/r", want: []string{"2.0.0", "1.4.0", "1.3.0"}, wantMore: "https://github.com/o/r/releases"},
		{name: "prereleases when bumping to one", from: "1.1.0", to: "1.2.0-beta.1", versions: index,
			want: []string{"1.2.0-beta.1"}},
		{name: "a v-prefixed pin", from: "v1.2.0", to: "1.3.0", versions: index, want: []string{"1.3.0"}},
		{name: "no annotation in range", from: "1.1.0", to: "1.2.0", versions: index},
		{name: "only unreadable annotations", from: "1.3.0", to: "1.4.0", versions: index},
		{name: "not newer", from: "1.3.0", to: "1.3.0", versions: index},
		{name: "pin that does not parse", from: "latest", to: "1.3.0", versions: index},
		{name: "the new version carries its own changes", from: "2.0.0", to: "2.1.0", want: []string{"2.1.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			to := model.ChartVersion{Version: tt.to}
			if tt.to == "2.1.0" {
				to.Changes = plain
			}
			notes, ok := model.ChangeNotes(tt.from, to, tt.versions, tt.repo)
			if ok != (tt.want != nil) || !slices.Equal(versionsOf(notes), tt.want) {
				t.Fatalf("ChangeNotes(%s, %s) = %v, %v; want %v", tt.from, tt.to, versionsOf(notes), ok, tt.want)
			}
			if ok && (notes.Source != model.NotesFromChanges || notes.MoreURL != tt.wantMore) {
				t.Errorf("source %q, more %q; want %q", notes.Source, notes.MoreURL, tt.wantMore)
			}
		})
	}
}

func rel(tag string) model.Release {
	return model.Release{Tag: tag, Name: "Release " + tag, Body: "notes of " + tag, URL: "https://github.com/o/r/releases/tag/" + tag}
}

func TestGitHubReleaseNotes(t *testing.T) {
	draft := rel("v1.4.0")
	draft.Draft = true
	pre := rel("v1.3.0-rc.1")
	pre.Prerelease = true
	tests := []struct {
		name, chart, from, to string
		releases              []model.Release
		want                  []string
		wantMore              string
	}{
		{name: "v tags", chart: "app", from: "1.0.0", to: "1.3.0",
			releases: []model.Release{rel("v1.3.0"), rel("v1.2.0"), rel("v1.1.0"), rel("v1.0.0"), rel("v0.9.0")},
			want:     []string{"1.3.0", "1.2.0", "1.1.0"}, wantMore: "https://github.com/o/r/compare/v1.0.0...v1.3.0"},
		{name: "bare tags, out of order, pin not released: the releases page", chart: "app", from: "1.0.0", to: "1.3.0",
			releases: []model.Release{rel("1.1.0"), rel("1.3.0"), rel("1.2.0")},
			want:     []string{"1.3.0", "1.2.0", "1.1.0"}, wantMore: "https://github.com/o/r/releases"},
		{name: "chart-releaser tags in a repository of several charts", chart: "app", from: "1.0.0", to: "1.2.0",
			releases: []model.Release{rel("other-1.2.0"), rel("app-1.2.0"), rel("v1.1.0"), rel("app-1.0.0"), rel("appx-1.1.0")},
			want:     []string{"1.2.0"}, wantMore: "https://github.com/o/r/compare/app-1.0.0...app-1.2.0"},
		{name: "drafts and prereleases skipped for a stable bump", chart: "app", from: "1.2.0", to: "1.3.0",
			releases: []model.Release{draft, rel("v1.3.0"), pre},
			want:     []string{"1.3.0"}, wantMore: "https://github.com/o/r/releases"},
		{name: "prereleases for a bump to one", chart: "app", from: "1.2.0", to: "1.3.0-rc.1",
			releases: []model.Release{pre}, want: []string{"1.3.0-rc.1"}, wantMore: "https://github.com/o/r/releases"},
		{name: "tags that name no version", chart: "app", from: "1.0.0", to: "1.3.0",
			releases: []model.Release{rel("latest"), rel("controller-v1.2.0"), rel("v1.2")}},
		{name: "nothing in range", chart: "app", from: "1.0.0", to: "1.3.0",
			releases: []model.Release{rel("v2.0.0"), rel("v1.0.0")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notes, ok := model.GitHubReleaseNotes(tt.chart, tt.from, model.ChartVersion{Version: tt.to}, "https://github.com/o/r", tt.releases)
			if ok != (tt.want != nil) || !slices.Equal(versionsOf(notes), tt.want) {
				t.Fatalf("got %v, %v; want %v", versionsOf(notes), ok, tt.want)
			}
			if !ok {
				return
			}
			if notes.MoreURL != tt.wantMore || notes.Source != model.NotesFromReleases {
				t.Errorf("more %q source %q; want %q", notes.MoreURL, notes.Source, tt.wantMore)
			}
			if v := notes.Versions[0]; v.Body != "notes of "+v.Tag || v.URL == "" {
				t.Errorf("newest %+v lost its release", v)
			}
		})
	}
}

func TestReleasesReach(t *testing.T) {
	tests := []struct {
		from string
		tags []string
		want bool
	}{
		{"1.0.0", []string{"v1.3.0", "v1.2.0"}, false},
		{"1.0.0", []string{"v1.3.0", "v1.0.0"}, true},
		{"1.0.0", []string{"app-0.9.0"}, true},
		{"1.0.0", []string{"latest", "nightly"}, false},
		{"not-a-version", []string{"v1.3.0"}, true},
	}
	for _, tt := range tests {
		var rs []model.Release
		for _, tag := range tt.tags {
			rs = append(rs, rel(tag))
		}
		if got := model.ReleasesReach("app", tt.from, rs); got != tt.want {
			t.Errorf("ReleasesReach(%s, %v) = %v, want %v", tt.from, tt.tags, got, tt.want)
		}
	}
}

func TestSourceRepository(t *testing.T) {
	tests := []struct {
		name string
		b    model.Bump
		want string
	}{
		{"sources first", model.Bump{To: model.ChartVersion{Home: "https://github.com/h/home",
			Sources: []string{"https://example.org/x", "https://github.com/o/r/tree/main/charts/app"}}}, "https://github.com/o/r"},
		{"home", model.Bump{To: model.ChartVersion{Home: "https://github.com/h/home.git"}}, "https://github.com/h/home"},
		{"the pinned version's", model.Bump{To: model.ChartVersion{}, FromVersion: &model.ChartVersion{Sources: []string{"https://github.com/p/q"}}}, "https://github.com/p/q"},
		{"none on github.com", model.Bump{To: model.ChartVersion{Home: "https://gitlab.com/o/r", Sources: []string{"https://github.com/only-owner"}}}, ""},
	}
	for _, tt := range tests {
		got, ok := tt.b.SourceRepository()
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, ok, tt.want)
		}
	}
}

// notesBump is a bump of app from 1.0.0 to 1.1.0 with one release's notes.
func notesBump(dep, body string) model.Bump {
	return model.Bump{
		Dependency: dep, ChartRepository: "https://charts.example.org", From: "1.0.0",
		To: model.ChartVersion{Version: "1.1.0"},
		Notes: &model.ReleaseNotes{Source: model.NotesFromReleases, Repository: "https://github.com/o/r",
			MoreURL: "https://github.com/o/r/compare/v1.0.0...v1.1.0",
			Versions: []model.VersionNotes{{Version: "1.1.0", Tag: "v1.1.0", Name: "Faster", Body: body,
				URL: "https://github.com/o/r/releases/tag/v1.1.0", Published: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}},
	}
}

// releaseNotes is the part of a body from the release notes heading to
// the footer.
func releaseNotes(t *testing.T, body string) string {
	t.Helper()
	i := strings.Index(body, "### Release notes\n")
	j := strings.LastIndex(body, "\n---\n")
	if i < 0 || j < i {
		t.Fatalf("no release notes section in\n%s", body)
	}
	return body[i:j]
}

func TestReleaseNotesInBody(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    []string
		notWant []string
	}{
		{
			name: "heading, link and a collapsed block",
			body: "## What's new\n\n- Faster startup",
			want: []string{"<details>\n<summary>app 1.0.0 → 1.1.0 (GitHub releases of o/r)</summary>\n\n",
				"#### [`v1.1.0`](https://github.com/o/r/releases/tag/v1.1.0): Faster (2026-01-02)\n\n## What's new\n\n- Faster startup\n\n",
				"All changes: https://github.com/o/r/compare/v1.0.0...v1.1.0\n\n</details>\n"},
		},
		{
			name: "mentions do not ping, in text but code is kept",
			body: "Thanks @alice and @org/team (cc @bob). Mail a@b.org. `@code` stays.\n```\n@fenced stays\n```\nSee https://medium.com/@writer",
			want: []string{"Thanks @&#8203;alice and @&#8203;org/team (cc @&#8203;bob)", "Mail a@b.org", "`@code` stays", "\n@fenced stays\n",
				"https://medium.com/@writer"},
			notWant: []string{"@alice", "@bob"},
		},
		{
			name: "references point at the source repository without cross-referencing it",
			body: "Fixes #12 and other/repo#34 (#56); see https://github.com/o/r/pull/78. Not a#9 or `#10`.",
			want: []string{"Fixes [o/r#12](https://redirect.github.com/o/r/issues/12)",
				"[other/repo#34](https://redirect.github.com/other/repo/issues/34)",
				"([o/r#56](https://redirect.github.com/o/r/issues/56))",
				"https://redirect.github.com/o/r/pull/78", "Not a#9 or `#10`."},
			notWant: []string{"https://github.com/o/r/pull/78"},
		},
		{
			name:    "a stray closing tag or comment cannot break out",
			body:    "</details>\n\n<!-- hide everything\n\n<details><summary>ok</summary>\nbalanced\n</details>\n<pre>\nnever closed",
			want:    []string{"&lt;/details>\n\n&lt;!-- hide everything", "&lt;pre>\nnever closed"},
			notWant: []string{"<!-- hide", "<pre>"},
		},
		{
			name: "an unclosed fence is closed before the block ends",
			body: "text\n~~~~go\nfunc main() {",
			want: []string{"~~~~go\nfunc main() {\n~~~~\n\nAll changes:"},
		},
		{
			name: "an empty release",
			body: " \n",
			want: []string{"(2026-01-02)\n\n_No release notes._\n\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := model.PullRequestText("Chart.yaml", []model.Bump{notesBump("app", tt.body)})
			notes := releaseNotes(t, body)
			checkText(t, notes, tt.want, tt.notWant)
			if strings.Count(body, "<details>") != strings.Count(body, "</details>") {
				t.Errorf("unbalanced details:\n%s", notes)
			}
			if v, ok := model.ProposedVersions(body); !ok || v["app"] != "1.1.0" {
				t.Errorf("the marker no longer reads back: %v %v", v, ok)
			}
		})
	}
}

func TestChangeNotesInBody(t *testing.T) {
	b := model.Bump{Dependency: "ingress-nginx", From: "4.10.0", To: model.ChartVersion{Version: "4.12.0"},
		Notes: &model.ReleaseNotes{Source: model.NotesFromChanges, Repository: "https://github.com/kubernetes/ingress-nginx",
			MoreURL: "https://github.com/kubernetes/ingress-nginx/releases",
			Versions: []model.VersionNotes{
				{Version: "4.12.0", Changes: []model.Change{
					{Kind: model.ChangeAdded, Description: "Make: Add `helm-test` target. (#13659)"},
					{Kind: model.ChangeSecurity, Description: "Bump\n  base image <details>", Links: []model.ChangeLink{
						{Name: "CVE [1]", URL: "https://example.org/cve"}, {Name: "bad", URL: "javascript:alert(1)"}, {URL: "https://example.org/x"},
						{Name: "PR", URL: "https://github.com/kubernetes/ingress-nginx/pull/9"}}},
				}},
				{Version: "4.11.0", Problem: "its artifacthub.io/changes annotation is not a YAML list"},
				{Version: "4.10.1", Changes: []model.Change{{Description: "thanks @dev"}}},
			}}}
	_, body := model.PullRequestText("Chart.yaml", []model.Bump{b})
	notes := releaseNotes(t, body)
	checkText(t, notes, []string{
		"<summary>ingress-nginx 4.10.0 → 4.12.0 (artifacthub.io/changes)</summary>",
		"#### `4.12.0`\n\n- **Added**: Make: Add `helm-test` target. ([kubernetes/ingress-nginx#13659](https://redirect.github.com/kubernetes/ingress-nginx/issues/13659))\n",
		"- **Security**: Bump base image &lt;details> ([CVE \\[1\\]](https://example.org/cve), [https://example.org/x](https://example.org/x), [PR](https://redirect.github.com/kubernetes/ingress-nginx/pull/9))\n",
		"#### `4.11.0`\n\n- _its artifacthub.io/changes annotation is not a YAML list_\n",
		"#### `4.10.1`\n\n- thanks @&#8203;dev\n",
	}, []string{"javascript:", "All changes"})
}

// checkText reports each of want that text lacks and each of notWant it has.
func checkText(t *testing.T, text string, want, notWant []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("lacks %q:\n%s", w, text)
		}
	}
	for _, w := range notWant {
		if strings.Contains(text, w) {
			t.Errorf("has %q:\n%s", w, text)
		}
	}
}

func TestReleaseNotesCut(t *testing.T) {
	many := func(n, size int) *model.ReleaseNotes {
		notes := &model.ReleaseNotes{Source: model.NotesFromReleases, Repository: "https://github.com/o/r", MoreURL: "https://github.com/o/r/releases"}
		for i := n; i > 0; i-- {
			tag := fmt.Sprintf("v1.%d.0", i)
			notes.Versions = append(notes.Versions, model.VersionNotes{Version: tag[1:], Tag: tag,
				URL: "https://github.com/o/r/releases/tag/" + tag, Body: strings.Repeat("- a change of "+tag+"\n", size/20)})
		}
		return notes
	}
	bump := func(dep string, n *model.ReleaseNotes) model.Bump {
		return model.Bump{Dependency: dep, From: "1.0.0", To: model.ChartVersion{Version: n.Versions[0].Version}, Notes: n}
	}
	tests := []struct {
		name      string
		bumps     []model.Bump
		wantShown []int // versions shown per bump
		want      []string
		maxNotes  int
	}{
		{name: "at most ten versions", bumps: []model.Bump{bump("app", many(14, 100))}, wantShown: []int{10},
			want: []string{"_4 more versions not shown: https://github.com/o/r/releases._"}, maxNotes: 6500},
		{name: "the character budget", bumps: []model.Bump{bump("app", many(5, 2500))}, wantShown: []int{2},
			want: []string{"_3 more versions not shown"}, maxNotes: 6500},
		{name: "one huge release is cut with a link to the rest", bumps: []model.Bump{bump("app", many(1, 100000))}, wantShown: []int{1},
			want: []string{"_Cut short: the rest is at https://github.com/o/r/releases/tag/v1.1.0._"}, maxNotes: 6500},
		{name: "a grouped pull request shares the budget", bumps: []model.Bump{
			bump("a", many(3, 2500)), bump("b", many(3, 2500)), bump("c", many(3, 2500)), bump("d", many(3, 2500)), bump("e", many(3, 2500))},
			wantShown: []int{1, 1, 1, 1, 1}, maxNotes: 5 * 5200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := model.PullRequestText("Chart.yaml", tt.bumps)
			notes := releaseNotes(t, body)
			blocks := strings.Split(notes, "<details>")[1:]
			if len(blocks) != len(tt.wantShown) {
				t.Fatalf("%d blocks, want %d", len(blocks), len(tt.wantShown))
			}
			for i, b := range blocks {
				if got := strings.Count(b, "\n#### "); got != tt.wantShown[i] {
					t.Errorf("block %d shows %d versions, want %d", i, got, tt.wantShown[i])
				}
				if !strings.Contains(b, "<summary>"+tt.bumps[i].Dependency+" ") {
					t.Errorf("block %d is not %s's", i, tt.bumps[i].Dependency)
				}
			}
			checkText(t, notes, tt.want, nil)
			if len(notes) > tt.maxNotes || len(body) > 65536 {
				t.Errorf("notes are %d characters (body %d), want at most %d", len(notes), len(body), tt.maxNotes)
			}
		})
	}
}

func TestReleaseNotesProblem(t *testing.T) {
	b := model.Bump{Dependency: "app", From: "1.0.0", To: model.ChartVersion{Version: "1.1.0"},
		Notes: &model.ReleaseNotes{Repository: "https://github.com/o/r", MoreURL: "https://github.com/o/r/releases", Problem: "GitHub answered 500"}}
	_, body := model.PullRequestText("Chart.yaml", []model.Bump{b})
	checkText(t, releaseNotes(t, body), []string{"- app: the release notes could not be read from GitHub; see https://github.com/o/r/releases.\n"},
		[]string{"500"})
	_, plain := model.PullRequestText("Chart.yaml", []model.Bump{{Dependency: "app", From: "1.0.0", To: model.ChartVersion{Version: "1.1.0"}}})
	if strings.Contains(plain, "Release notes") {
		t.Errorf("a bump without notes has a release notes section:\n%s", plain)
	}
}

// FuzzReleaseNotesBody: whatever a release says, the pull request body
// stays valid UTF-8 (when the release is), within GitHub's limit, ends
// with its footer and marker, and reads back the proposed version.
func FuzzReleaseNotesBody(f *testing.F) {
	f.Add("## Changes\n\n- by @alice in #12\n```go\n@x\n```", 1)
	f.Add("</details>\n<!-- x\n~~~\nopen fence", 3)
	f.Add("``` `` ` `@a` ``@b`` #1 o/r#2 https://github.com/o/r/pull/3", 12)
	f.Add(strings.Repeat("é", 7000), 1)
	f.Fuzz(func(t *testing.T, text string, versions int) {
		versions = 1 + (versions%20+20)%20
		b := notesBump("app", text)
		v := b.Notes.Versions[0]
		b.Notes.Versions = nil
		for i := 0; i < versions; i++ {
			b.Notes.Versions = append(b.Notes.Versions, v)
		}
		b.Notes.Versions[0].Name = text
		_, body := model.PullRequestText("Chart.yaml", []model.Bump{b})
		if utf8.ValidString(text) && !utf8.ValidString(body) {
			t.Errorf("body is not UTF-8")
		}
		if len(body) > 65536 {
			t.Errorf("body is %d bytes", len(body))
		}
		if got, ok := model.ProposedVersions(body); !ok || got["app"] != "1.1.0" || len(got) != 1 {
			t.Errorf("marker reads back %v, %v", got, ok)
		}
		if !strings.HasSuffix(body, "\n</details>\n\n---\n_This pull request was made by helmupgradebot._\n\n<!-- helmupgradebot-bumps: {\"app\":\"1.1.0\"} -->\n") {
			t.Errorf("the body does not end as it should:\n%s", body[max(0, len(body)-300):])
		}
	})
}
