package uitest

import (
	"strings"
	"testing"
)

// MustContain fails t unless screen contains every one of wants.
func MustContain(t testing.TB, screen string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(screen, w) {
			t.Errorf("screen lacks %q:\n%s", w, screen)
		}
	}
}

// MustNotContain fails t if screen contains any of wants.
func MustNotContain(t testing.TB, screen string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if strings.Contains(screen, w) {
			t.Errorf("screen shows %q:\n%s", w, screen)
		}
	}
}

// Joined is the screen as one line, so a wrapped status line reads whole.
func Joined(screen string) string {
	ls := strings.Split(screen, "\n")
	for i := range ls {
		ls[i] = strings.TrimSpace(ls[i])
	}
	return strings.Join(ls, " ")
}

// Line returns the first screen line containing s.
func Line(screen, s string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
