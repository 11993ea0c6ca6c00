package registry

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/audit"
	"github.com/helmupgradebot/helmupgradebot/backend/digestcache"
	"github.com/helmupgradebot/helmupgradebot/backend/gartest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// garPopulation lives under the project "proj", as on gcr.io.
func garPopulation(repos, tags int) registrytest.Population {
	return registrytest.Population{Repositories: repos, TagsPerRepository: tags, Seed: 24, Now: testNow, Scale: 1,
		MultiPlatform: true, Concurrency: 16, Prefix: "proj/"}
}

// newGAR is a GAR client of srv logged in with srv's service-account key
// through x/oauth2/google, every request through guard.
func newGAR(t testing.TB, srv *gartest.Server, guard *gartest.Guard, opts ...Option) *GAR {
	t.Helper()
	opts = append([]Option{WithTransport(guard), WithClock(func() time.Time { return testNow })}, opts...)
	auth, err := GoogleLogin(t.Context(), srv.KeyFile(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGAR(srv.Host(), "proj", append(opts, WithAuthenticator(auth))...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGARScan checks a scan against what was pushed: every image with
// its tags and push time, untagged platform manifests inside their index,
// the deduplicated total equal to the registry's stored bytes, no config
// read, nothing off loopback; and a second scan over the warm digest
// cache reads no manifest.
func TestGARScan(t *testing.T) {
	reg, seeded := registrytest.ServeSeeded(t, garPopulation(5, 4))
	srv := gartest.Serve(t, reg)
	pushed := map[string]time.Time{}
	for k, im := range seeded.Images {
		at := testNow.AddDate(0, 0, -10*(k+1))
		pushed[im.Ref()] = at
		srv.SetUploaded(im.Repository, im.Digest, at)
	}
	cache, err := digestcache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	guard := gartest.NewGuard(nil)
	g := newGAR(t, srv, guard, WithDigestCache(cache))

	inv, err := g.Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) != 0 {
		t.Errorf("scan errors: %+v", inv.Errors)
	}
	if len(inv.Images) != len(seeded.Images) {
		t.Errorf("%d images, want %d (platform manifests are part of their index)", len(inv.Images), len(seeded.Images))
	}
	for _, want := range seeded.Images {
		k := slices.IndexFunc(inv.Images, func(im model.Image) bool { return im.Ref() == want.Ref() })
		if k < 0 {
			t.Errorf("%s not scanned", want.Ref())
			continue
		}
		im := &inv.Images[k]
		if !slices.Equal(im.Tags, slices.Sorted(slices.Values(want.Tags))) || !im.Created.Equal(pushed[want.Ref()]) || im.CreatedProblem != model.CreatedOK ||
			!slices.Equal(im.Children, model.ParseDigests(want.Children)) {
			t.Errorf("%s: tags %v created %v (%s) children %v; want %v %v ok %v", want.Ref(), im.Tags, im.Created, im.CreatedProblem, im.Children,
				want.Tags, pushed[want.Ref()], want.Children)
		}
		if !im.Pushed.Equal(pushed[want.Ref()]) {
			t.Errorf("%s: pushed %v, want %v", want.Ref(), im.Pushed, pushed[want.Ref()])
		}
		if im.VendorSize <= 0 {
			t.Errorf("%s: Google's size %d, want the listing's imageSizeBytes", want.Ref(), im.VendorSize)
		}
	}
	if inv.VendorSizeName != "Google size" {
		t.Errorf("vendor size named %q", inv.VendorSizeName)
	}
	if total := model.ComputeSizes(inv).Total; total != seeded.StoredBytes() {
		t.Errorf("deduplicated total %d, the registry stores %d", total, seeded.StoredBytes())
	}
	counts := srv.Requests()
	if counts[gartest.KindBlob] != 0 {
		t.Errorf("%d blob reads: configs are not read", counts[gartest.KindBlob])
	}
	if counts[gartest.KindOAuthToken] != 1 || counts[gartest.KindRegistryToken] != 1 {
		t.Errorf("%d Google and %d registry tokens asked, want one each", counts[gartest.KindOAuthToken], counts[gartest.KindRegistryToken])
	}

	// age_from: built takes Google's timeCreatedMs, still without a config read
	srv.ResetRequests()
	built, err := newGAR(t, srv, guard, WithAgeFrom(AgeFromBuilt)).Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range seeded.Images {
		k := slices.IndexFunc(built.Images, func(im model.Image) bool { return im.Ref() == want.Ref() })
		if k < 0 || len(want.Children) > 0 || want.CreatedMissing {
			continue
		}
		wantCreated, wantProblem := want.Created, model.CreatedOK
		if !wantCreated.After(time.Unix(0, 0)) {
			wantCreated, wantProblem = time.Time{}, model.CreatedMissing // Google writes "0" for a 1970 build
		}
		if im := &built.Images[k]; !im.Created.Equal(wantCreated) || im.CreatedProblem != wantProblem {
			t.Errorf("built %s: created %v (%s), want %v (%s)", want.Ref(), im.Created, im.CreatedProblem, wantCreated, wantProblem)
		}
	}
	if n := srv.Requests()[gartest.KindBlob]; n != 0 {
		t.Errorf("age_from built read %d blobs, want none", n)
	}

	srv.ResetRequests()
	again, err := g.Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Images) != len(inv.Images) || model.ComputeSizes(again).Total != model.ComputeSizes(inv).Total {
		t.Errorf("the warm scan found %d images, want %d", len(again.Images), len(inv.Images))
	}
	counts = srv.Requests()
	if counts[gartest.KindManifest] != 0 || counts[gartest.KindRegistryToken] != 0 {
		t.Errorf("the warm scan read %d manifests and asked %d tokens, want none", counts[gartest.KindManifest], counts[gartest.KindRegistryToken])
	}
	if r := guard.Refused(); len(r) != 0 {
		t.Errorf("requests left loopback: %v", r)
	}
}

// TestGARDelete checks the deletion's order and errors: a tagged image
// is untagged and deleted, a manifest not listed is ErrNotFound, an
// identity that may not delete is told which role it needs, and Current
// shows what is left.
func TestGARDelete(t *testing.T) {
	reg, seeded := registrytest.ServeSeeded(t, garPopulation(2, 3))
	srv := gartest.Serve(t, reg)
	guard := gartest.NewGuard(nil)
	g := newGAR(t, srv, guard)
	im := seeded.Images[0]
	other := seeded.Images[1]

	srv.DenyDelete(true)
	err := g.DeleteManifest(t.Context(), im.Repository, im.Digest)
	var ce *CallError
	if !errors.As(err, &ce) || ce.Status != http.StatusForbidden || !strings.Contains(err.Error(), "roles/artifactregistry.repoAdmin") {
		t.Errorf("denied delete: %v, want 403 naming the role", err)
	}
	srv.DenyDelete(false)
	srv.ResetRequests()
	if err := g.DeleteManifest(t.Context(), im.Repository, im.Digest); err != nil {
		t.Fatalf("delete %s: %v", im.Ref(), err)
	}
	if there, err := g.Exists(t.Context(), im.Repository, im.Digest); err != nil || there {
		t.Errorf("after the delete: exists %v, %v", there, err)
	}
	if err := g.DeleteManifest(t.Context(), im.Repository, im.Digest); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if err := g.DeleteManifest(t.Context(), "proj/nothing-here", im.Digest); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete in a missing repository: %v, want ErrNotFound", err)
	}
	cur, err := g.Current(t.Context(), other.Repository, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if got := cur.Tags[other.Digest]; !slices.Equal(got, other.Tags) {
		t.Errorf("current tags of %s: %v, want %v", other.Ref(), got, other.Tags)
	}
	if _, ok := cur.Tags[im.Digest]; ok && im.Repository == other.Repository {
		t.Errorf("current still shows the deleted %s", im.Ref())
	}
	counts := srv.Requests()
	if counts[gartest.KindUntag] != len(im.Tags) {
		t.Errorf("%d untags, want one per tag (%d)", counts[gartest.KindUntag], len(im.Tags))
	}
	if r := guard.Refused(); len(r) != 0 {
		t.Errorf("requests left loopback: %v", r)
	}
}

// TestGoogleLoginRefusals checks that a bad key or token fails the scan
// naming the login, and that without a key nothing is sent off loopback.
func TestGoogleLoginRefusals(t *testing.T) {
	reg, _ := registrytest.ServeSeeded(t, garPopulation(1, 1))
	srv := gartest.Serve(t, reg)
	other := gartest.Serve(t, reg)
	guard := gartest.NewGuard(nil)
	if _, err := GoogleLogin(t.Context(), []byte(`{"type":"authorized_user"}`), WithTransport(guard)); err == nil || !strings.Contains(err.Error(), "service-account key") {
		t.Errorf("a key of the wrong type: %v", err)
	}
	auth, err := GoogleLogin(t.Context(), other.KeyFile(), WithTransport(guard)) // valid, but not srv's token endpoint's key
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGAR(srv.Host(), "proj", WithTransport(guard), WithAuthenticator(auth))
	if err != nil {
		t.Fatal(err)
	}
	// other's key goes to other's token endpoint: srv does not know the token
	if _, err := g.Scan(t.Context(), nil); err == nil || !strings.Contains(err.Error(), "log in to "+srv.Host()) {
		t.Errorf("scan with a foreign login: %v", err)
	}
	if r := guard.Refused(); len(r) != 0 {
		t.Errorf("requests left loopback: %v", r)
	}
}

// BenchmarkGARCost counts the requests a scan of the Artifact Registry
// stand-in makes per image at 2,000 tags over 20 repositories, cold (an
// empty digest cache) and warm (a second scan over the cache):
//
//	go test -run '^$' -bench GARCost -benchtime 1x ./backend/registry
func BenchmarkGARCost(b *testing.B) {
	reg := registrytest.Serve(b)
	if _, err := reg.Populate(b.Context(), garPopulation(20, 100)); err != nil {
		b.Fatal(err)
	}
	srv := gartest.Serve(b, reg)
	for _, warm := range []bool{false, true} {
		b.Run(fmt.Sprintf("warm=%v", warm), func(b *testing.B) {
			var requests, images int
			for b.Loop() {
				b.StopTimer()
				cache, err := digestcache.Open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				g := newGAR(b, srv, gartest.NewGuard(nil), WithDigestCache(cache), WithConcurrency(16))
				if warm {
					if _, err := g.Scan(b.Context(), nil); err != nil {
						b.Fatal(err)
					}
				}
				srv.ResetRequests()
				b.StartTimer()
				inv, err := g.Scan(b.Context(), nil)
				if err != nil || len(inv.Errors) != 0 {
					b.Fatalf("scan: %v %v", err, inv.Errors)
				}
				for _, n := range srv.Requests() {
					requests += n
				}
				images += len(inv.Images)
			}
			b.ReportMetric(float64(requests)/float64(images), "req/image")
			b.ReportMetric(float64(images)/float64(b.N), "images")
		})
	}
}

// TestGARListingBehind: a manifest Google's listing leaves out while the
// registry still stores it (a listing behind the registry) is never taken
// for gone. Its DELETE fails naming why, and an index so left out keeps
// its platform manifests: deleted in a plan, it is a failure, its
// platform manifests stay, and the audit log says so.
func TestGARListingBehind(t *testing.T) {
	reg, _ := registrytest.ServeSeeded(t, garPopulation(2, 3))
	srv := gartest.Serve(t, reg)
	g := newGAR(t, srv, gartest.NewGuard(nil))
	inv, err := g.Scan(t.Context(), nil)
	if err != nil || len(inv.Errors) > 0 {
		t.Fatalf("scan: %v %v", err, inv.Errors)
	}
	idx := slices.IndexFunc(inv.Images, func(im model.Image) bool { return len(im.Children) > 0 })
	if idx < 0 {
		t.Fatal("the population has no index")
	}
	im := inv.Images[idx]

	srv.HideFromListing(im.Repository, im.Digest.String(), true)
	err = g.DeleteManifest(t.Context(), im.Repository, im.Digest.String())
	if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "listing does not show it") {
		t.Errorf("delete of a manifest the listing leaves out: %v, want a failure that is not ErrNotFound", err)
	}

	log, path := openLog(t)
	plan := model.MakePlan(inv, model.Request{Manual: []int{idx}, Now: testNow})
	if len(plan.Deletions) != 1 || len(plan.Deletions[0].Children) == 0 {
		t.Fatalf("plan: %+v, want the index and its platform manifests", plan.Deletions)
	}
	res, err := Apply(t.Context(), g, inv, plan, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 0 || len(res.Failed) != 1 || model.ParseDigest(res.Failed[0].Digest) != im.Digest || res.Failed[0].Unknown {
		t.Errorf("apply: deleted %+v, failed %+v; want the index failed, nothing deleted", res.Deleted, res.Failed)
	}
	for _, d := range append([]string{im.Digest.String()}, model.DigestStrings(im.Children)...) {
		if there, err := g.Exists(t.Context(), im.Repository, d); err != nil || !there {
			t.Errorf("%s@%s after the apply: stored %v, %v", im.Repository, d, there, err)
		}
	}
	var outcomes []string
	for _, e := range readAudit(t, path) {
		outcomes = append(outcomes, e.Outcome+" "+e.Digest)
	}
	if want := []string{audit.OutcomeAttempt + " " + im.Digest.String(), audit.OutcomeFailed + " " + im.Digest.String()}; !slices.Equal(outcomes, want) {
		t.Errorf("audit log %v, want %v", outcomes, want)
	}

	// A listing that does not find the repository at all (every manifest
	// left out: NAME_UNKNOWN) is no more a deletion.
	var all []string
	for _, o := range inv.Images {
		if o.Repository == im.Repository {
			all = append(all, o.Digest.String())
			all = append(all, model.DigestStrings(o.Children)...)
		}
	}
	for _, d := range all {
		srv.HideFromListing(im.Repository, d, true)
	}
	err = g.DeleteManifest(t.Context(), im.Repository, im.Digest.String())
	if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "listing does not show it") {
		t.Errorf("delete in a repository the listing does not find: %v, want a failure that is not ErrNotFound", err)
	}
	for _, d := range all {
		srv.HideFromListing(im.Repository, d, false)
	}

	// Listed again, it goes, platform manifests and all.
	srv.HideFromListing(im.Repository, im.Digest.String(), false)
	if err := g.DeleteManifest(t.Context(), im.Repository, im.Digest.String()); err != nil {
		t.Errorf("delete once listed: %v", err)
	}
}
