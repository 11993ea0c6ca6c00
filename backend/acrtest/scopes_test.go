package acrtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
)

// accessClaim is a token's access claim as JSON, entries in the order
// the token has them.
func accessClaim(t *testing.T, tok string) string {
	t.Helper()
	raw, err := json.Marshal(claims(t, tok)["access"])
	if err != nil {
		t.Fatal(err)
	}
	var grants []struct {
		Type    string   `json:"type"`
		Name    string   `json:"name"`
		Actions []string `json:"actions"`
	}
	if err := json.Unmarshal(raw, &grants); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(grants)
	return string(out)
}

// TestMultiScopeToken: one request to /oauth2/token may ask for the
// scopes of several repositories, in any of the forms clients send them
// (one scope parameter of space-separated scopes, as acr-cli does; a
// scope parameter per scope, in a form or a query, as the distribution
// token spec has it); the token's access claim holds exactly those, each
// repository once with its actions; a request inside them is served, one
// outside them gets ACR's 401 challenge naming the scope it needs.
func TestMultiScopeToken(t *testing.T) {
	e := start(t)
	img := e.push(t, "a/b", "amd64", "v1")
	e.push(t, "c", "amd64", "v1")
	e.push(t, "d", "amd64", "v1")
	host := e.srv.Host()
	refresh := e.refreshToken(t)
	const want = `[{"type":"registry","name":"catalog","actions":["*"]},` +
		`{"type":"repository","name":"a/b","actions":["metadata_read","pull"]},` +
		`{"type":"repository","name":"c","actions":["metadata_read","pull"]}]`
	scopes := []string{"registry:catalog:*", "repository:a/b:metadata_read", "repository:a/b:pull", "repository:c:metadata_read", "repository:c:pull"}
	spaced := "registry:catalog:* repository:a/b:metadata_read repository:a/b:pull repository:c:metadata_read repository:c:pull"
	perParam := func(kv ...string) []string {
		for _, s := range scopes {
			kv = append(kv, "scope", s)
		}
		return kv
	}
	tests := []struct {
		name, method, query, body string
		header                    map[string]string
	}{
		{name: "form POST, space-separated (acr-cli)", method: "POST",
			body: form("grant_type", "refresh_token", "service", host, "scope", spaced, "refresh_token", refresh)},
		{name: "form POST, a scope parameter each", method: "POST",
			body: form(perParam("grant_type", "refresh_token", "service", host, "refresh_token", refresh)...)},
		{name: "form POST, actions joined by commas", method: "POST",
			body: form("grant_type", "refresh_token", "service", host, "scope", "registry:catalog:* repository:a/b:metadata_read,pull repository:c:metadata_read,pull", "refresh_token", refresh)},
		{name: "GET with basic auth, a scope parameter each", method: "GET", query: "?" + form(perParam("service", host)...),
			header: map[string]string{"Authorization": "Basic " + basic(acrtest.TokenUsername, refresh)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.method, "/oauth2/token"+tc.query, tc.header, tc.body)
			tok, _ := r.body["access_token"].(string)
			if r.status != 200 || tok == "" {
				t.Fatalf("token: %d %s", r.status, r.raw)
			}
			if got := accessClaim(t, tok); got != want {
				t.Errorf("access claim\n got %s\nwant %s", got, want)
			}
			for _, path := range []string{"/acr/v1/_catalog", "/acr/v1/a%2Fb/_manifests", "/acr/v1/c/_manifests", "/acr/v1/c", "/v2/a/b/manifests/" + img.digest, "/v2/c/manifests/v1"} {
				if r := e.do(t, "GET", path, bearer(tok), ""); r.status != 200 {
					t.Errorf("GET %s inside the token's scopes: %d %s", path, r.status, r.raw)
				}
			}
			outside := []struct{ method, path, scope string }{
				{"GET", "/v2/d/manifests/v1", "repository:d:pull"},
				{"GET", "/acr/v1/d/_manifests", "repository:d:metadata_read"},
				{"DELETE", "/v2/a/b/manifests/" + img.digest, "repository:a/b:delete"},
				{"PATCH", "/acr/v1/c/_manifests/" + url.PathEscape(img.digest), "repository:c:metadata_write"},
			}
			for _, o := range outside {
				r := e.do(t, o.method, o.path, bearer(tok), "")
				challenge := fmt.Sprintf(`Bearer realm="http://%s/oauth2/token",service="%s",scope="%s",error="insufficient_scope"`, host, host, o.scope)
				if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != challenge {
					t.Errorf("%s %s outside the token's scopes: %d %q, want 401 %q", o.method, o.path, r.status, r.header.Get("WWW-Authenticate"), challenge)
				}
			}
		})
	}
	// An identity limited to some actions gets those only, of every
	// repository asked for.
	e.srv.Permit(e.id.SystemAssignedClientID(), "metadata_read")
	tok := e.accessToken(t, "repository:a/b:pull", "repository:a/b:metadata_read", "repository:c:pull", "repository:c:metadata_read", "registry:catalog:*")
	if got, want := accessClaim(t, tok), `[{"type":"repository","name":"a/b","actions":["metadata_read"]},{"type":"repository","name":"c","actions":["metadata_read"]}]`; got != want {
		t.Errorf("limited identity: access claim\n got %s\nwant %s", got, want)
	}
}

// TestAzureSDKMultiScope drives the stand-in with the Azure SDK: its
// authentication client asks one token for two repositories in one
// request; its registry client, given that token up front, reads both
// with no challenge and no token request more; for a repository the
// token does not cover, the SDK's own challenge flow gets one and goes on.
func TestAzureSDKMultiScope(t *testing.T) {
	e := start(t)
	for _, repo := range []string{"a/b", "c", "d"} {
		e.push(t, repo, "amd64", "v1")
	}
	ctx := t.Context()
	co := azcore.ClientOptions{Transport: e.id.Transport(), Retry: policy.RetryOptions{MaxRetries: -1}}
	auth, err := azcontainerregistry.NewAuthenticationClient(e.srv.URL(), &azcontainerregistry.AuthenticationClientOptions{ClientOptions: co})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := auth.ExchangeACRRefreshTokenForACRAccessToken(ctx, e.srv.Host(), "repository:a/b:metadata_read repository:c:metadata_read", e.refreshToken(t),
		&azcontainerregistry.AuthenticationClientExchangeACRRefreshTokenForACRAccessTokenOptions{GrantType: to.Ptr(azcontainerregistry.TokenGrantTypeRefreshToken)})
	if err != nil || resp.AccessToken == nil {
		t.Fatalf("the SDK's token request for two repositories: %v", err)
	}
	tok := *resp.AccessToken
	if got, want := accessClaim(t, tok), `[{"type":"repository","name":"a/b","actions":["metadata_read"]},{"type":"repository","name":"c","actions":["metadata_read"]}]`; got != want {
		t.Errorf("access claim\n got %s\nwant %s", got, want)
	}

	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: co})
	if err != nil {
		t.Fatal(err)
	}
	cco := co
	cco.PerCallPolicies = []policy.Policy{upFront{tok}}
	client, err := azcontainerregistry.NewClient(e.srv.URL(), cred, &azcontainerregistry.ClientOptions{ClientOptions: cco})
	if err != nil {
		t.Fatal(err)
	}
	list := func(repo string) []acrtest.Request {
		t.Helper()
		before := len(e.srv.Requests())
		pager := client.NewListManifestsPager(repo, nil)
		n := 0
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("list %s: %v", repo, err)
			}
			n += len(page.Attributes)
		}
		if n != 1 {
			t.Errorf("%s: %d manifests, want 1", repo, n)
		}
		if _, err := client.GetRepositoryProperties(ctx, repo, nil); err != nil {
			t.Fatalf("properties of %s: %v", repo, err)
		}
		return requestsSince(e.srv, before)
	}
	for _, repo := range []string{"a/b", "c"} {
		if got := kinds(list(repo)); !slices.Equal(got, []string{acrtest.KindACRManifests + " OK", acrtest.KindACRRepository + " OK"}) {
			t.Errorf("%s with the token up front: %v, want the two calls and nothing else", repo, got)
		}
	}
	got := kinds(list("d"))
	want := []string{acrtest.KindACRManifests + " Unauthorized", acrtest.KindOAuthExchange + " OK", acrtest.KindOAuthToken + " OK", acrtest.KindACRManifests + " OK"}
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Errorf("d, outside the token: %v, want the SDK's challenge flow first: %v", got, want)
	}
}

// upFront puts one bearer token on every request, before the SDK's
// authentication policy, which sends a request it finds authorized as it
// is.
type upFront struct{ tok string }

func (p upFront) Do(req *policy.Request) (*http.Response, error) {
	if req.Raw().Header.Get("Authorization") == "" {
		req.Raw().Header.Set("Authorization", "Bearer "+p.tok)
	}
	return req.Next()
}
