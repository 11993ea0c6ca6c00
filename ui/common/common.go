// Package common is what every part of the console shares: the context it
// runs under, the screen size, the theme, the keys, the clock, the status
// line and the errors of the last actions, and the helpers that fit text
// to cells.
package common

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Common is what every part of the console shares: where it runs, how big
// the screen is, the theme, the keys, the clock and the status line.
type Common struct {
	Ctx           context.Context
	Width, Height int
	Styles        *Styles
	Keys          *KeyMap
	Now           func() time.Time
	NoColor       bool
	Status        Status
	Sticky        bool // the error showing has not been seen yet
	Errs          ErrLog
	// Deletes counts registry deletes running, so Run can let them finish
	// (and be recorded) before returning.
	Deletes atomic.Int32
}

// Clock is implemented by services that carry their own clock (the engine
// does): the console then shows ages by the same clock the plan uses.
type Clock interface{ Now() time.Time }

// Status is the status line's last message.
type Status struct {
	Text string
	Err  bool
	// Note: it answers the key just pressed ("cancelled"); the next key
	// press clears it, so it never lingers.
	Note bool
}

// Infof shows a message, unless an error is showing that the operator has
// not pressed a key since: background work finishing must not hide it.
func (c *Common) Infof(format string, args ...any) {
	if c.Status.Err && c.Sticky {
		return
	}
	c.Status = Status{Text: fmt.Sprintf(format, args...)}
}

// Notef answers the key just pressed; the next key press clears it.
func (c *Common) Notef(format string, args ...any) {
	c.Infof(format, args...)
	c.Status.Note = !c.Status.Err
}

// Errorf answers a key with an error ("nothing selected"); the next key
// press clears it.
func (c *Common) Errorf(format string, args ...any) {
	c.Report(SrcKey, fmt.Sprintf(format, args...))
}
