package ui

import (
	"context"
	"io"
	"time"
)

// Option configures New and Run.
type Option func(*options)

type options struct {
	now           func() time.Time
	noColor       bool
	width, height int
	sized         bool // WithSize was given
	ctx           context.Context
	dark          bool
	in            io.Reader
	out           io.Writer
	history       HistoryService
}

// WithHistory gives the console the run history: the History tab reads it,
// the gauge shows the forecast, and the console records its own runs.
func WithHistory(h HistoryService) Option { return func(o *options) { o.history = h } }

// WithNow sets the clock ages are shown by. By default it is the
// registry's (or the charts') own clock when it has one, else time.Now.
func WithNow(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithNoColor renders without any colour (bold and reverse video only), as
// NO_COLOR asks. Run turns it on when NO_COLOR is set in the environment.
func WithNoColor() Option { return func(o *options) { o.noColor = true } }

// WithSize sets the screen size used until the terminal reports its own
// (with WithIO, until a tea.WindowSizeMsg arrives).
func WithSize(width, height int) Option {
	return func(o *options) { o.width, o.height, o.sized = width, height, true }
}

// WithContext sets the context the model's work runs under (scans,
// deletes, pull requests); cancelling it stops that work. Run sets it.
func WithContext(ctx context.Context) Option { return func(o *options) { o.ctx = ctx } }

// WithLightBackground picks the palette for a light terminal background
// until the terminal reports its background colour.
func WithLightBackground() Option { return func(o *options) { o.dark = false } }

// WithIO makes Run read keys from in and draw on out instead of the
// terminal (for a console served over SSH, or a test).
func WithIO(in io.Reader, out io.Writer) Option {
	return func(o *options) { o.in, o.out = in, out }
}
