// Package uitest is what the console's tests share: a driver that runs a
// model the way a tea.Program does, a deterministic in-memory registry,
// the embedded demo, and checks on screens. Only tests import it.
package uitest

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// Program is what a Driver runs: a tea.Model that renders its whole
// screen.
type Program interface {
	Init() tea.Cmd
	Update(tea.Msg) (tea.Model, tea.Cmd)
	Render() string
}

// Driver runs a Program the way a tea.Program does, without a terminal:
// it feeds messages to Update one at a time and runs the returned
// commands in goroutines, delivering their messages back in arrival
// order. Settle waits until no command is outstanding, so each step sees
// the screen after all the work it started has finished.
type Driver struct {
	t       testing.TB
	p       Program
	msgs    chan tea.Msg
	pending int
	// Quit is set when the program quits; it then handles nothing more.
	Quit bool
	// onQuit, when set, is called when the program quits.
	onQuit func()
}

type nilMsg struct{}

// NewDriver starts p: its Init's command runs. onQuit, when not nil, is
// called when p quits.
func NewDriver(t testing.TB, p Program, onQuit func()) *Driver {
	t.Helper()
	d := &Driver{t: t, p: p, msgs: make(chan tea.Msg, 64), onQuit: onQuit}
	d.exec(p.Init())
	return d
}

func (d *Driver) exec(cmd tea.Cmd) {
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

// Deliver hands msg to the program (a batch's commands are started) and
// starts the command it returns, without waiting for it.
func (d *Driver) Deliver(msg tea.Msg) {
	if d.Quit {
		return // a program that quit handles nothing more
	}
	switch msg := msg.(type) {
	case nilMsg:
	case tea.BatchMsg:
		for _, c := range msg {
			d.exec(c)
		}
	case tea.QuitMsg:
		d.Quit = true
		if d.onQuit != nil {
			d.onQuit()
		}
	default:
		_, cmd := d.p.Update(msg)
		d.exec(cmd)
	}
}

// Step delivers one message from a finished command, waiting up to
// timeout; it reports false on timeout.
func (d *Driver) Step(timeout time.Duration) bool {
	if d.pending == 0 {
		return false
	}
	select {
	case msg := <-d.msgs:
		d.pending--
		d.Deliver(msg)
		return true
	case <-time.After(timeout):
		return false
	}
}

// Settle runs commands until none is outstanding.
func (d *Driver) Settle() {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for d.pending > 0 {
		if (!d.Step(time.Until(deadline)) && d.pending > 0) || time.Now().After(deadline) {
			d.t.Fatalf("commands still running after 30s; screen:\n%s", d.Screen())
		}
	}
}

// WaitFor runs commands until the screen contains want.
func (d *Driver) WaitFor(want string) {
	d.t.Helper()
	d.waitUntil(func(s string) bool { return strings.Contains(s, want) }, "showed "+strconv.Quote(want))
}

// WaitForRegexp runs commands until the screen matches re.
func (d *Driver) WaitForRegexp(re *regexp.Regexp) {
	d.t.Helper()
	d.waitUntil(re.MatchString, "matched /"+re.String()+"/")
}

func (d *Driver) waitUntil(ok func(screen string) bool, what string) {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok(d.Screen()) {
		if d.pending == 0 || !d.Step(time.Until(deadline)) || time.Now().After(deadline) {
			d.t.Fatalf("screen never %s; screen:\n%s", what, d.Screen())
		}
	}
}

// Send delivers a message (a key, a resize) and settles.
func (d *Driver) Send(msg tea.Msg) {
	d.t.Helper()
	d.Deliver(msg)
	d.Settle()
}

// Press sends keys by name ("enter", "shift+tab", "space", "a") and
// settles after each.
func (d *Driver) Press(keys ...string) {
	d.t.Helper()
	for _, k := range keys {
		d.Send(Key(k))
	}
}

// TypeText sends each rune of s as a key press.
func (d *Driver) TypeText(s string) {
	d.t.Helper()
	for _, r := range s {
		d.Send(RuneKey(r))
	}
}

// Screen is the rendered screen without styling.
func (d *Driver) Screen() string { return ansi.Strip(d.p.Render()) }

// RuneKey is the key press of one character.
func RuneKey(r rune) tea.KeyPressMsg {
	if r == ' ' {
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	}
	k := tea.KeyPressMsg{Code: r, Text: string(r)}
	if unicode.IsUpper(r) {
		k.Code, k.ShiftedCode, k.Mod = unicode.ToLower(r), r, tea.ModShift
	}
	return k
}

// Key builds the key press a terminal sends for a key name.
func Key(name string) tea.KeyPressMsg {
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
		return RuneKey(r)
	}
	panic("unknown key " + name)
}
