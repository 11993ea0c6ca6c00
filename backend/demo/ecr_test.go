package demo

import (
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/ecrtest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestDemoOnECR runs the demo behind the ECR stand-in, with AWS variables
// pointing elsewhere: the scan lists through ECR's API with the
// stand-in's own credentials, sees pulls and ECR's sizes and the
// lifecycle policy, and keep_pulled_within holds what was pulled in the
// last 30 days. Unknown kinds are refused.
func TestDemoOnECR(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAJUNKJUNKJUNKJUNK")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "junk")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	env, err := Start(t.Context(), WithNow(now), WithRegistry(RegistryECR))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if env.ECR == nil || env.ACR != nil || env.Config.Registry.Flavor != "ecr" {
		t.Fatalf("not on ECR: flavor %s", env.Config.Registry.Flavor)
	}
	inv, err := env.Registry.Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) != 0 || len(inv.Images) == 0 {
		t.Fatalf("%d images, errors %v", len(inv.Images), inv.Errors)
	}
	pulled, vendor := 0, 0
	for _, im := range inv.Images {
		if !im.LastPulled.IsZero() {
			pulled++
		}
		if im.VendorSize > 0 {
			vendor++
		}
	}
	if pulled == 0 || vendor != len(inv.Images) || inv.VendorSizeName != "ECR size" || len(inv.RegistryRules) != 1 {
		t.Errorf("%d pulled, %d with ECR's size of %d, %q, rules %v", pulled, vendor, len(inv.Images), inv.VendorSizeName, inv.RegistryRules)
	}
	plan := env.Registry.Plan(inv, nil, false)
	if plan.Held[model.HoldPulled] == 0 {
		t.Errorf("keep_pulled_within holds nothing: %v", plan.Held)
	}
	for _, r := range env.ECR.Requests() {
		if r.Kind == ecrtest.KindAPI && r.Status != 200 && r.Target != "GetLifecyclePolicy" {
			t.Errorf("%s answered %d", r.Target, r.Status)
		}
	}
	if _, err := Start(t.Context(), WithRegistry("quay")); err == nil {
		t.Error("an unknown registry kind started")
	}
}
