package demo

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestDemoOnGARAndHarbor runs the demo behind the GAR and Harbor
// stand-ins, with Google's and Harbor's variables pointing elsewhere:
// the scan lists the project's repositories with the stand-in's own
// credentials (GAR's key file, Harbor's robot account) and a dry run
// plans deletions.
func TestDemoOnGARAndHarbor(t *testing.T) {
	// a metadata server and a key file that must not be asked
	var asked atomic.Int32
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { asked.Add(1); http.Error(w, "no", http.StatusForbidden) }))
	defer meta.Close()
	t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(meta.URL, "http://"))
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/adc.json")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		kind, flavor string
		pulled       bool
	}{
		{RegistryGAR, "gar", false},
		{RegistryHarbor, "harbor", true},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			env, err := Start(t.Context(), WithNow(now), WithRegistry(tc.kind))
			if err != nil {
				t.Fatal(err)
			}
			defer env.Close()
			if env.ACR != nil || (tc.kind == RegistryGAR) != (env.GAR != nil) || (tc.kind == RegistryHarbor) != (env.Harbor != nil) || env.Config.Registry.Flavor != tc.flavor {
				t.Fatalf("not on %s: flavor %s", tc.kind, env.Config.Registry.Flavor)
			}
			inv, err := env.Registry.Scan(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(inv.Errors) != 0 || len(inv.Images) != len(env.Seeded.Images) {
				t.Fatalf("%d images of %d, errors %v", len(inv.Images), len(env.Seeded.Images), inv.Errors)
			}
			pulled := 0
			for _, im := range inv.Images {
				if !strings.HasPrefix(im.Repository, demoProject+"/") {
					t.Errorf("%s is not under %s/", im.Repository, demoProject)
				}
				if !im.LastPulled.IsZero() {
					pulled++
				}
			}
			if (pulled > 0) != tc.pulled {
				t.Errorf("%d of %d images pulled", pulled, len(inv.Images))
			}
			plan := env.Registry.Plan(inv, nil, false)
			if len(plan.Deletions) == 0 {
				t.Errorf("a dry run plans nothing: held %v, notes %v", plan.Held, plan.Notes)
			}
		})
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the metadata server was asked %d times", n)
	}
}
