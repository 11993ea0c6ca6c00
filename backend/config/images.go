package config

import (
	"fmt"
	"path"
	"strings"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// ImageRules narrow the images a chart entry's values files pin, and the
// tags they may move to (charts[].images):
//
//	images:
//	  include: ["quay.io/jupyterhub/*"]
//	  exclude: ["*/k8s-hub"]
//	  prereleases: false
//	  constraint: ">=2023"
type ImageRules struct {
	// Include, when given, follows only the images whose name (in full,
	// quay.io/jupyterhub/repo2docker, or as the file writes it) matches
	// one of its globs; Exclude leaves out those matching one of its.
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	// Prereleases lets a pin that is a release move to unreleased tags
	// (semver prereleases, git-describe builds, .devN builds).
	Prereleases bool `yaml:"prereleases"`
	// Constraint is a semver constraint on the version a tag carries.
	Constraint string `yaml:"constraint"`
}

// Model is the rules as model.NewestImageTag reads them.
func (r ImageRules) Model() model.ImageRules {
	return model.ImageRules{Include: r.Include, Exclude: r.Exclude, Prereleases: r.Prereleases, Constraint: r.Constraint}
}

func (r ImageRules) given() bool {
	return len(r.Include) > 0 || len(r.Exclude) > 0 || r.Prereleases || r.Constraint != ""
}

// validateImages checks a chart entry's values and images keys; at is the
// entry's path ("charts[0]").
func (ch *Chart) validateImages(at string, bad func(path, format string, args ...any)) {
	seen := map[string]bool{}
	for i, v := range ch.Values {
		key := fmt.Sprintf("%s.values[%d]", at, i)
		switch {
		case strings.TrimSpace(v) == "":
			bad(key, "empty: the path of a values file, from the repository's root")
		case strings.HasPrefix(v, "/") || v != path.Clean(v) || strings.HasPrefix(v, "../") || v == "..":
			bad(key, "%q is not a clean path from the repository's root (like file: no leading /, no .. or ./)", v)
		case v == ch.File:
			bad(key, "%q is the entry's chart file; values lists the values files beside it", v)
		case seen[v]:
			bad(key, "%q is listed twice", v)
		}
		seen[v] = true
	}
	rules := ch.Images
	for _, list := range []struct {
		key  string
		pats []string
	}{{"include", rules.Include}, {"exclude", rules.Exclude}} {
		for i, p := range list.pats {
			key := fmt.Sprintf("%s.images.%s[%d]", at, list.key, i)
			if strings.TrimSpace(p) == "" {
				bad(key, "empty pattern: give a glob on the image name, such as quay.io/jupyterhub/*")
			} else if err := (model.ImageRules{Include: []string{p}}).Check(); err != nil {
				bad(key, "%v", err)
			}
		}
	}
	if rules.Constraint != "" {
		if err := (model.ImageRules{Constraint: rules.Constraint}).Check(); err != nil {
			bad(at+".images.constraint", "%v", err)
		}
	}
	if rules.given() && len(ch.Values) == 0 {
		bad(at+".images", "image rules without values files apply to nothing: list the values files under %s.values", at)
	}
}
