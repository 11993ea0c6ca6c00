package registry

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// TestACRTokenBatches: a scan of 25 repositories asks for one access
// token for the catalog and one per batch of at most 20 repositories (20
// and 5), each for their metadata_read and pull; nothing is challenged;
// a second run seeded with the first asks one token for everything. A
// delete asks a token for delete on its repository alone, and a
// repository's deletes share it.
func TestACRTokenBatches(t *testing.T) {
	e := startACR(t)
	var repos []string
	for i := range 25 {
		repo := fmt.Sprintf("r%02d", i)
		repos = append(repos, repo)
		e.pushedAt(t, repo+":old", e.p.image(200+i, "amd64"), 200)
		e.pushedAt(t, repo+":new", e.p.image(i, "amd64"), 1)
	}
	w := newCountingTransport()
	tokenRequests := func(ss []call) (scopes [][]string) {
		for _, s := range ss {
			if s.status == http.StatusUnauthorized {
				t.Errorf("%s %s answered 401", s.method, s.path)
			}
			if s.path == "/oauth2/token" {
				if len(s.scope) > acrBatchBytes {
					t.Errorf("a scope parameter of %d bytes", len(s.scope))
				}
				scopes = append(scopes, strings.Fields(s.scope))
			}
		}
		return scopes
	}
	reads := func(repos ...string) []string {
		var out []string
		for _, r := range repos {
			out = append(out, "repository:"+r+":metadata_read", "repository:"+r+":pull")
		}
		return out
	}

	first := scanOrFail(t, e.client(t, WithTransport(w)))
	got := tokenRequests(w.snapshot())
	if len(got) != 3 || !slices.Equal(got[0], []string{"registry:catalog:*"}) {
		t.Fatalf("token requests %v, want the catalog's, then two batches", got)
	}
	// the two batches (which repository's read comes first decides where
	// they split) ask every repository's reads once, 20 and 5
	if len(got[1]) < len(got[2]) {
		got[1], got[2] = got[2], got[1]
	}
	if len(got[1]) != 2*acrBatchRepos || !slices.Equal(slices.Sorted(slices.Values(slices.Concat(got[1], got[2]))), reads(repos...)) {
		t.Errorf("batches %v and %v, want the reads of 20 repositories, then of the other 5", got[1], got[2])
	}

	n := len(w.snapshot())
	c := e.client(t, WithTransport(w))
	c.Seed(first)
	inv := scanOrFail(t, c)
	if got := tokenRequests(w.snapshot()[n:]); len(got) != 2 || len(got[0]) != 1+2*acrBatchRepos || len(got[1]) != 2*(len(repos)-acrBatchRepos) {
		t.Errorf("a seeded scan's token requests: %v; want two, the catalog's with the first 20 repositories, then 5", got)
	}

	// Deletes: each token grants delete on the repository deleted in, and
	// on no other.
	n = len(w.snapshot())
	plan := model.MakePlan(inv, model.Request{Policy: model.Policy{MaxAge: 100 * 24 * time.Hour, MaxDeleteFraction: 1}, Now: testNow})
	if len(plan.Deletions) != len(repos) {
		t.Fatalf("plan deletes %d, want one per repository", len(plan.Deletions))
	}
	log, _ := openLog(t)
	res, err := Apply(t.Context(), c, inv, plan, log)
	if err != nil || len(res.Deleted) != len(repos) {
		t.Fatalf("apply: %v, deleted %d", err, len(res.Deleted))
	}
	deleteTokens := map[string]string{} // repository -> its DELETEs' token
	for _, s := range w.snapshot()[n:] {
		if s.status == http.StatusUnauthorized {
			t.Errorf("%s %s answered 401", s.method, s.path)
		}
		if s.method != http.MethodDelete {
			continue
		}
		repo := strings.TrimPrefix(s.path[:strings.Index(s.path, "/manifests/")], "/v2/")
		g, ok := accessGrants(s.bearer)
		if !ok || !g.covers("repository:"+repo, "delete") {
			t.Errorf("DELETE in %s carries a token without delete there: %v", repo, g)
		}
		for res, actions := range g {
			if res != "repository:"+repo && (actions["delete"] || actions["*"]) {
				t.Errorf("the token deleting in %s grants delete on %s too", repo, res)
			}
		}
		if prev, ok := deleteTokens[repo]; ok && prev != s.bearer {
			t.Errorf("two tokens for the deletes in %s", repo)
		}
		deleteTokens[repo] = s.bearer
	}
	if len(deleteTokens) != len(repos) {
		t.Errorf("DELETEs in %d repositories, want %d", len(deleteTokens), len(repos))
	}
}

// TestACRTokensAhead: the token of the next batch of expected
// repositories is asked as soon as the one before it is held, with no
// read waiting for it, so that a listing does not stop at each batch:
// after a repository's read, and after the catalog's (which comes with
// the first batch; the names sort before "registry:catalog").
func TestACRTokensAhead(t *testing.T) {
	for _, tc := range []struct{ name, first string }{
		{"after a read", "repository:a00:metadata_read"},
		{"after the catalog", "registry:catalog:*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startACR(t)
			c := e.client(t)
			var repos []string
			for i := range 2*acrBatchRepos + 5 {
				repos = append(repos, fmt.Sprintf("a%02d", i))
			}
			c.access.expect(repos)
			if _, err := c.access.bearer(t.Context(), tc.first); err != nil {
				t.Fatal(err)
			}
			// a20 starts the second batch, a40 the third: each is fetched
			// ahead once the one before it is held
			for _, r := range []string{"a20", "a40"} {
				deadline := time.Now().Add(10 * time.Second)
				for c.access.find("repository:"+r, "pull") == "" {
					if time.Now().After(deadline) {
						t.Fatalf("no token for %s's batch was fetched ahead", r)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			c.access.mu.Lock()
			tokens := len(c.access.held)
			c.access.mu.Unlock()
			if tokens != 3 {
				t.Errorf("%d tokens held, want 3 batches", tokens)
			}
		})
	}
}

// TestACRNotGranted: an identity ACR grants no delete gets no DELETE
// sent: the delete fails at once, naming the role to grant; one with no
// pull on a repository scans it through the listing and fails its
// manifest reads, naming that.
func TestACRNotGranted(t *testing.T) {
	e := startACR(t)
	e.pushedAt(t, "app:v1", e.p.image(200, "amd64"), 200)
	e.srv.Permit(e.id.SystemAssignedClientID(), "pull", "metadata_read", "catalog")
	c := e.client(t)
	inv := scanOrFail(t, c)
	before := len(e.srv.Requests())
	err := c.DeleteManifest(t.Context(), "app", inv.Images[0].Digest.String())
	if err == nil || !strings.Contains(err.Error(), "does not grant delete on repository:app") || !strings.Contains(err.Error(), "AcrDelete") {
		t.Errorf("delete without the right: %v", err)
	}
	for _, r := range e.srv.Requests()[before:] {
		if r.Method == http.MethodDelete {
			t.Errorf("a DELETE was sent: %s", r.Path)
		}
	}

	e.srv.Permit(e.id.SystemAssignedClientID(), "metadata_read", "catalog")
	got, err := e.client(t).Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Errors) == 0 || !strings.Contains(got.Errors[0].Error, "does not grant pull on repository:app") {
		t.Errorf("scan without pull: errors %v", got.Errors)
	}
}

// TestACRAccessBatch: what one exchange asks for, from the repositories
// expected and the tokens held.
func TestACRAccessBatch(t *testing.T) {
	long := strings.Repeat("n", 300)
	var many, longNames []string
	for i := range 30 {
		many = append(many, fmt.Sprintf("r%02d", i))
		longNames = append(longNames, fmt.Sprintf("%s%02d", long, i))
	}
	held := func(scopes ...string) *accessToken {
		g := grants{}
		for _, s := range scopes {
			g.add(splitScope(s))
		}
		return &accessToken{token: "t", renewAt: testNow.Add(time.Hour), grants: g}
	}
	reads := func(repos ...string) []string {
		var out []string
		for _, r := range repos {
			out = append(out, "repository:"+r+":metadata_read", "repository:"+r+":pull")
		}
		return out
	}
	tests := []struct {
		name  string
		repos []string
		held  []*accessToken
		scope string
		want  []string
	}{
		{"the catalog, nothing expected", nil, nil, "registry:catalog:*", []string{"registry:catalog:*"}},
		{"the catalog and the first 20 expected", many, nil, "registry:catalog:*", append([]string{"registry:catalog:*"}, reads(many[:20]...)...)},
		{"a read: from its repository on, wrapping", many, []*accessToken{held("registry:catalog:*")}, "repository:r25:metadata_read",
			reads(append(slices.Clone(many[25:]), many[:15]...)...)},
		{"covered repositories are left out", many, []*accessToken{held(append([]string{"registry:catalog:*"}, reads(many[:25]...)...)...)}, "repository:r26:pull",
			reads("r26", "r27", "r28", "r29", "r25")},
		{"a repository's read: its catalog too when no token has it", []string{"a"}, nil, "repository:a:pull", append([]string{"registry:catalog:*"}, reads("a")...)},
		{"long names: under the byte bound", longNames, []*accessToken{held("registry:catalog:*")}, "repository:" + longNames[0] + ":pull", reads(longNames[:6]...)},
		{"a delete: alone", many, nil, "repository:r03:delete", []string{"repository:r03:delete"}},
		{"a write: alone", many, nil, "repository:r03:metadata_write", []string{"repository:r03:metadata_write"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &acrAccess{tokens: &acrTokens{now: func() time.Time { return testNow }}, held: tc.held}
			a.expect(tc.repos)
			resource, action := splitScope(tc.scope)
			got := a.batch(resource, action)
			if !slices.Equal(got, tc.want) {
				t.Errorf("batch\n got %v\nwant %v", got, tc.want)
			}
			if n := len(strings.Join(got, " ")); n > acrBatchBytes {
				t.Errorf("%d bytes of scopes", n)
			}
		})
	}
}

// TestACRGrants: what a token covers, wildcards included, and how a
// refusal changes it.
func TestACRGrants(t *testing.T) {
	g := grants{}
	g.add("repository:a", "pull")
	g.add("repository:b", "*")
	g.add("registry:catalog", "*")
	tests := []struct {
		resource, action string
		want             bool
	}{
		{"repository:a", "pull", true},
		{"repository:a", "delete", false},
		{"repository:b", "delete", true},
		{"repository:c", "pull", false},
		{"registry:catalog", "*", true},
	}
	for _, tc := range tests {
		if got := g.covers(tc.resource, tc.action); got != tc.want {
			t.Errorf("covers(%s, %s) = %v", tc.resource, tc.action, got)
		}
	}
	all := grants{}
	all.add("repository:*", "*")
	if !all.covers("repository:x/y", "delete") || all.covers("registry:catalog", "*") {
		t.Error("repository:*:* covers every repository's actions and nothing else")
	}

	a := &acrAccess{tokens: &acrTokens{now: func() time.Time { return testNow }}}
	a.held = []*accessToken{{token: "one", renewAt: testNow.Add(time.Hour), grants: g}, {token: "two", renewAt: testNow.Add(time.Hour), grants: all}}
	a.refused("one", "repository:a", "pull", "insufficient_scope")
	if a.find("repository:a", "pull") != "two" || a.find("registry:catalog", "*") != "one" {
		t.Error("insufficient_scope: the token stands no more for that scope, still for the others")
	}
	a.refused("two", "repository:x", "pull", "invalid_token")
	if a.find("repository:x", "pull") != "" || len(a.held) != 1 {
		t.Error("invalid_token: the token is dropped")
	}
	a.refused("unknown", "repository:a", "pull", "invalid_token") // not held: nothing happens
	a.held[0].renewAt = testNow
	if a.find("registry:catalog", "*") != "" || len(a.held) != 0 {
		t.Error("a token at its renewal time is let go")
	}
}
