package model

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Rewriting a range read by parseRange around a newer version, by a
// RangeStrategy, keeping its shape.

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
