package model

import (
	"cmp"
	"fmt"
	"maps"
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

// chartLines are the dependencies section's lines: a summary, then one
// table per file; with image rows, the charts and the images each under a
// heading of their own.
func chartLines(rows []DependencyStatus) []string {
	if len(rows) == 0 {
		return []string{"_No dependencies followed in this repository._"}
	}
	lines := []string{statusSummary(rows)}
	images := slices.ContainsFunc(rows, func(r DependencyStatus) bool { return r.IsImage() })
	for _, kind := range []struct {
		image          bool
		heading        string
		header, border string
	}{
		{false, "### Charts", "| Dependency | Pinned | Newest | Status | Pull request |", "| --- | --- | --- | --- | --- |"},
		{true, "### Images", "| Image | Path | Pinned | Newest | Status | Pull request |", "| --- | --- | --- | --- | --- | --- |"},
	} {
		var files []string
		byFile := map[string][]int{}
		for i := range rows {
			if f := rows[i].File; rows[i].IsImage() == kind.image {
				if _, ok := byFile[f]; !ok {
					files = append(files, f)
				}
				byFile[f] = append(byFile[f], i)
			}
		}
		level := "###"
		if images && len(files) > 0 {
			lines = append(lines, "", kind.heading)
			level = "####"
		}
		for _, f := range files {
			title := level + " `" + codeSpan(cmp.Or(f, "(no file)")) + "`"
			if b := rows[byFile[f][0]].Base; b != "" {
				title += " on `" + codeSpan(b) + "`"
			}
			lines = append(lines, "", title, "", kind.header, kind.border)
			for _, i := range byFile[f] {
				lines = append(lines, rowLine(&rows[i]))
			}
		}
	}
	return lines
}

// statusSummary counts the rows by what they need: "4 dependencies: 1 up
// to date, 2 with a pull request, 1 outdated."
func statusSummary(rows []DependencyStatus) string {
	count := map[string]int{}
	for i := range rows {
		count[summaryGroup(&rows[i])]++
		if rows[i].IsImage() {
			count["image"]++
		}
	}
	var parts []string
	for _, g := range []string{"up to date", "with a pull request", "outdated", "declined", "edited by someone", "skipped", "failed"} {
		if n := count[g]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, g))
		}
	}
	kinds := ""
	switch n, c := count["image"], len(rows)-count["image"]; {
	case n > 0 && c > 0:
		kinds = fmt.Sprintf(" (%d %s, %d %s)", c, plural(c, "chart", "charts"), n, plural(n, "image", "images"))
	case n > 0:
		kinds = " (" + plural(n, "an image", "all images") + ")"
	}
	return fmt.Sprintf("%d %s%s: %s.", len(rows), plural(len(rows), "dependency", "dependencies"), kinds, strings.Join(parts, ", "))
}

func summaryGroup(r *DependencyStatus) string {
	switch r.State {
	case StateUpToDate:
		return "up to date"
	case StatePROpen, StatePROpened, StatePRUpdated:
		return "with a pull request"
	case StateOutdated:
		return "outdated"
	case StatePRClosed:
		return "declined"
	case StateEdited:
		return "edited by someone"
	case StateSkipped:
		return "skipped"
	}
	return "failed"
}

// rowLine is one dependency's table row.
func rowLine(r *DependencyStatus) string {
	pinned, newest := "", ""
	if r.Current != "" {
		pinned = "`" + codeSpan(clip(r.Current, maxCellRunes)) + "`"
	}
	if r.Latest.Version != "" {
		newest = "`" + codeSpan(clip(r.Latest.Version, maxCellRunes)) + "`"
		if r.NewPin != "" && r.NewPin != r.Latest.Version {
			newest += " (as `" + codeSpan(clip(r.NewPin, maxCellRunes)) + "`)"
		}
	}
	compare := r.ImageCompare
	if !r.IsImage() {
		compare, _ = r.Bump().CompareURL()
	}
	if u, ok := webURL(compare); ok && newest != "" {
		newest += " ([changes](" + u + "))"
	}
	name := []string{prose(cmp.Or(r.Dependency, "(unnamed)"))}
	if r.IsImage() {
		name = []string{"`" + codeSpan(clip(cmp.Or(r.Image, "(unnamed)"), maxCellRunes)) + "`", "`" + codeSpan(clip(cmp.Or(r.Path, r.Dependency), maxCellRunes)) + "`"}
	}
	return "| " + strings.Join(append(name, pinned, newest, stateCell(r), prCell(r)), " | ") + " |"
}

// stateCell words a row's state, with its error or warning.
func stateCell(r *DependencyStatus) string {
	var s string
	switch r.State {
	case StateUpToDate:
		s = "✅ up to date"
	case StateOutdated:
		s = "⬆️ outdated"
	case StatePROpen:
		s = "🔀 pull request open"
	case StatePROpened:
		s = "🔀 pull request opened"
	case StatePRUpdated:
		s = "🔀 pull request updated"
	case StatePRClosed:
		s = "🚫 declined: its pull request was closed"
	case StateEdited:
		s = "✋ edited: its branch has someone else's commit"
	case StateSkipped:
		s = "⏭️ skipped"
	case StateError:
		s = "❗ error"
	default:
		s = prose(string(r.State))
	}
	switch {
	case r.Error != "":
		s += ": " + prose(r.Error)
	case r.Warning != "":
		s += ": " + prose(r.Warning)
	}
	return s
}

// prCell is a row's pull request: a link, its state, age, checks and
// mergeability; a pull request merged since the last run.
func prCell(r *DependencyStatus) string {
	var parts []string
	if r.PRNumber > 0 {
		link := fmt.Sprintf("#%d", r.PRNumber)
		if u, ok := webURL(r.PRURL); ok {
			link = fmt.Sprintf("[#%d](%s)", r.PRNumber, u)
		}
		switch r.PullRequestState() {
		case "open":
			if !r.PRCreatedAt.IsZero() {
				link += " since " + r.PRCreatedAt.UTC().Format("2006-01-02")
			}
		case "closed":
			link += " closed"
		}
		parts = append(parts, link)
		if r.PullRequestState() == "open" {
			parts = append(parts, prDetails(r)...)
		}
	}
	if m := r.Merged; m != nil {
		link := fmt.Sprintf("#%d", m.Number)
		if u, ok := webURL(m.URL); ok {
			link = fmt.Sprintf("[#%d](%s)", m.Number, u)
		}
		merged := "merged " + link
		if !m.MergedAt.IsZero() {
			merged += " on " + m.MergedAt.UTC().Format("2006-01-02")
		}
		parts = append(parts, merged)
	}
	return strings.Join(parts, ", ")
}

// prDetails words an open pull request's checks and mergeability.
func prDetails(r *DependencyStatus) []string {
	var out []string
	switch r.PRChecks {
	case ChecksPassing:
		out = append(out, "checks ✅ passing")
	case ChecksFailing:
		s := "checks ❌ failing"
		if len(r.PRFailedChecks) > 0 {
			s += ": " + prose(strings.Join(r.PRFailedChecks, ", "))
		}
		out = append(out, s)
	case ChecksPending:
		out = append(out, "checks ⏳ pending")
	case ChecksNone:
		out = append(out, "no checks")
	case ChecksUnknown:
		out = append(out, "checks unknown")
	}
	switch {
	case r.PRMergeable != nil && *r.PRMergeable:
		out = append(out, "mergeable")
	case r.PRMergeable != nil && r.PRMergeableState == "dirty":
		out = append(out, "conflicts")
	case r.PRMergeable != nil:
		out = append(out, "not mergeable ("+prose(r.PRMergeableState)+")")
	}
	return out
}

// registryLines are the registry section's lines.
func registryLines(r *RegistryStatus) []string {
	name := "**`" + codeSpan(clip(r.URL, maxCellRunes)) + "`**"
	if r.ScanError != "" {
		return []string{name + ": ❗ the scan failed: " + prose(r.ScanError)}
	}
	lines := []string{name, "", "- **Size:** " + sizeLine(r)}
	images := fmt.Sprintf("- **Images:** %d", r.Images)
	if r.UntaggedImages > 0 {
		images += fmt.Sprintf(" (%d untagged)", r.UntaggedImages)
	}
	lines = append(lines, images, "- **Forecast:** "+forecastLine(r))
	policy := "nothing to delete"
	if r.Planned > 0 {
		policy = fmt.Sprintf("would delete %d image%s, freeing %s", r.Planned, plural(r.Planned, "", "s"), FormatBytes(r.PlannedBytes))
	}
	lines = append(lines, "- **Policy:** "+policy, "- **This run's deletions:** "+deletionsLine(r))
	if r.Problems > 0 {
		lines = append(lines, fmt.Sprintf("- **Scan problems:** %d; the run's log and JSON report name them", r.Problems))
	}
	for i, f := range r.Failures {
		if i == maxListedFailure {
			lines = append(lines, fmt.Sprintf("  - and %d more", len(r.Failures)-i))
			break
		}
		lines = append(lines, "  - `"+codeSpan(clip(f.Ref, maxCellRunes))+"`: "+prose(f.Error))
	}
	return append(lines, holdLines(r)...)
}

// sizeLine is the size against the cap, with a gauge.
func sizeLine(r *RegistryStatus) string {
	if r.CapBytes <= 0 {
		return FormatBytes(r.TotalBytes) + " (no cap configured)" + sizeAfter(r)
	}
	pct := float64(r.TotalBytes) / float64(r.CapBytes) * 100
	filled := min(int(pct/10+0.5), 10)
	gauge := "`" + strings.Repeat("█", filled) + strings.Repeat("░", 10-filled) + "`"
	s := fmt.Sprintf("%s of the %s cap (%.0f%%) %s", FormatBytes(r.TotalBytes), FormatBytes(r.CapBytes), pct, gauge)
	if over := r.TotalBytes - r.CapBytes; over > 0 {
		s += fmt.Sprintf(" ⚠️ over by %s", FormatBytes(over))
	}
	return s + sizeAfter(r)
}

// sizeAfter is what the size comes to after the run's deletions.
func sizeAfter(r *RegistryStatus) string {
	if !r.Applied || r.FreedBytes <= 0 {
		return ""
	}
	return "; " + FormatBytes(max(r.TotalBytes-r.FreedBytes, 0)) + " after this run's deletions"
}

func forecastLine(r *RegistryStatus) string {
	f := r.Forecast
	if f == nil {
		return "none yet (" + prose(cmp.Or(r.ForecastNote, "too few runs")) + ")"
	}
	s := fmt.Sprintf("growing %s a week", FormatBytes(f.GrowthBytesPerWeek))
	switch {
	case f.OverCap:
		s += "; already over the cap"
	case !f.CapReachedAt.IsZero():
		s += "; the cap is reached about " + f.CapReachedAt.UTC().Format("2006-01-02")
	case r.ForecastNote != "":
		s += "; " + prose(r.ForecastNote)
	}
	return s + fmt.Sprintf(" (from %d runs)", f.BasedOnRuns)
}

func deletionsLine(r *RegistryStatus) string {
	switch {
	case r.Refused != "":
		return "none: the plan was refused: " + prose(r.Refused)
	case !r.Applied:
		return "none (a dry run, or nothing to delete)"
	}
	s := fmt.Sprintf("%d deleted, %s freed", r.Deleted, FormatBytes(r.FreedBytes))
	if n := len(r.Failures); n > 0 {
		s += fmt.Sprintf(", ❗ %d failed", n)
	}
	if r.NotSent > 0 {
		s += fmt.Sprintf(", %d not sent", r.NotSent)
	}
	return s
}

// holdWords words the report's hold keys; usage's come first.
var holdWords = []struct{ key, words string }{
	{"in_use", "in use by a running pod"},
	{"launched", "launched recently"},
	{"usage-unknown", "usage unknown: a usage source failed"},
	{"protected", "protected by a pattern"},
	{"locked", "locked in the registry"},
	{"keep-latest", "among the newest of their repository (keep_latest)"},
	{"undated", "undated (keep_latest is set)"},
	{"incomplete", "in a repository whose scan is incomplete"},
	{"in-index", "platforms of a kept index"},
	{"with-subject", "signatures and SBOMs of kept images"},
}

// holdLines are the held images by hold, and what usage holds back.
func holdLines(r *RegistryStatus) []string {
	var lines []string
	known := map[string]bool{}
	add := func(key, words string) {
		known[key] = true
		if n := r.Held[key]; n > 0 {
			lines = append(lines, fmt.Sprintf("| %s | %d |", words, n))
		}
	}
	for _, h := range holdWords {
		words := h.words
		if h.key == "launched" && r.Usage != nil && r.Usage.Window != "" {
			words = "launched within " + prose(r.Usage.Window)
		}
		add(h.key, words)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Held)) {
		if !known[k] {
			add(k, prose(k))
		}
	}
	out := []string{"", "### Held back", ""}
	if len(lines) == 0 {
		out = append(out, "No image is held back.")
	} else {
		out = append(out, "| Held because | Images |", "| --- | ---: |")
		out = append(out, lines...)
	}
	u := r.Usage
	if u == nil {
		return out
	}
	out = append(out, "", fmt.Sprintf("Usage holds back %d launched and %d in-use image%s, %s.",
		u.LaunchedImages, u.InUseImages, plural(u.InUseImages, "", "s"), FormatBytes(u.HeldBytes)))
	for _, f := range u.Failing {
		out = append(out, "", "❗ The usage source `"+codeSpan(clip(f.Source, maxCellRunes))+"` could not be read, so nothing is deleted: "+prose(f.Error))
	}
	return out
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
