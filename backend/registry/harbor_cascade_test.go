package registry

import (
	"slices"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestHarborCascadeHoldsAnIndex: Harbor deletes an index's untagged
// children with it. A platform manifest tagged at the scan (an image of
// its own, kept) and untagged before the apply would go with its index,
// unplanned and unaudited: the index is skipped instead, and the platform
// manifest stays. (The fuzzer found this as seed 44 on Harbor.)
func TestHarborCascadeHoldsAnIndex(t *testing.T) {
	w := newHarborWorld(t)
	p := pusher{t, w.reg.Host()}
	p.tag("binder/a/b:amd", "binder/a/b@"+w.amd) // the amd64 manifest is an image of its own
	h := w.client(t, "robot$binder+cleaner", "s3cret", []string{"binder"})
	inv, err := h.Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	idx := slices.IndexFunc(inv.Images, func(im model.Image) bool { return im.Digest == model.ParseDigest(w.idx) })
	if idx < 0 {
		t.Fatalf("the index is not in the scan: %+v", inv.Images)
	}
	plan := model.MakePlan(inv, model.Request{Manual: []int{idx}})
	if len(plan.Deletions) != 1 || slices.Contains(plan.Deletions[0].Children, model.ParseDigest(w.amd)) {
		t.Fatalf("plan %+v: want the index alone, the tagged amd64 manifest kept", plan.Deletions)
	}

	p.tag("binder/a/b:amd", "binder/a/b@"+w.untagged) // amd64 is untagged now
	log, path := openLog(t)
	res, err := Apply(t.Context(), h, inv, plan, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 0 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0].Reason, "would also delete its platform manifest "+w.amd) {
		t.Fatalf("deleted %+v, skipped %+v: want the index skipped for its platform manifest", res.Deleted, res.Skipped)
	}
	for _, d := range []string{w.idx, w.amd} {
		if ok, err := h.Exists(t.Context(), "binder/a/b", d); err != nil || !ok {
			t.Errorf("%s: exists %v %v, want it kept", d, ok, err)
		}
	}
	for _, e := range readAudit(t, path) {
		if e.Outcome != "skipped" || e.Digest != w.idx {
			t.Errorf("audit line %+v, want only the index's skip", e)
		}
	}
}

// TestHarborCascade: what deleting each index takes with it now.
func TestHarborCascade(t *testing.T) {
	for _, tc := range []struct {
		name     string
		es       []acrEntry
		children map[string][]string
		want     map[string][]string
	}{
		{"untagged children go", []acrEntry{{digest: "i", tags: []string{"x"}}, {digest: "a"}, {digest: "b"}},
			map[string][]string{"i": {"a", "b"}}, map[string][]string{"i": {"a", "b"}}},
		{"a tagged child stays", []acrEntry{{digest: "i"}, {digest: "a", tags: []string{"t"}}, {digest: "b"}},
			map[string][]string{"i": {"a", "b"}}, map[string][]string{"i": {"b"}}},
		{"a shared child stays", []acrEntry{{digest: "i"}, {digest: "j"}, {digest: "a"}, {digest: "b"}},
			map[string][]string{"i": {"a", "b"}, "j": {"a"}}, map[string][]string{"i": {"b"}}},
		{"no index", []acrEntry{{digest: "a"}}, map[string][]string{}, map[string][]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := harborCascade(tc.es, tc.children)
			for k, v := range tc.want {
				if !slices.Equal(got[k], v) {
					t.Errorf("%s: %v, want %v", k, got[k], v)
				}
			}
			for k, v := range got {
				if _, ok := tc.want[k]; !ok && len(v) > 0 {
					t.Errorf("%s: %v, want nothing", k, v)
				}
			}
		})
	}
}
