package model

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// The status issue (github.status_issue) is one GitHub issue per
// deployment repository that each headless run rewrites, like Renovate's
// Dependency Dashboard: the repository's dependency rows with their pull
// requests, and the registry against its cap.

const (
	// StatusIssueTitle is the title a status issue is opened with.
	StatusIssueTitle = "helmupgradebot: dependencies and registry"
	// StatusIssueMarker is the hidden comment that makes an issue a status
	// issue: the bot looks for it among the issues it opened.
	StatusIssueMarker = "<!-- helmupgradebot-status-issue -->"
	// MaxIssueBody is GitHub's limit on an issue's body, in characters.
	MaxIssueBody = 65536
)

// Limits that keep a status issue readable.
const (
	maxCellRunes     = 200 // a table cell's text (an error, a warning)
	maxListedFailure = 10  // failed deletions listed by name
)

// StatusIssue is what a run knows for one repository's status issue. A
// part the run did not do (nil Registry, ChartsChecked false) is carried
// over from the issue's previous body.
type StatusIssue struct {
	// Rows are the repository's dependency rows, in the run's order.
	Rows []DependencyStatus
	// ChartsChecked: the run checked the dependencies (Rows may still be
	// empty).
	ChartsChecked bool
	// Registry is the registry as the run saw it; nil when it did not scan.
	Registry *RegistryStatus
}

// RegistryStatus is the registry as a run saw it and what the run did.
type RegistryStatus struct {
	URL string
	// ScanError says why the scan failed; nothing else is known then.
	ScanError string
	// TotalBytes is the deduplicated size; CapBytes the cap (0: none).
	TotalBytes, CapBytes   int64
	Images, UntaggedImages int
	// Planned and PlannedBytes are what the policy would delete.
	Planned      int
	PlannedBytes int64
	// Forecast is the growth fit, nil without one; ForecastNote says why
	// there is none, or why a fit has no date.
	Forecast     *Forecast
	ForecastNote string
	// Applied: the run sent its deletions; Deleted, FreedBytes, Failures
	// and NotSent say how that went. Refused says why a plan was not
	// applied (max_delete_fraction).
	Applied    bool
	Refused    string
	Deleted    int
	FreedBytes int64
	Failures   []DeletionFailure
	NotSent    int
	// Held counts the images the plan keeps, by hold, as the JSON report
	// spells them (protected, in_use, launched, …).
	Held map[string]int
	// Usage is what the usage sources hold back; nil without sources.
	Usage *UsageStatus
	// Problems counts the scan's problems (the report lists them).
	Problems int
}

// DeletionFailure is a deletion that did not succeed.
type DeletionFailure struct {
	Ref   string // repository@digest
	Error string
}

// UsageStatus is what the usage sources hold back.
type UsageStatus struct {
	// Window is keep_launched_within as configured ("30d").
	Window                      string
	LaunchedImages, InUseImages int
	HeldBytes                   int64
	// Failing are the sources that could not be read: nothing is deleted.
	Failing []UsageFailure
}

// UsageFailure is a usage source that could not be read.
type UsageFailure struct {
	Source, Error string
}

// The sections of a status issue's body, each between a start and an end
// comment so that a run can carry over the one it did not redo.
const (
	sectionCharts   = "charts"
	sectionRegistry = "registry"
)

func sectionStart(name string) string { return "<!-- helmupgradebot-status: " + name + " -->" }
func sectionEnd(name string) string   { return "<!-- helmupgradebot-status-end: " + name + " -->" }

// IsStatusIssue reports whether body is a status issue's.
func IsStatusIssue(body string) bool { return strings.Contains(body, StatusIssueMarker) }

// StatusIssueBody writes a status issue's GitHub-markdown body from what
// the run knows, carrying over from previous (the issue's body, "" for a
// new issue) each section the run did not redo. It never exceeds
// MaxIssueBody: dependency rows that do not fit are left out with a note.
// Nothing in it depends on the time of the run, so an unchanged state
// gives the same body.
func StatusIssueBody(previous string, s StatusIssue) string {
	head := StatusIssueMarker + "\n" +
		"helmupgradebot rewrites this issue after each run: where this repository's dependencies and the container registry stand. " +
		"Close it to turn it off for this repository (helmupgradebot never reopens it); reopen it to turn it back on.\n"
	foot := "\n---\n_Written by helmupgradebot (`github.status_issue`). Edits to this issue are overwritten by the next run._\n"

	var reg section
	if s.Registry != nil {
		reg = section{name: sectionRegistry, lines: registryLines(s.Registry)}
	} else {
		reg = carried(previous, sectionRegistry)
	}
	var charts section
	if s.ChartsChecked {
		charts = section{name: sectionCharts, lines: chartLines(s.Rows)}
	} else {
		charts = carried(previous, sectionCharts)
	}
	regText := reg.render("Registry", MaxIssueBody)
	budget := MaxIssueBody - len(head) - len(foot) - len(regText)
	return head + charts.render("Dependencies", budget) + regText + foot
}

// section is one part of the body: its lines (nil when unknown), and
// whether they were carried over from the previous body.
type section struct {
	name    string
	lines   []string
	carried bool
}

// carried is the previous body's section, or an unknown one.
func carried(previous, name string) section {
	previous = strings.ReplaceAll(previous, "\r\n", "\n") // as GitHub keeps a body edited on the web
	_, rest, ok := strings.Cut(previous, sectionStart(name)+"\n")
	if !ok {
		return section{name: name}
	}
	content, _, ok := strings.Cut(rest, sectionEnd(name))
	if !ok {
		return section{name: name}
	}
	return section{name: name, lines: strings.Split(strings.TrimRight(content, "\n"), "\n"), carried: true}
}

// render writes the section under its heading in at most budget bytes.
func (s section) render(heading string, budget int) string {
	out := "\n## " + heading + "\n\n"
	switch {
	case s.lines == nil:
		return out + "_Not checked yet._\n"
	case s.carried:
		out += "_The latest run did not check this: as an earlier run left it._\n\n"
	}
	start, end := sectionStart(s.name)+"\n", sectionEnd(s.name)+"\n"
	// A blank line before the end comment ends a table above it.
	lines := fitLines(s.lines, budget-len(out)-len(start)-len(end)-1)
	return out + start + strings.Join(lines, "\n") + "\n\n" + end
}

// fitLines keeps the lines that fit in budget bytes (newlines counted),
// and then a note saying how many table rows were left out.
func fitLines(lines []string, budget int) []string {
	size := 0
	for _, l := range lines {
		size += len(l) + 1
	}
	if size <= budget {
		return lines
	}
	const reserve = 200 // the note
	size = 0
	n := 0
	for n < len(lines) && size+len(lines[n])+1 <= budget-reserve {
		size += len(lines[n]) + 1
		n++
	}
	omitted := tableRows(lines[n:])
	note := "_This issue is cut to fit GitHub's size limit"
	if omitted > 0 {
		note += fmt.Sprintf(": %d more row%s left out", omitted, plural(omitted, "", "s"))
	}
	note += ". The run's JSON report (`--headless --json`) has every one._"
	return append(slices.Clip(lines[:n]), "", note)
}

// tableRows counts the body rows of markdown tables among lines: lines
// starting "|" that are neither a header (followed by "| ---") nor the
// separator itself.
func tableRows(lines []string) int {
	n := 0
	for i, l := range lines {
		switch {
		case !strings.HasPrefix(l, "|"), strings.HasPrefix(l, "| ---"):
		case i+1 < len(lines) && strings.HasPrefix(lines[i+1], "| ---"):
		default:
			n++
		}
	}
	return n
}

// prose makes text safe and short inside the body: one line, no table
// breaks, no HTML (a comment could end a section), no @mentions that
// would notify people on every edit.
func prose(s string) string {
	s = clip(oneLine(s), maxCellRunes)
	s = strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "@", "@&#8203;").Replace(s)
	return s
}

// clip cuts s to at most n runes, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
