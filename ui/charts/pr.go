package charts

import (
	"fmt"
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// The Charts tab's PR column: an open pull request's age, checks and
// mergeability, or a pull request merged since the last run. It shows
// only when some row has one to describe.

// prNarrowW is the PR column's width on a narrow terminal ("13d ✗ conflict");
// prWideW spells the same out ("13d · ✗ checks fail · conflicts"), from
// PRWideAt cells on when there is room. Narrower still, the column goes.
const (
	prNarrowW = 15
	prWideW   = 38
	PRWideAt  = 140
)

// hasPRColumn reports whether some row has something for the PR column.
func (s *Model) hasPRColumn(now time.Time) bool {
	for _, r := range s.rows {
		if prCell(r, now, false) != "" {
			return true
		}
	}
	return false
}

// described reports whether the check read the row's open pull request.
func described(r model.DependencyStatus) bool {
	return r.HasOpenPR() && (r.PRChecks != "" || r.PRMergeableState != "" || !r.PRCreatedAt.IsZero())
}

// prAge is how long ago t was, "" when unknown.
func prAge(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return model.FormatAge(max(now.Sub(t), 0))
}

// checksText is a row's checks: a mark, and in long form words.
func checksText(r model.DependencyStatus, long bool) string {
	mark, word := "?", "checks unknown"
	switch r.PRChecks {
	case "":
		return ""
	case model.ChecksPassing:
		mark, word = "✓", "checks pass"
	case model.ChecksFailing:
		mark, word = "✗", "checks fail"
	case model.ChecksPending:
		mark, word = "*", "checks pending"
	case model.ChecksNone:
		mark, word = "-", "no checks"
	}
	if long {
		return mark + " " + word
	}
	return mark
}

// mergeText is a row's mergeability in a word or, long, a few.
func mergeText(r model.DependencyStatus, long bool) string {
	short, words := "merge?", "mergeable?"
	switch m := r.PRMergeable; {
	case m == nil && r.PRMergeableState == "":
		return ""
	case m == nil: // GitHub is still computing it, or would not say
	case !*m && r.PRMergeableState == "dirty":
		short, words = "conflict", "conflicts"
	case !*m:
		short, words = "unmergeable", "not mergeable"
	case r.PRMergeableState == "blocked":
		short, words = "blocked", "blocked"
	case r.PRMergeableState == "behind":
		short, words = "behind", "behind base"
	case r.PRMergeableState == "draft":
		short, words = "draft", "draft"
	default: // clean, unstable (the checks say why), has_hooks
		short, words = "mergeable", "mergeable"
	}
	if long {
		return words
	}
	return short
}

// prCell is the PR column for a row: "13d ✗ conflict", or "merged #12 3h"
// for a pull request merged since the last run; long spells it out. ""
// when there is nothing to show.
func prCell(r model.DependencyStatus, now time.Time, long bool) string {
	if described(r) {
		var parts []string
		for _, p := range []string{prAge(r.PRCreatedAt, now), checksText(r, long), mergeText(r, long)} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		sep := " "
		if long {
			sep = " · "
		}
		return strings.Join(parts, sep)
	}
	if m := r.Merged; m != nil && !r.HasOpenPR() {
		ago := prAge(m.MergedAt, now)
		if long && ago != "" {
			ago += " ago"
		}
		return strings.TrimSpace(fmt.Sprintf("merged #%d %s", m.Number, ago))
	}
	return ""
}

// prStyle colours a PR cell: red for failing checks or a conflict,
// yellow while something is pending or unknown, green when it is ready or
// merged.
func (s *Model) prStyle(r model.DependencyStatus, cell string) string {
	st := s.c.Styles
	switch {
	case strings.TrimSpace(cell) == "":
		return cell
	case !described(r):
		return st.OK.Render(cell) // merged
	case r.PRChecks == model.ChecksFailing || (r.PRMergeable != nil && !*r.PRMergeable):
		return st.Error.Render(cell)
	case r.PRChecks == model.ChecksPassing && r.PRMergeable != nil && r.PRMergeableState != "blocked" && r.PRMergeableState != "behind":
		return st.OK.Render(cell)
	}
	return st.Warn.Render(cell)
}

// prAbout describes a row's open pull request for the details:
// "opened 9d ago · ✗ checks fail: test, lint · conflicts with main".
func prAbout(r model.DependencyStatus, now time.Time) string {
	if !described(r) {
		return ""
	}
	var parts []string
	if age := prAge(r.PRCreatedAt, now); age != "" {
		parts = append(parts, "opened "+age+" ago")
	}
	if c := checksText(r, true); c != "" {
		if len(r.PRFailedChecks) > 0 {
			c += ": " + strings.Join(r.PRFailedChecks, ", ")
		}
		parts = append(parts, c)
	}
	if m := mergeText(r, true); m != "" {
		if r.PRMergeableState == "dirty" && r.Base != "" {
			m = "conflicts with " + r.Base
		}
		parts = append(parts, m)
	}
	return strings.Join(parts, " · ")
}

// withMerged adds a pull request merged since the last run to a row's
// last details line.
func withMerged(third string, r model.DependencyStatus, now time.Time) string {
	m := r.Merged
	if m == nil {
		return third
	}
	note := fmt.Sprintf("PR #%d merged", m.Number)
	if ago := prAge(m.MergedAt, now); ago != "" {
		note += " " + ago + " ago"
	}
	if third == "" {
		return note + " since the last run: " + m.URL
	}
	return third + " · " + note
}

// mergedCount counts the rows with a pull request merged since the last run.
func mergedCount(rows []model.DependencyStatus) int {
	n := 0
	for _, r := range rows {
		if r.Merged != nil {
			n++
		}
	}
	return n
}
