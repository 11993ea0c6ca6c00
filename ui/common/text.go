package common

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Fit cuts s to w cells (ending in "…" when cut) and pads it to exactly w.
func Fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := ansi.StringWidth(s)
	if n > w {
		s = ansi.Truncate(s, w, "…")
		n = ansi.StringWidth(s)
	}
	if n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// FitRight is fit aligned right.
func FitRight(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := ansi.StringWidth(s)
	if n > w {
		return ansi.Truncate(s, w, "…")
	}
	return strings.Repeat(" ", w-n) + s
}

// FitMiddle is fit that cuts in the middle, keeping both ends: version
// strings end in the part that tells them apart (a commit hash).
func FitMiddle(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := ansi.StringWidth(s)
	if n <= w {
		return s + strings.Repeat(" ", w-n)
	}
	if w < 5 {
		return Fit(s, w)
	}
	right := (w - 1) / 2
	left := w - 1 - right
	return ansi.Truncate(s, left, "") + "…" + ansi.TruncateLeft(s, n-right, "")
}

// Block pads or cuts a block to exactly h lines, each exactly w cells.
func Block(s string, w, h int) string {
	if h <= 0 {
		return ""
	}
	ls := strings.Split(s, "\n")
	if len(ls) > h {
		ls = ls[:h]
	}
	for i := range ls {
		ls[i] = Fit(ls[i], w)
	}
	for len(ls) < h {
		ls = append(ls, strings.Repeat(" ", w))
	}
	return strings.Join(ls, "\n")
}

// ContainsFold reports whether s contains the lower-case ASCII needle,
// ignoring ASCII case, without allocating.
func ContainsFold(s, needle string) bool {
	n := len(needle)
	if n == 0 {
		return true
	}
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != needle[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

// Count is n and the noun, plural unless n is 1: "1 image", "2 images",
// "3 repositories".
func Count(n int, noun string) string { return strconv.Itoa(n) + " " + Plural(n, noun) }

// Plural is the noun, plural unless n is 1.
func Plural(n int, noun string) string {
	switch {
	case n == 1:
		return noun
	case strings.HasSuffix(noun, "y") && !strings.ContainsAny(noun[len(noun)-2:len(noun)-1], "aeiou"):
		return noun[:len(noun)-1] + "ies"
	}
	return noun + "s"
}

var longDigest = regexp.MustCompile(`(sha256:[0-9a-f]{12})[0-9a-f]{52}`)

// ShortDigests cuts full sha256 digests in a message to 12 hex digits.
func ShortDigests(s string) string { return longDigest.ReplaceAllString(s, "$1") }
