// Package chartfiletest writes lock files the way Helm does, for tests: an
// account of Helm's format and digest kept apart from the code under test.
package chartfiletest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// dependency is helm's chart.Dependency, as HashReq marshals it.
type dependency struct {
	Name         string   `json:"name"`
	Version      string   `json:"version,omitempty"`
	Repository   string   `json:"repository"`
	Condition    string   `json:"condition,omitempty"`
	Tags         []string `json:"tags,omitempty"`
	Enabled      bool     `json:"enabled,omitempty"`
	ImportValues []any    `json:"import-values,omitempty" yaml:"import-values"`
	Alias        string   `json:"alias,omitempty"`
}

// Lock returns the Chart.lock that `helm dependency update` writes for
// chart when it resolves dependency i to versions[i]: the locked names,
// repositories and versions, and the digest sha256 over the JSON of the
// chart's dependencies and the locked ones (helm's HashReq).
func Lock(chart string, versions ...string) (string, error) {
	var f struct {
		Dependencies []dependency `yaml:"dependencies"`
	}
	if err := yaml.Unmarshal([]byte(chart), &f); err != nil {
		return "", err
	}
	if len(versions) != len(f.Dependencies) {
		return "", fmt.Errorf("%d versions for %d dependencies", len(versions), len(f.Dependencies))
	}
	var b strings.Builder
	b.WriteString("dependencies:\n")
	locked := make([]dependency, len(versions))
	for i, d := range f.Dependencies {
		locked[i] = dependency{Name: d.Name, Repository: d.Repository, Version: versions[i]}
		fmt.Fprintf(&b, "- name: %s\n  repository: %s\n  version: %s\n", d.Name, d.Repository, versions[i])
	}
	data, err := json.Marshal([2][]dependency{f.Dependencies, locked})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	fmt.Fprintf(&b, "digest: sha256:%s\ngenerated: \"2026-11-01T03:15:00.123456789Z\"\n", hex.EncodeToString(sum[:]))
	return b.String(), nil
}
