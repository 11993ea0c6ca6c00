package chartrepo

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// ChangesAnnotation is Artifact Hub's annotation listing what a chart
// version changed; helm copies a Chart.yaml's annotations into its index
// entry.
const ChangesAnnotation = "artifacthub.io/changes"

// entryAnnotations is the part of an entry's annotations that is read.
type entryAnnotations struct {
	// Changes is a YAML document in a string, as Artifact Hub documents
	// it; a list written directly (not in a string) is read too.
	Changes yaml.Node `yaml:"artifacthub.io/changes"`
}

// rawChange is one entry of the annotation written as a mapping.
type rawChange struct {
	Kind        string `yaml:"kind"`
	Description string `yaml:"description"`
	Links       []struct {
		Name string `yaml:"name"`
		URL  string `yaml:"url"`
	} `yaml:"links"`
}

// versionChanges reads an entry's changes annotation into v. An annotation
// that does not parse leaves v.Changes empty and says why in
// v.ChangesProblem: it never costs the version.
func versionChanges(v *model.ChartVersion, a entryAnnotations) {
	changes, err := parseChanges(&a.Changes)
	if err != nil {
		v.ChangesProblem = fmt.Sprintf("its %s annotation was skipped: %v", ChangesAnnotation, err)
		return
	}
	v.Changes = changes
}

// parseChanges reads an artifacthub.io/changes annotation: a YAML list of
// strings, or of mappings with kind (added, changed, deprecated, removed,
// fixed or security), description and optional links (name, url). An
// absent or empty annotation has no changes and no error.
func parseChanges(n *yaml.Node) ([]model.Change, error) {
	if n.Kind == 0 || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	list := n
	if n.Kind == yaml.ScalarNode {
		if strings.TrimSpace(n.Value) == "" {
			return nil, nil
		}
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(n.Value), &doc); err != nil {
			return nil, fmt.Errorf("not YAML: %w", err)
		}
		list = &doc
		if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
			list = doc.Content[0]
		}
	}
	if list.Kind != yaml.SequenceNode {
		return nil, errors.New("not a YAML list")
	}
	var out []model.Change
	for i, item := range list.Content {
		c, err := parseChange(item)
		if err != nil {
			return nil, fmt.Errorf("entry %d (line %d): %w", i+1, item.Line, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func parseChange(item *yaml.Node) (model.Change, error) {
	switch item.Kind {
	case yaml.ScalarNode:
		if strings.TrimSpace(item.Value) == "" || item.Tag == "!!null" {
			return model.Change{}, errors.New("it is empty")
		}
		return model.Change{Description: item.Value}, nil
	case yaml.MappingNode:
	default:
		return model.Change{}, errors.New("neither a string nor a mapping with kind and description")
	}
	var raw rawChange
	if err := item.Decode(&raw); err != nil {
		return model.Change{}, err
	}
	c := model.Change{Kind: strings.ToLower(strings.TrimSpace(raw.Kind)), Description: raw.Description}
	if !slices.Contains(model.ChangeKinds, c.Kind) {
		return model.Change{}, fmt.Errorf("kind %q is not one of %s", raw.Kind, strings.Join(model.ChangeKinds, ", "))
	}
	if strings.TrimSpace(c.Description) == "" {
		return model.Change{}, errors.New("it has no description")
	}
	for j, l := range raw.Links {
		if strings.TrimSpace(l.URL) == "" {
			return model.Change{}, fmt.Errorf("link %d has no url", j+1)
		}
		c.Links = append(c.Links, model.ChangeLink{Name: l.Name, URL: strings.TrimSpace(l.URL)})
	}
	return c, nil
}
