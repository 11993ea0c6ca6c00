package model

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// Bump is one dependency's version change in a deployment's chart file.
type Bump struct {
	// Dependency is the dependency's name in the chart file.
	Dependency string
	// ChartRepository is the repository the dependency comes from.
	ChartRepository string
	// From is the version pinned before the bump.
	From string
	// To is the version the bump pins.
	To ChartVersion
	// FromVersion describes From when the repository still lists it.
	FromVersion *ChartVersion
	// Notes are what changed from From to To, when known (notes.go).
	Notes *ReleaseNotes
	// ToPin is what the bump writes when From is a range: the range
	// rewritten to admit To. Empty otherwise (see Pin).
	ToPin string

	// Kind is chart ("" alike) or image. An image bump's Dependency is
	// its YAML path, From and To.Version its tags, To.Sources its source
	// repository when the image names one (imagebody.go).
	Kind DependencyKind
	// File is the file the bump edits; "" is PullRequestText's file.
	File string
	// Image is an image bump's image, Path where File pins it, Compare
	// the compare link between the commits of its two tags.
	Image, Path, Compare string
}

// Pin is the text the bump writes in place of From: ToPin, else To's
// version spelled like From (a v prefix kept or left out). An image's tag
// is written as the registry lists it.
func (b Bump) Pin() string {
	if b.Kind == KindImage {
		return b.To.Version
	}
	if b.ToPin != "" {
		return b.ToPin
	}
	return SpellLike(b.From, b.To.Version)
}

// CompareURL returns the GitHub compare link between the commits that From
// and To were built from, when both are chartpress versions and a source of
// the chart is a GitHub repository.
func (b Bump) CompareURL() (string, bool) {
	oldHash, ok := ChartpressHash(b.From)
	if !ok {
		return "", false
	}
	newHash, ok := ChartpressHash(b.To.Version)
	if !ok || oldHash == newHash {
		return "", false
	}
	repo, ok := b.githubRepo()
	if !ok {
		return "", false
	}
	return repo + "/compare/" + oldHash + "..." + newHash, true
}

// githubRepo is the first GitHub repository among the chart's sources, as
// https://github.com/owner/repo.
func (b Bump) githubRepo() (string, bool) {
	sources := b.To.Sources
	if b.FromVersion != nil {
		sources = append(sources[:len(sources):len(sources)], b.FromVersion.Sources...)
	}
	for _, s := range sources {
		if repo, ok := githubRepoURL(s); ok {
			return repo, true
		}
	}
	return "", false
}

// githubRepoURL reduces a GitHub link (a repository, or a folder in one) to
// the repository's URL.
func githubRepoURL(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || !strings.EqualFold(u.Host, "github.com") {
		return "", false
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 {
		return "", false
	}
	owner, repo := parts[0], strings.TrimSuffix(parts[1], ".git")
	if !isGitHubName(owner) || !isGitHubName(repo) {
		return "", false
	}
	return "https://github.com/" + owner + "/" + repo, true
}

func isGitHubName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// PullRequestText writes the title and GitHub-markdown body of a pull
// request that applies bumps to the chart file at path file. Notes are
// paragraphs added after the table (such as what to do about a lock file).
// The body ends with a hidden marker naming each dependency's new version,
// which Declines reads back once the pull request is closed.
func PullRequestText(file string, bumps []Bump, notes ...string) (title, body string) {
	charts, images := splitBumps(bumps)
	switch len(bumps) {
	case 0:
		title = "Bump chart dependencies in " + file
	case 1:
		b := bumps[0]
		title = fmt.Sprintf("Bump %s from %s to %s", b.name(), b.From, b.Pin())
	default:
		// The versions are in the title: an open grouped PR is current
		// exactly when its title is the one a run would give it.
		parts := make([]string, len(bumps))
		for i, b := range bumps {
			parts[i] = b.name() + " to " + b.Pin()
		}
		title = fmt.Sprintf("Bump %s in %s", strings.Join(parts, ", "), strings.Join(bumpFiles(file, bumps), ", "))
	}

	var sb strings.Builder
	switch {
	case len(images) > 0:
		sb.WriteString("This pull request bumps " + bumpsIntro(file, charts, images) + ".\n\n")
	case len(bumps) == 1:
		fmt.Fprintf(&sb, "This pull request bumps a chart dependency in `%s`.\n\n", codeSpan(file))
	default:
		fmt.Fprintf(&sb, "This pull request bumps chart dependencies in `%s`.\n\n", codeSpan(file))
	}
	if len(charts) > 0 {
		sb.WriteString("| Dependency | From | To | Chart repository | Released |\n")
		sb.WriteString("| --- | --- | --- | --- | --- |\n")
		for _, b := range charts {
			fmt.Fprintf(&sb, "| %s | `%s` | `%s` | %s | %s |\n",
				cell(b.Dependency), cell(codeSpan(b.From)), cell(codeSpan(b.Pin())),
				cell(b.ChartRepository), b.released())
		}
	}
	imageTable(&sb, file, images, len(charts) > 0)
	for _, b := range bumps {
		heading, lines := oneLine(b.Dependency), detailLines(b)
		if b.Kind == KindImage {
			heading, lines = imageHeading(b), imageDetailLines(b)
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(&sb, "\n### %s\n\n", heading)
		for _, l := range lines {
			sb.WriteString("- " + l + "\n")
		}
	}
	for _, n := range notes {
		sb.WriteString("\n" + n + "\n")
	}
	sb.WriteString(releaseNotesSection(bumps))
	sb.WriteString("\n---\n_This pull request was made by helmupgradebot._\n")
	if len(bumps) > 0 {
		versions := make(map[string]string, len(bumps))
		for _, b := range bumps {
			versions[b.markerKey()] = b.Pin()
		}
		// json.Marshal escapes < and >, so the marker cannot end early.
		data, _ := json.Marshal(versions)
		sb.WriteString("\n" + markerStart + string(data) + markerEnd + "\n")
	}
	return title, sb.String()
}

const (
	markerStart = "<!-- helmupgradebot-bumps: "
	markerEnd   = " -->"
)

// ProposedVersions reads back the marker PullRequestText puts in a body:
// each dependency's proposed version as the file gets it (Bump.Pin: a
// range, or a v kept), an image's tag keyed by its file and YAML path
// (file:path). ok is false when there is none (a body written by hand,
// or by an older helmupgradebot).
func ProposedVersions(body string) (versions map[string]string, ok bool) {
	i := strings.LastIndex(body, markerStart)
	if i < 0 {
		return nil, false
	}
	rest := body[i+len(markerStart):]
	j := strings.Index(rest, markerEnd)
	if j < 0 || json.Unmarshal([]byte(rest[:j]), &versions) != nil {
		return nil, false
	}
	return versions, true
}

// Declines reports whether a pull request closed without merging, with
// prTitle and prBody, turned down bumps (whose pull request has title):
// it proposed each of their versions, or, lacking the marker, it had the
// same title. A closed pull request means "not this version", never "not
// this dependency": a newer version is proposed again.
func Declines(prTitle, prBody, title string, bumps []Bump) bool {
	versions, ok := ProposedVersions(prBody)
	if !ok {
		return prTitle == title
	}
	for _, b := range bumps {
		if v, ok := versions[b.markerKey()]; !ok || v != b.Pin() {
			return false
		}
	}
	return len(bumps) > 0
}

// detailLines are the list items describing one bump: links and the
// appVersion change.
func detailLines(b Bump) []string {
	var lines []string
	if b.ToPin != "" {
		lines = append(lines, fmt.Sprintf("Range: `%s` → `%s`, which now admits `%s` (helm installs the highest version a range admits)",
			codeSpan(b.From), codeSpan(b.ToPin), codeSpan(b.To.Version)))
	}
	home := b.To.Home
	if home == "" && b.FromVersion != nil {
		home = b.FromVersion.Home
	}
	if u, ok := webURL(home); ok {
		lines = append(lines, "Home: "+u)
	}
	sources := b.To.Sources
	if len(sources) == 0 && b.FromVersion != nil {
		sources = b.FromVersion.Sources
	}
	var links []string
	for _, s := range sources {
		if u, ok := webURL(s); ok {
			links = append(links, u)
		}
	}
	if len(links) > 0 {
		lines = append(lines, "Sources: "+strings.Join(links, ", "))
	}
	oldApp := ""
	if b.FromVersion != nil {
		oldApp = b.FromVersion.AppVersion
	}
	switch newApp := b.To.AppVersion; {
	case oldApp != "" && newApp != "" && oldApp != newApp:
		lines = append(lines, fmt.Sprintf("appVersion: `%s` → `%s`", codeSpan(oldApp), codeSpan(newApp)))
	case newApp != "" && oldApp == newApp:
		lines = append(lines, fmt.Sprintf("appVersion: `%s` (unchanged)", codeSpan(newApp)))
	case newApp != "":
		lines = append(lines, fmt.Sprintf("appVersion: `%s`", codeSpan(newApp)))
	}
	if u, ok := b.CompareURL(); ok {
		lines = append(lines, "Changes: "+u)
	}
	return lines
}

// webURL returns s when it is an http(s) link that is safe to put in
// markdown as is.
func webURL(s string) (string, bool) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false
	}
	if strings.ContainsAny(s, " \t\r\n<>|`()[]") {
		return "", false
	}
	return s, true
}

// cell makes s safe inside a markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
}

// codeSpan makes s safe inside a single-backtick code span.
func codeSpan(s string) string {
	return strings.ReplaceAll(oneLine(s), "`", "'")
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
