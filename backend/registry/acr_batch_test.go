package registry

import (
	"reflect"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
)

// TestACRBatches: a scan that reads and assembles a repository at a time
// (batches of one manifest) makes the inventory a scan in one batch makes,
// row for row; a digest listed in two repositories of different batches
// is read once in each, every other manifest once.
func TestACRBatches(t *testing.T) {
	e := startACR(t)
	s := buildScene(t, e)
	// The index's amd64 platform manifest pushed to a second repository,
	// tagged: an image of its own there.
	e.pushedAt(t, "copy:amd", s.platforms[0], 3)

	whole := scan(t, e.client(t))
	before := len(e.srv.Requests())
	batched := scan(t, e.client(t, withBatch(1)))

	if !reflect.DeepEqual(whole.Images, batched.Images) || !reflect.DeepEqual(whole.Blobs, batched.Blobs) || !reflect.DeepEqual(whole.Errors, batched.Errors) {
		t.Errorf("the batched scan's inventory differs:\n%+v\n%+v", batched.Images, whole.Images)
	}
	if n := len(whole.Images); n != 10 {
		t.Errorf("%d images, want the scene's 9 and the copy", n)
	}
	reads := map[string]int{}
	for _, r := range e.srv.Requests()[before:] {
		if r.Kind == acrtest.KindManifestByDigest && r.Method == "GET" {
			reads[r.Reference]++
		}
	}
	for d, n := range reads {
		want := 1
		if d == s.amd {
			want = 2 // copy's batch and multi's (as the index's)
		}
		if n != want {
			t.Errorf("%s read %d times, want %d", d, n, want)
		}
	}
	if reads[s.cur] != 1 || reads[s.idx] != 1 || reads[s.arm] != 1 {
		t.Errorf("reads %v: every manifest read", reads)
	}
}
