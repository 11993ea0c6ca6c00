package ecrtest

import "github.com/helmupgradebot/helmupgradebot/backend/registrytest"

// Serve starts the stand-in for the test t in front of reg, as [New] does,
// closed when t ends; it fails t if the stand-in cannot start.
func Serve(t registrytest.TB, reg *registrytest.Registry, opts ...Option) *Server {
	t.Helper()
	srv, err := New(t.Context(), reg, opts...)
	if err != nil {
		t.Fatalf("start the ECR stand-in: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close the ECR stand-in: %v", err)
		}
	})
	return srv
}
