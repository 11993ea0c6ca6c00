package registry

import (
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestLockedPlatformManifestHoldsItsIndex: an untagged platform manifest
// with deleteEnabled false is no image of its own, but it holds its index.
// Locked before the scan, the index is never planned; locked between scan
// and apply, apply skips the index and deletes none of it. Either way the
// registry loses nothing the audit log and the report do not say.
func TestLockedPlatformManifestHoldsItsIndex(t *testing.T) {
	for _, when := range []string{"before the scan", "between scan and apply"} {
		t.Run(when, func(t *testing.T) {
			e := startACR(t)
			amd, arm := e.p.image(200, "amd64"), e.p.image(200, "arm64")
			e.p.push("multi@"+digestOf(t, amd), amd)
			e.p.push("multi@"+digestOf(t, arm), arm)
			idx := e.pushedAt(t, "multi:v1", e.p.index("v1", amd, arm), 200)
			e.pushedAt(t, "multi:v2", e.p.image(1, "amd64"), 1)
			for _, d := range []string{digestOf(t, amd), digestOf(t, arm)} {
				e.srv.SetCreated("multi", d, testNow.AddDate(0, 0, -200))
			}
			lockArm := func() { e.srv.Lock("multi", digestOf(t, arm), false, true) }
			if when == "before the scan" {
				lockArm()
			}
			c := e.client(t)
			inv := scanOrFail(t, c)
			req := model.Request{Now: testNow, Policy: model.Policy{MaxAge: 30 * 24 * time.Hour}}
			plan := model.MakePlan(inv, req)
			k := imageAt(t, inv, "multi", idx)
			if when == "before the scan" {
				if im := inv.Images[k]; !im.Locked || im.LockText() != "locked (platform linux/arm64)" {
					t.Errorf("index: locked %v, %q; want locked (platform linux/arm64)", im.Locked, im.LockText())
				}
				if planned(inv, plan)["multi@"+idx] {
					t.Fatalf("the index of a locked platform manifest is planned: %s", describePlan(inv, plan))
				}
				return
			}
			if !planned(inv, plan)["multi@"+idx] {
				t.Fatalf("the old index is not planned: %s", describePlan(inv, plan))
			}
			lockArm()
			res, bad, err := applyChecked(t, t.Context(), e.reg, c, c, inv, plan, req)
			if err != nil {
				t.Fatal(err)
			}
			if len(bad) > 0 {
				t.Fatalf("the invariant is broken:\n  %s", strings.Join(bad, "\n  "))
			}
			if len(res.Skipped) != 1 || res.Skipped[0].Digest != idx || !strings.Contains(res.Skipped[0].Reason, "is locked") || len(res.Deleted) != 0 || len(res.Failed) != 0 {
				t.Errorf("result %+v; want the index skipped as locked", res)
			}
			e.p.resolves("multi:v1")
		})
	}
}
