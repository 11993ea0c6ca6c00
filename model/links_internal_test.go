package model

import (
	"slices"
	"testing"
)

// TestLinksOf: edges grouped by image in the order given; none at all
// takes no rows.
func TestLinksOf(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		edges []edge
		want  [][]int32
	}{
		{"none", 3, nil, [][]int32{nil, nil, nil}},
		{"one", 3, []edge{{2, 0}}, [][]int32{nil, nil, {0}}},
		{"order kept", 4, []edge{{1, 3}, {0, 2}, {1, 0}, {3, 1}, {1, 2}}, [][]int32{{2}, {3, 0, 2}, nil, {1}}},
		{"first and last", 2, []edge{{0, 1}, {1, 0}, {0, 0}}, [][]int32{{1, 0}, {0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := linksOf(tc.n, tc.edges)
			if len(tc.edges) == 0 && (l.start != nil || l.to != nil) {
				t.Errorf("no edges took rows: %+v", l)
			}
			for i, w := range tc.want {
				got := l.of(i)
				if !slices.Equal(got, w) {
					t.Errorf("of(%d) = %v, want %v", i, got, w)
				}
				if cap(got) != len(got) {
					t.Errorf("of(%d) has room past its links (cap %d): an append would overwrite the next image's", i, cap(got))
				}
			}
		})
	}
}
