package registry

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

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
		byDigest[inv.Images[i].Digest.String()] = &inv.Images[i]
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
	if im := byDigest[s.idx]; im != nil && !slices.Equal(slices.Sorted(slices.Values(model.DigestStrings(im.Children))), slices.Sorted(slices.Values([]string{s.amd, s.arm}))) {
		t.Errorf("index children %v", im.Children)
	}
	if im := byDigest[s.sig]; im != nil && (im.Subject == nil || *im.Subject != model.ParseDigest(s.cur)) {
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
		got = append(got, inv.Images[d.Image].Digest.String()+":"+string(d.Reason))
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
		byDigest[inv.Images[i].Digest.String()] = &inv.Images[i]
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
		got = append(got, inv.Images[d.Image].Digest.String()+":"+string(d.Reason))
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
	e.id = azuretest.ServeIdentity(t, azuretest.WithoutSystemAssigned()) // this machine has no identity
	start := time.Now()
	_, err := e.client(t).Scan(t.Context(), nil)
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
