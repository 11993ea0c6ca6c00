package registry

import (
	"testing"
	"unsafe"
)

// TestManifestInfoSize: a scan holds a manifestInfo for every manifest at
// once, so its common part stays within a 128-byte allocation; the rarer
// fields live behind manifestMore.
func TestManifestInfoSize(t *testing.T) {
	if n := unsafe.Sizeof(manifestInfo{}); n > 128 {
		t.Errorf("manifestInfo is %d bytes, want at most 128", n)
	}
	var m manifestInfo
	if m.children() != nil || m.platforms() != nil || m.childBlobs() != nil || m.subject() != "" || m.warnings() != nil || m.more != nil {
		t.Error("reading the rarer part of an empty manifestInfo added or found one")
	}
	m.extra().children = []string{"sha256:a"}
	if got := m.children(); len(got) != 1 || m.extra() != m.more {
		t.Errorf("children after extra: %v", got)
	}
}
