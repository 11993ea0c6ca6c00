package registry

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/faulttest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/backend/retry"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// faultRetry gives up a stall after 300ms (the proxy stalls for 2s) and
// waits milliseconds between attempts: a scan through faults takes seconds.
var faultRetry = retry.Policy{MaxAttempts: 8, MaxWait: 30 * time.Second, BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond, StallTimeout: 300 * time.Millisecond}

// faultOptions: 10% of every request faulted, every kind of fault.
var faultOptions = faulttest.Options{Seed: 10, Rate: 0.10, Stall: 2 * time.Second, Slow: 50 * time.Millisecond}

// TestScanThroughFaults: a scan through the fault proxy at a 10% fault
// rate, of the distribution API and of ACR's listing API, gives the
// inventory a clean scan gives (the same images, digests, tags, created
// times, blobs and sizes, no error) and so the same plan.
func TestScanThroughFaults(t *testing.T) {
	pol := model.Policy{MaxAge: 60 * 24 * time.Hour, Cap: 1, Aggressive: true, MaxDeleteFraction: 1}
	plan := func(inv *model.Inventory) model.Plan {
		return model.MakePlan(inv, model.Request{Policy: pol, Now: testNow})
	}
	tests := []struct {
		name string
		scan func(t *testing.T) (clean, faulty *model.Inventory, proxy *faulttest.Proxy)
	}{
		{"distribution", func(t *testing.T) (*model.Inventory, *model.Inventory, *faulttest.Proxy) {
			reg, _ := registrytest.ServeSeeded(t, population())
			clean := scanOrFail(t, newClient(t, reg.Host()))
			proxy := faulttest.Serve(t, "http://"+reg.Host(), faultOptions)
			return clean, scanOrFail(t, newClient(t, proxy.Host(), WithRetry(faultRetry))), proxy
		}},
		{"acr", func(t *testing.T) (*model.Inventory, *model.Inventory, *faulttest.Proxy) {
			e := startACR(t)
			pop := population()
			pop.TagsPerRepository *= 2 // a scan reads no config on ACR: twice the images for as many requests
			if _, err := registrytest.Seed(t.Context(), e.reg.Host(), pop); err != nil {
				t.Fatal(err)
			}
			clean := scanOrFail(t, e.client(t))
			proxy := faulttest.Serve(t, e.srv.URL(), faultOptions)
			e.srv.SetLoginServer(proxy.Host())
			c := e.client(t, WithRetry(faultRetry))
			fc, err := NewACR(proxy.Host(), c.tokens.cred, WithClock(func() time.Time { return testNow }), WithRetry(faultRetry))
			if err != nil {
				t.Fatal(err)
			}
			return clean, scanOrFail(t, fc), proxy
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clean, faulty, proxy := tc.scan(t)
			if len(clean.Images) < 20 || len(clean.Errors) != 0 {
				t.Fatalf("clean scan: %d images, errors %v", len(clean.Images), clean.Errors)
			}
			injected := proxy.Injected()
			kinds := map[faulttest.Kind]int{}
			for _, f := range injected {
				kinds[f.Kind]++
			}
			t.Logf("%d requests, %d faults: %v", proxy.Requests(), len(injected), kinds)
			if len(injected) < 10 || len(kinds) < 5 {
				t.Errorf("only %d faults of %d kinds: the test shows little", len(injected), len(kinds))
			}
			if len(faulty.Errors) != 0 {
				t.Errorf("scan through faults: errors %v", faulty.Errors)
			}
			faulty.Registry = clean.Registry // the proxy's address
			if !reflect.DeepEqual(clean, faulty) {
				t.Errorf("the inventories differ:\n%s", inventoryDiff(clean, faulty))
			}
			p0, p1 := plan(clean), plan(faulty)
			if len(p0.Deletions) == 0 || !reflect.DeepEqual(p0, p1) {
				t.Errorf("plans differ (or are empty): %d deletions freeing %d, then %d freeing %d", len(p0.Deletions), p0.ReclaimBytes, len(p1.Deletions), p1.ReclaimBytes)
			}
		})
	}
}

// TestScanFaultedRepository: with every request of one repository
// faulted, the scan names that repository, reads the rest whole, and the
// plan deletes nothing there.
func TestScanFaultedRepository(t *testing.T) {
	reg, _ := registrytest.ServeSeeded(t, population())
	clean := scanOrFail(t, newClient(t, reg.Host()))
	repo := clean.Images[len(clean.Images)/2].Repository
	proxy := faulttest.Serve(t, "http://"+reg.Host(), faultOptions)
	if err := proxy.Set(0, faulttest.Rule{Path: faulttest.RepositoryPath(repo), Rate: 1, Kinds: faulttest.Transient}); err != nil {
		t.Fatal(err)
	}
	p := faultRetry
	p.MaxAttempts = 3
	faulty := scanOrFail(t, newClient(t, proxy.Host(), WithRetry(p)))
	inc := faulty.Incomplete()
	if _, ok := inc[repo]; !ok || len(inc) != 1 {
		t.Fatalf("incomplete repositories %v, want %s alone", inc, repo)
	}
	for _, e := range faulty.Errors {
		if e.Repository != repo {
			t.Errorf("an error outside %s: %+v", repo, e)
		}
	}
	// The other repositories' images, with their blobs (indexes into each
	// inventory's blob table) as digests and sizes.
	others := func(inv *model.Inventory) []resolvedImage {
		var out []resolvedImage
		for _, im := range inv.Images {
			if im.Repository != repo {
				ib := resolvedImage{Image: im}
				for _, b := range im.Blobs {
					ib.blobs = append(ib.blobs, inv.Blobs.At(b))
				}
				for _, cb := range im.ChildBlobs {
					var bs []model.Blob
					for _, b := range cb {
						bs = append(bs, inv.Blobs.At(b))
					}
					ib.childBlobs = append(ib.childBlobs, bs)
				}
				ib.Blobs, ib.ChildBlobs = nil, nil
				out = append(out, ib)
			}
		}
		return out
	}
	if want, got := others(clean), others(faulty); len(want) == 0 || !reflect.DeepEqual(want, got) {
		t.Errorf("the other repositories' images differ: %d images, then %d", len(want), len(got))
	}
	plan := model.MakePlan(faulty, model.Request{Policy: model.Policy{MaxAge: time.Hour, MaxDeleteFraction: 1}, Now: testNow})
	if len(plan.Deletions) == 0 || !slices.ContainsFunc(plan.Skipped, func(s model.Skipped) bool { return s.Repository == repo }) {
		t.Errorf("plan: %d deletions, skipped %+v", len(plan.Deletions), plan.Skipped)
	}
	for _, d := range plan.Deletions {
		if faulty.Images[d.Image].Repository == repo {
			t.Errorf("planned %s in the faulted repository", faulty.Images[d.Image].Ref())
		}
	}
}

type resolvedImage struct {
	model.Image
	blobs      []model.Blob
	childBlobs [][]model.Blob
}

// inventoryDiff says where two inventories first differ.
func inventoryDiff(a, b *model.Inventory) string {
	if len(a.Images) != len(b.Images) {
		return fmt.Sprintf("%d images, then %d", len(a.Images), len(b.Images))
	}
	for i := range a.Images {
		if !reflect.DeepEqual(a.Images[i], b.Images[i]) {
			return fmt.Sprintf("image %d: %+v\nthen %+v", i, a.Images[i], b.Images[i])
		}
	}
	return fmt.Sprintf("errors %v then %v; %d blobs then %d", a.Errors, b.Errors, a.Blobs.Len(), b.Blobs.Len())
}

// TestDeleteLostInTransit: the registry carries out a DELETE but the
// answer is lost (the connection reset); the DELETE is sent once more,
// its 404 counts as deleted (already gone), and the audit log says so. A
// DELETE lost twice is settled by asking the registry: the manifest is
// gone, so it is recorded deleted, never failed.
func TestDeleteLostInTransit(t *testing.T) {
	tests := []struct {
		name      string
		times     int // DELETEs whose answer is lost
		wantGone  bool
		wantFails int
	}{
		{"lost once", 1, true, 0},
		{"lost twice", 2, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg, _ := registrytest.ServeSeeded(t, population())
			c := newClient(t, reg.Host())
			inv := scan(t, c)
			var pick []int
			for i, im := range inv.Images {
				if len(im.Children) == 0 && im.Subject == nil {
					pick = append(pick, i)
					break
				}
			}
			plan := model.MakePlan(inv, model.Request{Now: testNow, Manual: pick})
			if len(plan.Deletions) != 1 {
				t.Fatalf("plan %+v", plan)
			}
			proxy := faulttest.Serve(t, "http://"+reg.Host(), faultOptions)
			if err := proxy.Set(0, faulttest.Rule{Methods: []string{"DELETE"}, Rate: 1, Kinds: []faulttest.Kind{faulttest.LostResponse}, Times: tc.times}); err != nil {
				t.Fatal(err)
			}
			pc := newClient(t, proxy.Host(), WithRetry(faultRetry))
			log, path := openLog(t)
			res, err := Apply(t.Context(), pc, inv, plan, log)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Failed) != tc.wantFails || len(res.Deleted) != 1-tc.wantFails {
				t.Fatalf("result %+v", res)
			}
			im := inv.Images[pick[0]]
			outcomes := checkAudit(t, path, inv)
			if tc.wantGone {
				if !res.Deleted[0].AlreadyGone || outcomes[im.Digest.String()].Outcome != "already-gone" {
					t.Errorf("deleted %+v, audit %+v; want already gone", res.Deleted[0], outcomes[im.Digest.String()])
				}
			} else if res.Deleted[0].AlreadyGone || outcomes[im.Digest.String()].Outcome != "deleted" {
				t.Errorf("deleted %+v, audit %+v; want deleted", res.Deleted[0], outcomes[im.Digest.String()])
			}
			if there, err := c.Exists(t.Context(), im.Repository, im.Digest.String()); err != nil || there {
				t.Errorf("%s still there: %v %v", im.Ref(), there, err)
			}
			deletes := 0
			for _, f := range proxy.Injected() {
				if f.Method == "DELETE" {
					deletes++
				}
			}
			if deletes != tc.times {
				t.Errorf("%d DELETE answers lost, want %d", deletes, tc.times)
			}
		})
	}
}

func TestScanFaults(t *testing.T) {
	pop := population()
	pop.Repositories, pop.TagsPerRepository = 4, 3
	isTags := func(repo string) func(r *http.Request) bool {
		return func(r *http.Request) bool {
			return r.Method == http.MethodGet && r.URL.Path == "/v2/"+repo+"/tags/list"
		}
	}
	isManifest := func(repo, ref string) func(r *http.Request) bool {
		return func(r *http.Request) bool {
			return r.Method == http.MethodGet && r.URL.Path == "/v2/"+repo+"/manifests/"+ref
		}
	}
	// victim is a binder repository of this population (seeded names are
	// deterministic), and its newest image.
	_, probe := registrytest.ServeSeeded(t, pop)
	// It has an image with a single tag: a corrupt answer for that tag
	// loses the whole image.
	vi := slices.IndexFunc(probe.Images, func(im registrytest.SeededImage) bool {
		return strings.HasPrefix(im.Repository, "binder-") && len(im.Tags) == 1
	})
	if vi < 0 {
		t.Fatal("no binder image with a single tag")
	}
	victim := probe.Images[vi].Repository
	vtag := probe.Images[vi].Tags[0]

	tests := []struct {
		name string
		wrap func(http.Handler) http.Handler
		// scanErr: Scan must fail with these words.
		scanErr []string
		// else inventory errors must mention these, and these images
		// (indexes into Seeded.Images) must be missing; the rest present.
		invErr  []string
		missing func(s *registrytest.Seeded) []int
	}{
		{
			name:    "tags 500",
			wrap:    fault(isTags(victim), http.StatusInternalServerError, "UNKNOWN"),
			invErr:  []string{"list tags of " + victim, "500", "try again later"},
			missing: func(s *registrytest.Seeded) []int { return imagesOf(s, victim) },
		},
		{
			name:    "tags NAME_UNKNOWN",
			wrap:    fault(isTags(victim), http.StatusNotFound, "NAME_UNKNOWN"),
			invErr:  []string{"list tags of " + victim, "404", "untagged manifests"},
			missing: func(s *registrytest.Seeded) []int { return imagesOf(s, victim) },
		},
		{
			name:    "catalog 401",
			wrap:    fault(func(r *http.Request) bool { return r.URL.Path == "/v2/_catalog" }, http.StatusUnauthorized, "UNAUTHORIZED"),
			scanErr: []string{"list repositories", "401 Unauthorized", "registry.auth"},
		},
		{
			name: "manifests 429",
			wrap: fault(func(r *http.Request) bool {
				return r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v2/"+victim+"/manifests/")
			}, http.StatusTooManyRequests, "TOOMANYREQUESTS"),
			invErr:  []string{"get manifest " + victim + ":", "429", "rate limited"},
			missing: func(s *registrytest.Seeded) []int { return imagesOf(s, victim) },
		},
		{
			name:    "corrupt manifest",
			wrap:    rewrite(isManifest(victim, vtag), "", func([]byte) []byte { return []byte(`{"schemaVersion": 2, "config": {`) }),
			invErr:  []string{victim + "@sha256:", "not valid JSON", vtag},
			missing: func(*registrytest.Seeded) []int { return []int{vi} },
		},
		{
			name:    "unknown media type",
			wrap:    rewrite(isManifest(victim, vtag), "application/vnd.example.thing.v1+json", func(b []byte) []byte { return b }),
			invErr:  []string{victim + "@" + probe.Images[vi].Digest, `unknown media type "application/vnd.example.thing.v1+json"`},
			missing: func(*registrytest.Seeded) []int { return []int{vi} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, seeded := registrytest.ServeSeeded(t, pop, registrytest.WithHandler(tt.wrap))
			c := newClient(t, reg.Host())
			inv, err := c.Scan(t.Context(), nil)
			if tt.scanErr != nil {
				if err == nil {
					t.Fatalf("Scan succeeded, want an error with %q", tt.scanErr)
				}
				t.Logf("scan error: %v", err)
				for _, w := range tt.scanErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(inv.Errors) == 0 {
				t.Fatal("no scan errors recorded")
			}
			for _, e := range inv.Errors {
				if e.Repository != victim {
					t.Errorf("error about %q, want only %q: %+v", e.Repository, victim, e)
				}
			}
			all := fmt.Sprint(inv.Errors)
			t.Logf("scan errors: %s", all)
			for _, w := range tt.invErr {
				if !strings.Contains(all, w) {
					t.Errorf("errors %s lack %q", all, w)
				}
			}
			gone := tt.missing(seeded)
			have := map[string]bool{}
			for _, im := range inv.Images {
				have[im.Ref()] = true
			}
			for i, im := range seeded.Images {
				if want := !slices.Contains(gone, i); have[im.Ref()] != want {
					t.Errorf("%s present = %v, want %v", im.Ref(), have[im.Ref()], want)
				}
			}
		})
	}
}

func imagesOf(s *registrytest.Seeded, repo string) []int {
	var out []int
	for i, im := range s.Images {
		if im.Repository == repo {
			out = append(out, i)
		}
	}
	return out
}
