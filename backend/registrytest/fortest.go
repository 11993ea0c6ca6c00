package registrytest

import "context"

// TB is the part of testing.TB that the Serve helpers use; this package
// does not import testing (the demo runs it).
type TB interface {
	Helper()
	Context() context.Context
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Serve starts a [Registry] for the test t, closed when t ends. It fails t
// if the registry cannot start or does not close cleanly.
func Serve(t TB, opts ...Option) *Registry {
	t.Helper()
	r, err := Start(t.Context(), opts...)
	if err != nil {
		t.Fatalf("start the registry stand-in: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close the registry stand-in: %v", err)
		}
	})
	return r
}

// ServeSeeded starts a [Registry] for the test t as [Serve] does and pushes
// the population p to it with [Seed].
func ServeSeeded(t TB, p Population, opts ...Option) (*Registry, *Seeded) {
	t.Helper()
	r := Serve(t, opts...)
	s, err := Seed(t.Context(), r.Host(), p)
	if err != nil {
		t.Fatalf("seed the registry stand-in: %v", err)
	}
	return r, s
}
