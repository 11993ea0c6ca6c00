package usagetest

import (
	"bytes"
	"os"
	"path/filepath"
)

// TB is the part of testing.TB that the test helpers use; this package
// does not import testing (the demo runs it).
type TB interface {
	Helper()
	Cleanup(func())
	TempDir() string
	Fatalf(format string, args ...any)
}

// ServeKube starts a [Kube] with a bearer token for the test t, closed when
// t ends.
func ServeKube(t TB, token string) *Kube {
	t.Helper()
	k := NewKube(token)
	t.Cleanup(k.Close)
	return k
}

// Kubeconfig writes a kubeconfig reaching k in namespace to a directory of
// t's, as [Kube.WriteKubeconfig] does, and returns its path.
func (k *Kube) Kubeconfig(t TB, namespace string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := k.WriteKubeconfig(path, namespace); err != nil {
		t.Fatalf("write a kubeconfig for the Kubernetes stand-in: %v", err)
	}
	return path
}

// WriteFile writes the events e to path as [Write] does, failing t if it
// cannot.
func WriteFile(t TB, path string, e Events) {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, e); err != nil {
		t.Fatalf("write events for %s: %v", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatalf("write events: %v", err)
	}
}
