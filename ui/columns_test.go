package ui

import (
	"testing"

	tea "charm.land/bubbletea/v2"
)

// On the Charts tab at 60 columns the dependency names stay whole and the
// PR column goes (the details say it); at 80 FILE goes first.
func TestChartsColumns(t *testing.T) {
	reg := newFakeRegistry(genInventory(20, 7, fixedNow), demoPolicy(0))
	d := newDriver(t, New(reg, prCharts(), WithNoColor(), WithSize(80, 24)))
	d.settle()
	for _, c := range []struct {
		w          int
		head, gone []string
	}{
		{160, []string{"FILE", "AGE", "PR"}, nil},
		{80, []string{"AGE", "PR"}, []string{"FILE"}},
		{60, []string{"AGE", "STATUS"}, []string{"FILE", " PR"}},
	} {
		d.send(tea.WindowSizeMsg{Width: c.w, Height: 24})
		s := d.screen()
		mustContain(t, line(s, "DEPENDENCY"), c.head...)
		mustNotContain(t, line(s, "DEPENDENCY"), c.gone...)
		mustContain(t, s, "ingress-nginx ", "cert-manager ")
	}
}

// ? on the Registry tab names the table's markers.
func TestHelpShowsMarkers(t *testing.T) {
	for _, w := range []int{60, 80} {
		d, _, _ := fakeEnv(t, w, 24)
		d.press("2", "?")
		mustContain(t, joined(d.screen()), "markers: [P] protected [L] locked [K] newest kept")
		d.press("?")
		mustNotContain(t, d.screen(), "markers:")
	}
}
