// Package yamledit finds the source text of one-line YAML scalars and
// renders replacements for them, so that a file can be edited in place:
// one token changes and every other byte stays as it was. Chart files
// (backend/chartfile) and values files (backend/values) edit through it.
package yamledit

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Position is where a token starts in a file: 1-based line and column (in
// characters, as YAML counts them) and the 0-based byte offset.
type Position struct {
	Line   int
	Column int
	Offset int
}

// QuoteStyle is how a scalar is written.
type QuoteStyle int

// Quote styles of a scalar.
const (
	Plain QuoteStyle = iota
	SingleQuoted
	DoubleQuoted
)

// Locate finds the source text of n, a one-line plain or quoted scalar of
// content: where its token starts (its opening quote, if any), the byte
// offset just past it (past the closing quote), and its quote style. A
// scalar that carries an explicit tag or an anchor, a block scalar (| or >)
// and one that spans lines are errors saying so.
func Locate(content []byte, lines Lines, n *yaml.Node) (Position, int, QuoteStyle, error) {
	switch {
	case n.Style&yaml.TaggedStyle != 0:
		return Position{}, 0, 0, errors.New("has an explicit YAML tag; edit it by hand")
	case n.Anchor != "":
		return Position{}, 0, 0, errors.New("carries a YAML anchor; edit it by hand")
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return Position{}, 0, 0, errors.New("is a block scalar (| or >), not a plain or quoted one")
	}
	off, ok := lines.Offset(n.Line, n.Column)
	if !ok {
		return Position{}, 0, 0, fmt.Errorf("cannot find line %d column %d in the file", n.Line, n.Column)
	}
	pos := Position{Line: n.Line, Column: n.Column, Offset: off}
	rest := content[off:]
	var end int
	var style QuoteStyle
	switch {
	case n.Style&yaml.SingleQuotedStyle != 0:
		style = SingleQuoted
		raw := "'" + strings.ReplaceAll(n.Value, "'", "''") + "'"
		if !bytes.HasPrefix(rest, []byte(raw)) {
			return pos, 0, 0, errors.New("spans more than one line or could not be located")
		}
		end = off + len(raw)
	case n.Style&yaml.DoubleQuotedStyle != 0:
		style = DoubleQuoted
		if len(rest) == 0 || rest[0] != '"' {
			return pos, 0, 0, errors.New("could not be located")
		}
		i := 1
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' {
				i++
			}
		}
		if i >= len(rest) {
			return pos, 0, 0, errors.New("has no closing quote")
		}
		raw := rest[:i+1]
		var back string
		if hasBreak(raw) || yaml.Unmarshal(raw, &back) != nil || back != n.Value {
			return pos, 0, 0, errors.New("spans more than one line or could not be located")
		}
		end = off + len(raw)
	default:
		style = Plain
		if !bytes.HasPrefix(rest, []byte(n.Value)) || hasBreak([]byte(n.Value)) {
			return pos, 0, 0, errors.New("spans more than one line or could not be located")
		}
		end = off + len(n.Value)
	}
	if hasBreak(content[off:end]) {
		return pos, 0, 0, errors.New("spans more than one line")
	}
	return pos, end, style, nil
}

// Token renders v as a one-line YAML scalar in style. v must be made of
// letters, digits and the bytes in allowed; a plain token must read back
// as the same string (1.10 would read as a number). what names v in
// errors ("version", "tag").
func Token(v string, style QuoteStyle, what, allowed string) (string, error) {
	if v == "" {
		return "", fmt.Errorf("new %s is empty", what)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte(allowed, c) >= 0) {
			names := strings.Split(allowed, "")
			for i, a := range names {
				if a == " " {
					names[i] = "space"
				}
			}
			return "", fmt.Errorf("new %s %q has %q; a %s holds only letters, digits and %s", what, v, c, what, strings.Join(names, " "))
		}
	}
	switch style {
	case SingleQuoted:
		return "'" + v + "'", nil
	case DoubleQuoted:
		return `"` + v + `"`, nil
	}
	if !ReadsAsString(v) {
		return "", fmt.Errorf("new %s %q would not read back as a string unquoted; quote the %s in the file", what, v, what)
	}
	return v, nil
}

// ReadsAsString reports whether v, written as a plain scalar, reads back
// as the string v (not a number, a boolean, null, or anything else).
func ReadsAsString(v string) bool {
	var n yaml.Node
	return yaml.Unmarshal([]byte(v), &n) == nil && len(n.Content) == 1 &&
		n.Content[0].Kind == yaml.ScalarNode && n.Content[0].ShortTag() == "!!str" && n.Content[0].Value == v
}

// Lines maps YAML line/column positions to byte offsets, counting line
// breaks the way gopkg.in/yaml.v3 does: CRLF, CR, LF, NEL, LS and PS.
type Lines struct {
	content []byte
	starts  []int // starts[i] is the byte offset of line i+1
}

// NewLines indexes the lines of content.
func NewLines(content []byte) Lines {
	starts := []int{0}
	if bytes.HasPrefix(content, []byte("\ufeff")) {
		starts[0] = 3
	}
	for i := starts[0]; i < len(content); {
		if n := breakLen(content[i:]); n > 0 {
			i += n
			starts = append(starts, i)
			continue
		}
		i++
	}
	return Lines{content: content, starts: starts}
}

// Count is the number of lines (an empty last line after a final break
// counts).
func (li Lines) Count() int { return len(li.starts) }

// Line is the text of the 1-based line n, its line break included.
func (li Lines) Line(n int) []byte {
	if n < 1 || n > len(li.starts) {
		return nil
	}
	start, end := li.starts[n-1], len(li.content)
	if n == 1 {
		start = 0 // with the byte order mark
	}
	if n < len(li.starts) {
		end = li.starts[n]
	}
	return li.content[start:end]
}

// Offset converts a 1-based line and character column to a byte offset.
func (li Lines) Offset(line, column int) (int, bool) {
	if line < 1 || line > len(li.starts) || column < 1 {
		return 0, false
	}
	off := li.starts[line-1]
	for c := 1; c < column; c++ {
		if off >= len(li.content) || breakLen(li.content[off:]) > 0 {
			return 0, false
		}
		_, size := utf8.DecodeRune(li.content[off:])
		off += size
	}
	return off, true
}

// ChangedLines lists the 1-based lines that differ between before and
// after, splitting on every YAML line break. same is false when the
// number of lines differs (then changed is nil).
func ChangedLines(before, after []byte) (changed []int, same bool) {
	lb, la := NewLines(before), NewLines(after)
	if lb.Count() != la.Count() {
		return nil, false
	}
	for n := 1; n <= lb.Count(); n++ {
		if !bytes.Equal(lb.Line(n), la.Line(n)) {
			changed = append(changed, n)
		}
	}
	return changed, true
}

// breakLen is the length of the line break at the start of b, or 0.
func breakLen(b []byte) int {
	switch {
	case len(b) == 0:
		return 0
	case b[0] == '\r':
		if len(b) > 1 && b[1] == '\n' {
			return 2
		}
		return 1
	case b[0] == '\n':
		return 1
	case len(b) > 1 && b[0] == 0xC2 && b[1] == 0x85: // NEL
		return 2
	case len(b) > 2 && b[0] == 0xE2 && b[1] == 0x80 && (b[2] == 0xA8 || b[2] == 0xA9): // LS, PS
		return 3
	}
	return 0
}

func hasBreak(b []byte) bool {
	for i := range b {
		if breakLen(b[i:]) > 0 {
			return true
		}
	}
	return false
}
