package model

import (
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Change kinds of Artifact Hub's artifacthub.io/changes annotation.
const (
	ChangeAdded      = "added"
	ChangeChanged    = "changed"
	ChangeDeprecated = "deprecated"
	ChangeRemoved    = "removed"
	ChangeFixed      = "fixed"
	ChangeSecurity   = "security"
)

// ChangeKinds are the kinds Artifact Hub accepts, in the order it shows them.
var ChangeKinds = []string{ChangeAdded, ChangeChanged, ChangeDeprecated, ChangeRemoved, ChangeFixed, ChangeSecurity}

// Change is one entry of a chart version's artifacthub.io/changes
// annotation.
type Change struct {
	// Kind is one of ChangeKinds, or empty for an entry given as a plain
	// string.
	Kind        string
	Description string
	Links       []ChangeLink
}

// ChangeLink is a link of a Change.
type ChangeLink struct {
	Name, URL string
}

// Release is a release of a chart's source repository, as GitHub lists it.
type Release struct {
	Tag, Name string
	// Body is the release notes: markdown written by a third party.
	Body              string
	URL               string
	Draft, Prerelease bool
	Published         time.Time
}

// Where release notes come from.
const (
	NotesFromChanges  = "artifacthub.io/changes"
	NotesFromReleases = "GitHub releases"
)

// ReleaseNotes are what changed between a bump's two versions.
type ReleaseNotes struct {
	// Source is NotesFromChanges or NotesFromReleases.
	Source string
	// Repository is the chart's GitHub repository
	// (https://github.com/owner/name), when it has one.
	Repository string
	// Versions are the versions after the pin up to the new one that say
	// what changed, newest first.
	Versions []VersionNotes
	// MoreURL lists every change: the compare page between the two
	// versions' tags, or the repository's releases page.
	MoreURL string
	// Problem says why the notes could not be read (GitHub failed); the
	// body then only links to MoreURL.
	Problem string
}

// VersionNotes are what one version changed.
type VersionNotes struct {
	Version string
	// Tag, Name and URL are those of the GitHub release; empty for notes
	// from annotations.
	Tag, Name, URL string
	Published      time.Time
	// Changes come from the version's artifacthub.io/changes annotation.
	Changes []Change
	// Problem says why the version's annotation was skipped.
	Problem string
	// Body is the GitHub release's notes: untrusted markdown, made safe
	// only when the pull request body is written.
	Body string
}

// lenientVersion parses a version as Helm does (a leading v is allowed).
func lenientVersion(s string) (*semver.Version, bool) {
	v, err := semver.NewVersion(strings.TrimSpace(s))
	return v, err == nil
}

// between returns a predicate for the versions after from up to and
// including to. Prereleases count only when to is one: a bump to a
// stable version lists the stable versions on the way.
func between(from, to string) (func(*semver.Version) bool, bool) {
	f, ok := lenientVersion(from)
	if !ok {
		return nil, false
	}
	t, ok := lenientVersion(to)
	if !ok || !t.GreaterThan(f) {
		return nil, false
	}
	return func(v *semver.Version) bool {
		if v.Prerelease() != "" && t.Prerelease() == "" {
			return false
		}
		return v.GreaterThan(f) && !v.GreaterThan(t)
	}, true
}

// ChangeNotes gathers the artifacthub.io/changes annotations of the
// versions after from up to to, newest first. ok is false when none of
// them has a readable annotation. repo is the chart's GitHub repository,
// when known (Bump.SourceRepository): it becomes the link to the rest.
func ChangeNotes(from string, to ChartVersion, versions []ChartVersion, repo string) (notes ReleaseNotes, ok bool) {
	in, ok := between(from, to.Version)
	if !ok {
		return ReleaseNotes{}, false
	}
	type entry struct {
		v *semver.Version
		n VersionNotes
	}
	var es []entry
	seen := map[string]bool{}
	readable := false
	for _, cv := range append(slices.Clone(versions), to) {
		v, ok := lenientVersion(cv.Version)
		if !ok || !in(v) || seen[v.String()] || (len(cv.Changes) == 0 && cv.ChangesProblem == "") {
			continue
		}
		seen[v.String()] = true
		readable = readable || len(cv.Changes) > 0
		es = append(es, entry{v, VersionNotes{Version: cv.Version, Changes: cv.Changes, Problem: cv.ChangesProblem}})
	}
	if !readable {
		return ReleaseNotes{}, false
	}
	slices.SortStableFunc(es, func(a, b entry) int { return b.v.Compare(a.v) })
	notes = ReleaseNotes{Source: NotesFromChanges, Repository: repo}
	for _, e := range es {
		notes.Versions = append(notes.Versions, e.n)
	}
	if repo != "" {
		notes.MoreURL = repo + "/releases"
	}
	return notes, true
}

// releaseVersion reads the chart version a release's tag names: "v1.2.3"
// or "1.2.3", or "<chart>-1.2.3" as helm's chart-releaser tags the charts
// of a repository holding several. prefixed says which form it was.
func releaseVersion(chart, tag string) (v *semver.Version, prefixed bool, ok bool) {
	rest, prefixed := strings.CutPrefix(tag, chart+"-")
	if !prefixed || chart == "" {
		rest = strings.TrimPrefix(tag, "v")
	}
	v, err := semver.StrictNewVersion(rest)
	if err != nil {
		return nil, false, false
	}
	return v, prefixed && chart != "", true
}

// chartTagged reports whether some release is tagged "<chart>-VERSION":
// then the repository holds several charts and only those tags are its.
func chartTagged(chart string, releases []Release) bool {
	for _, r := range releases {
		if _, prefixed, ok := releaseVersion(chart, r.Tag); ok && prefixed {
			return true
		}
	}
	return false
}

// ReleasesReach reports whether releases (a page of a repository's
// releases, newest first) reach back to from: one of them is the chart's
// release of from or of an older version, so older pages are not needed.
func ReleasesReach(chart, from string, releases []Release) bool {
	f, ok := lenientVersion(from)
	if !ok {
		return true // nothing to compare with: one page will do
	}
	for _, r := range releases {
		if v, _, ok := releaseVersion(chart, r.Tag); ok && !v.GreaterThan(f) {
			return true
		}
	}
	return false
}

// GitHubReleaseNotes picks, from the releases of the chart's GitHub
// repository repo (https://github.com/owner/name), those of the versions
// after from up to to, newest first. Drafts are skipped, and so are
// prereleases unless to is one. ok is false when none matches.
func GitHubReleaseNotes(chart, from string, to ChartVersion, repo string, releases []Release) (notes ReleaseNotes, ok bool) {
	in, ok := between(from, to.Version)
	if !ok {
		return ReleaseNotes{}, false
	}
	f, _ := lenientVersion(from)
	onlyPrefixed := chartTagged(chart, releases)
	type entry struct {
		v *semver.Version
		r Release
	}
	var es []entry
	fromTag := ""
	seen := map[string]bool{}
	for _, r := range releases {
		v, prefixed, ok := releaseVersion(chart, r.Tag)
		if !ok || r.Draft || prefixed != onlyPrefixed {
			continue
		}
		if v.Equal(f) {
			fromTag = r.Tag
		}
		if !in(v) || seen[v.String()] {
			continue
		}
		seen[v.String()] = true
		es = append(es, entry{v, r})
	}
	if len(es) == 0 {
		return ReleaseNotes{}, false
	}
	slices.SortStableFunc(es, func(a, b entry) int { return b.v.Compare(a.v) })
	notes = ReleaseNotes{Source: NotesFromReleases, Repository: repo, MoreURL: repo + "/releases"}
	if fromTag != "" && isGitRefSafe(fromTag) && isGitRefSafe(es[0].r.Tag) {
		notes.MoreURL = repo + "/compare/" + fromTag + "..." + es[0].r.Tag
	}
	for _, e := range es {
		notes.Versions = append(notes.Versions, VersionNotes{Version: e.v.Original(), Tag: e.r.Tag, Name: e.r.Name,
			URL: e.r.URL, Published: e.r.Published, Body: e.r.Body})
	}
	return notes, true
}

// isGitRefSafe reports whether a tag can go into a URL path as is.
func isGitRefSafe(tag string) bool {
	if tag == "" {
		return false
	}
	for _, c := range tag {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.+/", c)) {
			return false
		}
	}
	return true
}

// SourceRepository is the chart's GitHub repository
// (https://github.com/owner/name): the first github.com link among its
// sources, else its home, of the new version and then of the pinned one.
func (b Bump) SourceRepository() (string, bool) {
	links := slices.Clone(b.To.Sources)
	links = append(links, b.To.Home)
	if b.FromVersion != nil {
		links = append(links, b.FromVersion.Sources...)
		links = append(links, b.FromVersion.Home)
	}
	for _, l := range links {
		if repo, ok := githubRepoURL(l); ok {
			return repo, true
		}
	}
	return "", false
}
