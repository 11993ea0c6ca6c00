package retry

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestReadBody: a body read whole whatever its declared length says, a
// body shorter than declared is an error, and what follows the declared
// length is kept (up to the buffer limit and one byte more).
func TestReadBody(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		declared int64
		want     string
		err      error
	}{
		{"exact", "hello", 5, "hello", nil},
		{"unknown length", "hello", -1, "hello", nil},
		{"empty", "", 0, "", nil},
		{"longer than declared", "hello world", 5, "hello world", nil},
		{"shorter than declared", "hel", 5, "hel", io.ErrUnexpectedEOF},
		{"nothing of what was declared", "", 5, "", io.ErrUnexpectedEOF},
		{"declared past what is taken on trust", "hello", exactLimit + 1, "hello", nil},
		{"declared over the limit", "hello", bufferLimit + 1, "hello", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readBody(strings.NewReader(tc.body), tc.declared)
			if string(got) != tc.want || !errors.Is(err, tc.err) && err != tc.err {
				t.Errorf("readBody = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}
