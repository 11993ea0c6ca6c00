package model

import (
	"cmp"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// ImageRules narrow the images a chart entry's values files pin, and the
// tags they may move to (a chart entry's images: key).
type ImageRules struct {
	// Include, when not empty, tracks only the images whose name matches
	// one of its patterns; Exclude leaves out those whose name matches one
	// of its. Patterns are globs (path.Match: * and ? stop at /), matched
	// against each name the caller gives Admits: the full name
	// (index.docker.io/library/nginx, quay.io/jupyterhub/repo2docker) and
	// the name as written (nginx).
	Include, Exclude []string
	// Prereleases admits unreleased tags (semver prereleases, git-describe
	// builds, .devN builds) for a pin that is a release. A pin that is
	// itself unreleased admits them always.
	Prereleases bool
	// Constraint is an optional Masterminds/semver constraint on the
	// version a tag carries (for a git-describe tag its base version, for
	// X.devN the prerelease X-dev.N). It only narrows: it never admits an
	// unreleased tag the rule above leaves out. Tags of four numbers,
	// which semver cannot express, are left out when it is set.
	Constraint string
}

// Check reports a pattern or constraint that does not parse.
func (r ImageRules) Check() error {
	for _, p := range append(r.Include[:len(r.Include):len(r.Include)], r.Exclude...) {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("image pattern %q: %w", p, err)
		}
	}
	if c := strings.TrimSpace(r.Constraint); c != "" {
		if _, err := semver.NewConstraint(c); err != nil {
			return fmt.Errorf("image tag constraint %q: %w", r.Constraint, err)
		}
	}
	return nil
}

// Admits reports whether an image known by names (its full name and the
// name as written) is tracked: some name matches an Include pattern (or
// there are none), and no name matches an Exclude pattern. A malformed
// pattern matches nothing (Check reports it).
func (r ImageRules) Admits(names ...string) bool {
	match := func(pats []string) bool {
		for _, p := range pats {
			for _, n := range names {
				if ok, _ := path.Match(p, n); ok {
					return true
				}
			}
		}
		return false
	}
	return (len(r.Include) == 0 || match(r.Include)) && !match(r.Exclude)
}

// ImageTag is one tag of an image, with its image's created time when
// known (needed only to order commit-hash tags).
type ImageTag struct {
	Tag     string
	Created time.Time
}

// TagKind is the shape of an image tag. It decides which tags a pin is
// compared with, and how.
type TagKind int

// Tag shapes.
const (
	// TagUnordered: no order is known (latest, main, stable, a tag with a
	// .dirty suffix).
	TagUnordered TagKind = iota
	// TagRelease: numbers, optionally v before and a variant after
	// (1.2.3, v1.7, 20240115, 1.25.3-alpine, 7.2.4-debian-12-r9).
	TagRelease
	// TagPrerelease: a semver prerelease (1.2.3-rc.1, chartpress's
	// 1.0.0-0.dev.git.3983.h383374de). It orders before its version.
	TagPrerelease
	// TagDescribe: git describe output, N commits after a version
	// (2021.08.0-136.g47ea95a, 1.2.3-4-gabcdef0). It orders after its
	// version, by N: the opposite of semver's prerelease rule.
	TagDescribe
	// TagDevBuild: a PEP 440 development build, N commits towards a
	// version (2025.12.1.dev6-gc8b2679fa). It orders before its version.
	TagDevBuild
	// TagHash: a commit hash (9f081a2): ordered by created time, compared
	// only with hashes of the same length.
	TagHash
)

func (k TagKind) String() string {
	switch k {
	case TagRelease:
		return "release"
	case TagPrerelease:
		return "prerelease"
	case TagDescribe:
		return "git describe"
	case TagDevBuild:
		return "dev build"
	case TagHash:
		return "commit hash"
	}
	return "unordered"
}

// unreleased reports whether a tag of this kind is a build before or
// between releases.
func (k TagKind) unreleased() bool {
	return k == TagPrerelease || k == TagDescribe || k == TagDevBuild
}

// UnorderedTagError is a pin whose tag has no known order: nothing can be
// said to be newer.
type UnorderedTagError struct{ Tag string }

func (e *UnorderedTagError) Error() string {
	return fmt.Sprintf("tag %q has no order: it is not a version (1.2.3, v1.2), a git describe (2021.08.0-136.g47ea95a), a .devN build or a commit hash", e.Tag)
}

// imageTag is a parsed tag.
type imageTag struct {
	raw  string
	kind TagKind
	v    bool     // written with a leading v
	nums []uint64 // the version's numbers (the base of a describe or dev build)
	pre  []string // prerelease identifiers
	// count is a describe's commits since, or a dev build's N.
	count uint64
	// commit is the hash the tag carries, if any.
	commit string
	// variant is a release's suffix with its last number as #; revision
	// is that number.
	variant  string
	revision uint64
}

var (
	describeTag    = regexp.MustCompile(`^(v?)(\d+(?:\.\d+){0,3})-(\d+)[.-]g([0-9a-f]{7,40})$`)
	devTag         = regexp.MustCompile(`^(v?)(\d+(?:\.\d+){0,3})\.dev(\d+)(?:[.-]g([0-9a-f]{7,40}))?$`)
	versionTag     = regexp.MustCompile(`^(v?)(\d+(?:\.\d+){0,3})(?:-([0-9A-Za-z][0-9A-Za-z._-]*))?$`)
	hashIdent      = regexp.MustCompile(`^g[0-9a-f]{7,40}$`)
	chartpressHash = regexp.MustCompile(`^h[0-9a-f]{7,40}$`)
	lastDigitRun   = regexp.MustCompile(`(\d+)\D*$`)
)

// prereleaseWords start a suffix that is a prerelease rather than a
// variant (alpine, debian-12-r3, slim).
var prereleaseWords = []string{"alpha", "beta", "rc", "pre", "preview", "dev", "snapshot", "canary", "nightly", "next", "a", "b"}

// ImageTagKind is the shape of tag.
func ImageTagKind(tag string) TagKind { return parseImageTag(tag).kind }

func parseImageTag(s string) imageTag {
	t := imageTag{raw: s}
	if s == "" || strings.EqualFold(s, "latest") {
		return t
	}
	if len(s) >= 7 && len(s) <= 40 && isLowerHex(s) && strings.ContainsAny(s, "abcdef") {
		t.kind, t.commit = TagHash, s
		return t
	}
	if m := describeTag.FindStringSubmatch(s); m != nil {
		return t.numbered(TagDescribe, m[1], m[2], m[3], m[4])
	}
	if m := devTag.FindStringSubmatch(s); m != nil {
		return t.numbered(TagDevBuild, m[1], m[2], m[3], m[4])
	}
	m := versionTag.FindStringSubmatch(s)
	if m == nil {
		return t
	}
	t = t.numbered(TagRelease, m[1], m[2], "", "")
	suffix := m[3]
	if t.kind == TagUnordered || suffix == "" {
		return t
	}
	words := strings.FieldsFunc(suffix, func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	for _, w := range words {
		if hashIdent.MatchString(w) || len(w) >= 7 && isLowerHex(w) && !isDigits(w) {
			return imageTag{raw: s} // a commit: a .dirty describe, chartpress's oldest (0.1.0-fd778a3)
		}
	}
	ids := strings.Split(suffix, ".")
	word := strings.ToLower(words[0])
	stem := strings.TrimRight(word, "0123456789")
	if isDigits(word) || (stem != "" && slices.Contains(prereleaseWords, stem)) {
		for _, id := range ids {
			if id == "" || strings.Contains(id, "_") || (isDigits(id) && len(id) > 1 && id[0] == '0') {
				return imageTag{raw: s} // not a semver prerelease
			}
		}
		t.kind, t.pre = TagPrerelease, ids
		t.commit, _ = ChartpressHash(s)
		return t
	}
	for _, w := range words {
		if chartpressHash.MatchString(w) {
			return imageTag{raw: s} // chartpress's old 0.2.0-n653.h195caac: no order
		}
	}
	// The variant's last number is a revision (-r9, alpine3.19); the rest
	// of it must stay (debian-12 never becomes debian-11).
	t.variant = suffix
	if loc := lastDigitRun.FindStringSubmatchIndex(suffix); loc != nil {
		from, to := loc[2], loc[3]
		n, err := strconv.ParseUint(suffix[from:to], 10, 64)
		if err != nil {
			return imageTag{raw: s}
		}
		t.variant, t.revision = suffix[:from]+"#"+suffix[to:], n
	}
	return t
}

// numbered fills in a tag of kind with version numbers: v is "v" or "",
// version the dotted numbers, count the commits (or ""), commit the hash
// (or ""). Numbers past uint64 leave the tag unordered.
func (t imageTag) numbered(kind TagKind, v, version, count, commit string) imageTag {
	t.kind, t.v, t.commit = kind, v == "v", commit
	for _, f := range strings.Split(version, ".") {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return imageTag{raw: t.raw}
		}
		t.nums = append(t.nums, n)
	}
	if count != "" {
		n, err := strconv.ParseUint(count, 10, 64)
		if err != nil {
			return imageTag{raw: t.raw}
		}
		t.count = n
	}
	return t
}

// phase places a tag around its version: dev builds, then prereleases,
// then the release, then describes.
func (t imageTag) phase() int {
	switch t.kind {
	case TagDevBuild:
		return -2
	case TagPrerelease:
		return -1
	case TagDescribe:
		return 1
	}
	return 0
}

// compareTags orders two tags of the version shapes.
func compareTags(a, b imageTag) int {
	for i := range max(len(a.nums), len(b.nums)) {
		var x, y uint64
		if i < len(a.nums) {
			x = a.nums[i]
		}
		if i < len(b.nums) {
			y = b.nums[i]
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.phase(), b.phase()); c != 0 {
		return c
	}
	if a.kind == TagPrerelease {
		if c := comparePrerelease(a.pre, b.pre); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.count, b.count); c != 0 {
		return c
	}
	return cmp.Compare(a.revision, b.revision)
}

// comparePrerelease is semver's precedence of prerelease identifiers.
func comparePrerelease(a, b []string) int {
	for i := range min(len(a), len(b)) {
		x, y := a[i], b[i]
		xn, yn := isDigits(x), isDigits(y)
		var c int
		switch {
		case xn && yn: // no leading zeros: the longer is larger
			c = cmp.Or(cmp.Compare(len(x), len(y)), strings.Compare(x, y))
		case xn:
			c = -1
		case yn:
			c = 1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// semverOf is the version a constraint is checked against; ok is false
// for four numbers.
func (t imageTag) semverOf() (*semver.Version, bool) {
	if len(t.nums) > 3 {
		return nil, false
	}
	n := [3]uint64{}
	copy(n[:], t.nums)
	pre := ""
	switch t.kind {
	case TagPrerelease:
		pre = strings.Join(t.pre, ".")
	case TagDevBuild:
		pre = "dev." + strconv.FormatUint(t.count, 10)
	}
	return semver.New(n[0], n[1], n[2], pre, ""), true
}

// selector decides which tags a pin is compared with.
type selector struct {
	pin        imageTag
	rules      ImageRules
	constraint *semver.Constraints
}

func newSelector(pin string, rules ImageRules) (selector, error) {
	s := selector{pin: parseImageTag(pin), rules: rules}
	if s.pin.kind == TagUnordered {
		return s, &UnorderedTagError{Tag: pin}
	}
	if c := strings.TrimSpace(rules.Constraint); c != "" {
		con, err := semver.NewConstraint(c)
		if err != nil {
			return s, fmt.Errorf("image tag constraint %q: %w", rules.Constraint, err)
		}
		con.IncludePrerelease = true // which unreleased tags count is decided before
		s.constraint = con
	}
	return s, nil
}

// accepts reports whether t is of a shape the pin is compared with, and
// passes the rules.
func (s selector) accepts(t imageTag) bool {
	p := s.pin
	if p.kind == TagHash {
		return t.kind == TagHash && len(t.raw) == len(p.raw)
	}
	switch {
	case t.kind == TagUnordered || t.kind == TagHash:
		return false
	case len(t.nums) != len(p.nums) || t.variant != p.variant:
		return false
	case t.kind.unreleased() && !s.rules.Prereleases && !p.kind.unreleased():
		return false
	}
	if s.constraint != nil {
		v, ok := t.semverOf()
		if !ok || !s.constraint.Check(v) {
			return false
		}
	}
	return true
}

// ImageTagComparable reports whether tag is of a shape that pin is
// compared with under rules: what a caller needs created times for when
// ImageTagsNeedCreated(pin).
func ImageTagComparable(pin, tag string, rules ImageRules) bool {
	s, err := newSelector(pin, rules)
	return err == nil && tag != pin && s.accepts(parseImageTag(tag))
}

// ImageTagsNeedCreated reports whether pin is ordered by created times (a
// commit hash): then NewestImageTag needs the Created of the pin and of
// every tag ImageTagComparable admits.
func ImageTagsNeedCreated(pin string) bool { return parseImageTag(pin).kind == TagHash }

// NewestImageTag picks, among an image's tags, the newest one newer than
// pin that pin is compared with:
//
//   - Versions (1.2.3, v1.2, 1.25.3-alpine): by semver precedence, v or
//     not; only tags with as many numbers and the same variant (the
//     suffix but its last number: -alpine, -debian-12-r#, -alpine3.#);
//     of one version, the variant's last number orders.
//   - Unreleased tags (semver prereleases, git describes, .devN builds)
//     count only when rules.Prereleases is set or pin is unreleased. A git
//     describe (2021.08.0-136.g47ea95a) orders after its base version by
//     its commit count; a dev build (2025.12.1.dev6-gc8b2679fa) before its
//     version, after its prereleases' predecessors. So a describe pin
//     follows newer describes, and also the releases and dev builds after
//     it, as repo2docker's tags went.
//   - Commit hashes (9f081a2): only hashes of the same length, by Created;
//     the pin's Created must be among tags, else it is an error.
//
// Never latest, never a tag that orders at or below pin. Of tags that
// order the same (v1.3.0 and 1.3.0), the one spelt like pin wins, then
// the later created, then the first in text order. ok is false when
// nothing is newer. A pin of no known order is an *UnorderedTagError.
func NewestImageTag(pin string, tags []ImageTag, rules ImageRules) (newest ImageTag, ok bool, err error) {
	s, err := newSelector(pin, rules)
	if err != nil {
		return ImageTag{}, false, err
	}
	if s.pin.kind == TagHash {
		return s.newestByCreated(tags)
	}
	var best imageTag
	for _, it := range tags {
		t := parseImageTag(it.Tag)
		if !s.accepts(t) || compareTags(t, s.pin) <= 0 {
			continue
		}
		if ok {
			c := compareTags(t, best)
			if c == 0 {
				c = cmp.Or(cmp.Compare(boolInt(t.v == s.pin.v), boolInt(best.v == s.pin.v)), it.Created.Compare(newest.Created), strings.Compare(best.raw, t.raw))
			}
			if c <= 0 {
				continue
			}
		}
		newest, best, ok = it, t, true
	}
	return newest, ok, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// knownTime reports whether a created time says something: builders that
// do not know write 1970, or nothing.
func knownTime(t time.Time) bool { return t.Unix() > 86400 }

// ErrNoCreatedTime: a hash-shaped pin whose created time is unknown
// cannot be ordered against other hashes.
var ErrNoCreatedTime = errors.New("the pinned image's created time is unknown")

func (s selector) newestByCreated(tags []ImageTag) (newest ImageTag, ok bool, err error) {
	var pinned time.Time
	for _, it := range tags {
		if it.Tag == s.pin.raw {
			pinned = it.Created
		}
	}
	if !knownTime(pinned) {
		return ImageTag{}, false, fmt.Errorf("tag %s is a commit hash, ordered by its image's created time: %w", s.pin.raw, ErrNoCreatedTime)
	}
	for _, it := range tags {
		if !knownTime(it.Created) || !it.Created.After(pinned) || !s.accepts(parseImageTag(it.Tag)) {
			continue
		}
		if ok && (it.Created.Before(newest.Created) || it.Created.Equal(newest.Created) && it.Tag > newest.Tag) {
			continue
		}
		newest, ok = it, true
	}
	return newest, ok, nil
}

// ImageTagCommit is the commit a tag names: a commit hash tag itself, a
// git describe's or dev build's g-hash, a chartpress version's h-hash.
func ImageTagCommit(tag string) (string, bool) {
	t := parseImageTag(tag)
	return t.commit, t.commit != ""
}

// ImageCompareURL is the GitHub compare link between two commits (7 to
// 40 hex digits) of an image's source (its org.opencontainers.image.source
// label), when that is a GitHub repository and the commits differ.
func ImageCompareURL(source, from, to string) (string, bool) {
	repo, ok := githubRepoURL(source)
	isCommit := func(c string) bool { return len(c) >= 7 && len(c) <= 40 && isLowerHex(c) }
	if !ok || !isCommit(from) || !isCommit(to) || from == to {
		return "", false
	}
	return repo + "/compare/" + from + "..." + to, true
}
