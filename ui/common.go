package ui

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// common is what every part of the console shares: where it runs, how big
// the screen is, the theme, the keys, the clock and the status line.
type common struct {
	ctx           context.Context
	width, height int
	styles        *Styles
	keys          *KeyMap
	now           func() time.Time
	noColor       bool
	status        status
	sticky        bool // the error showing has not been seen yet
	errs          errLog
	// deletes counts registry deletes running, so Run can let them finish
	// (and be recorded) before returning.
	deletes atomic.Int32
}

// status is the status line's last message.
type status struct {
	text string
	err  bool
	// note: it answers the key just pressed ("cancelled"); the next key
	// press clears it, so it never lingers.
	note bool
}

// infof shows a message, unless an error is showing that the operator has
// not pressed a key since: background work finishing must not hide it.
func (c *common) infof(format string, args ...any) {
	if c.status.err && c.sticky {
		return
	}
	c.status = status{text: fmt.Sprintf(format, args...)}
}

// notef answers the key just pressed; the next key press clears it.
func (c *common) notef(format string, args ...any) {
	c.infof(format, args...)
	c.status.note = !c.status.err
}

// errorf answers a key with an error ("nothing selected"); the next key
// press clears it.
func (c *common) errorf(format string, args ...any) {
	c.report(srcKey, fmt.Sprintf(format, args...))
}
