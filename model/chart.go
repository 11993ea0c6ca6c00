package model

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Dependency states of a pull request that is left alone.
const (
	// StateEdited: the PR's branch holds a commit helmupgradebot did not
	// write, so it is never pushed to; Warning says whose and what to do.
	StateEdited DependencyState = "edited"
	// StatePRClosed: a PR for this very version was closed without being
	// merged; it is not proposed again (a newer version is).
	StatePRClosed DependencyState = "pr-closed"
	// StateSkipped: the chart file's entry cannot be read (it has no name,
	// or a field is not a string); it is skipped, as helm skips it, and
	// Warning says why. The file's other dependencies are still checked.
	StateSkipped DependencyState = "skipped"
)

// ChartVersion is one published version of a Helm chart, as a chart
// repository describes it. Fields other than Version may be empty when the
// repository does not say (an OCI tag list carries only versions).
type ChartVersion struct {
	Version    string
	Created    time.Time
	Home       string
	Sources    []string
	AppVersion string
	Digest     string
	// Changes are what the index entry's artifacthub.io/changes annotation
	// lists for this version; ChangesProblem says why an annotation that
	// is there was skipped (it did not parse).
	Changes        []Change
	ChangesProblem string
}

// SelectOptions narrows the versions a dependency accepts.
type SelectOptions struct {
	// Prereleases admits prerelease versions (1.2.3-beta.1); otherwise only
	// stable ones are considered.
	Prereleases bool
	// Constraint is an optional Masterminds/semver constraint such as
	// ">=1.0.0-0, <2". Prereleases still count when Prereleases is set, even
	// if the constraint carries none.
	Constraint string
	// Range is how a version that is a range follows new versions
	// (Resolve); "" is RangeReplace.
	Range RangeStrategy
}

// SelectNewest picks the highest version, in semver order, that is newer
// than current and accepted by opts. Versions are read as helm reads them
// (a leading v, 1.2 for 1.2.0); those it cannot read are skipped. ok is
// false when nothing newer is accepted. A current version that is not a
// bare version (a range) or a constraint that does not parse is an error.
//
// The constraint only narrows: it never admits prereleases when
// opts.Prereleases is false. Versions equal under semver (differing only in
// build metadata) are broken by the later Created time.
func SelectNewest(current string, versions []ChartVersion, opts SelectOptions) (best ChartVersion, ok bool, err error) {
	pinned, err := parseVersion(current)
	if r, rerr := parseRange(current); err == nil && (rerr != nil || !r.exact()) {
		err = errors.New("a range, not a version")
	}
	if err != nil {
		return ChartVersion{}, false, fmt.Errorf("pinned version %q is not a version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], v allowed): %w", current, err)
	}
	accept, err := acceptance(opts)
	if err != nil {
		return ChartVersion{}, false, err
	}
	p := highest(parseAll(versions), func(v *semver.Version) bool { return v.Compare(pinned) > 0 && accept(v) })
	if p == nil {
		return ChartVersion{}, false, nil
	}
	return p.cv, true, nil
}

// ChartpressHash returns the git commit hash that a chartpress version
// carries: "1.0.0-0.dev.git.3497.hf25ee22" carries "f25ee22" and
// "4.0.0-beta.4.git.6831.habe06f4d" carries "abe06f4d". The older form
// "0.2.0-n653.h195caac" is recognised too. ok is false for anything else.
func ChartpressHash(version string) (hash string, ok bool) {
	_, pre, found := strings.Cut(version, "-")
	if !found {
		return "", false
	}
	pre, _, _ = strings.Cut(pre, "+")
	ids := strings.Split(pre, ".")
	n := len(ids)
	if n < 2 {
		return "", false
	}
	last := ids[n-1]
	if len(last) < 1+7 || len(last) > 1+40 || last[0] != 'h' || !isLowerHex(last[1:]) {
		return "", false
	}
	count := ids[n-2]
	switch {
	case n >= 3 && ids[n-3] == "git" && isDigits(count):
	case len(count) > 1 && count[0] == 'n' && isDigits(count[1:]):
	default:
		return "", false
	}
	return last[1:], true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}
