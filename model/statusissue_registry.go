package model

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The status issue's Registry section: each registry's size against its cap,
// the forecast, the deletions, and what holds images back.

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
