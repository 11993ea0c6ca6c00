package common

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestFit(t *testing.T) {
	cases := []struct {
		fn   func(string, int) string
		name string
		in   string
		w    int
		want string
	}{
		{Fit, "fit", "abc", 5, "abc  "},
		{Fit, "fit", "abcdef", 4, "abc…"},
		{Fit, "fit", "abc", 0, ""},
		{FitRight, "fitRight", "12", 4, "  12"},
		{FitRight, "fitRight", "12345", 4, "123…"},
		{FitMiddle, "fitMiddle", "1.0.0-0.dev.git.3506.hba24eb2a", 15, "1.0.0-0…a24eb2a"},
		{FitMiddle, "fitMiddle", "3.3.8", 8, "3.3.8   "},
		{Fit, "fit", "日本語テキスト", 7, "日本語…"},
	}
	for _, c := range cases {
		got := c.fn(c.in, c.w)
		if got != c.want {
			t.Errorf("%s(%q, %d) = %q, want %q", c.name, c.in, c.w, got, c.want)
		}
		if c.w > 0 && ansi.StringWidth(got) != c.w && !strings.Contains(c.in, "日") {
			t.Errorf("%s(%q, %d) is %d wide", c.name, c.in, c.w, ansi.StringWidth(got))
		}
	}
	if !ContainsFold("Release-X", "release-x") || ContainsFold("abc", "abd") || !ContainsFold("x", "") {
		t.Error("containsFold")
	}
}

func TestCount(t *testing.T) {
	for _, c := range []struct {
		n    int
		noun string
		want string
	}{
		{0, "image", "0 images"},
		{1, "image", "1 image"},
		{2, "error", "2 errors"},
		{1, "repository", "1 repository"},
		{12, "repository", "12 repositories"},
		{5, "chart dependency", "5 chart dependencies"},
		{3, "day", "3 days"},
		{1, "dep", "1 dep"},
	} {
		if got := Count(c.n, c.noun); got != c.want {
			t.Errorf("Count(%d, %q) = %q, want %q", c.n, c.noun, got, c.want)
		}
	}
}
