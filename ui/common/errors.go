package common

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/ui/pager"
)

// ErrSource is the work an error came from. Each source's last report
// replaces its earlier ones, so the log holds the errors of the last
// action of each kind: a chart error arriving never hides the registry's.
type ErrSource int

const (
	SrcKey    ErrSource = iota // a key refused ("nothing selected"); gone at the next key
	SrcScan                    // the registry scan, with what it recovered
	SrcPlan                    // the policy plan
	SrcDelete                  // a delete
	SrcCheck                   // the chart check
	SrcPR                      // opening a pull request
)

func (s ErrSource) String() string {
	return [...]string{"key", "registry scan", "policy plan", "delete", "chart check", "pull request"}[s]
}

// ErrEntry is one error in full: the message the status line showed the
// first line of, and the lines behind it (every failure, every chart that
// could not be checked).
type ErrEntry struct {
	Src     ErrSource
	At      time.Time
	Text    string
	Details []string
}

// ErrLog is the errors of the last action of each source, oldest first.
type ErrLog struct {
	Entries []ErrEntry
	Gen     int // counts changes, so an open view can follow them
}

// Set replaces src's entry; an empty text only removes it.
func (l *ErrLog) Set(e ErrEntry) {
	n := len(l.Entries)
	l.Entries = slices.DeleteFunc(l.Entries, func(x ErrEntry) bool { return x.Src == e.Src })
	if e.Text != "" {
		l.Entries = append(l.Entries, e)
	}
	if n != 0 || e.Text != "" {
		l.Gen++
	}
}

// Report ends src's work: with text, an error shown on the status line
// (its first line) and kept whole, with details, for the errors view;
// without, src's earlier errors are dropped.
func (c *Common) Report(src ErrSource, text string, details ...string) {
	c.Errs.Set(ErrEntry{Src: src, At: c.Now(), Text: text, Details: details})
	if text != "" {
		c.Status = Status{Text: text, Err: true, Note: src == SrcKey}
		c.Sticky = true
	}
}

// DropKeyErrors forgets the answer to the last key: a new key is pressed.
func (c *Common) DropKeyErrors() {
	if c.Status.Note {
		c.Status = Status{}
	}
	c.Errs.Set(ErrEntry{Src: SrcKey})
}

// FirstLine is the part of an error the status line has room for.
func FirstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// ErrorsHint is the status line's pointer to the errors view, "" when the
// log is empty: "e: full error" beside the error shown, else a count.
func (c *Common) ErrorsHint() string {
	n := len(c.Errs.Entries)
	switch {
	case n == 0:
		return ""
	case !c.Status.Err:
		return "e: " + Count(n, "error")
	case n == 1:
		return "e: full error"
	}
	return fmt.Sprintf("e: all %d errors", n)
}

// ErrorParas is the errors view's Text: each error whole, with where and
// when it came from.
func (c *Common) ErrorParas() []pager.Para {
	st := c.Styles
	var out []pager.Para
	for i, e := range c.Errs.Entries {
		if i > 0 {
			out = append(out, pager.Para{})
		}
		head := e.Src.String()
		if e.Src == SrcKey {
			head = "the last key"
		}
		out = append(out, pager.Para{Text: head + " · " + e.At.Local().Format(time.TimeOnly), Style: st.Title})
		out = append(out, pager.Para{Text: e.Text})
		for _, d := range e.Details {
			out = append(out, pager.Para{Text: d})
		}
	}
	return out
}

// ErrorsTitle heads the errors view.
func (c *Common) ErrorsTitle() string {
	return Count(len(c.Errs.Entries), "error") + " of the last actions, in full"
}
