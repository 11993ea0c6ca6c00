package chartfile

import (
	"gopkg.in/yaml.v3"

	"github.com/helmupgradebot/helmupgradebot/backend/yamledit"
)

// Position is where a token starts in a file (see yamledit.Position).
type Position = yamledit.Position

// QuoteStyle is how a version is written.
type QuoteStyle = yamledit.QuoteStyle

// Quote styles of a version scalar.
const (
	Plain        = yamledit.Plain
	SingleQuoted = yamledit.SingleQuoted
	DoubleQuoted = yamledit.DoubleQuoted
)

type lineIndex = yamledit.Lines

func newLineIndex(content []byte) lineIndex { return yamledit.NewLines(content) }

// locateScalar finds the source text of a one-line scalar node.
func locateScalar(content []byte, lines lineIndex, n *yaml.Node) (Position, int, QuoteStyle, error) {
	return yamledit.Locate(content, lines, n)
}

// scalarToken renders v as a YAML scalar in the given style, checking it
// is a version (or, with extra ":", a digest) that a chart or lock file can
// hold.
func scalarToken(v string, style QuoteStyle, extra string) (string, error) {
	return yamledit.Token(v, style, "version", ".-+_"+extra)
}
