// Package startertest answers helmupgradebot init's questions in tests.
package startertest

import "io"

// Lines answers huh's accessible prompts, one line per Read as a terminal
// gives them: each prompt reads with a fresh scanner, which would swallow
// the answers after its own if given them at once.
type Lines struct{ rest []string }

// NewLines answers with each of answers in turn, then EOF.
func NewLines(answers ...string) *Lines { return &Lines{rest: answers} }

// Read gives the next answer and its newline.
func (l *Lines) Read(p []byte) (int, error) {
	if len(l.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, l.rest[0]+"\n")
	l.rest = l.rest[1:]
	return n, nil
}

// Left is how many answers were not read.
func (l *Lines) Left() int { return len(l.rest) }
