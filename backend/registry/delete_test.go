package registry

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestGarbageCollectFreesWhatThePlanSays applies plans to a registry on
// disk, runs distribution's garbage collection and checks that the bytes
// it frees are exactly the plan's ReclaimBytes.
func TestGarbageCollectFreesWhatThePlanSays(t *testing.T) {
	tests := []struct {
		name string
		req  func(t *testing.T, inv *model.Inventory) model.Request
	}{
		{"age policy", func(*testing.T, *model.Inventory) model.Request {
			return model.Request{Now: testNow, Policy: model.Policy{MaxAge: 90 * 24 * time.Hour, KeepLatest: 1}}
		}},
		{"hub policy with the index", func(*testing.T, *model.Inventory) model.Request {
			return model.Request{Now: testNow, Policy: hubPolicy()}
		}},
		{"manual picks", func(t *testing.T, inv *model.Inventory) model.Request {
			return model.Request{Now: testNow, Manual: manualPicks(t, inv)}
		}},
		{"cap", func(t *testing.T, inv *model.Inventory) model.Request {
			return model.Request{Now: testNow, Policy: model.Policy{Cap: model.ComputeSizes(inv).Total / 2, Aggressive: true, KeepLatest: 1}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, _ := registrytest.ServeSeeded(t, population(), registrytest.WithFilesystem(t.TempDir()))
			c := newClient(t, reg.Host())
			inv := scan(t, c)
			plan := model.MakePlan(inv, tt.req(t, inv))
			if len(plan.Deletions) == 0 || plan.ReclaimBytes <= 0 {
				t.Fatalf("plan deletes %d images, reclaims %d bytes", len(plan.Deletions), plan.ReclaimBytes)
			}
			before, err := reg.BlobBytes(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if before != plan.TotalBytes {
				t.Errorf("registry stores %d bytes, the plan says %d", before, plan.TotalBytes)
			}
			log, _ := openLog(t)
			if res, err := Apply(t.Context(), c, inv, plan, log); err != nil || len(res.Deleted) != len(plan.Deletions) {
				t.Fatalf("apply: %v, %+v", err, res)
			}
			if err := reg.GarbageCollect(t.Context()); err != nil {
				t.Fatal(err)
			}
			after, err := reg.BlobBytes(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if before-after != plan.ReclaimBytes || after != plan.TotalAfterBytes {
				t.Errorf("GC freed %d bytes (%d -> %d); the plan said %d (%d -> %d)",
					before-after, before, after, plan.ReclaimBytes, plan.TotalBytes, plan.TotalAfterBytes)
			}
			t.Logf("%d deletions freed %d of %d bytes", len(plan.Deletions), before-after, before)
		})
	}
}

func TestDeleteManifestErrors(t *testing.T) {
	deleteIn := func(repo string) func(r *http.Request) bool {
		return func(r *http.Request) bool {
			return r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/v2/"+repo+"/")
		}
	}
	reg := registrytest.Serve(t,
		registrytest.WithHandler(fault(deleteIn("denied"), http.StatusForbidden, "DENIED")),
		registrytest.WithHandler(fault(deleteIn("disabled"), http.StatusMethodNotAllowed, "UNSUPPORTED")),
		registrytest.WithHandler(fault(deleteIn("broken"), http.StatusInternalServerError, "UNKNOWN")),
	)
	c := newClient(t, reg.Host())
	const dg = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	tests := []struct {
		repo, digest string
		is           error
		words        []string
	}{
		{"missing", dg, ErrNotFound, []string{"delete missing@" + dg, "404"}},
		{"disabled", dg, ErrDeleteDisabled, []string{"405", "storage.delete.enabled"}},
		{"denied", dg, nil, []string{"403", "DENIED", "AcrDelete"}},
		{"broken", dg, nil, []string{"delete broken@" + dg, "500"}},
		{"missing", "latest", nil, []string{"not a digest"}},
		{"Bad_Name", dg, nil, []string{"bad repository name"}},
	}
	for _, tt := range tests {
		t.Run(tt.repo+"@"+tt.digest, func(t *testing.T) {
			err := c.DeleteManifest(t.Context(), tt.repo, tt.digest)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err %v is not %v", err, tt.is)
			}
			if tt.is == nil && (errors.Is(err, ErrNotFound) || errors.Is(err, ErrDeleteDisabled)) {
				t.Errorf("err %v matches a sentinel", err)
			}
			for _, w := range tt.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err %q lacks %q", err, w)
				}
			}
		})
	}
}
