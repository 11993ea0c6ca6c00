package model

import (
	"errors"
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// parseVersion reads a published chart version as helm does
// (Masterminds semver.NewVersion): a leading v, a missing minor or patch
// (1.2 is 1.2.0) and leading zeros are accepted.
func parseVersion(s string) (*semver.Version, error) {
	if s == "" {
		return nil, errors.New("empty version")
	}
	return semver.NewVersion(s)
}

// SpellLike writes version the way pin writes versions: with a leading v
// exactly when pin has one. Helm reads 1.8.0 and v1.8.0 alike, so a
// chart file keeps its own spelling whatever the repository's.
func SpellLike(pin, version string) string {
	bare := strings.TrimPrefix(version, "v")
	if r, err := parseRange(bare); err != nil || !r.exact() {
		// A short version (1.3) in a chart file would be a range (1.3.x):
		// write it in full.
		if v, err := parseVersion(bare); err == nil {
			bare = v.String()
		}
	}
	if strings.HasPrefix(strings.TrimSpace(pin), "v") {
		return "v" + bare
	}
	return bare
}

// ParseRangeStrategy reads a range strategy; "" is RangeReplace.
func ParseRangeStrategy(s string) (RangeStrategy, error) {
	if s == "" {
		return RangeReplace, nil
	}
	for _, r := range RangeStrategies {
		if string(r) == s {
			return r, nil
		}
	}
	names := make([]string, len(RangeStrategies))
	for i, r := range RangeStrategies {
		names[i] = string(r)
	}
	return "", fmt.Errorf("%q is not one of %s", s, strings.Join(names, ", "))
}

// Resolution is where a dependency's version (a pin: a version or a range)
// stands against its chart's published versions.
type Resolution struct {
	// Current is the published version the pin resolves to now, as helm
	// resolves it (the highest it admits); nil when it admits none.
	Current *ChartVersion
	// Latest is the newest accepted version. For a pin that is up to date
	// and resolves to a version newer still (options narrower than the
	// range), it is that version.
	Latest ChartVersion
	// Pin is what to write in place of the pin so that it resolves to
	// Latest: Latest spelled like the pin, or the range rewritten. Empty
	// when the pin is up to date.
	Pin string
	// Range: the pin is a range, not a bare version.
	Range bool
}

// Outdated reports whether the pin must change to reach Latest.
func (r Resolution) Outdated() bool { return r.Pin != "" }

// published is a chart version with its parsed version.
type published struct {
	cv ChartVersion
	v  *semver.Version
}

// highest returns the highest of vs that keep admits, ties (versions equal
// but for build metadata) going to the later Created; nil when none does.
func highest(vs []published, keep func(*semver.Version) bool) *published {
	var best *published
	for i := range vs {
		p := &vs[i]
		if !keep(p.v) {
			continue
		}
		if best != nil {
			c := p.v.Compare(best.v)
			if c < 0 || (c == 0 && !p.cv.Created.After(best.cv.Created)) {
				continue
			}
		}
		best = p
	}
	return best
}

// acceptance is what SelectOptions admit, as a test of a version.
func acceptance(opts SelectOptions) (func(*semver.Version) bool, error) {
	var constraint *semver.Constraints
	if c := strings.TrimSpace(opts.Constraint); c != "" {
		var err error
		constraint, err = semver.NewConstraint(c)
		if err != nil {
			return nil, fmt.Errorf("version constraint %q: %w", opts.Constraint, err)
		}
		constraint.IncludePrerelease = opts.Prereleases
	}
	return func(v *semver.Version) bool {
		if v.Prerelease() != "" && !opts.Prereleases {
			return false
		}
		return constraint == nil || constraint.Check(v)
	}, nil
}

func parseAll(versions []ChartVersion) []published {
	out := make([]published, 0, len(versions))
	for _, cv := range versions {
		if v, err := parseVersion(cv.Version); err == nil {
			out = append(out, published{cv, v})
		}
	}
	return out
}

// Resolve compares a dependency's version pin with its chart's published
// versions, as helm resolves it: a pin is a Masterminds constraint (a bare
// version, v1.2.3 included, or a range), and it resolves to the highest
// published version it admits. The newest accepted version is the highest
// that opts admit.
//
// A bare version is up to date only when it is published (or a version
// equal to it is) and nothing newer is accepted; it is outdated when a
// newer one is, and Pin spells that one like the pin (v or not). A bare
// version that is not published and has nothing newer is an error that
// names the newest published version.
//
// A range is up to date when it admits the newest accepted version or
// resolves to one newer still; otherwise it is rewritten by opts.Range
// (see RangeStrategy), and with RangeBump one that admits it gets its
// floor moved up. A rewrite must admit the newest accepted version and
// never resolve lower than the range did; one that cannot be made keeping
// the range's shape is an error that says why.
func Resolve(pin string, versions []ChartVersion, opts SelectOptions) (Resolution, error) {
	strategy, err := ParseRangeStrategy(string(opts.Range))
	if err != nil {
		return Resolution{}, fmt.Errorf("range strategy: %w", err)
	}
	if strings.TrimSpace(pin) == "" {
		return Resolution{}, errors.New("the version is empty")
	}
	admit, err := semver.NewConstraint(pin)
	if err != nil {
		return Resolution{}, fmt.Errorf("version %q is neither a version nor a range helm reads: %w", pin, err)
	}
	accept, err := acceptance(opts)
	if err != nil {
		return Resolution{}, err
	}
	r, parseErr := parseRange(pin)
	exact := parseErr == nil && r.exact()
	all := parseAll(versions)
	now := highest(all, admit.Check)
	newest := highest(all, accept)

	res := Resolution{Range: !exact}
	if now != nil {
		cv := now.cv
		res.Current = &cv
	}
	switch {
	case newest == nil && now == nil:
		return res, notPublished(pin, exact, all, nil)
	case newest == nil:
		res.Latest = now.cv
		return res, nil
	}
	res.Latest = newest.cv
	admits := admit.Check(newest.v)
	switch {
	case admits && (exact || strategy != RangeBump):
		return res, nil
	case !admits && now != nil && now.v.Compare(newest.v) >= 0:
		res.Latest = now.cv // resolves newer than anything accepted
		return res, nil
	}
	if parseErr != nil {
		return res, fmt.Errorf("range %q cannot be rewritten to admit %s: %w", pin, newest.cv.Version, parseErr)
	}
	text, err := rewriteRange(r, newest.v, strategy, admits)
	switch {
	case errors.Is(err, errBelowFloor) && now == nil:
		return res, notPublished(pin, exact, all, newest)
	case err != nil:
		return res, fmt.Errorf("range %q cannot be rewritten to admit %s keeping its shape: %w; rewrite it by hand", pin, newest.cv.Version, err)
	case text == pin && admits:
		return res, nil // bump: the floor is already there
	case text == pin:
		return res, fmt.Errorf("range %q admits every release but no prerelease such as %s; rewrite it by hand", pin, newest.cv.Version)
	}
	if err := checkRewrite(pin, text, newest, now, all); err != nil {
		return res, err
	}
	res.Pin = text
	if exact {
		res.Pin = SpellLike(pin, newest.cv.Version)
	}
	return res, nil
}

// checkRewrite holds a rewritten range to what it must do: helm reads it,
// it admits newest, and it resolves no lower than the old range did.
func checkRewrite(old, text string, newest, now *published, all []published) error {
	c, err := semver.NewConstraint(text)
	if err != nil {
		return fmt.Errorf("range %q would become %q, which helm cannot read: %w", old, text, err)
	}
	if !c.Check(newest.v) {
		return fmt.Errorf("range %q would become %q, which does not admit %s; rewrite it by hand", old, text, newest.cv.Version)
	}
	if now != nil {
		if got := highest(all, c.Check); got == nil || got.v.Compare(now.v) < 0 {
			return fmt.Errorf("range %q would become %q, which resolves lower than %s; rewrite it by hand", old, text, now.cv.Version)
		}
	}
	return nil
}

// notPublished says that a pin admits no published version and nothing
// newer is accepted, naming the newest published version (and the newest
// accepted, when it differs).
func notPublished(pin string, exact bool, all []published, newest *published) error {
	what := fmt.Sprintf("range %q admits no published version", pin)
	if exact {
		what = fmt.Sprintf("version %s is not published, and nothing newer is accepted", pin)
	}
	top := highest(all, func(*semver.Version) bool { return true })
	switch {
	case top == nil:
		return fmt.Errorf("%s: the chart repository lists no versions of this chart", what)
	case newest == nil:
		return fmt.Errorf("%s: the newest published version is %s, and none is accepted", what, top.cv.Version)
	case newest.cv.Version != top.cv.Version:
		return fmt.Errorf("%s: the newest published version is %s, the newest accepted %s", what, top.cv.Version, newest.cv.Version)
	}
	return fmt.Errorf("%s: the newest published version is %s", what, top.cv.Version)
}
