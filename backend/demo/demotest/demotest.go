// Package demotest starts the embedded demo (backend/demo: the registry,
// chart repository and GitHub stand-ins) for one test.
package demotest

import (
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/demo"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// Serve starts the demo with opts for the test t, taken down when t ends;
// it fails t if the demo cannot start.
func Serve(t testing.TB, opts ...demo.Option) *demo.Env {
	t.Helper()
	env, err := demo.Start(t.Context(), opts...)
	if err != nil {
		t.Fatalf("start the demo: %v", err)
	}
	t.Cleanup(env.Close)
	return env
}

// SmallPopulation is the default population cut to three repositories of
// two tags, for tests that need a registry but are not about it.
func SmallPopulation() registrytest.Population {
	p := registrytest.DefaultPopulation()
	p.Repositories, p.TagsPerRepository = 3, 2
	return p
}
