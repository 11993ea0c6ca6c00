package registry

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/faulttest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestSharedPlatformManifestsStayWithAKeptIndex: two old indexes in one
// repository share platform manifests and both are planned for age.
// Between scan and apply `latest` moves back onto one of them, or that
// one's DELETE fails: apply keeps it, and so must it keep the platform
// manifests the two share, whichever of the two comes first in the plan.
func TestSharedPlatformManifestsStayWithAKeptIndex(t *testing.T) {
	for _, tt := range []struct {
		name string
		// keep is which index (0: the first planned, 1: the second) stays
		keep int
		// how it stays: "latest" moves onto it, or its DELETE fails
		how string
	}{
		{"latest moved back onto the second", 1, "latest"},
		{"latest moved back onto the first", 0, "latest"},
		{"the second's DELETE fails", 1, "500"},
		{"the first's DELETE fails", 0, "500"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg, p := startPushing(t)
			amd, arm := p.image(300, "amd64"), p.image(300, "arm64")
			p.push("app@"+digestOf(t, amd), amd)
			p.push("app@"+digestOf(t, arm), arm)
			p.push("app:v1", p.index("v1", amd, arm))
			p.push("app:v2", p.index("v2", amd, arm))
			p.push("app:latest", p.image(1, "amd64"))

			c := newClient(t, reg.Host())
			inv := scan(t, c)
			req := model.Request{Now: testNow, Policy: model.Policy{MaxAge: 30 * 24 * time.Hour, KeepLatest: 1}}
			plan := model.MakePlan(inv, req)
			var order []string // the two indexes, in plan order
			for _, d := range plan.Deletions {
				if im := inv.Images[d.Image]; len(im.Children) > 0 {
					order = append(order, im.Digest)
				}
			}
			if len(order) != 2 {
				t.Fatalf("plan %s: want both indexes", describePlan(inv, plan))
			}
			kept := order[tt.keep]
			proxy := faulttest.Serve(t, "http://"+reg.Host(), faultOptions)
			switch tt.how {
			case "latest":
				p.tag("app:latest", "app@"+kept)
				if err := proxy.Set(0); err != nil {
					t.Fatal(err)
				}
			case "500":
				if err := proxy.Set(0, faulttest.Rule{Path: regexp.MustCompile(regexp.QuoteMeta("/v2/app/manifests/" + kept)),
					Methods: []string{http.MethodDelete}, Rate: 1, Kinds: []faulttest.Kind{faulttest.InternalError}}); err != nil {
					t.Fatal(err)
				}
			}
			res, bad, err := applyChecked(t, t.Context(), reg, newClient(t, proxy.Host(), WithRetry(faultRetry)), c, inv, plan, req)
			if err != nil {
				t.Fatal(err)
			}
			if len(bad) > 0 {
				t.Fatalf("the invariant is broken:\n  %s\nplan:\n  %s", strings.Join(bad, "\n  "), describePlan(inv, plan))
			}
			ref := "app@" + kept
			if tt.how == "latest" {
				ref = "app:latest"
			}
			if got := p.resolves(ref); got != kept {
				t.Fatalf("%s is %s, want the kept index %s", ref, got, kept)
			}
			for _, d := range []string{digestOf(t, amd), digestOf(t, arm)} {
				p.resolves("app@" + d) // the shared platform manifests are still there
			}
			if slices.ContainsFunc(res.Deleted, func(d Done) bool { return d.Digest == kept }) {
				t.Errorf("the kept index is among the deleted: %+v", res.Deleted)
			}
			other := order[1-tt.keep]
			if !slices.ContainsFunc(res.Deleted, func(d Done) bool { return d.Digest == other }) {
				t.Errorf("the other index %s was not deleted: %+v", other, res)
			}
		})
	}
}
