package acrtest

import "github.com/helmupgradebot/helmupgradebot/backend/registrytest"

// Serve starts the stand-in for the test t in front of reg, as [New] does,
// closed when t ends; it fails t if the stand-in cannot start.
func Serve(t registrytest.TB, reg *registrytest.Registry, opts ...Option) *Server {
	t.Helper()
	srv, err := New(t.Context(), reg, opts...)
	return closedWith(t, srv, err)
}

// ServeSynthetic starts the stand-in for the test t over the made-up
// registry spec, as [NewSynthetic] does, closed when t ends; it fails t if
// the stand-in cannot start.
func ServeSynthetic(t registrytest.TB, spec Synthetic, opts ...Option) *Server {
	t.Helper()
	srv, err := NewSynthetic(t.Context(), spec, opts...)
	return closedWith(t, srv, err)
}

func closedWith(t registrytest.TB, srv *Server, err error) *Server {
	t.Helper()
	if err != nil {
		t.Fatalf("start the ACR stand-in: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close the ACR stand-in: %v", err)
		}
	})
	return srv
}
