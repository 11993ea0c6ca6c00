package registry

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/retry"
	"github.com/helmupgradebot/helmupgradebot/model"
)

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
					got[im.Digest.String()] = im.Lock
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
				planned[inv.Images[d.Image].Digest.String()] = true
				for _, c := range d.Children {
					planned[c.String()] = true
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

			// a scan that leaves repository and tag locks to ReadLocks
			// holds by the manifests' own only, and once ReadLocks has
			// read them, repository by repository, holds what a scan
			// reading them holds
			cd := e.client(t, WithDeferredLocks())
			deferred := scanOrFail(t, cd)
			if !slices.Equal(deferred.LocksUnread, []string{"app", "free", "multi"}) || deferred.RepositoryLocks != nil {
				t.Errorf("deferred: locks unread in %v, repository locks %+v; want all three unread, none", deferred.LocksUnread, deferred.RepositoryLocks)
			}
			for _, im := range deferred.Images {
				if l := im.LockLevel(); l == model.LockTag || l == model.LockRepository {
					t.Errorf("deferred: %s is held by %q before its locks are read", im.Ref(), im.Lock)
				}
			}
			multi := func(inv *model.Inventory) []model.Image {
				return slices.DeleteFunc(slices.Clone(inv.Images), func(im model.Image) bool { return im.Repository != "multi" })
			}
			multiBefore := multi(deferred)
			if err := cd.ReadLocks(t.Context(), deferred, []string{"app"}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(deferred.LocksUnread, []string{"free", "multi"}) || !reflect.DeepEqual(multi(deferred), multiBefore) {
				t.Errorf("after reading app's locks: unread %v, multi's images changed: %v", deferred.LocksUnread, !reflect.DeepEqual(multi(deferred), multiBefore))
			}
			if err := cd.ReadLocks(t.Context(), deferred, []string{"free", "multi"}); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(deferred, inv) {
				t.Errorf("deferred scan and ReadLocks differ from a scan reading every lock:\n got %+v\nwant %+v", deferred, inv)
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
// per page of tags (100 here, WithPageSize; 1,000 by default) when its
// manifest listing shows tags (none for a repository of untagged
// manifests only); no tag is read on its own. One access token covers the
// catalog, another every repository's reads; no call is challenged. With
// deferred locks the scan reads none of them, and ReadLocks those of the
// repositories it names.
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
	listed := map[string]map[string]int{"bare": {acrtest.KindACRManifests: 1}, "many": {acrtest.KindACRManifests: 2}, "few": {acrtest.KindACRManifests: 1}}
	locks := map[string]map[string]int{
		"bare": {acrtest.KindACRRepository: 1},
		"many": {acrtest.KindACRRepository: 1, acrtest.KindACRTags: 2},
		"few":  {acrtest.KindACRRepository: 1, acrtest.KindACRTags: 1},
	}
	both := func(repos ...string) map[string]map[string]int {
		out := map[string]map[string]int{}
		for r, m := range listed {
			out[r] = maps.Clone(m)
		}
		for _, r := range repos {
			maps.Copy(out[r], locks[r])
		}
		return out
	}
	t.Run("every lock", func(t *testing.T) {
		before := len(e.srv.Requests())
		if _, err := e.client(t, WithPageSize(100)).Scan(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
		checkLockRequests(t, e.srv.Requests()[before:], both("bare", "many", "few"), 2)
	})
	// by default a page holds up to 1,000: many's 105 are one page each
	t.Run("default pages", func(t *testing.T) {
		before := len(e.srv.Requests())
		if _, err := e.client(t).Scan(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
		want := both("bare", "many", "few")
		want["many"][acrtest.KindACRManifests], want["many"][acrtest.KindACRTags] = 1, 1
		checkLockRequests(t, e.srv.Requests()[before:], want, 2)
	})
	// deferred: the scan lists; ReadLocks reads the named repositories'
	// locks, no other's, with the scan's tokens
	t.Run("deferred", func(t *testing.T) {
		before := len(e.srv.Requests())
		c := e.client(t, WithDeferredLocks(), WithPageSize(100))
		inv, err := c.Scan(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		checkLockRequests(t, e.srv.Requests()[before:], both(), 2)
		if err := c.ReadLocks(t.Context(), inv, []string{"many"}); err != nil {
			t.Fatal(err)
		}
		checkLockRequests(t, e.srv.Requests()[before:], both("many"), 2)
	})
}

// checkLockRequests checks the answered requests of the ACR API rs made
// by repository and kind, and that none was challenged and tokens access
// tokens were asked.
func checkLockRequests(t *testing.T, rs []acrtest.Request, want map[string]map[string]int, tokens int) {
	t.Helper()
	count := map[string]map[string]int{}
	challenges, asked := 0, 0
	for _, r := range rs {
		switch {
		case r.Kind == acrtest.KindOAuthToken:
			asked++
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
	for repo, w := range want {
		if !maps.Equal(count[repo], w) {
			t.Errorf("%s: %v, want %v", repo, count[repo], w)
		}
		t.Logf("%s: %v", repo, count[repo])
	}
	// one token for the catalog, one for every repository's reads, the
	// ACR API's and the registry API's alike; nothing is challenged
	if challenges != 0 || asked != tokens {
		t.Errorf("%d challenges of the ACR API and %d access tokens, want 0 and %d", challenges, asked, tokens)
	}
	t.Logf("%d challenges of the ACR API, %d access tokens", challenges, asked)
}

// failingPath answers 500 to GETs of one path, passing the rest on.
type failingPath struct {
	path  string
	inner http.RoundTripper
}

func (f failingPath) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && req.URL.Path == f.path {
		return &http.Response{StatusCode: http.StatusInternalServerError, Status: "500 Internal Server Error", Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{"errors":[{"code":"UNKNOWN","message":"boom"}]}`)), Request: req}, nil
	}
	return f.inner.RoundTrip(req)
}

// TestACRReadLocksFails: a repository whose locks cannot be read after a
// deferred scan gets a scan error naming it and what was being read, so
// that no plan deletes in it; the others' locks are read, and
// ReadPlannedLocks asks each repository once.
func TestACRReadLocksFails(t *testing.T) {
	e := startACR(t)
	s := buildLockScene(t, e, false)
	e.srv.LockTag("app", "stable", false, true)
	c := e.client(t, WithDeferredLocks(), WithRetry(retry.Policy{MaxAttempts: 1}),
		WithTransport(failingPath{path: "/acr/v1/multi", inner: http.DefaultTransport}))
	inv := scanOrFail(t, c)
	pol := model.Request{Policy: model.Policy{MaxAge: 90 * 24 * time.Hour}, Now: testNow, Force: true}
	asked := 0
	err := ReadPlannedLocks(t.Context(), c, inv, func(inv *model.Inventory) model.Plan { asked++; return model.MakePlan(inv, pol) })
	if err != nil {
		t.Fatal(err)
	}
	var multiErr *model.ScanError
	for i := range inv.Errors {
		if inv.Errors[i].Repository == "multi" {
			multiErr = &inv.Errors[i]
		}
	}
	if multiErr == nil || !strings.Contains(multiErr.Error, "read the locks of repository multi") || !strings.Contains(multiErr.Error, "500") {
		t.Fatalf("scan errors %+v, want one for multi naming its locks", inv.Errors)
	}
	if !slices.Equal(inv.LocksUnread, []string{"multi"}) {
		t.Errorf("locks unread in %v, want multi's only", inv.LocksUnread)
	}
	plan := model.MakePlan(inv, pol)
	planned := map[string]bool{}
	for _, d := range plan.Deletions {
		planned[inv.Images[d.Image].Digest.String()] = true
	}
	if planned[s.idx] || planned[s.stable] || !planned[s.v1] || !planned[s.free] {
		t.Errorf("plan %v: want nothing of multi, app:stable held by its tag, app:v1 and free planned", planned)
	}
	if asked > 3 {
		t.Errorf("planned %d times", asked)
	}
}
