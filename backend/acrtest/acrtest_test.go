package acrtest_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

func TestChallenges(t *testing.T) {
	e := start(t)
	img := e.push(t, "a/b", "amd64", "v1")
	realm := fmt.Sprintf(`Bearer realm="http://%s/oauth2/token",service="%s"`, e.srv.Host(), e.srv.Host())
	tests := []struct {
		method, path string
		header       map[string]string
		scope        string // "" for /v2/ itself
	}{
		{method: "GET", path: "/v2/"},
		{method: "GET", path: "/v2/_catalog", scope: "registry:catalog:*"},
		{method: "GET", path: "/v2/a/b/manifests/v1", scope: "repository:a/b:pull"},
		{method: "HEAD", path: "/v2/a/b/manifests/" + img.digest, scope: "repository:a/b:pull"},
		{method: "DELETE", path: "/v2/a/b/manifests/" + img.digest, scope: "repository:a/b:delete"},
		{method: "GET", path: "/v2/a/b/blobs/" + img.digest, scope: "repository:a/b:pull"},
		{method: "POST", path: "/v2/a/b/blobs/uploads/", scope: "repository:a/b:push"},
		{method: "GET", path: "/v2/a/b/tags/list", scope: "repository:a/b:pull"},
		{method: "GET", path: "/acr/v1/_catalog", scope: "registry:catalog:*"},
		{method: "GET", path: "/acr/v1/a%2Fb/_manifests", scope: "repository:a/b:metadata_read"},
		{method: "GET", path: "/acr/v1/a/b/_manifests/" + img.digest, scope: "repository:a/b:metadata_read"},
		{method: "PATCH", path: "/acr/v1/a%2Fb/_manifests/" + url.PathEscape(img.digest), scope: "repository:a/b:metadata_write"},
		{method: "DELETE", path: "/acr/v1/a%2Fb/_tags/v1", scope: "repository:a/b:delete"},
		{method: "GET", path: "/v2/a/b/manifests/v1", header: map[string]string{"Authorization": "Basic " + basic(acrtest.TokenUsername, "x")}, scope: "repository:a/b:pull"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.do(t, tc.method, tc.path, tc.header, "")
			if r.status != 401 {
				t.Fatalf("status %d, want 401: %s", r.status, r.raw)
			}
			want := realm
			if tc.scope != "" {
				want += `,scope="` + tc.scope + `"`
			}
			if got := r.header.Get("WWW-Authenticate"); got != want {
				t.Errorf("challenge\n got %s\nwant %s", got, want)
			}
			if tc.method != "HEAD" && r.errorCode() != "UNAUTHORIZED" {
				t.Errorf("body %s", r.raw)
			}
		})
	}
	for _, rq := range e.srv.Requests() {
		if rq.Status != 401 {
			t.Errorf("request %+v not refused", rq)
		}
	}
}

func TestTokenFlow(t *testing.T) {
	e := start(t, acrtest.WithAccessTokenLifetime(10*time.Minute))
	img := e.push(t, "a/b", "amd64", "v1")
	e.push(t, "c", "amd64", "v1")
	host := e.srv.Host()
	aad := e.aadToken(t, acrtest.Audience)

	t.Run("exchange", func(t *testing.T) {
		tests := []struct {
			name       string
			method     string
			body       string
			wantStatus int
		}{
			{name: "ok", body: form("grant_type", "access_token", "service", host, "access_token", aad), wantStatus: 200},
			{name: "ok with tenant", body: form("grant_type", "access_token", "service", host, "tenant", e.id.TenantID(), "access_token", aad), wantStatus: 200},
			{name: "ARM token", body: form("grant_type", "access_token", "service", host, "access_token", e.aadToken(t, "https://management.azure.com/")), wantStatus: 200},
			{name: "other tenant", body: form("grant_type", "access_token", "service", host, "tenant", "00000000-1111-2222-3333-444444444444", "access_token", aad), wantStatus: 401},
			{name: "vault token", body: form("grant_type", "access_token", "service", host, "access_token", e.aadToken(t, azuretest.VaultResource)), wantStatus: 401},
			{name: "unknown token", body: form("grant_type", "access_token", "service", host, "access_token", "forged"), wantStatus: 401},
			{name: "other service", body: form("grant_type", "access_token", "service", "other.azurecr.io", "access_token", aad), wantStatus: 400},
			{name: "no grant type", body: form("service", host, "access_token", aad), wantStatus: 400},
			{name: "AAD refresh token grant", body: form("grant_type", "refresh_token", "service", host, "refresh_token", "x"), wantStatus: 400},
			{name: "no token", body: form("grant_type", "access_token", "service", host), wantStatus: 400},
			{name: "GET", method: "GET", wantStatus: 405},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(t, cmp.Or(tc.method, "POST"), "/oauth2/exchange?api-version=2021-07-01", nil, tc.body)
				if r.status != tc.wantStatus {
					t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.raw)
				}
				if tc.wantStatus != 200 {
					if r.errorCode() == "" {
						t.Errorf("no registry error body: %s", r.raw)
					}
					return
				}
				tok, _ := r.body["refresh_token"].(string)
				c := claims(t, tok)
				if d := expiresIn(t, tok); d < acrtest.DefaultRefreshTokenLifetime-time.Minute || d > acrtest.DefaultRefreshTokenLifetime {
					t.Errorf("refresh token expires in %v", d)
				}
				if c["grant_type"] != "refresh_token" || c["aud"] != host || c["sub"] != e.id.SystemAssignedClientID() || c["tenant"] != e.id.TenantID() || c["iss"] != "Azure Container Registry" {
					t.Errorf("claims %v", c)
				}
			})
		}
	})

	refresh := e.refreshToken(t)
	t.Run("token", func(t *testing.T) {
		tests := []struct {
			name       string
			method     string
			query      string
			body       string
			header     map[string]string
			wantStatus int
			wantAccess string // JSON of the access claim
		}{
			{name: "form POST", body: form("grant_type", "refresh_token", "service", host, "scope", "repository:a/b:pull,delete repository:a/b:metadata_read registry:catalog:*", "refresh_token", refresh), wantStatus: 200,
				wantAccess: `[{"type":"repository","name":"a/b","actions":["pull","delete","metadata_read"]},{"type":"registry","name":"catalog","actions":["*"]}]`},
			{name: "identity token POST (go-containerregistry)", body: form("grant_type", "refresh_token", "service", host, "client_id", "go-containerregistry", "scope", "repository:c:pull", "refresh_token", refresh), wantStatus: 200,
				wantAccess: `[{"type":"repository","name":"c","actions":["pull"]}]`},
			{name: "GET with basic auth, one scope per parameter", method: "GET", query: "?" + form("service", host, "scope", "repository:a/b:pull", "scope", "repository:c:pull"),
				header: map[string]string{"Authorization": "Basic " + basic(acrtest.TokenUsername, refresh)}, wantStatus: 200,
				wantAccess: `[{"type":"repository","name":"a/b","actions":["pull"]},{"type":"repository","name":"c","actions":["pull"]}]`},
			{name: "no scope", body: form("grant_type", "refresh_token", "service", host, "refresh_token", refresh), wantStatus: 200, wantAccess: `[]`},
			{name: "GET with another user", method: "GET", query: "?" + form("service", host, "scope", "repository:c:pull"), header: map[string]string{"Authorization": "Basic " + basic("admin", refresh)}, wantStatus: 401},
			{name: "GET without auth", method: "GET", query: "?" + form("service", host, "scope", "repository:c:pull"), wantStatus: 401},
			{name: "AAD token as refresh token", body: form("grant_type", "refresh_token", "service", host, "scope", "repository:c:pull", "refresh_token", aad), wantStatus: 401},
			{name: "anonymous (password grant)", body: form("grant_type", "password", "service", host, "scope", "repository:c:pull"), wantStatus: 401},
			{name: "other service", body: form("grant_type", "refresh_token", "service", "x.azurecr.io", "scope", "repository:c:pull", "refresh_token", refresh), wantStatus: 400},
			{name: "DELETE", method: "DELETE", wantStatus: 405},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(t, cmp.Or(tc.method, "POST"), "/oauth2/token"+tc.query, tc.header, tc.body)
				if r.status != tc.wantStatus {
					t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.raw)
				}
				if tc.wantStatus != 200 {
					return
				}
				tok, _ := r.body["access_token"].(string)
				raw, _ := json.Marshal(claims(t, tok)["access"])
				var grants []struct {
					Type    string   `json:"type"`
					Name    string   `json:"name"`
					Actions []string `json:"actions"`
				}
				if err := json.Unmarshal(raw, &grants); err != nil {
					t.Fatal(err)
				}
				access, _ := json.Marshal(grants)
				if string(access) != tc.wantAccess {
					t.Errorf("access claim %s, want %s", access, tc.wantAccess)
				}
				if d := expiresIn(t, tok); d < 9*time.Minute || d > 10*time.Minute {
					t.Errorf("access token expires in %v", d)
				}
			})
		}
	})

	t.Run("access", func(t *testing.T) {
		pull := e.accessToken(t, "repository:a/b:pull")
		manifest := "/v2/a/b/manifests/" + img.digest
		if r := e.do(t, "GET", manifest, bearer(pull), ""); r.status != 200 {
			t.Fatalf("pull with token: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "GET", "/v2/", bearer(pull), ""); r.status != 200 {
			t.Errorf("/v2/ with a token: %d", r.status)
		}
		wildcard := e.accessToken(t, "repository:*:*")
		if r := e.do(t, "GET", "/acr/v1/c/_manifests", bearer(wildcard), ""); r.status != 200 {
			t.Errorf("repository:*:* does not cover metadata_read: %d", r.status)
		}
		refusals := []struct {
			name, method, path, token, wantErr string
		}{
			{"other repository", "GET", "/v2/c/manifests/v1", pull, "insufficient_scope"},
			{"delete with a pull token", "DELETE", manifest, pull, "insufficient_scope"},
			{"listing with a pull token", "GET", "/acr/v1/a%2Fb/_manifests", pull, "insufficient_scope"},
			{"refresh token as bearer", "GET", manifest, refresh, "invalid_token"},
			{"AAD token as bearer", "GET", manifest, aad, "invalid_token"},
		}
		for _, rf := range refusals {
			r := e.do(t, rf.method, rf.path, bearer(rf.token), "")
			if r.status != 401 || !strings.HasSuffix(r.header.Get("WWW-Authenticate"), `,error="`+rf.wantErr+`"`) {
				t.Errorf("%s: %d %q", rf.name, r.status, r.header.Get("WWW-Authenticate"))
			}
		}
		e.srv.ExpireAccessTokens()
		r := e.do(t, "GET", manifest, bearer(pull), "")
		if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("expired access token: %d %q", r.status, r.header.Get("WWW-Authenticate"))
		}
		if r := e.do(t, "GET", manifest, bearer(e.accessToken(t, "repository:a/b:pull")), ""); r.status != 200 {
			t.Errorf("a new access token after expiry: %d", r.status)
		}
		e.srv.ExpireRefreshTokens()
		if r := e.do(t, "POST", "/oauth2/token", nil, form("grant_type", "refresh_token", "service", host, "scope", "repository:c:pull", "refresh_token", refresh)); r.status != 401 {
			t.Errorf("expired refresh token: %d", r.status)
		}
	})

	// every token the SDK could see decodes its way, and none is recorded
	const oddPrincipal = "principal?with~odd>bytes\x7f, é and 😀"
	weird := e.srv.IssueRefreshToken(oddPrincipal)
	if c := claims(t, weird); c["sub"] != oddPrincipal {
		t.Errorf("sub %q, want %q", c["sub"], oddPrincipal)
	}
	recorded, err := json.Marshal(e.srv.Requests())
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range append(e.srv.IssuedTokens(), aad) {
		if tok != aad {
			if c := claims(t, tok); c["sub"] == nil {
				t.Errorf("token without sub: %v", c)
			}
		}
		if strings.Contains(string(recorded), tok) {
			t.Errorf("token %.20s… appears in Requests()", tok)
		}
	}
	if !slices.Contains(e.srv.IssuedTokens(), weird) {
		t.Error("IssueRefreshToken's token is not among IssuedTokens")
	}
}

var acrTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`)

func TestManifestListing(t *testing.T) {
	e := start(t)
	tagged := e.push(t, "a/b", "amd64", "v1", "latest")
	untagged := e.push(t, "a/b", "arm64")
	index, children := e.pushIndex(t, "a/b", "multi")
	old := time.Date(2020, 1, 2, 3, 4, 5, 123456789, time.UTC)
	e.srv.SetCreated("a/b", untagged.digest, old)
	tok := e.accessToken(t, "repository:a/b:metadata_read,metadata_write,delete,pull", "repository:nope:metadata_read")

	list := func(t *testing.T, query string) response {
		t.Helper()
		r := e.do(t, "GET", "/acr/v1/a%2Fb/_manifests"+query, bearer(tok), "")
		if r.status != 200 {
			t.Fatalf("list%s: %d %s", query, r.status, r.raw)
		}
		return r
	}
	type listing struct {
		Registry  string           `json:"registry"`
		ImageName string           `json:"imageName"`
		Manifests []map[string]any `json:"manifests"`
	}
	var page listing
	r := list(t, "")
	if err := json.Unmarshal([]byte(r.raw), &page); err != nil {
		t.Fatal(err)
	}
	if page.Registry != e.srv.Host() || page.ImageName != "a/b" || r.header.Get("Link") != "" {
		t.Errorf("registry %q imageName %q link %q", page.Registry, page.ImageName, r.header.Get("Link"))
	}
	want := map[string]pushed{tagged.digest: tagged, untagged.digest: untagged, index.digest: index, children[0].digest: children[0], children[1].digest: children[1]}
	if len(page.Manifests) != len(want) {
		t.Fatalf("%d manifests, want %d: %s", len(page.Manifests), len(want), r.raw)
	}
	var digests []string
	for _, m := range page.Manifests {
		d := m["digest"].(string)
		digests = append(digests, d)
		p, ok := want[d]
		if !ok {
			t.Errorf("unexpected %s", d)
			continue
		}
		if int64(m["imageSize"].(float64)) != p.imageSize {
			t.Errorf("%s imageSize %v, want %d", d, m["imageSize"], p.imageSize)
		}
		if m["architecture"] != nilIfEmpty(p.arch) || m["os"] != nilIfEmpty(p.os) {
			t.Errorf("%s platform %v/%v, want %s/%s", d, m["os"], m["architecture"], p.os, p.arch)
		}
		for _, k := range []string{"createdTime", "lastUpdateTime"} {
			if s, _ := m[k].(string); !acrTimeRE.MatchString(s) {
				t.Errorf("%s %s %q is not ACR's format", d, k, s)
			}
		}
		attrs, _ := json.Marshal(m["changeableAttributes"])
		if string(attrs) != `{"deleteEnabled":true,"listEnabled":true,"readEnabled":true,"writeEnabled":true}` {
			t.Errorf("%s changeableAttributes %s", d, attrs)
		}
		tags, hasTags := m["tags"]
		switch d {
		case tagged.digest:
			if fmt.Sprint(tags) != "[latest v1]" || m["mediaType"] != "application/vnd.oci.image.manifest.v1+json" && m["mediaType"] != "application/vnd.docker.distribution.manifest.v2+json" || m["configMediaType"] == nil {
				t.Errorf("tagged entry %v", m)
			}
		case index.digest:
			if fmt.Sprint(tags) != "[multi]" || m["mediaType"] != "application/vnd.oci.image.index.v1+json" || m["configMediaType"] != nil {
				t.Errorf("index entry %v", m)
			}
		default:
			if hasTags {
				t.Errorf("untagged %s has a tags key: %v", d, tags)
			}
		}
	}
	if !slices.IsSorted(digests) {
		t.Errorf("default order is not by digest: %v", digests)
	}
	for _, m := range page.Manifests {
		if m["digest"] == untagged.digest && (m["createdTime"] != "2020-01-02T03:04:05.1234567Z" || m["lastUpdateTime"] != "2020-01-02T03:04:05.1234567Z") {
			t.Errorf("SetCreated not applied: %v %v", m["createdTime"], m["lastUpdateTime"])
		}
	}

	t.Run("paging", func(t *testing.T) {
		for _, orderby := range []string{"", "timeasc", "timedesc"} {
			var got []string
			query := "?n=2&orderby=" + orderby
			for range 10 {
				r := list(t, query)
				var page listing
				if err := json.Unmarshal([]byte(r.raw), &page); err != nil {
					t.Fatal(err)
				}
				if len(page.Manifests) > 2 {
					t.Fatalf("page of %d with n=2", len(page.Manifests))
				}
				for _, m := range page.Manifests {
					got = append(got, m["digest"].(string))
				}
				link := r.header.Get("Link")
				if link == "" {
					break
				}
				wantLink := fmt.Sprintf(`</acr/v1/a%%2Fb/_manifests?last=%s&n=2&orderby=%s>; rel="next"`, url.QueryEscape(got[len(got)-1]), orderby)
				if link != wantLink {
					t.Fatalf("Link\n got %s\nwant %s", link, wantLink)
				}
				query = "?" + strings.TrimSuffix(strings.SplitN(link, "?", 2)[1], `>; rel="next"`)
			}
			if len(got) != len(want) {
				t.Errorf("orderby=%s paged through %d manifests, want %d", orderby, len(got), len(want))
			}
			switch orderby {
			case "timeasc":
				if got[0] != untagged.digest {
					t.Errorf("timeasc starts with %s, want the 2020 one", got[0])
				}
			case "timedesc":
				if got[len(got)-1] != untagged.digest {
					t.Errorf("timedesc ends with %s, want the 2020 one", got[len(got)-1])
				}
			}
		}
	})

	t.Run("properties", func(t *testing.T) {
		r := e.do(t, "GET", "/acr/v1/a%2Fb/_manifests/"+url.PathEscape(index.digest), bearer(tok), "")
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		m, _ := r.body["manifest"].(map[string]any)
		wantRefs := fmt.Sprintf(`[{"digest":"%s","architecture":"amd64","os":"linux"},{"digest":"%s","architecture":"arm64","os":"linux"}]`, children[0].digest, children[1].digest)
		if !strings.Contains(r.raw, `"references":`+wantRefs) || r.body["imageName"] != "a/b" || m["digest"] != index.digest {
			t.Errorf("properties %s\nwant references %s", r.raw, wantRefs)
		}
		if r := e.do(t, "GET", "/acr/v1/a/b/_manifests/"+tagged.digest, bearer(tok), ""); r.status != 200 || strings.Contains(r.raw, "references") {
			t.Errorf("image properties: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "GET", "/acr/v1/a/b/_manifests/sha256:"+strings.Repeat("0", 64), bearer(tok), ""); r.status != 404 || r.errorCode() != "MANIFEST_UNKNOWN" {
			t.Errorf("unknown digest: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "GET", "/acr/v1/nope/_manifests", bearer(tok), ""); r.status != 404 || r.errorCode() != "NAME_UNKNOWN" {
			t.Errorf("unknown repository: %d %s", r.status, r.raw)
		}
		for _, q := range []string{"?n=-1", "?n=x"} {
			if r := e.do(t, "GET", "/acr/v1/a/b/_manifests"+q, bearer(tok), ""); r.status != 400 || r.errorCode() != "PAGINATION_NUMBER_INVALID" {
				t.Errorf("%s: %d %s", q, r.status, r.raw)
			}
		}
		if r := e.do(t, "GET", "/acr/v1/a/b/_manifests?orderby=size", bearer(tok), ""); r.status != 400 {
			t.Errorf("bad orderby: %d", r.status)
		}
	})

	t.Run("locks and deletes", func(t *testing.T) {
		path := "/acr/v1/a%2Fb/_manifests/" + url.PathEscape(children[0].digest)
		r := e.do(t, "PATCH", path, map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}, `{"deleteEnabled":false}`)
		m, _ := r.body["manifest"].(map[string]any)
		attrs, _ := json.Marshal(m["changeableAttributes"])
		if r.status != 200 || string(attrs) != `{"deleteEnabled":false,"listEnabled":true,"readEnabled":true,"writeEnabled":true}` || m["lastUpdateTime"] == m["createdTime"] {
			t.Fatalf("PATCH: %d %s", r.status, r.raw)
		}
		del := func(ref string) response {
			return e.do(t, "DELETE", "/v2/a/b/manifests/"+ref, bearer(tok), "")
		}
		r = del(children[0].digest)
		if r.status != 405 || r.errorCode() != "REGISTRY_DISALLOWED_OPERATION" || !strings.Contains(r.raw, `"detail":{}`) {
			t.Errorf("delete of a delete-locked manifest: %d %s", r.status, r.raw)
		}
		e.srv.Lock("a/b", tagged.digest, true, false)
		if r := del(tagged.digest); r.status != 405 || r.errorCode() != "REGISTRY_DISALLOWED_OPERATION" {
			t.Errorf("delete of a write-locked manifest: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "PUT", "/v2/a/b/manifests/v1", map[string]string{"Authorization": "Bearer " + e.accessToken(t, "repository:a/b:push"), "Content-Type": "application/vnd.oci.image.manifest.v1+json"}, "{}"); r.status != 405 || r.errorCode() != "REGISTRY_DISALLOWED_OPERATION" {
			t.Errorf("push over a write-locked tag: %d %s", r.status, r.raw)
		}
		if r := del("latest"); r.status != 405 || r.errorCode() != "UNSUPPORTED" {
			t.Errorf("delete by tag: %d %s", r.status, r.raw)
		}
		if r := del(untagged.digest); r.status != 202 {
			t.Errorf("delete: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "DELETE", "/acr/v1/a%2Fb/_tags/multi", bearer(tok), ""); r.status != 202 {
			t.Errorf("untag: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "DELETE", "/acr/v1/a%2Fb/_tags/multi", bearer(tok), ""); r.status != 404 || r.errorCode() != "TAG_UNKNOWN" {
			t.Errorf("untag again: %d %s", r.status, r.raw)
		}
		e.srv.Lock("a/b", tagged.digest, true, true)
		_ = e.do(t, "PATCH", "/acr/v1/a/b/_manifests/"+children[1].digest, map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}, `{"listEnabled":false}`)
		r = list(t, "")
		page := listing{}
		if err := json.Unmarshal([]byte(r.raw), &page); err != nil {
			t.Fatal(err)
		}
		left := map[string]string{}
		for _, m := range page.Manifests {
			left[m["digest"].(string)] = fmt.Sprint(m["tags"])
		}
		wantLeft := map[string]string{tagged.digest: "[latest v1]", index.digest: "<nil>", children[0].digest: "<nil>"}
		if fmt.Sprint(left) != fmt.Sprint(wantLeft) {
			t.Errorf("after deletes, untag and listEnabled=false: %v, want %v", left, wantLeft)
		}
	})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestPagingPastDeletedManifests(t *testing.T) {
	e := start(t)
	var all []string
	for i := range 5 {
		p := e.push(t, "r", "amd64", fmt.Sprint("t", i))
		e.srv.SetCreated("r", p.digest, time.Date(2024, 1, 1+i, 0, 0, 0, 0, time.UTC))
		all = append(all, p.digest)
	}
	tok := e.accessToken(t, "repository:r:metadata_read,delete")
	for _, orderby := range []string{"", "timedesc", "timeasc"} {
		// acr purge's loop (here with timeasc): list a page, delete it, list after the last digest
		r := e.do(t, "GET", "/acr/v1/r/_manifests?n=2&orderby="+orderby, bearer(tok), "")
		var seen []string
		for range 10 {
			var page struct{ Manifests []struct{ Digest string } }
			if err := json.Unmarshal([]byte(r.raw), &page); err != nil || r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			for _, m := range page.Manifests {
				seen = append(seen, m.Digest)
				if orderby == "timeasc" {
					if d := e.do(t, "DELETE", "/v2/r/manifests/"+m.Digest, bearer(tok), ""); d.status != 202 {
						t.Fatalf("delete: %d %s", d.status, d.raw)
					}
				}
			}
			link := r.header.Get("Link")
			if link == "" {
				break
			}
			r = e.do(t, "GET", strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`), bearer(tok), "")
		}
		if len(seen) != len(all) {
			t.Errorf("orderby=%q: saw %d manifests, want %d: %v", orderby, len(seen), len(all), seen)
		}
	}
	tok = e.accessToken(t, "registry:catalog:*")
	if r := e.do(t, "GET", "/acr/v1/_catalog", bearer(tok), ""); r.status != 200 || strings.TrimSpace(r.raw) != `{"repositories":[]}` {
		t.Errorf("a repository whose manifests are all deleted is still listed: %s", r.raw)
	}
}

// TestListingSeesDirectChanges changes the registry behind the stand-in's
// back (pushes, a tag moved to an existing manifest, garbage collection of
// untagged manifests) between listings: every fresh listing shows them.
func TestListingSeesDirectChanges(t *testing.T) {
	e := start(t)
	first := e.push(t, "r", "amd64", "v1")
	tok := e.accessToken(t, "repository:r:metadata_read")
	tagsOf := func() map[string]string {
		t.Helper()
		r := e.do(t, "GET", "/acr/v1/r/_manifests", bearer(tok), "")
		var page struct {
			Manifests []struct {
				Digest string
				Tags   []string
			}
		}
		if err := json.Unmarshal([]byte(r.raw), &page); err != nil || r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		out := map[string]string{}
		for _, m := range page.Manifests {
			out[m.Digest] = strings.Join(m.Tags, ",")
		}
		return out
	}
	if got := tagsOf(); len(got) != 1 || got[first.digest] != "v1" {
		t.Fatalf("before: %v", got)
	}
	second := e.push(t, "r", "amd64", "v1") // v1 moves; first is untagged
	if got := tagsOf(); len(got) != 2 || got[first.digest] != "" || got[second.digest] != "v1" {
		t.Errorf("after a push over v1: %v", got)
	}
	e.retag(t, "r", first.digest, "v1") // back, to an existing manifest
	if got := tagsOf(); got[first.digest] != "v1" || got[second.digest] != "" {
		t.Errorf("after moving v1 back: %v", got)
	}
	if err := e.reg.GarbageCollect(context.Background(), registrytest.DeleteUntagged()); err != nil {
		t.Fatal(err)
	}
	if got := tagsOf(); len(got) != 1 || got[first.digest] != "v1" {
		t.Errorf("after garbage collection of untagged manifests: %v", got)
	}
}

// TestPermit models an identity with pull and listing rights only (AcrPull
// without AcrDelete): its tokens carry only what it may do, and a delete
// is refused with the insufficient_scope challenge.
func TestPermit(t *testing.T) {
	e := start(t)
	img := e.push(t, "r", "amd64", "v1")
	e.srv.Permit(e.id.SystemAssignedClientID(), "pull", "metadata_read", "catalog")
	tok := e.accessToken(t, "repository:r:pull,delete,metadata_read", "repository:*:*", "registry:catalog:*")
	raw, _ := json.Marshal(claims(t, tok)["access"])
	var access []struct {
		Type, Name string
		Actions    []string
	}
	if err := json.Unmarshal(raw, &access); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(access); got != "[{repository r [pull metadata_read]} {repository * [pull metadata_read]} {registry catalog [*]}]" {
		t.Errorf("access claim %s", got)
	}
	if r := e.do(t, "GET", "/v2/r/manifests/"+img.digest, bearer(tok), ""); r.status != 200 {
		t.Errorf("pull: %d", r.status)
	}
	r := e.do(t, "DELETE", "/v2/r/manifests/"+img.digest, bearer(tok), "")
	if r.status != 401 || !strings.HasSuffix(r.header.Get("WWW-Authenticate"), `scope="repository:r:delete",error="insufficient_scope"`) {
		t.Errorf("delete without the right: %d %q", r.status, r.header.Get("WWW-Authenticate"))
	}
	e.srv.Permit(e.id.SystemAssignedClientID())
	if raw, _ := json.Marshal(claims(t, e.accessToken(t, "repository:r:pull"))["access"]); string(raw) != "[]" {
		t.Errorf("no permission at all: access %s", raw)
	}
}
