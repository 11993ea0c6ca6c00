// Package table lays a table's columns out across the screen's width and
// fits their cells.
package table

import (
	"slices"

	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// Column is one column of a table laid out by Layout: how wide it
// wants to be, how narrow it can get, and when it gives way to the others.
type Column struct {
	// Want is the width for its full header and content; Min the width
	// it keeps: shrunk (short header, compact cells) or, for a name, the
	// room it always has. Min <= Want.
	Want, Min int
	// Drop orders the columns that give way on a narrow screen, 1 first;
	// 0 never goes.
	Drop int
	// Name columns (repository, dependency, versions) take the room left.
	Name bool

	Width  int  // laid out: the width given
	Hidden bool // laid out: dropped
}

// Shrunk reports whether the column was given less than its full width
// (short header, compact cells).
func (c *Column) Shrunk() bool { return c.Width < c.Want }

// Layout lays columns out in w cells, one space between each. As the
// screen narrows: the columns that can shrink do (an empty usage Column
// first), then columns go in their drop order until every name has its
// room; what is left goes to the names, up to the width they want, then
// gives the shrunk columns back their full width. The rest stays blank.
func Layout(w int, cols []*Column) {
	for _, c := range cols {
		c.Width, c.Hidden = c.Want, false
	}
	if total(cols) > w {
		for _, c := range cols {
			c.Width = c.Min
		}
		var order []*Column
		for _, c := range cols {
			if c.Drop > 0 {
				order = append(order, c)
			}
		}
		slices.SortStableFunc(order, func(a, b *Column) int { return a.Drop - b.Drop })
		for _, c := range order {
			if total(cols) <= w {
				break
			}
			c.Hidden = true
		}
		spare := w - total(cols)
		for spare > 0 && grow(cols, &spare) { // the names, a cell each in turn, up to what they want
		}
		for _, c := range slices.Backward(cols) { // then the columns shrunk, whole or not at all
			if !c.Hidden && !c.Name && c.Width < c.Want && c.Want-c.Width <= spare {
				spare -= c.Want - c.Width
				c.Width = c.Want
			}
		}
	}
	over := total(cols) - w
	for over > 0 && squeeze(cols, &over) { // nothing left to drop: the names squeeze
	}
}

// grow widens each name short of what it wants by a cell, while spare
// lasts; it reports whether any grew.
func grow(cols []*Column, spare *int) bool {
	grew := false
	for _, c := range cols {
		if c.Name && !c.Hidden && c.Width < c.Want && *spare > 0 {
			c.Width++
			*spare--
			grew = true
		}
	}
	return grew
}

// squeeze narrows each name by a cell while over lasts; it reports whether
// any could be.
func squeeze(cols []*Column, over *int) bool {
	squeezed := false
	for _, c := range cols {
		if c.Name && !c.Hidden && c.Width > 1 && *over > 0 {
			c.Width--
			*over--
			squeezed = true
		}
	}
	return squeezed
}

// Cell is a Column's text, fitted, after a space; "" when it is hidden.
func (c *Column) Cell(s string, right bool) string {
	switch {
	case c.Hidden:
		return ""
	case right:
		return " " + common.FitRight(s, c.Width)
	}
	return " " + common.Fit(s, c.Width)
}

// Middle is Cell for a version: cut in the middle, keeping both ends.
func (c *Column) Middle(s string) string {
	if c.Hidden {
		return ""
	}
	return " " + common.FitMiddle(s, c.Width)
}

// total is the width of the shown columns with a space between each.
func total(cols []*Column) int {
	n, t := 0, 0
	for _, c := range cols {
		if !c.Hidden {
			n++
			t += c.Width
		}
	}
	return t + max(n-1, 0)
}
