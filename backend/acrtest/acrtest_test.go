package acrtest_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
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
				if access := accessClaim(t, tok); access != tc.wantAccess {
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
