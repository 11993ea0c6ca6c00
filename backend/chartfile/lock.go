package chartfile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"unicode"

	"github.com/Masterminds/semver/v3"
	"gopkg.in/yaml.v3"
)

// LockPath returns the lock file Helm writes beside a chart file:
// requirements.lock beside a requirements.yaml, Chart.lock otherwise.
func LockPath(chartPath string) string {
	dir, name := path.Split(chartPath)
	if strings.EqualFold(name, "requirements.yaml") || strings.EqualFold(name, "requirements.yml") {
		return dir + "requirements.lock"
	}
	return dir + "Chart.lock"
}

// LockUpdate is a lock file brought in line with a bumped chart file.
type LockUpdate struct {
	// Content is the lock file with each bumped dependency's locked version
	// changed, and its digest when DigestUpdated.
	Content []byte
	// DigestUpdated: the digest was recomputed as Helm computes it. When
	// false, Problem says why and `helm dependency update` must regenerate
	// the lock file.
	DigestUpdated bool
	Problem       string
}

// UpdateLock brings lock, the Chart.lock (or requirements.lock) of the chart
// file before, in line with after, the same chart file with some
// dependency versions bumped: the locked version of each bumped dependency
// becomes the version it now resolves to, and the digest is recomputed.
// locked maps a bumped dependency's key (alias, else name) to that version,
// as the repository spells it (helm locks the index's spelling); a bumped
// dependency missing from it must be a bare version, which is locked as
// written. A range is never locked: helm locks a version.
//
// Helm's digest is sha256 over the JSON of the chart file's dependencies
// and the locked ones (HashReq in helm's internal/resolver; for a
// requirements.lock written by Helm 2, over the requirements alone). It is
// recomputed only when the lock's current digest is reproduced that way
// from before, so a lock written from repository names (@stable) or already
// out of date is never given a digest that merely looks right: its versions
// are still updated and Problem says that it must be regenerated.
//
// Only the changed version tokens and the digest token change; every other
// byte is kept.
func UpdateLock(lock, before, after []byte, locked map[string]string) (LockUpdate, error) {
	fb, err := Parse(before)
	if err != nil {
		return LockUpdate{}, err
	}
	fa, err := Parse(after)
	if err != nil {
		return LockUpdate{}, err
	}
	if len(fa.Dependencies) != len(fb.Dependencies) {
		return LockUpdate{}, fmt.Errorf("update lock: the bump changed the number of dependencies from %d to %d", len(fb.Dependencies), len(fa.Dependencies))
	}
	l, err := parseLock(lock)
	if err != nil {
		return LockUpdate{}, err
	}
	if len(l.deps) != len(fb.Dependencies) {
		return LockUpdate{Content: lock, Problem: fmt.Sprintf("it locks %d dependencies where the chart file has %d", len(l.deps), len(fb.Dependencies))}, nil
	}
	var edits []edit
	for i, d := range fa.Dependencies {
		old := fb.Dependencies[i]
		ld := l.deps[i]
		if ld.name != old.Name {
			return LockUpdate{Content: lock, Problem: fmt.Sprintf("its dependency %d is %s where the chart file has %s", i+1, ld.name, old.Name)}, nil
		}
		want, ok := locked[d.Key()]
		switch {
		case d.Version == old.Version && !ok:
			continue
		case !ok:
			if _, err := semver.StrictNewVersion(strings.TrimPrefix(d.Version, "v")); err != nil {
				return LockUpdate{}, fmt.Errorf("update lock: %s is now %q, not a version: say which version it resolves to", d.Key(), d.Version)
			}
			want = d.Version
		}
		if ld.version == want {
			continue
		}
		if ld.versionErr != nil {
			return LockUpdate{}, fmt.Errorf("update lock: locked version of %s: %w", d.Key(), ld.versionErr)
		}
		tok, err := scalarToken(want, ld.versionQuote, "")
		if err != nil {
			return LockUpdate{}, fmt.Errorf("update lock: %s: %w", d.Key(), err)
		}
		edits = append(edits, edit{ld.versionPos.Offset, ld.versionEnd, tok})
	}
	out := LockUpdate{Content: apply(lock, edits)}

	digest := recomputeDigest(l.digest, before, after, lock, out.Content)
	switch {
	case digest == "":
		out.Problem = "its digest is not the one Helm computes from the chart file and the locked versions (written by another Helm, or from repository names such as @stable, or already out of date)"
		return out, nil
	case l.digestErr != nil:
		out.Problem = "its digest cannot be rewritten in place: " + l.digestErr.Error()
		return out, nil
	case digest == l.digest:
		out.DigestUpdated = true
		return out, nil
	}
	tok, err := scalarToken(digest, l.digestQuote, ":")
	if err != nil {
		return LockUpdate{}, fmt.Errorf("update lock: digest: %w", err)
	}
	edits = append(edits, edit{l.digestPos.Offset, l.digestEnd, tok})
	out.Content = apply(lock, edits)
	out.DigestUpdated = true
	return out, nil
}

// edit replaces content[from:to] with text.
type edit struct {
	from, to int
	text     string
}

// apply makes non-overlapping edits, in any order, to a copy of content.
func apply(content []byte, edits []edit) []byte {
	out := make([]byte, 0, len(content)+64)
	at := 0
	for len(edits) > 0 {
		first := 0
		for i, e := range edits {
			if e.from < edits[first].from {
				first = i
			}
		}
		e := edits[first]
		out = append(append(out, content[at:e.from]...), e.text...)
		at = e.to
		edits = append(edits[:first:first], edits[first+1:]...)
	}
	return append(out, content[at:]...)
}

// lockFile is what UpdateLock needs of a lock file.
type lockFile struct {
	deps        []lockedDep
	digest      string
	digestPos   Position
	digestEnd   int
	digestQuote QuoteStyle
	digestErr   error
}

type lockedDep struct {
	name, version string
	versionPos    Position
	versionEnd    int
	versionQuote  QuoteStyle
	versionErr    error
}

func parseLock(content []byte) (*lockFile, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(content, &doc); err != nil {
		return nil, fmt.Errorf("parse lock file: %w", err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("lock file: not a mapping")
	}
	root := doc.Content[0]
	lines := newLineIndex(content)
	l := &lockFile{}
	digest, err := lookup(root, "digest")
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if digest.node == nil || digest.node.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("lock file: no digest")
	}
	l.digest = digest.node.Value
	l.digestPos, l.digestEnd, l.digestQuote, l.digestErr = locateScalar(content, lines, digest.node)
	deps, err := lookup(root, "dependencies")
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if deps.node == nil || deps.node.Kind != yaml.SequenceNode {
		return l, nil
	}
	for i, item := range deps.node.Content {
		m := resolve(item)
		if m.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("lock file line %d: dependency %d is %s, want a mapping", item.Line, i+1, kindName(m))
		}
		var d lockedDep
		if n, err := lookup(m, "name"); err != nil {
			return nil, fmt.Errorf("lock file: %w", err)
		} else if n.node != nil {
			d.name = n.node.Value
		}
		v, err := lookup(m, "version")
		if err != nil {
			return nil, fmt.Errorf("lock file: %w", err)
		}
		if v.node == nil || v.node.Kind != yaml.ScalarNode || v.alias != nil || v.merged != nil {
			d.versionErr = fmt.Errorf("line %d: not a version written in place", m.Line)
		} else {
			d.version = v.node.Value
			d.versionPos, d.versionEnd, d.versionQuote, d.versionErr = locateScalar(content, lines, v.node)
		}
		l.deps = append(l.deps, d)
	}
	return l, nil
}

// helmDependency is helm's chart.Dependency as it is hashed: the same JSON
// field names, order and omissions.
type helmDependency struct {
	Name         string   `json:"name"`
	Version      string   `json:"version,omitempty"`
	Repository   string   `json:"repository"`
	Condition    string   `json:"condition,omitempty"`
	Tags         []string `json:"tags,omitempty"`
	Enabled      bool     `json:"enabled,omitempty"`
	ImportValues []any    `json:"import-values,omitempty" yaml:"import-values"`
	ExportValues []any    `json:"export-values,omitempty" yaml:"export-values"`
	Alias        string   `json:"alias,omitempty"`
}

// helmDependencies decodes a chart or lock file's dependencies as Helm
// loads them (aliases and merge keys resolved, strings sanitized).
func helmDependencies(content []byte) ([]*helmDependency, error) {
	var f struct {
		Dependencies []*helmDependency `yaml:"dependencies"`
	}
	if err := yaml.Unmarshal(content, &f); err != nil {
		return nil, fmt.Errorf("read dependencies: %w", err)
	}
	for _, d := range f.Dependencies {
		if d == nil {
			continue
		}
		d.Name, d.Version, d.Repository, d.Condition = sanitize(d.Name), sanitize(d.Version), sanitize(d.Repository), sanitize(d.Condition)
		for i := range d.Tags {
			d.Tags[i] = sanitize(d.Tags[i])
		}
	}
	return f.Dependencies, nil
}

// sanitize is helm's sanitizeString: white space becomes a space and
// other unprintable runes are dropped.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s)
}

// recomputeDigest returns the digest of the bumped chart and lock files,
// computed the way that gives old for the files before the bump; "" when
// no way does.
func recomputeDigest(old string, chartBefore, chartAfter, lockBefore, lockAfter []byte) string {
	var deps [4][]*helmDependency
	for i, content := range [][]byte{chartBefore, chartAfter, lockBefore, lockAfter} {
		var err error
		if deps[i], err = helmDependencies(content); err != nil {
			return ""
		}
	}
	for _, h := range helmDigests {
		if d := h(deps[0], deps[2]); d != "" && d == old {
			return h(deps[1], deps[3])
		}
	}
	return ""
}

// helmDigests are the ways Helm has computed a lock's digest: HashReq
// (Helm 3), with and without the export-values field some Helm versions
// have, and HashV2Req (a requirements.lock written by Helm 2).
var helmDigests = []func(req, locked []*helmDependency) string{
	func(req, locked []*helmDependency) string {
		return digestOf([2][]*helmDependency{withoutExports(req), withoutExports(locked)})
	},
	func(req, locked []*helmDependency) string { return digestOf([2][]*helmDependency{req, locked}) },
	func(req, _ []*helmDependency) string {
		return digestOf(map[string][]*helmDependency{"dependencies": withoutExports(req)})
	},
}

func withoutExports(deps []*helmDependency) []*helmDependency {
	out := make([]*helmDependency, len(deps))
	for i, d := range deps {
		if d != nil {
			c := *d
			c.ExportValues = nil
			out[i] = &c
		}
	}
	return out
}

func digestOf(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return "" // matches no digest
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}
