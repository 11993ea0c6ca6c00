package registry

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/audit"
	"github.com/helmupgradebot/helmupgradebot/backend/faulttest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestTaggedChildOfKeptIndex: base:latest is a protected multi-platform
// index and base:latest-amd64 tags its (old) amd64 child. The age step must
// not plan the child: the index that survives would lose it.
func TestTaggedChildOfKeptIndex(t *testing.T) {
	for _, tt := range []struct {
		name string
		pol  model.Policy
	}{
		{"protected index", model.Policy{MaxAge: 90 * 24 * time.Hour, Protect: []*regexp.Regexp{regexp.MustCompile(`^base:latest$`)}}},
		{"index kept by keep_latest", model.Policy{MaxAge: 90 * 24 * time.Hour, KeepLatest: 1}},
		{"index too young for age", model.Policy{MaxAge: 150 * 24 * time.Hour}},
		{"cap", model.Policy{Cap: 1, Aggressive: true, Protect: []*regexp.Regexp{regexp.MustCompile(`^base:latest$`)}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg, p := startPushing(t)
			amd, arm := p.image(200, "amd64"), p.image(120, "arm64")
			idx := p.index("latest", amd, arm)
			p.push("base:latest", idx)
			p.push("base:latest-amd64", amd)
			p.push("base:old", p.image(300, "amd64"))

			c := newClient(t, reg.Host())
			inv := scan(t, c)
			plan := model.MakePlan(inv, model.Request{Now: testNow, Policy: tt.pol})
			child := imageAt(t, inv, "base", digestOf(t, amd))
			if got := model.Holds(inv, tt.pol)[child]; got != model.HoldInIndex {
				t.Errorf("hold of the tagged child = %q, want %q", got, model.HoldInIndex)
			}
			if planned(inv, plan)["base@"+digestOf(t, amd)] {
				t.Fatalf("the plan deletes base:latest-amd64, a platform manifest of the surviving base:latest")
			}
			if plan.Held[model.HoldInIndex] == 0 {
				t.Errorf("held = %v, want an in-index count", plan.Held)
			}
			log, _ := openLog(t)
			if _, err := Apply(t.Context(), c, inv, plan, log); err != nil {
				t.Fatal(err)
			}
			p.resolves("base:latest")
			p.resolves("base@" + digestOf(t, amd))
			p.resolves("base@" + digestOf(t, arm))
		})
	}
}

// TestIndexAndItsTaggedChildGoTogether: when the index itself is planned,
// its tagged child may go too, but only after it.
func TestIndexAndItsTaggedChildGoTogether(t *testing.T) {
	reg, p := startPushing(t)
	amd, arm := p.image(200, "amd64"), p.image(190, "arm64")
	p.push("base:v1", p.index("v1", amd, arm))
	p.push("base:v1-amd64", amd)
	p.push("base:new", p.image(1, "amd64"))

	c := newClient(t, reg.Host())
	inv := scan(t, c)
	plan := model.MakePlan(inv, model.Request{Now: testNow, Policy: model.Policy{MaxAge: 90 * 24 * time.Hour}})
	if len(plan.Deletions) != 2 {
		t.Fatalf("plan has %d deletions, want the index and its tagged child", len(plan.Deletions))
	}
	if d := plan.Deletions[1]; inv.Images[d.Image].Digest != model.ParseDigest(digestOf(t, amd)) || !slices.Equal(d.After, []int{0}) {
		t.Fatalf("second deletion %+v: want the amd64 child, after the index", d)
	}
	if got := plan.Deletions[0].Children; !slices.Equal(got, model.ParseDigests([]string{digestOf(t, arm)})) {
		t.Errorf("index children deleted with it = %v, want only the untagged arm64 one", got)
	}
	log, _ := openLog(t)
	res, err := Apply(t.Context(), c, inv, plan, log, WithApplyConcurrency(4))
	if err != nil || len(res.Deleted) != 2 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	p.resolves("base:new")
}

// TestIncompleteRepositoryIsSkipped: app:v1 and a protected app:v2 are two
// indexes over the same platform manifests, and reading app:v2 fails past
// the retries. Nothing in app may be deleted: v1's children only look
// orphaned because v2 is missing.
func TestIncompleteRepositoryIsSkipped(t *testing.T) {
	fail := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/app/manifests/v2") {
				http.Error(w, "boom", http.StatusInternalServerError)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	reg, p := startPushing(t, registrytest.WithHandler(fail))
	amd, arm := p.image(200, "amd64"), p.image(200, "arm64")
	p.push("app:v1", p.index("v1", amd, arm))
	p.push("app:v2", p.index("v2", amd, arm))
	p.push("other:old", p.image(300, "amd64"))

	pol := model.Policy{MaxAge: 90 * 24 * time.Hour, Protect: []*regexp.Regexp{regexp.MustCompile(`^app:v2$`)},
		Cap: 1, Aggressive: true}
	c := newClient(t, reg.Host())
	inv := scanOrFail(t, c)
	if _, ok := inv.Incomplete()["app"]; !ok {
		t.Fatalf("app is not incomplete; errors %+v", inv.Errors)
	}
	plan := model.MakePlan(inv, model.Request{Now: testNow, Policy: pol})
	for ref := range planned(inv, plan) {
		if strings.HasPrefix(ref, "app@") {
			t.Errorf("the plan deletes %s in the incompletely scanned repository", ref)
		}
	}
	if !planned(inv, plan)[findRef(t, inv, "other", "old")] {
		t.Errorf("the complete repository's old image is not planned")
	}
	if len(plan.Skipped) != 1 || plan.Skipped[0].Repository != "app" || !strings.Contains(plan.Skipped[0].Reason, "500") {
		t.Errorf("skipped = %+v, want app with the 500", plan.Skipped)
	}
	log, _ := openLog(t)
	if _, err := Apply(t.Context(), c, inv, plan, log); err != nil {
		t.Fatal(err)
	}
	p.resolves("app@" + digestOf(t, amd))
	p.resolves("app@" + digestOf(t, arm))
	p.resolves("app:v1")
}

func findRef(t *testing.T, inv *model.Inventory, repo, tag string) string {
	t.Helper()
	for i := range inv.Images {
		if inv.Images[i].Repository == repo && slices.Contains(inv.Images[i].Tags, tag) {
			return inv.Images[i].Ref()
		}
	}
	t.Fatalf("%s:%s is not in the inventory", repo, tag)
	return ""
}

// TestTagMovedSinceScan: after the scan and plan, hub:latest (protected) is
// pushed back onto an old, planned digest: a rollback. The apply must not
// delete that digest, nor one whose platform manifest a new index uses.
func TestTagMovedSinceScan(t *testing.T) {
	reg, p := startPushing(t)
	old, older, cur := p.image(200, "amd64"), p.image(250, "amd64"), p.image(1, "amd64")
	p.push("hub:old", old)
	p.push("hub:older", older)
	p.push("hub:latest", cur)
	amd, arm := p.image(220, "amd64"), p.image(220, "arm64")
	p.push("multi:v1", p.index("v1", amd, arm))
	p.push("multi:gone", p.image(300, "amd64"))

	pol := model.Policy{MaxAge: 90 * 24 * time.Hour, Protect: []*regexp.Regexp{regexp.MustCompile(`^hub:latest$`)}}
	c := newClient(t, reg.Host())
	inv := scan(t, c)
	plan := model.MakePlan(inv, model.Request{Now: testNow, Policy: pol})
	if len(plan.Deletions) != 4 {
		t.Fatalf("plan has %d deletions, want hub:old, hub:older, multi:v1, multi:gone", len(plan.Deletions))
	}

	p.push("hub:latest", old)              // the rollback
	p.push("multi:v2", p.index("v2", amd)) // a new index over a planned child

	log, path := openLog(t)
	res, err := Apply(t.Context(), c, inv, plan, log, WithProtect(pol.Protect))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.resolves("hub:latest"); got != digestOf(t, old) {
		t.Fatalf("hub:latest now resolves to %s", got)
	}
	p.resolves("multi:v2")
	p.resolves("multi@" + digestOf(t, amd))
	if len(res.Skipped) != 2 || len(res.Deleted) != 2 {
		t.Fatalf("result: %d deleted, skipped %+v; want 2 and 2", len(res.Deleted), res.Skipped)
	}
	for _, s := range res.Skipped {
		if !strings.HasPrefix(s.Reason, ChangedSinceScan) {
			t.Errorf("skip reason %q", s.Reason)
		}
	}
	lines := readAudit(t, path)
	skipped := 0
	for _, e := range lines {
		if e.Outcome == audit.OutcomeSkipped {
			skipped++
		}
	}
	if skipped != 2 {
		t.Errorf("audit log has %d skipped lines, want 2", skipped)
	}
}

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
					order = append(order, im.Digest.String())
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
