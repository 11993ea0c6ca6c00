package acrtest

import (
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestPageSize: n absent or 0 asks DefaultPageSize entries, more than
// MaxPageSize is clamped to it, and a bad n is PAGINATION_NUMBER_INVALID.
func TestPageSize(t *testing.T) {
	for _, tc := range []struct {
		n    string
		want int
		ok   bool
	}{{"", DefaultPageSize, true}, {"0", DefaultPageSize, true}, {"5", 5, true}, {"1000", 1000, true}, {"10000", MaxPageSize, true}, {"-1", 0, false}, {"x", 0, false}} {
		w := httptest.NewRecorder()
		q := url.Values{}
		if tc.n != "" {
			q.Set("n", tc.n)
		}
		got, ok := pageSize(w, q)
		if got != tc.want || ok != tc.ok || (!ok && w.Code != 400) {
			t.Errorf("n=%q: %d %v (status %d), want %d %v", tc.n, got, ok, w.Code, tc.want, tc.ok)
		}
	}
}
