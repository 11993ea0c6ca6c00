package ui

import (
	"slices"

	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// column is one column of a table laid out by fitColumns: how wide it
// wants to be, how narrow it can get, and when it gives way to the others.
type column struct {
	// want is the width for its full header and content; min the width
	// it keeps: shrunk (short header, compact cells) or, for a name, the
	// room it always has. min <= want.
	want, min int
	// drop orders the columns that give way on a narrow screen, 1 first;
	// 0 never goes.
	drop int
	// name columns (repository, dependency, versions) take the room left.
	name bool

	width  int  // laid out: the width given
	hidden bool // laid out: dropped
}

// shrunk reports whether the column was given less than its full width
// (short header, compact cells).
func (c *column) shrunk() bool { return c.width < c.want }

// fitColumns lays columns out in w cells, one space between each. As the
// screen narrows: the columns that can shrink do (an empty usage column
// first), then columns go in their drop order until every name has its
// room; what is left goes to the names, up to the width they want, then
// gives the shrunk columns back their full width. The rest stays blank.
func fitColumns(w int, cols []*column) {
	for _, c := range cols {
		c.width, c.hidden = c.want, false
	}
	if total(cols) > w {
		for _, c := range cols {
			c.width = c.min
		}
		var order []*column
		for _, c := range cols {
			if c.drop > 0 {
				order = append(order, c)
			}
		}
		slices.SortStableFunc(order, func(a, b *column) int { return a.drop - b.drop })
		for _, c := range order {
			if total(cols) <= w {
				break
			}
			c.hidden = true
		}
		spare := w - total(cols)
		for spare > 0 && grow(cols, &spare) { // the names, a cell each in turn, up to what they want
		}
		for _, c := range slices.Backward(cols) { // then the columns shrunk, whole or not at all
			if !c.hidden && !c.name && c.width < c.want && c.want-c.width <= spare {
				spare -= c.want - c.width
				c.width = c.want
			}
		}
	}
	over := total(cols) - w
	for over > 0 && squeeze(cols, &over) { // nothing left to drop: the names squeeze
	}
}

// grow widens each name short of what it wants by a cell, while spare
// lasts; it reports whether any grew.
func grow(cols []*column, spare *int) bool {
	grew := false
	for _, c := range cols {
		if c.name && !c.hidden && c.width < c.want && *spare > 0 {
			c.width++
			*spare--
			grew = true
		}
	}
	return grew
}

// squeeze narrows each name by a cell while over lasts; it reports whether
// any could be.
func squeeze(cols []*column, over *int) bool {
	squeezed := false
	for _, c := range cols {
		if c.name && !c.hidden && c.width > 1 && *over > 0 {
			c.width--
			*over--
			squeezed = true
		}
	}
	return squeezed
}

// cell is a column's text, fitted, after a space; "" when it is hidden.
func (c *column) cell(s string, right bool) string {
	switch {
	case c.hidden:
		return ""
	case right:
		return " " + common.FitRight(s, c.width)
	}
	return " " + common.Fit(s, c.width)
}

// middle is cell for a version: cut in the middle, keeping both ends.
func (c *column) middle(s string) string {
	if c.hidden {
		return ""
	}
	return " " + common.FitMiddle(s, c.width)
}

// total is the width of the shown columns with a space between each.
func total(cols []*column) int {
	n, t := 0, 0
	for _, c := range cols {
		if !c.hidden {
			n++
			t += c.width
		}
	}
	return t + max(n-1, 0)
}
