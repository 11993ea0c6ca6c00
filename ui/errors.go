package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/ui/pager"
)

// errSource is the work an error came from. Each source's last report
// replaces its earlier ones, so the log holds the errors of the last
// action of each kind: a chart error arriving never hides the registry's.
type errSource int

const (
	srcKey    errSource = iota // a key refused ("nothing selected"); gone at the next key
	srcScan                    // the registry scan, with what it recovered
	srcPlan                    // the policy plan
	srcDelete                  // a delete
	srcCheck                   // the chart check
	srcPR                      // opening a pull request
)

func (s errSource) String() string {
	return [...]string{"key", "registry scan", "policy plan", "delete", "chart check", "pull request"}[s]
}

// errEntry is one error in full: the message the status line showed the
// first line of, and the lines behind it (every failure, every chart that
// could not be checked).
type errEntry struct {
	src     errSource
	at      time.Time
	text    string
	details []string
}

// errLog is the errors of the last action of each source, oldest first.
type errLog struct {
	entries []errEntry
	gen     int // counts changes, so an open view can follow them
}

// set replaces src's entry; an empty text only removes it.
func (l *errLog) set(e errEntry) {
	n := len(l.entries)
	l.entries = slices.DeleteFunc(l.entries, func(x errEntry) bool { return x.src == e.src })
	if e.text != "" {
		l.entries = append(l.entries, e)
	}
	if n != 0 || e.text != "" {
		l.gen++
	}
}

// report ends src's work: with text, an error shown on the status line
// (its first line) and kept whole, with details, for the errors view;
// without, src's earlier errors are dropped.
func (c *common) report(src errSource, text string, details ...string) {
	c.errs.set(errEntry{src: src, at: c.now(), text: text, details: details})
	if text != "" {
		c.status = status{text: text, err: true, note: src == srcKey}
		c.sticky = true
	}
}

// dropKeyErrors forgets the answer to the last key: a new key is pressed.
func (c *common) dropKeyErrors() {
	if c.status.note {
		c.status = status{}
	}
	c.errs.set(errEntry{src: srcKey})
}

// firstLine is the part of an error the status line has room for.
func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// errorsHint is the status line's pointer to the errors view, "" when the
// log is empty: "e: full error" beside the error shown, else a count.
func (c *common) errorsHint() string {
	n := len(c.errs.entries)
	switch {
	case n == 0:
		return ""
	case !c.status.err:
		return "e: " + count(n, "error")
	case n == 1:
		return "e: full error"
	}
	return fmt.Sprintf("e: all %d errors", n)
}

// errorParas is the errors view's text: each error whole, with where and
// when it came from.
func (c *common) errorParas() []pager.Para {
	st := c.styles
	var out []pager.Para
	for i, e := range c.errs.entries {
		if i > 0 {
			out = append(out, pager.Para{})
		}
		head := e.src.String()
		if e.src == srcKey {
			head = "the last key"
		}
		out = append(out, pager.Para{Text: head + " · " + e.at.Local().Format(time.TimeOnly), Style: st.Title})
		out = append(out, pager.Para{Text: e.text})
		for _, d := range e.details {
			out = append(out, pager.Para{Text: d})
		}
	}
	return out
}

// errorsTitle heads the errors view.
func (c *common) errorsTitle() string {
	return count(len(c.errs.entries), "error") + " of the last actions, in full"
}
