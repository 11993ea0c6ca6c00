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

// RangeStrategy says how a range that is a dependency's version follows
// new versions.
type RangeStrategy string

// Range strategies.
const (
	// RangeReplace rewrites a range that excludes the newest version
	// around it, keeping its shape; one that admits it is left alone.
	RangeReplace RangeStrategy = "replace"
	// RangeBump also moves the floor of a range that admits the newest
	// version up to it.
	RangeBump RangeStrategy = "bump"
	// RangeWiden extends a range that excludes the newest version so that
	// it admits it too.
	RangeWiden RangeStrategy = "widen"
)

// RangeStrategies are the strategies, in the order the docs give them.
var RangeStrategies = []RangeStrategy{RangeReplace, RangeBump, RangeWiden}

// floor is the lowest version an alternative admits; nil when it cannot
// be told (a shape the rewrite does not handle).
func (a alternative) floor() *semver.Version {
	switch {
	case a.hyphen:
		return a.items[0].version()
	case len(a.items) == 1 && a.items[0].anchored():
		return a.items[0].version()
	}
	lo, _, err := a.bounds()
	if err != nil {
		return nil
	}
	if lo < 0 {
		return semver.New(0, 0, 0, "", "")
	}
	return a.items[lo].version()
}

// bounds finds an alternative's lower and upper bound (-1 when it has
// none); != comparisons may stand beside them.
func (a alternative) bounds() (lo, hi int, err error) {
	if a.hyphen {
		return 0, 1, nil
	}
	lo, hi = -1, -1
	for i, c := range a.items {
		switch {
		case c.lower() && lo < 0:
			lo = i
		case c.upper() && hi < 0:
			hi = i
		case c.op == "!=":
		case c.lower():
			return 0, 0, fmt.Errorf("%q has more than one lower bound", strings.TrimSpace(a.String()))
		case c.upper():
			return 0, 0, fmt.Errorf("%q has more than one upper bound", strings.TrimSpace(a.String()))
		default:
			return 0, 0, fmt.Errorf("%q mixes %s with other comparisons", strings.TrimSpace(a.String()), c)
		}
	}
	return lo, hi, nil
}

// rewrite moves an alternative to admit v: its floor to v, and its upper
// bound as far above v as it was above its floor. With widen, an upper
// bound moves and the floor stays.
func (a alternative) rewrite(v *semver.Version, widen bool) (alternative, error) {
	name := strings.TrimSpace(a.String())
	a.items = append([]comparator(nil), a.items...)
	if !a.hyphen && len(a.items) == 1 && a.items[0].anchored() {
		c := a.items[0]
		switch {
		case c.precision() == 0:
			return a, nil // no floor to move; admits every release
		case v.Prerelease() != "" && (c.op == "" || c.op == "=") && c.precision() < 3:
			return a, fmt.Errorf("the x-range %q cannot admit the prerelease %s", name, v)
		}
		a.items[0] = c.at(v, false)
		return a, nil
	}
	lo, hi, err := a.bounds()
	if err != nil {
		return a, err
	}
	if lo < 0 && hi < 0 {
		return a, fmt.Errorf("%q has no bound to move", name)
	}
	if hi >= 0 {
		var from *semver.Version
		if lo >= 0 {
			from = a.items[lo].version()
		}
		if a.items[hi], err = stepAbove(a.items[hi], from, v); err != nil {
			return a, fmt.Errorf("%q: %w", name, err)
		}
	}
	switch {
	case widen && hi < 0:
		return a, fmt.Errorf("%q has no upper bound to raise", name)
	case widen || lo < 0:
	case a.items[lo].op == ">":
		return a, fmt.Errorf("the floor of %q is exclusive (>), and moving it to %s would change its operator", name, v)
	default:
		a.items[lo] = a.items[lo].at(v, false)
	}
	return a, nil
}

// stepAbove moves an upper bound u above v: as many steps (majors, minors
// or patches) above v as it was above the floor from, or one step of its
// own precision when there is no floor. u must be a whole number of steps:
// <2, <2.0.0, <1.3, <2.0.0-0, but not <1.4.7 above 1.2.3.
func stepAbove(u comparator, from *semver.Version, v *semver.Version) (comparator, error) {
	un := u.nums()
	i, delta := -1, uint64(1)
	if from != nil {
		fn := [3]uint64{from.Major(), from.Minor(), from.Patch()}
		for k := range 3 {
			if un[k] != fn[k] {
				i = k
				break
			}
		}
		if i < 0 || un[i] < fn[i] {
			return u, fmt.Errorf("its upper bound %s is not above its floor %s", u, from)
		}
		delta = un[i] - fn[i]
	} else {
		for k := 2; k >= 0; k-- {
			if un[k] != 0 {
				i = k
				break
			}
		}
		if i < 0 {
			return u, fmt.Errorf("its upper bound %s admits nothing", u)
		}
	}
	for k := i + 1; k < 3; k++ {
		if p := u.parts[k]; p != "" && !isWild(p) && un[k] != 0 {
			return u, fmt.Errorf("its upper bound %s is not a whole number of steps above %s, so there is no telling how far above %s to put it", u, cmpOr(from, "zero"), v)
		}
	}
	n := [3]uint64{v.Major(), v.Minor(), v.Patch()}
	for k := range i {
		u.parts[k] = strconv.FormatUint(n[k], 10)
	}
	u.parts[i] = strconv.FormatUint(n[i]+delta, 10)
	return u, nil
}

func cmpOr(v *semver.Version, none string) string {
	if v == nil {
		return none
	}
	return v.String()
}

// errBelowFloor: every alternative of a range starts above the version it
// should admit.
var errBelowFloor = errors.New("the range starts above it")

// rewriteRange rewrites r to admit v by strategy s. admits says whether r
// already admits v (only bump rewrites it then).
func rewriteRange(r versionRange, v *semver.Version, s RangeStrategy, admits bool) (string, error) {
	// The target is the alternative that admits v, else the highest one
	// that starts at or below it.
	target := -1
	var best *semver.Version
	for i, a := range r.alts {
		f := a.floor()
		if f == nil {
			continue
		}
		if admits {
			if c, err := semver.NewConstraint(a.String()); err == nil && c.Check(v) {
				target = i
			}
			continue
		}
		if f.Compare(v) <= 0 && (best == nil || f.Compare(best) >= 0) {
			target, best = i, f
		}
	}
	if target < 0 {
		for _, a := range r.alts {
			if a.floor() == nil {
				_, _, err := a.bounds()
				return "", err
			}
		}
		return "", errBelowFloor
	}
	a := r.alts[target]
	widen := s == RangeWiden && !r.exact()
	if widen && !a.hyphen {
		if _, hi, err := a.bounds(); err != nil || hi < 0 {
			// No upper bound to raise: add an alternative.
			n, err := a.rewrite(v, false)
			if err != nil {
				return "", err
			}
			sep := " || "
			if len(r.alts) > 1 {
				sep = r.alts[len(r.alts)-2].trail + "||" + r.alts[len(r.alts)-1].lead
			}
			return strings.TrimRight(r.String(), " \t") + sep + strings.TrimSpace(n.String()), nil
		}
	}
	n, err := a.rewrite(v, widen)
	if err != nil {
		return "", err
	}
	out := versionRange{alts: append([]alternative(nil), r.alts...)}
	out.alts[target] = n
	return out.String(), nil
}
