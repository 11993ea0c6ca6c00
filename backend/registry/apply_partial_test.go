package registry

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/audit"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestApplyChildFailure: an index deleted but one of its platform
// manifests not is recorded as what it is: the index deleted (in the
// result, the audit log and the freed bytes), the platform manifest a
// failure of its own that names its index; a missing child is fine.
func TestApplyChildFailure(t *testing.T) {
	inv := &model.Inventory{Registry: "r.example", Images: []model.Image{
		{Repository: "hub", Digest: model.ParseDigest("sha256:i1"), Children: model.ParseDigests([]string{"sha256:c1", "sha256:c2", "sha256:c3"}),
			ChildBlobs: [][]int32{{1}, {2}, {3}}, Blobs: []int32{0, 1, 2, 3}},
		{Repository: "hub", Digest: model.ParseDigest("sha256:i2"), Blobs: []int32{4}},
	}, Blobs: model.BlobsOf([]model.Blob{{Digest: "sha256:i1", Size: 1}, {Digest: "sha256:c1", Size: 10}, {Digest: "sha256:c2", Size: 100},
		{Digest: "sha256:c3", Size: 1000}, {Digest: "sha256:i2", Size: 10000}}...)}
	plan := model.Plan{Deletions: []model.Deletion{
		{Image: 0, Reason: model.ReasonManual, Children: model.ParseDigests([]string{"sha256:c1", "sha256:c2", "sha256:c3"})},
		{Image: 1, Reason: model.ReasonManual},
	}}
	var mu sync.Mutex
	var calls []string
	d := deleterFunc(func(_ context.Context, repo, digest string) error {
		mu.Lock()
		calls = append(calls, digest)
		mu.Unlock()
		switch digest {
		case "sha256:c1":
			return ErrNotFound
		case "sha256:c2":
			return errors.New("delete hub@sha256:c2: registry answered 500")
		}
		return nil
	})
	log, path := openLog(t)
	res, err := Apply(t.Context(), d, inv, plan, log, WithApplyConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sha256:i1", "sha256:c1", "sha256:c2", "sha256:c3", "sha256:i2"}; !slices.Equal(calls, want) {
		t.Errorf("deletes %v, want %v (index first, then every child)", calls, want)
	}
	if len(res.Failed) != 1 || res.Failed[0].Index != 0 || res.Failed[0].Digest != "sha256:c2" || res.Failed[0].Of != "sha256:i1" ||
		!strings.Contains(res.Failed[0].Error, "not its platform manifest sha256:c2") || res.Failed[0].Unknown {
		t.Errorf("failed %+v", res.Failed)
	}
	if len(res.Deleted) != 2 || res.Deleted[0].Index != 0 || !slices.Equal(res.Deleted[0].Left, []string{"sha256:c2"}) || res.Deleted[1].Index != 1 {
		t.Errorf("deleted %+v", res.Deleted)
	}
	if want := int64(1 + 10 + 1000 + 10000); res.FreedBytes != want {
		t.Errorf("freed %d bytes, want %d (all but c2's)", res.FreedBytes, want)
	}
	outcomes := checkAudit(t, path, inv)
	for d, want := range map[string]string{"sha256:i1": audit.OutcomeDeleted, "sha256:c1": audit.OutcomeAlreadyGone,
		"sha256:c2": audit.OutcomeFailed, "sha256:c3": audit.OutcomeDeleted, "sha256:i2": audit.OutcomeDeleted} {
		if got := outcomes[d]; got.Outcome != want || (d[7] == 'c') != (got.Index == "sha256:i1") {
			t.Errorf("audit outcome of %s: %+v, want %s", d, got, want)
		}
	}
}

// unsettledDeleter answers a DELETE of fail with no usable answer and
// cannot say afterwards whether the manifest is there.
type unsettledDeleter struct{ fail string }

func (d unsettledDeleter) DeleteManifest(_ context.Context, _, digest string) error {
	if digest == d.fail {
		return errors.New("delete: connection reset by peer")
	}
	return nil
}

func (unsettledDeleter) Exists(context.Context, string, string) (bool, error) {
	return false, errors.New("registry unreachable")
}

func (unsettledDeleter) Current(context.Context, string, func(string) bool) (Current, error) {
	return Current{}, nil
}

// TestApplyUnsettledDeleteStaysOpen: a DELETE that may have acted, of an
// index or of one of its platform manifests, when the registry cannot be
// asked afterwards, is a failure marked unknown whose attempt line stays
// open for the next run's recovery: never recorded failed, since it may be
// gone.
func TestApplyUnsettledDeleteStaysOpen(t *testing.T) {
	for _, fail := range []string{"sha256:i1", "sha256:c1"} {
		t.Run(fail, func(t *testing.T) {
			inv := &model.Inventory{Registry: "r.example", Images: []model.Image{
				{Repository: "hub", Digest: model.ParseDigest("sha256:i1"), Children: model.ParseDigests([]string{"sha256:c1"})},
			}}
			plan := model.Plan{Deletions: []model.Deletion{{Image: 0, Reason: model.ReasonManual, Children: model.ParseDigests([]string{"sha256:c1"})}}}
			log, path := openLog(t)
			res, err := Apply(t.Context(), unsettledDeleter{fail}, inv, plan, log)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Failed) != 1 || res.Failed[0].Digest != fail || !res.Failed[0].Unknown {
				t.Fatalf("failed %+v, want %s unknown", res.Failed, fail)
			}
			pending, _, err := audit.Pending(path, inv.Registry)
			if err != nil || len(pending) != 1 || pending[0].Digest != fail {
				t.Errorf("pending %+v (%v), want the attempt on %s open", pending, err, fail)
			}
			for _, e := range readAudit(t, path) {
				if e.Outcome == audit.OutcomeFailed {
					t.Errorf("recorded failed: %+v", e)
				}
			}
		})
	}
}
