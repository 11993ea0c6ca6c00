package chartrepo

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// Index is a parsed HTTP chart repository index (index.yaml), narrowed to
// what choosing a version needs.
type Index struct {
	// Entries lists each chart's versions in the order the index gives them.
	Entries map[string][]model.ChartVersion
}

// indexEntry is the part of an index.yaml entry that is read; every other
// field (descriptions, maintainers, dependencies...) is skipped.
type indexEntry struct {
	Version    string   `yaml:"version"`
	Created    string   `yaml:"created"`
	Home       string   `yaml:"home"`
	Sources    []string `yaml:"sources"`
	AppVersion string   `yaml:"appVersion"`
	Digest     string   `yaml:"digest"`
	// Annotations are read for artifacthub.io/changes (changes.go).
	Annotations entryAnnotations `yaml:"annotations"`
}

type indexFile struct {
	Entries map[string][]indexEntry `yaml:"entries"`
}

// ParseIndex reads an index.yaml (YAML or its JSON form). A document
// without an entries mapping is an error; an entry with a malformed field
// keeps its other fields (a version that is not a string comes out empty and
// is never selected), and a created time that does not parse is left zero.
func ParseIndex(data []byte) (*Index, error) {
	f, err := decodeIndex(data)
	if err != nil {
		return nil, err
	}
	return newIndex(f), nil
}

// decodeIndex reads an index with the YAML decoder.
func decodeIndex(data []byte) (indexFile, error) {
	var f indexFile
	err := yaml.Unmarshal(data, &f)
	var typeErr *yaml.TypeError
	switch {
	case err == nil:
	case errors.As(err, &typeErr) && f.Entries != nil:
		// Some entries have fields of the wrong type; yaml.v3 decoded the
		// rest, and those entries are judged by what they have.
	case errors.As(err, &typeErr):
		return f, fmt.Errorf("not a chart repository index: %w", err)
	default:
		return f, fmt.Errorf("not a YAML chart repository index: %w", err)
	}
	if f.Entries == nil {
		return f, errors.New("not a chart repository index: it has no entries")
	}
	return f, nil
}

func newIndex(f indexFile) *Index {
	ix := &Index{Entries: make(map[string][]model.ChartVersion, len(f.Entries))}
	for name, es := range f.Entries {
		vs := make([]model.ChartVersion, 0, len(es))
		for _, e := range es {
			created, _ := time.Parse(time.RFC3339Nano, strings.TrimSpace(e.Created))
			v := model.ChartVersion{
				Version:    e.Version,
				Created:    created,
				Home:       e.Home,
				Sources:    e.Sources,
				AppVersion: e.AppVersion,
				Digest:     e.Digest,
			}
			versionChanges(&v, e.Annotations)
			vs = append(vs, v)
		}
		ix.Entries[name] = vs
	}
	return ix
}

// Charts returns the names of the charts in the index, sorted.
func (ix *Index) Charts() []string {
	names := make([]string, 0, len(ix.Entries))
	for name := range ix.Entries {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Versions returns a copy of the versions of chart. A chart the index does
// not have is a *ChartNotFoundError.
func (ix *Index) Versions(chart string) ([]model.ChartVersion, error) {
	vs, ok := ix.Entries[chart]
	if !ok {
		return nil, &ChartNotFoundError{Chart: chart, Charts: ix.Charts()}
	}
	return slices.Clone(vs), nil
}

// ChartNotFoundError says a repository's index has no such chart, and which
// charts it has.
type ChartNotFoundError struct {
	Chart string
	// Index is the index URL, when known.
	Index string
	// Charts are the charts the index has, sorted.
	Charts []string
}

func (e *ChartNotFoundError) Error() string {
	where := "the index"
	if e.Index != "" {
		where = e.Index
	}
	return fmt.Sprintf("chart %s not found in %s; it has: %s", e.Chart, where, listForError(e.Charts))
}

// listForError joins names, cutting a long list short.
func listForError(names []string) string {
	const max = 30
	if len(names) == 0 {
		return "no charts"
	}
	if len(names) > max {
		return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
	}
	return strings.Join(names, ", ")
}
