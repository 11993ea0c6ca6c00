package ui

import (
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// Each source's report replaces its own last one and no other's; the
// status line's hint counts what the errors view holds.
func TestErrorLog(t *testing.T) {
	d, _, _ := fakeEnv(t, 80, 24) // the fake chart check has one error
	c := d.m.c
	steps := []struct {
		src       common.ErrSource
		text      string
		wantSrcs  string
		wantHint  string
		wantFirst string
	}{
		{common.SrcScan, "scan failed\nsecond line", "chart check,registry scan", "e: all 2 errors", "scan failed"},
		{common.SrcCheck, "", "registry scan", "e: full error", "scan failed"},
		{common.SrcDelete, "delete failed", "registry scan,delete", "e: all 2 errors", "delete failed"},
		{common.SrcScan, "scan failed again", "delete,registry scan", "e: all 2 errors", "scan failed again"},
		{common.SrcScan, "", "delete", "e: full error", "scan failed again"},
	}
	for i, s := range steps {
		c.Report(s.src, s.text)
		var srcs []string
		for _, e := range c.Errs.Entries {
			srcs = append(srcs, e.Src.String())
		}
		if got := strings.Join(srcs, ","); got != s.wantSrcs {
			t.Errorf("step %d: log holds %s, want %s", i, got, s.wantSrcs)
		}
		if got := c.ErrorsHint(); got != s.wantHint {
			t.Errorf("step %d: hint %q, want %q", i, got, s.wantHint)
		}
		if got := common.FirstLine(c.Status.Text); got != s.wantFirst {
			t.Errorf("step %d: status %q, want %q", i, got, s.wantFirst)
		}
	}
	// The status line shows only the first line, with the hint.
	c.Report(common.SrcScan, "scan failed\nsecond line")
	s := d.screen()
	mustContain(t, line(s, "error: scan failed"), "e: all 2 errors")
	mustNotContain(t, s, "second line")
	d.press("e")
	mustContain(t, d.screen(), "second line", "delete failed", "esc or q: close")
	d.press("esc")
	if d.m.errView != nil {
		t.Error("esc did not close the errors view")
	}
}

// An error answering a key goes at the next key, from the status line
// and from the errors view.
func TestKeyErrorsClearOnNextKey(t *testing.T) {
	d, _, _ := fakeEnv(t, 80, 24)
	d.press("2", "d")
	mustContain(t, d.screen(), "error: nothing selected")
	d.press("e")
	mustContain(t, d.screen(), "the last key", "nothing selected: space selects an image")
	d.press("esc", "j")
	mustNotContain(t, d.screen(), "nothing selected")
	for _, e := range d.m.c.Errs.Entries {
		if e.Src == common.SrcKey {
			t.Errorf("the key error outlived the next key: %q", e.Text)
		}
	}
	// With no errors at all, e says so.
	d.m.c.Errs = common.ErrLog{}
	d.press("e")
	mustContain(t, d.screen(), "no errors")
	if d.m.errView != nil {
		t.Error("e opened an empty errors view")
	}
}
