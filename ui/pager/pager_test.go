package pager

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

func TestWrap(t *testing.T) {
	for _, c := range []struct {
		s    string
		w    int
		want []string
	}{
		{"", 10, []string{""}},
		{"short", 10, []string{"short"}},
		{"one two three four", 9, []string{"one two", "three", "four"}},
		{"  - one two three", 9, []string{"  - one", "  two", "  three"}},
		{"see https://example.org/a/very/long/path now", 12,
			[]string{"see", "https://exam", "ple.org/a/ve", "ry/long/path", "now"}},
		{"1.0.0-0.dev.git.3478.h6cb671fd", 40, []string{"1.0.0-0.dev.git.3478.h6cb671fd"}}, // hyphens do not break
	} {
		if got := Wrap(c.s, c.w); !slices.Equal(got, c.want) {
			t.Errorf("Wrap(%q, %d) = %q, want %q", c.s, c.w, got, c.want)
		}
	}
}

func testKeys() KeyMap {
	b := func(k string) key.Binding { return key.NewBinding(key.WithKeys(k), key.WithHelp(k, k)) }
	return KeyMap{Up: b("k"), Down: b("j"), PageUp: b("pgup"), PageDown: b("pgdown"), Top: b("g"), Bottom: b("G"), Close: b("esc")}
}

func press(k string) tea.KeyPressMsg {
	switch k {
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	}
	return tea.KeyPressMsg{Code: rune(k[0]), Text: k}
}

// The pager fills exactly its size, scrolls over every line and says
// where it is; esc closes it.
func TestScroll(t *testing.T) {
	p := New(testKeys(), Styles{})
	var paras []Para
	for i := 1; i <= 30; i++ {
		paras = append(paras, Para{Text: fmt.Sprintf("line %d", i)})
	}
	p.SetContent("title", paras)
	p.SetSize(20, 12) // 10 lines of text
	steps := []struct {
		key, first, pos string
	}{
		{"", "line 1", "lines 1-10 of 30"},
		{"j", "line 2", "lines 2-11 of 30"},
		{"pgdown", "line 12", "lines 12-21 of 30"},
		{"G", "line 21", "lines 21-30 of 30"},
		{"j", "line 21", "lines 21-30 of 30"},
		{"g", "line 1", "lines 1-10 of 30"},
		{"k", "line 1", "lines 1-10 of 30"},
	}
	for _, s := range steps {
		if s.key != "" && p.Update(press(s.key)) {
			t.Fatalf("%s closed the pager", s.key)
		}
		v := p.View()
		ls := strings.Split(v, "\n")
		if len(ls) != 12 {
			t.Fatalf("after %q: %d lines", s.key, len(ls))
		}
		for _, l := range ls {
			if ansi.StringWidth(l) != 20 {
				t.Fatalf("after %q: line %q is %d wide", s.key, l, ansi.StringWidth(l))
			}
		}
		if got := strings.TrimSpace(ls[1]); got != s.first {
			t.Errorf("after %q: first line %q, want %q", s.key, got, s.first)
		}
		if got := strings.TrimSpace(ls[11]); got != s.pos {
			t.Errorf("after %q: position %q, want %q", s.key, got, s.pos)
		}
	}
	if !p.Update(press("esc")) {
		t.Error("esc did not close the pager")
	}
	// A narrower pager wraps instead of cutting; a short text says so.
	p.SetContent("t", []Para{{Text: "a sentence of several words"}})
	p.SetHint("esc")
	p.SetSize(12, 8)
	mustHave := []string{"a sentence", "of several", "words", "all 3 lines…"}
	for _, w := range mustHave {
		if !strings.Contains(p.View(), w) {
			t.Errorf("narrow view lacks %q:\n%s", w, p.View())
		}
	}
}
