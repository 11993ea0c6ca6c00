package ui

import (
	"regexp"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/helmupgradebot/helmupgradebot/ui/internal/uitest"
)

// driver runs the console the way a tea.Program does, without a terminal
// (uitest.Driver): each step sees the screen after all the work it
// started has finished. m is the console; quit is set when it quits.
type driver struct {
	t    testing.TB
	m    *Model
	quit bool
	r    *uitest.Driver
}

func newDriver(t testing.TB, m *Model) *driver {
	t.Helper()
	d := &driver{t: t, m: m}
	d.r = uitest.NewDriver(t, m, func() { d.quit = true })
	return d
}

// deliver hands msg to the console without waiting for its work.
func (d *driver) deliver(msg tea.Msg) { d.r.Deliver(msg) }

// step delivers one message from a finished command, waiting up to
// timeout; it reports false on timeout.
func (d *driver) step(timeout time.Duration) bool { return d.r.Step(timeout) }

// settle runs commands until none is outstanding.
func (d *driver) settle() { d.t.Helper(); d.r.Settle() }

// waitFor runs commands until the screen contains want.
func (d *driver) waitFor(want string) { d.t.Helper(); d.r.WaitFor(want) }

// waitForRegexp runs commands until the screen matches re.
func (d *driver) waitForRegexp(re *regexp.Regexp) { d.t.Helper(); d.r.WaitForRegexp(re) }

// send delivers a message (a key, a resize) and settles.
func (d *driver) send(msg tea.Msg) { d.t.Helper(); d.r.Send(msg) }

// press sends keys by name ("enter", "shift+tab", "space", "a") and
// settles after each.
func (d *driver) press(keys ...string) { d.t.Helper(); d.r.Press(keys...) }

// typeText sends each rune of s as a key press.
func (d *driver) typeText(s string) { d.t.Helper(); d.r.TypeText(s) }

// screen is the rendered screen without styling.
func (d *driver) screen() string { return d.r.Screen() }

func runeKey(r rune) tea.KeyPressMsg { return uitest.RuneKey(r) }

// keyMsg builds the key press a terminal sends for a key name.
func keyMsg(name string) tea.KeyPressMsg { return uitest.Key(name) }
