package model

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// The status issue's dependencies section: a summary, then the charts and
// the images by file, one table row each with its state and pull request.

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
