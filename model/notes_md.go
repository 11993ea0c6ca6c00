package model

import (
	"fmt"
	"html"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Release notes are cut so that a pull request body stays readable and
// well under GitHub's limit of 65,536 characters: at most notesMaxVersions
// versions and notesBudget characters per dependency, and notesTotal
// characters for all the dependencies of a grouped pull request.
const (
	notesMaxVersions = 10
	notesBudget      = 6000
	notesTotal       = 24000
	notesMinBudget   = 1500
)

// releaseNotesSection is the "Release notes" part of a pull request body:
// one collapsed block per bump that has notes. It is empty when none has.
func releaseNotesSection(bumps []Bump) string {
	n := 0
	for _, b := range bumps {
		if b.Notes != nil {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	budget := max(min(notesBudget, notesTotal/n), notesMinBudget)
	var sb strings.Builder
	sb.WriteString("\n### Release notes\n")
	for _, b := range bumps {
		if b.Notes != nil {
			sb.WriteString("\n" + notesBlock(b, *b.Notes, budget))
		}
	}
	return sb.String()
}

// notesBlock writes one bump's notes in a <details> block, cut to budget
// characters.
func notesBlock(b Bump, n ReleaseNotes, budget int) string {
	repo := ownerRepo(n.Repository)
	more, hasMore := webURL(n.MoreURL)
	if n.Problem != "" {
		line := fmt.Sprintf("- %s: the release notes could not be read from GitHub", oneLine(b.Dependency))
		if hasMore {
			line += "; see " + more
		}
		return line + ".\n"
	}
	from := "GitHub releases"
	if repo != "" {
		from += " of " + repo
	}
	if n.Source == NotesFromChanges {
		from = "artifacthub.io/changes"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "<details>\n<summary>%s %s → %s (%s)</summary>\n\n",
		html.EscapeString(oneLine(b.Dependency)), html.EscapeString(oneLine(b.From)), html.EscapeString(oneLine(b.To.Version)), html.EscapeString(from))
	used, shown := 0, 0
	for i, v := range n.Versions {
		if i == notesMaxVersions {
			break
		}
		block := versionBlock(v, repo, 0)
		if used+len(block) > budget {
			if i > 0 {
				break
			}
			// The newest version alone is too long: show its start.
			block = versionBlock(v, repo, budget)
		}
		sb.WriteString(block)
		used += len(block)
		shown++
	}
	if left := len(n.Versions) - shown; left > 0 {
		fmt.Fprintf(&sb, "_%d more %s not shown", left, plural(left, "version", "versions"))
		if hasMore {
			sb.WriteString(": " + more)
		}
		sb.WriteString("._\n\n")
	} else if hasMore && n.Source == NotesFromReleases {
		sb.WriteString("All changes: " + more + "\n\n")
	}
	sb.WriteString("</details>\n")
	return sb.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// versionBlock is one version's notes: a heading, then the annotation's
// changes as a list or the release's notes made safe. A limit above zero
// cuts them to about that many characters, saying where the rest is.
func versionBlock(v VersionNotes, repo string, limit int) string {
	var sb strings.Builder
	heading := "`" + codeSpan(v.Version) + "`"
	if v.Tag != "" {
		heading = "`" + codeSpan(v.Tag) + "`"
	}
	u, hasURL := webURL(v.URL)
	if hasURL {
		heading = "[" + heading + "](" + u + ")"
	}
	if name := oneLine(v.Name); name != "" && name != v.Tag && name != v.Version {
		heading += ": " + inlineText(name, repo)
	}
	if !v.Published.IsZero() {
		heading += " (" + v.Published.UTC().Format("2006-01-02") + ")"
	}
	sb.WriteString("#### " + heading + "\n\n")
	room := limit - sb.Len() - 200 // what the changes and the body may take
	for i, c := range v.Changes {
		line := "- " + changeLine(c, repo) + "\n"
		if limit > 0 && len(line) > room {
			fmt.Fprintf(&sb, "- _%d more %s not shown._\n", len(v.Changes)-i, plural(len(v.Changes)-i, "change", "changes"))
			break
		}
		sb.WriteString(line)
		room -= len(line)
	}
	if v.Problem != "" {
		sb.WriteString("- _" + htmlText.Replace(oneLine(v.Problem)) + "_\n")
	}
	if len(v.Changes) > 0 || v.Problem != "" {
		sb.WriteString("\n")
	}
	switch body := safeMarkdown(v.Body, repo); {
	case strings.TrimSpace(body) == "" && v.Tag != "":
		sb.WriteString("_No release notes._\n\n")
	case strings.TrimSpace(body) == "":
	case limit > 0:
		body, cut := cutMarkdown(body, room)
		sb.WriteString(body + "\n\n")
		if cut {
			sb.WriteString("_Cut short")
			if hasURL {
				sb.WriteString(": the rest is at " + u)
			}
			sb.WriteString("._\n\n")
		}
	default:
		sb.WriteString(body + "\n\n")
	}
	return sb.String()
}

// changeLine is one change as a list item: "**Added**: description
// ([name](url))".
func changeLine(c Change, repo string) string {
	line := inlineText(c.Description, repo)
	if c.Kind != "" {
		line = "**" + strings.ToUpper(c.Kind[:1]) + c.Kind[1:] + "**: " + line
	}
	var links []string
	for _, l := range c.Links {
		u, ok := webURL(l.URL)
		if !ok {
			continue
		}
		u = issueLink.ReplaceAllString(u, "https://redirect.github.com/$1")
		name := strings.NewReplacer("[", `\[`, "]", `\]`).Replace(inlineText(l.Name, repo))
		if name == "" {
			name = u
		}
		links = append(links, "["+name+"]("+u+")")
	}
	if len(links) > 0 {
		line += " (" + strings.Join(links, ", ") + ")"
	}
	return line
}

// inlineText makes one line of third-party text safe in a list item or a
// heading: neutralised outside code, block tags escaped.
func inlineText(s, repo string) string {
	s = outsideCode(oneLine(s), func(t string) string { return neutralise(t, repo) })
	return blockTag.ReplaceAllStringFunc(s, func(m string) string { return "&lt;" + m[1:] })
}

// ownerRepo reduces https://github.com/owner/name to owner/name.
func ownerRepo(repoURL string) string {
	s, ok := strings.CutPrefix(repoURL, "https://github.com/")
	if !ok || strings.Count(s, "/") != 1 {
		return ""
	}
	return s
}

// safeMarkdown makes third-party markdown (a release's notes) safe to nest
// in the pull request body: mentions no longer notify anyone, issue and
// pull request references point at the source repository without
// cross-referencing it (through redirect.github.com, as Dependabot and
// Renovate do), HTML comments cannot hide the rest of the body, block
// tags left open or closed too often cannot break out of the <details>
// block, and a code fence left open is closed. Code is left as it is.
func safeMarkdown(s, repo string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	outsideFences(lines, func(i int) {
		lines[i] = outsideCode(lines[i], func(t string) string { return neutralise(t, repo) })
	})
	return finishMarkdown(lines)
}

// cutMarkdown cuts s to at most about budget characters, at a line end
// where it can, and closes what the cut left open.
func cutMarkdown(s string, budget int) (string, bool) {
	budget = max(budget, 200)
	if len(s) <= budget {
		return s, false
	}
	cut := s[:budget]
	if i := strings.LastIndexByte(cut, '\n'); i > budget/2 {
		cut = cut[:i]
	} else {
		for len(cut) > 0 && !utf8.ValidString(cut) {
			cut = cut[:len(cut)-1]
		}
	}
	return finishMarkdown(strings.Split(cut, "\n")), true
}

// htmlText escapes what HTML would read in text.
var htmlText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

var blockTag = regexp.MustCompile(`(?i)<(/?)(details|summary|pre|script|style|textarea)\b`)

// finishMarkdown joins lines, escaping the block tags whose openings and
// closings do not pair up outside code fences, and closing a fence left
// open at the end.
func finishMarkdown(lines []string) string {
	opens, closes := map[string]int{}, map[string]int{}
	outsideFences(lines, func(i int) {
		for _, m := range blockTag.FindAllStringSubmatch(lines[i], -1) {
			if m[1] == "" {
				opens[strings.ToLower(m[2])]++
			} else {
				closes[strings.ToLower(m[2])]++
			}
		}
	})
	fence := outsideFences(lines, func(i int) {
		lines[i] = blockTag.ReplaceAllStringFunc(lines[i], func(m string) string {
			name := strings.ToLower(strings.TrimLeft(m, "</"))
			if opens[name] == closes[name] {
				return m
			}
			return "&lt;" + m[1:]
		})
	})
	out := strings.Join(lines, "\n")
	if fence != "" {
		out += "\n" + fence
	}
	return out
}

// outsideFences calls fn with the index of each line that is neither in a
// fenced code block nor one of its fences, and returns the fence left open
// at the end ("" when none).
func outsideFences(lines []string, fn func(i int)) (open string) {
	for i, l := range lines {
		if open != "" {
			if closesFence(l, open) {
				open = ""
			}
			continue
		}
		if f, ok := opensFence(l); ok {
			open = f
			continue
		}
		fn(i)
	}
	return open
}

// opensFence reports whether line opens a fenced code block, and its fence
// (three or more backticks or tildes). Indentation is not limited, since
// a fence inside a list item is indented.
func opensFence(line string) (string, bool) {
	t := strings.TrimLeft(line, " \t")
	for _, c := range []byte{'`', '~'} {
		n := 0
		for n < len(t) && t[n] == c {
			n++
		}
		if n >= 3 && (c == '~' || !strings.Contains(t[n:], "`")) {
			return t[:n], true
		}
	}
	return "", false
}

// closesFence reports whether line closes the fence opened with fence.
func closesFence(line, fence string) bool {
	t := strings.TrimSpace(line)
	return len(t) >= len(fence) && strings.Trim(t, fence[:1]) == ""
}

// outsideCode applies fn to the parts of a line outside inline code spans.
func outsideCode(line string, fn func(string) string) string {
	var sb strings.Builder
	for line != "" {
		i := strings.IndexByte(line, '`')
		if i < 0 {
			sb.WriteString(fn(line))
			break
		}
		sb.WriteString(fn(line[:i]))
		n := i
		for n < len(line) && line[n] == '`' {
			n++
		}
		run := line[i:n]
		end := closingRun(line[n:], run)
		if end < 0 {
			// No closing run: the backticks are literal.
			sb.WriteString(run)
			line = line[n:]
			continue
		}
		sb.WriteString(line[i : n+end+len(run)])
		line = line[n+end+len(run):]
	}
	return sb.String()
}

// closingRun finds the next run of exactly len(run) backticks in s.
func closingRun(s, run string) int {
	for off := 0; off < len(s); {
		i := strings.Index(s[off:], run)
		if i < 0 {
			return -1
		}
		i += off
		j := i + len(run)
		if (i == 0 || s[i-1] != '`') && (j == len(s) || s[j] != '`') {
			return i
		}
		for j < len(s) && s[j] == '`' {
			j++
		}
		off = j
	}
	return -1
}

var (
	// mention is an @user or @org/team mention: an @ not preceded by a
	// letter, digit or the characters a URL or an e-mail address puts
	// there.
	mention = regexp.MustCompile(`(^|[^A-Za-z0-9_/.@-])@([A-Za-z0-9][A-Za-z0-9-]*)`)
	// issueLink is a link to an issue or pull request on github.com.
	issueLink = regexp.MustCompile(`https?://(?:www\.)?github\.com/([A-Za-z0-9-]+/[A-Za-z0-9._-]+/(?:issues|pull)/[0-9]+)`)
	// crossRef is an owner/name#123 reference.
	crossRef = regexp.MustCompile(`(^|[\s(])([A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+)#([0-9]+)\b`)
	// issueRef is a #123 reference.
	issueRef = regexp.MustCompile(`(^|[\s(])#([0-9]+)\b`)
)

// neutralise rewrites text outside code so that nothing in it pings,
// cross-references or hides anything (see safeMarkdown).
func neutralise(s, repo string) string {
	s = strings.ReplaceAll(s, "<!--", "&lt;!--")
	s = issueLink.ReplaceAllString(s, "https://redirect.github.com/$1")
	s = crossRef.ReplaceAllString(s, "${1}[${2}#${3}](https://redirect.github.com/${2}/issues/${3})")
	if repo != "" {
		s = issueRef.ReplaceAllString(s, "${1}["+repo+"#${2}](https://redirect.github.com/"+repo+"/issues/${2})")
	} else {
		s = issueRef.ReplaceAllString(s, "${1}#&#8203;${2}")
	}
	return mention.ReplaceAllString(s, "${1}@&#8203;${2}")
}
