package registry

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/digestcache"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestACRScan: the listing gives every manifest, untagged ones included,
// with push times and locks; nothing is fetched by tag and each digest is
// read once; platform manifests are part of their index; a signature goes
// with its image.
func TestACRScan(t *testing.T) {
	e := startACR(t)
	s := buildScene(t, e)
	c := e.client(t)
	inv := scan(t, c)
	byDigest := map[string]*model.Image{}
	for i := range inv.Images {
		byDigest[inv.Images[i].Digest] = &inv.Images[i]
	}
	for _, d := range []string{s.old, s.retagged, s.cur, s.idx, s.sig, s.locked, s.nix} {
		if byDigest[d] == nil {
			t.Errorf("%s is not an image", d)
		}
	}
	if byDigest[s.amd] != nil || byDigest[s.arm] != nil || len(inv.Images) != 9 {
		t.Errorf("%d images; platform manifests must be part of their index, not images", len(inv.Images))
	}
	if im := byDigest[s.retagged]; im != nil && (len(im.Tags) != 0 || !im.Created.Equal(testNow.AddDate(0, 0, -30))) {
		t.Errorf("re-tagged leftover: tags %v created %v", im.Tags, im.Created)
	}
	if im := byDigest[s.idx]; im != nil && !slices.Equal(slices.Sorted(slices.Values(im.Children)), slices.Sorted(slices.Values([]string{s.amd, s.arm}))) {
		t.Errorf("index children %v", im.Children)
	}
	if im := byDigest[s.sig]; im != nil && im.Subject != s.cur {
		t.Errorf("signature subject %q, want %s", im.Subject, s.cur)
	}
	if im := byDigest[s.locked]; im != nil && !im.Locked {
		t.Error("locked image not locked")
	}
	for _, im := range inv.Images {
		if im.CreatedProblem != model.CreatedOK || im.Created.IsZero() || !im.Created.Equal(im.Pushed) || !im.ConfigCreated.IsZero() {
			t.Errorf("%s: created %v (%q), pushed %v, config %v; want the push time as both, and no config read", im.Ref(), im.Created, im.CreatedProblem, im.Pushed, im.ConfigCreated)
		}
	}
	if im := byDigest[s.retagged]; im != nil && im.Platform != "linux/amd64" {
		t.Errorf("platform %q, want the listing's linux/amd64", im.Platform)
	}

	reads := map[string]int{}
	for _, r := range e.srv.Requests() {
		switch {
		case r.Kind == acrtest.KindManifestByTag:
			t.Errorf("manifest fetched by tag: %s %s", r.Method, r.Path)
		case r.Kind == acrtest.KindBlob:
			t.Errorf("a blob (a config) read: %s %s", r.Method, r.Path)
		case r.Kind == acrtest.KindManifestByDigest && r.Method == "GET":
			reads[r.Reference]++
		case r.Status == http.StatusUnauthorized:
			t.Errorf("answered 401: %s %s", r.Method, r.Path)
		}
	}
	for d, n := range reads {
		if n > 1 {
			t.Errorf("%s read %d times", d, n)
		}
	}

	pol := model.Policy{MaxAge: 90 * 24 * time.Hour, UntaggedMaxAge: 7 * 24 * time.Hour}
	plan := model.MakePlan(inv, model.Request{Policy: pol, Now: testNow})
	var got []string
	for _, d := range plan.Deletions {
		got = append(got, inv.Images[d.Image].Digest+":"+string(d.Reason))
	}
	want := []string{s.idx + ":age", s.old + ":age", s.retagged + ":untagged"}
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("plan %v, want %v", got, want)
	}
	if plan.Held[model.HoldLocked] != 1 || plan.Held[model.HoldSubject] != 1 {
		t.Errorf("held %v", plan.Held)
	}
}

// TestACRAgeFromBuilt: with age_from built an ACR image's age is its
// config's created time (a 1970 one is undated, as on the distribution
// API), read once per config; the push time is beside it; the plan is
// made on the build times.
func TestACRAgeFromBuilt(t *testing.T) {
	e := startACR(t)
	s := buildScene(t, e)
	inv := scan(t, e.client(t, WithAgeFrom(AgeFromBuilt)))
	byDigest := map[string]*model.Image{}
	for i := range inv.Images {
		byDigest[inv.Images[i].Digest] = &inv.Images[i]
	}
	tests := []struct {
		digest        string
		built, pushed time.Time
		problem       model.CreatedProblem
	}{
		{s.retagged, testNow.AddDate(0, 0, -40), testNow.AddDate(0, 0, -30), model.CreatedOK},
		{s.old, testNow.AddDate(0, 0, -120), testNow.AddDate(0, 0, -100), model.CreatedOK},
		{s.idx, testNow.AddDate(0, 0, -150), testNow.AddDate(0, 0, -150), model.CreatedOK}, // the newest of its platform images
		{s.nix, time.Unix(1, 0).UTC(), testNow.AddDate(0, 0, -5), model.CreatedBogus},
	}
	for _, tc := range tests {
		im := byDigest[tc.digest]
		if im == nil {
			t.Fatalf("%s is not an image", tc.digest)
		}
		if !im.Created.Equal(tc.built) || im.CreatedProblem != tc.problem || !im.Pushed.Equal(tc.pushed) {
			t.Errorf("%s: created %v (%q), pushed %v; want %v (%q), %v", im.Ref(), im.Created, im.CreatedProblem, im.Pushed, tc.built, tc.problem, tc.pushed)
		}
	}
	configs := map[string]int{}
	for _, r := range e.srv.Requests() {
		if r.Kind == acrtest.KindBlob && r.Method == "GET" {
			configs[r.Reference]++
		}
	}
	if len(configs) == 0 {
		t.Error("no config read")
	}
	for d, n := range configs {
		if n > 1 {
			t.Errorf("config %s read %d times", d, n)
		}
	}
	plan := model.MakePlan(inv, model.Request{Policy: model.Policy{MaxAge: 90 * 24 * time.Hour, UntaggedMaxAge: 7 * 24 * time.Hour}, Now: testNow})
	var got []string
	for _, d := range plan.Deletions {
		got = append(got, inv.Images[d.Image].Digest+":"+string(d.Reason))
	}
	want := []string{s.idx + ":age", s.old + ":age", s.retagged + ":untagged"} // not the 1970 one: undated
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("plan %v, want %v", got, want)
	}
	// a client's default, and one given a word it does not know
	if err := WithAgeFrom("yesterday")(&options{}); err == nil {
		t.Error(`WithAgeFrom("yesterday") accepted`)
	}
	if _, err := New(e.reg.Host(), WithAgeFrom(AgeFromPushed)); err == nil || !strings.Contains(err.Error(), "no push times") {
		t.Errorf("a distribution client with age_from pushed: %v", err)
	}
}

// TestACRWarmScan: with the digest cache, a second scan reads no manifest
// and no config at all; the listing says everything else.
func TestACRWarmScan(t *testing.T) {
	e := startACR(t)
	buildScene(t, e)
	cache, err := digestcache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cold, err := e.client(t, WithDigestCache(cache)).Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	before := len(e.srv.Requests())
	warm, err := e.client(t, WithDigestCache(cache)).Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range e.srv.Requests()[before:] {
		if r.Kind == acrtest.KindManifestByDigest || r.Kind == acrtest.KindManifestByTag || r.Kind == acrtest.KindBlob {
			t.Errorf("warm scan read %s %s", r.Method, r.Path)
		}
	}
	if len(cold.Images) != len(warm.Images) || model.ComputeSizes(cold).Total != model.ComputeSizes(warm).Total {
		t.Errorf("warm scan differs: %d images %d bytes, cold %d images %d bytes",
			len(warm.Images), model.ComputeSizes(warm).Total, len(cold.Images), model.ComputeSizes(cold).Total)
	}
}

// TestACRApply: a lock set since the scan skips that one image (the
// re-read before deleting sees it and names it); the others are deleted; a
// tag moved onto a planned image since the scan skips it.
func TestACRApply(t *testing.T) {
	e := startACR(t)
	s := buildScene(t, e)
	c := e.client(t)
	inv := scanOrFail(t, c)
	pol := model.Policy{MaxAge: 90 * 24 * time.Hour, UntaggedMaxAge: 7 * 24 * time.Hour}
	plan := model.MakePlan(inv, model.Request{Policy: pol, Now: testNow})
	if len(plan.Deletions) != 3 {
		t.Fatalf("plan has %d deletions", len(plan.Deletions))
	}
	e.srv.Lock("multi", s.idx, false, true) // locked after the scan
	log, _ := openLog(t)
	res, err := Apply(t.Context(), c, inv, plan, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 0 || len(res.Skipped) != 1 || res.Skipped[0].Digest != s.idx || !strings.HasPrefix(res.Skipped[0].Reason, ChangedSinceScan) ||
		!strings.Contains(res.Skipped[0].Reason, "locked (manifest)") {
		t.Fatalf("failed %+v, skipped %+v: want the index skipped, naming the lock", res.Failed, res.Skipped)
	}
	if len(res.Deleted) != 2 {
		t.Fatalf("deleted %+v, want the other two", res.Deleted)
	}
	if _, err := c.Exists(t.Context(), "multi", s.idx); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{s.old, s.retagged} {
		if there, err := c.Exists(t.Context(), "app", d); err != nil || there {
			t.Errorf("app@%s still there (%v)", d, err)
		}
	}

	// A rollback tags an image planned since the scan; its signature,
	// which goes after it, stays with it.
	e.srv.SetCreated("app", s.cur, testNow.AddDate(0, 0, -100))
	inv, err = c.Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	plan = model.MakePlan(inv, model.Request{Policy: model.Policy{MaxAge: 90 * 24 * time.Hour}, Now: testNow})
	e.p.tag("app:rollback", "app@"+s.cur)
	res, err = Apply(t.Context(), c, inv, plan, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 2 || res.Skipped[0].Digest != s.cur || !strings.HasPrefix(res.Skipped[0].Reason, ChangedSinceScan) ||
		res.Skipped[1].Digest != s.sig || len(res.Deleted) != 0 {
		t.Errorf("deleted %+v, skipped %+v; want app:v2's image (changed since the scan) and its signature skipped", res.Deleted, res.Skipped)
	}
}

// TestACRNoIdentity: without a usable identity the scan fails at once and
// says what to set up.
func TestACRNoIdentity(t *testing.T) {
	e := startACR(t)
	bare, err := azuretest.NewIdentity(azuretest.WithoutSystemAssigned())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bare.Close() })
	e.id = bare // this machine has no identity
	start := time.Now()
	_, err = e.client(t).Scan(t.Context(), nil)
	if err == nil || !strings.Contains(err.Error(), "managed identity") {
		t.Fatalf("err = %v, want one naming the managed identity to set up", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	var ce *acrError
	_ = errors.As(err, &ce)
}

// TestACRTokensRenew: refresh and access tokens that expire during a long
// run are renewed; the scan after their expiry still works.
func TestACRTokensRenew(t *testing.T) {
	e := startACR(t, acrtest.WithRefreshTokenLifetime(2*time.Second), acrtest.WithAccessTokenLifetime(time.Second))
	buildScene(t, e)
	c := e.client(t, WithClock(time.Now))
	first := scanOrFail(t, c)
	time.Sleep(2500 * time.Millisecond) // every token issued so far has expired
	second, err := c.Scan(t.Context(), nil)
	if err != nil {
		t.Fatalf("scan after the tokens expired: %v", err)
	}
	if len(second.Images) != len(first.Images) || len(second.Errors) != 0 {
		t.Errorf("second scan: %d images (first %d), errors %v", len(second.Images), len(first.Images), second.Errors)
	}
	exchanges := 0
	for _, r := range e.srv.Requests() {
		if r.Kind == acrtest.KindOAuthExchange && r.Status == 200 {
			exchanges++
		}
	}
	if exchanges < 2 {
		t.Errorf("%d token exchanges; the refresh token was not renewed", exchanges)
	}
}

// TestACRSeededScan: a scan seeded with the previous inventory reads no
// manifest or config the listing still shows, and gives exactly what a
// cold scan gives, also after pushes, tag moves and locks; a repository the
// previous inventory holds an error about, or an image whose blobs it
// cannot name, is read again.
func TestACRSeededScan(t *testing.T) {
	e := startACR(t)
	sc := buildScene(t, e)
	cold := scanOrFail(t, e.client(t))
	reads := func(since int) map[string]int {
		out := map[string]int{}
		for _, r := range e.srv.Requests()[since:] {
			if r.Kind == acrtest.KindManifestByDigest || r.Kind == acrtest.KindManifestByTag || r.Kind == acrtest.KindBlob {
				out[r.Repository]++
			}
		}
		return out
	}
	same := func(t *testing.T, got, want *model.Inventory) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("seeded scan differs from a cold scan:\n got %+v\nwant %+v", got, want)
		}
	}

	tests := []struct {
		name      string
		seed      func() *model.Inventory
		change    func()
		wantReads []string // repositories read again
		// wantLocks, when set, are the locks of the cold scan after change
		wantLocks map[string]int // model.Image.LockLevel -> images
	}{
		{name: "unchanged", seed: func() *model.Inventory { return cold }},
		{name: "an error in app", seed: func() *model.Inventory {
			inv := *cold
			inv.Errors = append(slices.Clone(inv.Errors), model.ScanError{Repository: "app", Error: "boom"})
			return &inv
		}, wantReads: []string{"app"}},
		{name: "blob out of range", seed: func() *model.Inventory {
			inv := *cold
			inv.Images = slices.Clone(inv.Images)
			for i := range inv.Images {
				if inv.Images[i].Repository == "nix" {
					inv.Images[i].Blobs = []int32{int32(len(inv.Blobs))}
				}
			}
			return &inv
		}, wantReads: []string{"nix"}},
		{name: "after a push, a tag move and a lock", seed: func() *model.Inventory { return cold }, change: func() {
			e.pushedAt(t, "app:v3", e.p.image(2, "amd64"), 2)
			e.pushedAt(t, "nix:1", e.p.image(3, "amd64"), 3)
			e.srv.Lock("app", sc.old, false, true)
		}, wantReads: []string{"app", "nix"}},
		{name: "after locks at every level", seed: func() *model.Inventory { return cold }, change: func() {
			// locks come from the listing, never from the seed: none of
			// these needs a read
			e.srv.LockRepository("nix", true, false)
			e.srv.LockRepository("app", false, true)
			e.srv.LockTag("app", "v2", false, true)
			e.srv.Lock("multi", sc.arm, true, false)
		}, wantReads: []string{"app", "nix"}, // the push of the case before
			wantLocks: map[string]int{model.LockManifest: 2, model.LockTag: 1, model.LockPlatform: 1, model.LockRepository: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.change != nil {
				tc.change()
			}
			want := scanOrFail(t, e.client(t))
			if tc.wantLocks != nil {
				locks := want.LockLevels()
				if !maps.Equal(locks, tc.wantLocks) || len(want.RepositoryLocks) != 2 {
					t.Errorf("cold scan: locks %v and %+v, want %v and two repository locks", locks, want.RepositoryLocks, tc.wantLocks)
				}
			}
			c := e.client(t)
			c.Seed(tc.seed())
			before := len(e.srv.Requests())
			got := scanOrFail(t, c)
			same(t, got, want)
			read := reads(before)
			for _, repo := range tc.wantReads {
				if read[repo] == 0 {
					t.Errorf("%s was not read again", repo)
				}
				delete(read, repo)
			}
			if len(read) != 0 {
				t.Errorf("read %v, which the seed covers", read)
			}
			// and the next scan of the same client is seeded by this one
			before = len(e.srv.Requests())
			again := scanOrFail(t, c)
			same(t, again, want)
			if r := reads(before); len(r) != 0 {
				t.Errorf("the second scan read %v", r)
			}
			runtime.KeepAlive(got) // held, as the console holds what it shows
		})
	}

	// An inventory nobody holds any more (a headless run's, once reported)
	// is not kept for seeding.
	c := e.client(t)
	if _, err := c.Scan(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	before := len(e.srv.Requests())
	if _, err := c.Scan(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if len(reads(before)) == 0 {
		t.Error("a scan was seeded with an inventory nobody held")
	}
}

// TestACRSeededScanIsNoGeneration: a seeded scan that meets no new digest
// leaves the digest cache as it was: it records no generation (which
// would age out entries only the snapshot stands in for) and collects
// nothing; a scan that uses the cache is a generation as before.
func TestACRSeededScanIsNoGeneration(t *testing.T) {
	e := startACR(t)
	buildScene(t, e)
	dir := t.TempDir()
	cache, err := digestcache.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	generations := func() int {
		entries, _ := os.ReadDir(filepath.Join(dir, "scans"))
		return len(entries)
	}
	c := e.client(t, WithDigestCache(cache))
	first := scanOrFail(t, c)
	if generations() != 1 {
		t.Fatalf("%d generations after the first scan, want 1", generations())
	}
	if _, err := c.Scan(t.Context(), nil); err != nil { // seeded by the first
		t.Fatal(err)
	}
	if n := generations(); n != 1 {
		t.Errorf("%d generations after a seeded scan that met nothing new, want 1", n)
	}
	runtime.KeepAlive(first)
	if _, err := e.client(t, WithDigestCache(cache)).Scan(t.Context(), nil); err != nil { // a new client: from the cache
		t.Fatal(err)
	}
	if n := generations(); n != 2 {
		t.Errorf("%d generations after a scan from the cache, want 2", n)
	}
}

// TestACRLocks: a scan reads ACR's locks at every level (the repository's
// attributes, its tags', its manifests') and holds what each holds, with
// its reason; an age policy plans none of them; a scan seeded with the
// last inventory finds the same locks; Current reports the locks set
// since the scan.
func TestACRLocks(t *testing.T) {
	type want struct {
		locks     map[string]string // digest -> model.Image.Lock of every Locked image
		repoLocks []model.RepositoryLock
		current   map[string]map[string]string // repository -> digest -> Current.Locked
	}
	tests := []struct {
		name      string
		armTagged bool
		lock      func(t *testing.T, e *acrEnv, c *ACR, s lockScene)
		want      func(s lockScene) want
	}{
		{name: "repository write-disabled", lock: func(t *testing.T, e *acrEnv, c *ACR, s lockScene) { e.srv.LockRepository("app", true, false) },
			want: func(s lockScene) want {
				return want{locks: map[string]string{s.v1: "repository", s.stable: "repository", s.untagged: "repository"},
					repoLocks: []model.RepositoryLock{{Repository: "app", WriteDisabled: true}},
					current:   map[string]map[string]string{"app": {s.v1: "repository", s.stable: "repository", s.untagged: "repository"}}}
			}},
		{name: "repository delete-disabled only", lock: func(t *testing.T, e *acrEnv, c *ACR, s lockScene) { e.srv.LockRepository("app", false, true) },
			want: func(s lockScene) want {
				return want{repoLocks: []model.RepositoryLock{{Repository: "app", DeleteDisabled: true}}, current: map[string]map[string]string{"app": {}}}
			}},
		{name: "tag locked on a standalone image", lock: func(t *testing.T, e *acrEnv, c *ACR, s lockScene) { e.srv.LockTag("app", "stable", false, true) },
			want: func(s lockScene) want {
				return want{locks: map[string]string{s.stable: "tag app:stable"}, current: map[string]map[string]string{"app": {s.stable: "tag app:stable"}}}
			}},
		{name: "a locked tag the tag listing hides", lock: func(t *testing.T, e *acrEnv, c *ACR, s lockScene) {
			e.srv.LockTag("app", "stable", true, false)
			if _, err := c.az.UpdateTagProperties(t.Context(), "app", "stable", &azcontainerregistry.ClientUpdateTagPropertiesOptions{
				Value: &azcontainerregistry.TagWriteableProperties{CanList: to.Ptr(false)}}); err != nil {
				t.Fatal(err)
			}
		},
			want: func(s lockScene) want {
				return want{locks: map[string]string{s.stable: "tag app:stable"}, current: map[string]map[string]string{"app": {s.stable: "tag app:stable"}}}
			}},
		{name: "tag locked on a platform manifest", armTagged: true, lock: func(t *testing.T, e *acrEnv, c *ACR, s lockScene) { e.srv.LockTag("multi", "arm", true, false) },
			want: func(s lockScene) want {
				return want{locks: map[string]string{s.arm: "tag multi:arm", s.idx: "tag multi:arm"}, current: map[string]map[string]string{"multi": {s.arm: "tag multi:arm"}}}
			}},
		{name: "untagged platform manifest locked", lock: func(t *testing.T, e *acrEnv, c *ACR, s lockScene) { e.srv.Lock("multi", s.arm, false, true) },
			want: func(s lockScene) want {
				return want{locks: map[string]string{s.idx: "platform linux/arm64"}, current: map[string]map[string]string{"multi": {s.arm: "manifest"}}}
			}},
		{name: "the manifest's own lock", lock: func(t *testing.T, e *acrEnv, c *ACR, s lockScene) { e.srv.Lock("app", s.v1, true, false) },
			want: func(s lockScene) want {
				return want{locks: map[string]string{s.v1: ""}, current: map[string]map[string]string{"app": {s.v1: "manifest"}}}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := startACR(t)
			s := buildLockScene(t, e, tc.armTagged)
			c := e.client(t)
			before, err := c.Scan(t.Context(), nil) // unlocked: seeds the scan after the lock
			if err != nil {
				t.Fatal(err)
			}
			tc.lock(t, e, c, s)
			w := tc.want(s)
			inv := scan(t, c)
			got := map[string]string{}
			for _, im := range inv.Images {
				if im.Locked {
					got[im.Digest] = im.Lock
				} else if im.Lock != "" {
					t.Errorf("%s is not locked but has the reason %q", im.Ref(), im.Lock)
				}
			}
			if !maps.Equal(got, w.locks) {
				t.Errorf("locked %v, want %v", got, w.locks)
			}
			if !slices.Equal(inv.RepositoryLocks, w.repoLocks) {
				t.Errorf("repository locks %+v, want %+v", inv.RepositoryLocks, w.repoLocks)
			}

			plan := model.MakePlan(inv, model.Request{Policy: model.Policy{MaxAge: 90 * 24 * time.Hour}, Now: testNow})
			planned := map[string]bool{}
			for _, d := range plan.Deletions {
				planned[inv.Images[d.Image].Digest] = true
				for _, c := range d.Children {
					planned[c] = true
				}
			}
			for d := range w.locks {
				if planned[d] {
					t.Errorf("%s is locked but planned", d)
				}
			}
			if !planned[s.free] || plan.Held[model.HoldLocked] != len(w.locks) {
				t.Errorf("plan deletes %v, holds %v: want the unlocked images planned, %d held for locks", planned, plan.Held, len(w.locks))
			}
			if w.locks[s.idx] != "" && (planned[s.amd] || planned[s.arm]) {
				t.Error("a platform manifest of a held index is planned")
			}

			// a scan seeded with the unlocked inventory finds the same locks
			c2 := e.client(t)
			c2.Seed(before)
			seeded := scanOrFail(t, c2)
			if !reflect.DeepEqual(seeded, inv) {
				t.Errorf("seeded scan differs from a cold one:\n got %+v\nwant %+v", seeded, inv)
			}

			// --check-config's census counts what the scan holds
			census, err := c.Locks(t.Context(), []string{"app", "free", "multi"})
			if err != nil {
				t.Fatal(err)
			}
			levels := inv.LockLevels()
			if census.Repositories != 3 || census.Images != len(inv.Images) || !maps.Equal(census.Locked, levels) || !slices.Equal(census.RepositoryLocks, w.repoLocks) {
				t.Errorf("census %+v, want %d images locked %v, repository locks %+v", census, len(inv.Images), levels, w.repoLocks)
			}

			// Current sees the locks set since a scan
			for repo, wantLocked := range w.current {
				cur, err := c.Current(t.Context(), repo, func(string) bool { return true })
				if err != nil {
					t.Fatal(err)
				}
				if !maps.Equal(cur.Locked, wantLocked) {
					t.Errorf("Current(%s).Locked = %v, want %v", repo, cur.Locked, wantLocked)
				}
			}
		})
	}
}

// TestACRLockRequests measures what reading locks costs a scan: per
// repository one GET of its properties, and a page of the tag listing
// per hundred tags when its manifest listing shows tags (none for a
// repository of untagged manifests only); no tag is read on its own. One
// access token covers the catalog, another every repository's reads; no
// call is challenged.
func TestACRLockRequests(t *testing.T) {
	e := startACR(t)
	for i := range 3 {
		img := e.p.image(i, "amd64")
		e.pushedAt(t, "bare@"+digestOf(t, img), img, 10)
	}
	const many = 105
	for i := range many {
		e.p.push(fmt.Sprintf("many:t%03d", i), e.p.image(i, "amd64"))
	}
	e.pushedAt(t, "few:a", e.p.image(1, "amd64"), 3)
	before := len(e.srv.Requests())
	if _, err := e.client(t).Scan(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	count := map[string]map[string]int{}
	challenges, tokens := 0, 0
	for _, r := range e.srv.Requests()[before:] {
		switch {
		case r.Kind == acrtest.KindOAuthToken:
			tokens++
		case strings.HasPrefix(r.Kind, "acr-") && r.Status == http.StatusUnauthorized:
			challenges++
		}
		if r.Repository == "" || !strings.HasPrefix(r.Kind, "acr-") || r.Status != 200 {
			continue
		}
		if count[r.Repository] == nil {
			count[r.Repository] = map[string]int{}
		}
		count[r.Repository][r.Kind]++
	}
	want := map[string]map[string]int{
		"bare": {acrtest.KindACRManifests: 1, acrtest.KindACRRepository: 1},
		"many": {acrtest.KindACRManifests: 2, acrtest.KindACRRepository: 1, acrtest.KindACRTags: 2},
		"few":  {acrtest.KindACRManifests: 1, acrtest.KindACRRepository: 1, acrtest.KindACRTags: 1},
	}
	for repo, w := range want {
		if !maps.Equal(count[repo], w) {
			t.Errorf("%s: %v, want %v", repo, count[repo], w)
		}
		t.Logf("%s: %v", repo, count[repo])
	}
	// one token for the catalog, one for every repository's reads, the
	// ACR API's and the registry API's alike; nothing is challenged
	if challenges != 0 || tokens != 2 {
		t.Errorf("%d challenges of the ACR API and %d access tokens, want 0 and 2", challenges, tokens)
	}
	t.Logf("%d challenges of the ACR API, %d access tokens", challenges, tokens)
}

// TestACRRefusedTokensAreDropped: no call is challenged while tokens are
// good; access tokens the registry stops taking (expired early) cost one
// challenge each, answered as the SDK answers them; the scan goes on,
// and the next one gets fresh tokens instead of meeting the challenge
// again.
func TestACRRefusedTokensAreDropped(t *testing.T) {
	e := startACR(t)
	buildScene(t, e)
	c := e.client(t)
	challenges := func(since int) int {
		n := 0
		for _, r := range e.srv.Requests()[since:] {
			if strings.HasPrefix(r.Kind, "acr-") && r.Status == http.StatusUnauthorized {
				n++
			}
		}
		return n
	}
	for k, expire := range []bool{false, true, false} {
		if expire {
			e.srv.ExpireAccessTokens()
		}
		before := len(e.srv.Requests())
		inv, err := c.Scan(t.Context(), nil)
		if err != nil || len(inv.Errors) != 0 {
			t.Fatalf("scan %d: %v %v", k, err, inv.Errors)
		}
		switch n := challenges(before); {
		case k != 1 && n != 0:
			t.Errorf("scan %d met %d challenges of the ACR API", k, n)
		case k == 1 && n == 0:
			t.Errorf("scan %d met no challenge after the tokens expired", k)
		}
	}
}
