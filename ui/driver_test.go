package ui

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// driver runs a Model the way a tea.Program does, without a terminal: it
// feeds messages to Update one at a time and runs the returned commands in
// goroutines, delivering their messages back in arrival order. settle waits
// until no command is outstanding, so each step sees the screen after all
// the work it started has finished.
type driver struct {
	t       testing.TB
	m       *Model
	msgs    chan tea.Msg
	pending int
	quit    bool
}

type nilMsg struct{}

func newDriver(t testing.TB, m *Model) *driver {
	t.Helper()
	d := &driver{t: t, m: m, msgs: make(chan tea.Msg, 64)}
	d.exec(m.Init())
	return d
}

func (d *driver) exec(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	d.pending++
	go func() {
		msg := cmd()
		if msg == nil {
			msg = nilMsg{}
		}
		d.msgs <- msg
	}()
}

func (d *driver) deliver(msg tea.Msg) {
	if d.quit {
		return // a program that quit handles nothing more
	}
	switch msg := msg.(type) {
	case nilMsg:
	case tea.BatchMsg:
		for _, c := range msg {
			d.exec(c)
		}
	case tea.QuitMsg:
		d.quit = true
	default:
		_, cmd := d.m.Update(msg)
		d.exec(cmd)
	}
}

// step delivers one message from a finished command, waiting up to
// timeout; it reports false on timeout.
func (d *driver) step(timeout time.Duration) bool {
	if d.pending == 0 {
		return false
	}
	select {
	case msg := <-d.msgs:
		d.pending--
		d.deliver(msg)
		return true
	case <-time.After(timeout):
		return false
	}
}

// settle runs commands until none is outstanding.
func (d *driver) settle() {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for d.pending > 0 {
		if (!d.step(time.Until(deadline)) && d.pending > 0) || time.Now().After(deadline) {
			d.t.Fatalf("commands still running after 30s; screen:\n%s", d.screen())
		}
	}
}

// waitFor runs commands until the screen contains want.
func (d *driver) waitFor(want string) {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(d.screen(), want) {
		if d.pending == 0 || !d.step(time.Until(deadline)) || time.Now().After(deadline) {
			d.t.Fatalf("screen never showed %q; screen:\n%s", want, d.screen())
		}
	}
}

// waitForRegexp runs commands until the screen matches re.
func (d *driver) waitForRegexp(re *regexp.Regexp) {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !re.MatchString(d.screen()) {
		if d.pending == 0 || !d.step(time.Until(deadline)) || time.Now().After(deadline) {
			d.t.Fatalf("screen never matched /%s/; screen:\n%s", re, d.screen())
		}
	}
}

// send delivers a message (a key, a resize) and settles.
func (d *driver) send(msg tea.Msg) {
	d.t.Helper()
	d.deliver(msg)
	d.settle()
}

// press sends keys by name ("enter", "shift+tab", "space", "a") and
// settles after each.
func (d *driver) press(keys ...string) {
	d.t.Helper()
	for _, k := range keys {
		d.send(keyMsg(k))
	}
}

// typeText sends each rune of s as a key press.
func (d *driver) typeText(s string) {
	d.t.Helper()
	for _, r := range s {
		d.send(runeKey(r))
	}
}

// screen is the rendered screen without styling.
func (d *driver) screen() string { return ansi.Strip(d.m.Render()) }

func runeKey(r rune) tea.KeyPressMsg {
	if r == ' ' {
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	}
	k := tea.KeyPressMsg{Code: r, Text: string(r)}
	if unicode.IsUpper(r) {
		k.Code, k.ShiftedCode, k.Mod = unicode.ToLower(r), r, tea.ModShift
	}
	return k
}

// keyMsg builds the key press a terminal sends for a key name.
func keyMsg(name string) tea.KeyPressMsg {
	special := map[string]tea.KeyPressMsg{
		"enter":     {Code: tea.KeyEnter},
		"tab":       {Code: tea.KeyTab},
		"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift},
		"esc":       {Code: tea.KeyEscape},
		"space":     {Code: tea.KeySpace, Text: " "},
		"up":        {Code: tea.KeyUp},
		"down":      {Code: tea.KeyDown},
		"left":      {Code: tea.KeyLeft},
		"right":     {Code: tea.KeyRight},
		"pgup":      {Code: tea.KeyPgUp},
		"pgdown":    {Code: tea.KeyPgDown},
		"home":      {Code: tea.KeyHome},
		"end":       {Code: tea.KeyEnd},
		"backspace": {Code: tea.KeyBackspace},
	}
	if k, ok := special[name]; ok {
		return k
	}
	if mod, rest, ok := strings.Cut(name, "+"); ok && mod == "ctrl" && utf8.RuneCountInString(rest) == 1 {
		r, _ := utf8.DecodeRuneInString(rest)
		return tea.KeyPressMsg{Code: unicode.ToLower(r), Mod: tea.ModCtrl}
	}
	if utf8.RuneCountInString(name) == 1 {
		r, _ := utf8.DecodeRuneInString(name)
		return runeKey(r)
	}
	panic("unknown key " + name)
}
