package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// link is [text](target) or ![alt](target), the target without a title.
var link = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// codeSpan is an inline code span, whose text is not markdown.
var codeSpan = regexp.MustCompile("`[^`]*`")

// TestLinks: every relative link in README.md and docs/*.md names a file
// or directory that exists in the repository, and a #anchor into a
// markdown file names one of its headings.
func TestLinks(t *testing.T) {
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, filepath.Join("..", "README.md"))
	anchors := map[string]map[string]bool{}
	checked := 0
	for _, page := range pages {
		for _, l := range links(t, page) {
			target, anchor, _ := strings.Cut(l.target, "#")
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file := page
			if target != "" {
				file = filepath.Join(filepath.Dir(page), filepath.FromSlash(target))
			}
			checked++
			if _, err := os.Stat(file); err != nil {
				t.Errorf("%s:%d: link %q: no such file %s", page, l.line, l.target, file)
				continue
			}
			if anchor == "" || !strings.HasSuffix(file, ".md") {
				continue
			}
			if anchors[file] == nil {
				anchors[file] = headings(t, file)
			}
			if !anchors[file][anchor] {
				t.Errorf("%s:%d: link %q: %s has no heading #%s", page, l.line, l.target, file, anchor)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative link found")
	}
}

type found struct {
	target string
	line   int
}

// links lists the links of a markdown file outside code blocks and spans.
func links(t *testing.T, page string) []found {
	t.Helper()
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	var out []found
	fence := false
	for n, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fence = !fence
			continue
		}
		if fence {
			continue
		}
		line = codeSpan.ReplaceAllString(line, "")
		for _, m := range link.FindAllStringSubmatch(line, -1) {
			out = append(out, found{m[1], n + 1})
		}
	}
	return out
}

// headings are the anchors GitHub gives a markdown file's headings:
// lower case, punctuation other than - and _ dropped, spaces as -, and
// -1, -2… on repeats.
func headings(t *testing.T, page string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	fence := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fence = !fence
		}
		if fence || !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(line, "#"))
		slug := slugify(text)
		anchor := slug
		for i := 1; out[anchor]; i++ {
			anchor = slug + "-" + itoa(i)
		}
		out[anchor] = true
	}
	return out
}

func slugify(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestSlugify(t *testing.T) {
	for in, want := range map[string]string{
		"What can never be deleted":           "what-can-never-be-deleted",
		"Opening at once, at any size":        "opening-at-once-at-any-size",
		"The `--check-config` flag":           "the---check-config-flag",
		"Retention: what is deleted and kept": "retention-what-is-deleted-and-kept",
		"Keeping what people use (usage)":     "keeping-what-people-use-usage",
	} {
		if got := slugify(in); got != want {
			t.Errorf("slugify(%q) = %q, want %q", in, got, want)
		}
	}
}
