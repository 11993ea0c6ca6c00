package table

import (
	"fmt"
	"strings"
	"testing"
)

// Layout: names keep their room; shrinkable columns shrink first,
// then columns go in their drop order; what is left goes to the names.
func TestFitColumns(t *testing.T) {
	mk := func() []*Column {
		return []*Column{
			{Want: 40, Min: 20, Name: true},          // a name
			{Want: 8, Min: 8},                        // always shown
			{Want: 8, Min: 8, Drop: 3},               // low priority
			{Want: 12, Min: 5, Drop: 2},              // shrinks, then goes
			{Want: 9, Min: 7, Drop: 1},               // empty: shrinks, goes first
			{Want: 30, Min: 12, Drop: 4, Name: true}, // a name that may go
		}
	}
	for _, c := range []struct {
		w    int
		want string // width of each column, - when hidden
	}{
		{200, "40 8 8 12 9 30"}, // all full, the rest blank
		{112, "40 8 8 12 9 30"}, // exactly
		{111, "40 8 8 5 9 30"},  // shrunk; what the names leave goes back whole
		{80, "28 8 8 5 7 19"},   // names between room and want
		{65, "20 8 8 5 7 12"},   // names at their room
		{64, "24 8 8 5 - 15"},   // the empty column goes first
		{50, "24 8 - - - 16"},   // then the rest in order
		{35, "26 8 - - - -"},    // a name may go too
		{25, "16 8 - - - -"},    // nothing left to drop: names squeeze
	} {
		cols := mk()
		Layout(c.w, cols)
		var got []string
		for _, col := range cols {
			if col.Hidden {
				got = append(got, "-")
			} else {
				got = append(got, fmt.Sprint(col.Width))
			}
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("width %d: %s, want %s", c.w, g, c.want)
		}
		if tot := total(cols); tot > c.w {
			t.Errorf("width %d: the columns take %d", c.w, tot)
		}
	}
}
