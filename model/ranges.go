package model

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// A chart file's dependency version is a Masterminds/semver constraint, as
// helm reads it: a bare version (1.2.3, v1.2.3), an x-range (1.x, 1.2,
// 1.2.*), a caret or tilde range (^1.2.3, ~1.2), comparisons (>=1.2.3 <2,
// >=1.2.3, <2.0.0), a hyphen range (1.2 - 1.4) and alternatives joined by
// ||. This file reads such a range as written, so that it can be rewritten
// around a newer version keeping its shape: its operators, precision,
// wildcards, v prefixes, white space and commas.

// rangeOps are the comparison operators helm reads, longest first.
var rangeOps = []string{">=", "=>", "<=", "=<", "!=", "~>", ">", "<", "=", "~", "^"}

// comparator is one comparison of a range, as written.
type comparator struct {
	op    string    // one of rangeOps, or "" (equal, or an x-range)
	gap   string    // white space between op and version
	v     bool      // the version has a leading v
	parts [3]string // major, minor, patch: digits, a wildcard (x, X, *), or "" when absent
	pre   string    // prerelease, without its "-"
	meta  string    // build metadata, without its "+"
}

func (c comparator) String() string {
	var b strings.Builder
	b.WriteString(c.op + c.gap)
	if c.v {
		b.WriteByte('v')
	}
	for i, p := range c.parts {
		if p == "" {
			break
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	if c.pre != "" {
		b.WriteString("-" + c.pre)
	}
	if c.meta != "" {
		b.WriteString("+" + c.meta)
	}
	return b.String()
}

func isWild(p string) bool { return p == "x" || p == "X" || p == "*" }

// precision is the number of leading parts written as numbers: 3 for
// 1.2.3, 2 for 1.2 and 1.2.x, 0 for *.
func (c comparator) precision() int {
	for i, p := range c.parts {
		if p == "" || isWild(p) {
			return i
		}
	}
	return 3
}

// nums are the parts' values, a wildcard or absent part counting 0, as
// Masterminds does.
func (c comparator) nums() [3]uint64 {
	var n [3]uint64
	for i, p := range c.parts {
		if p != "" && !isWild(p) {
			n[i], _ = strconv.ParseUint(p, 10, 64) // digits, checked when read
		}
	}
	return n
}

// version is the lowest version the comparator's version stands for.
func (c comparator) version() *semver.Version {
	n := c.nums()
	return semver.New(n[0], n[1], n[2], c.pre, "")
}

func (c comparator) lower() bool { return c.op == ">" || c.op == ">=" || c.op == "=>" }
func (c comparator) upper() bool { return c.op == "<" || c.op == "<=" || c.op == "=<" }

// anchored: a comparator that is a whole alternative on its own, admitting
// versions from its version up (=, an x-range, ~, ^).
func (c comparator) anchored() bool {
	switch c.op {
	case "", "=", "~", "~>", "^":
		return true
	}
	return false
}

// at returns c with its version moved to v, keeping its precision and
// wildcards; with full, or when v is a prerelease that the precision
// cannot carry, written in full.
func (c comparator) at(v *semver.Version, full bool) comparator {
	p := c.precision()
	if full || v.Prerelease() != "" {
		p = 3
	}
	n := [3]uint64{v.Major(), v.Minor(), v.Patch()}
	for i := range p {
		c.parts[i] = strconv.FormatUint(n[i], 10)
	}
	c.pre, c.meta = "", ""
	if p == 3 {
		c.pre, c.meta = v.Prerelease(), v.Metadata()
	}
	return c
}

// alternative is one ||-separated part of a range: comparators that must
// all hold, and the text around and between them.
type alternative struct {
	lead, trail string
	items       []comparator
	seps        []string // seps[i] is between items[i] and items[i+1]
	hyphen      bool     // items[0] - items[1]
}

func (a alternative) String() string {
	var b strings.Builder
	b.WriteString(a.lead)
	for i, c := range a.items {
		if i > 0 {
			b.WriteString(a.seps[i-1])
		}
		b.WriteString(c.String())
	}
	b.WriteString(a.trail)
	return b.String()
}

// versionRange is a dependency's version as written.
type versionRange struct {
	alts []alternative
}

func (r versionRange) String() string {
	s := make([]string, len(r.alts))
	for i, a := range r.alts {
		s[i] = a.String()
	}
	return strings.Join(s, "||")
}

// exact reports whether r is a bare version such as 1.2.3 or v1.2.3: no
// operator, no wildcard.
func (r versionRange) exact() bool {
	if len(r.alts) != 1 || len(r.alts[0].items) != 1 {
		return false
	}
	c := r.alts[0].items[0]
	return c.op == "" && c.precision() == 3
}

// parseRange reads a range as written. It reads the forms helm reads; it
// is an error when what it read does not print back as s.
func parseRange(s string) (versionRange, error) {
	var r versionRange
	for _, part := range strings.Split(s, "||") {
		a, err := parseAlternative(part)
		if err != nil {
			return versionRange{}, err
		}
		r.alts = append(r.alts, a)
	}
	if r.String() != s {
		return versionRange{}, fmt.Errorf("%q is written in a way this tool cannot reproduce", s)
	}
	return r, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

func spaces(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

func parseAlternative(s string) (alternative, error) {
	var a alternative
	i := spaces(s, 0)
	a.lead = s[:i]
	if i == len(s) {
		return a, errors.New("an empty alternative")
	}
	for {
		c, n, err := scanComparator(s[i:])
		if err != nil {
			return a, err
		}
		a.items = append(a.items, c)
		i += n
		j := spaces(s, i)
		if j == len(s) {
			a.trail = s[i:]
			break
		}
		switch {
		case s[j] == ',':
			j = spaces(s, j+1)
		case s[j] == '-' && j > i && j+1 < len(s) && isSpace(s[j+1]):
			if len(a.items) != 1 || c.op != "" {
				return a, fmt.Errorf("%q: a hyphen range joins two bare versions", s)
			}
			a.hyphen = true
			j = spaces(s, j+1)
		case j == i:
			return a, fmt.Errorf("%q: unexpected %q after %s", s, s[j], c)
		}
		a.seps = append(a.seps, s[i:j])
		i = j
	}
	if a.hyphen && len(a.items) != 2 {
		return a, fmt.Errorf("%q: a hyphen range joins two bare versions", s)
	}
	return a, nil
}

// scanComparator reads one comparator at the start of s and returns its
// length.
func scanComparator(s string) (comparator, int, error) {
	var c comparator
	i := 0
	for _, op := range rangeOps {
		if strings.HasPrefix(s, op) {
			c.op, i = op, len(op)
			break
		}
	}
	j := spaces(s, i)
	c.gap, i = s[i:j], j
	if i < len(s) && s[i] == 'v' {
		c.v, i = true, i+1
	}
	for k := range 3 {
		if k > 0 {
			if i+1 >= len(s) || s[i] != '.' {
				break
			}
			i++
		}
		j := i
		if j < len(s) && isWild(s[j:j+1]) {
			j++
		} else {
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
		}
		if j == i {
			return c, 0, fmt.Errorf("%q: want a version after %q", s, c.op)
		}
		c.parts[k], i = s[i:j], j
	}
	ident := func(j int) int {
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] == '-' || s[j] == '.') {
			j++
		}
		return j
	}
	if i+1 < len(s) && s[i] == '-' && !isSpace(s[i+1]) {
		j := ident(i + 1)
		c.pre, i = s[i+1:j], j
	}
	if i < len(s) && s[i] == '+' {
		j := ident(i + 1)
		c.meta, i = s[i+1:j], j
	}
	return c, i, nil
}
