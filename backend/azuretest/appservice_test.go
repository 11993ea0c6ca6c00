package azuretest_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
)

func TestAppServiceAnswers(t *testing.T) {
	const user = "33333333-3333-3333-3333-333333333333"
	id := azuretest.ServeIdentity(t, azuretest.WithUserAssigned(user))
	base := url.Values{"api-version": {azuretest.AppServiceAPIVersion}, "resource": {azuretest.VaultResource}}
	with := func(k, v string) url.Values { return withQuery(base, k, v) }
	good := map[string]string{"X-IDENTITY-HEADER": id.AppServiceHeader()}
	tests := []struct {
		name       string
		method     string
		query      url.Values
		header     map[string]string
		wantStatus int
		wantClient string
	}{
		{name: "system-assigned", query: base, header: good, wantStatus: 200, wantClient: id.SystemAssignedClientID()},
		{name: "user-assigned", query: with("client_id", user), header: good, wantStatus: 200, wantClient: user},
		{name: "no header", query: base, wantStatus: 401},
		{name: "wrong header", query: base, header: map[string]string{"X-IDENTITY-HEADER": "nope"}, wantStatus: 401},
		{name: "IMDS header instead", query: base, header: map[string]string{"Metadata": "true"}, wantStatus: 401},
		{name: "IMDS api-version", query: with("api-version", "2018-02-01"), header: good, wantStatus: 400},
		{name: "no resource", query: with("resource", ""), header: good, wantStatus: 400},
		{name: "unknown client id", query: with("client_id", "44444444-4444-4444-4444-444444444444"), header: good, wantStatus: 400},
		{name: "object id unsupported", query: with("object_id", user), header: good, wantStatus: 400},
		{name: "POST", method: "POST", query: base, header: good, wantStatus: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := "GET"
			if tc.method != "" {
				method = tc.method
			}
			r := do(t, id.Transport(), method, id.AppServiceEndpoint()+"?"+tc.query.Encode(), tc.header)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %v", r.status, tc.wantStatus, r.body)
			}
			if tc.wantStatus != 200 {
				if r.body["statusCode"] != float64(tc.wantStatus) || r.body["message"] == "" {
					t.Errorf("error body %v", r.body)
				}
				return
			}
			tok, _ := r.body["access_token"].(string)
			info, err := id.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if info.ClientID != tc.wantClient || info.Resource != azuretest.VaultResource || info.TenantID != id.TenantID() {
				t.Errorf("token info %+v", info)
			}
			if r.body["client_id"] != tc.wantClient || r.body["resource"] != azuretest.VaultResource || r.body["token_type"] != "Bearer" {
				t.Errorf("body %v", r.body)
			}
			exp, _ := r.body["expires_on"].(string) // a string of Unix seconds, as App Service sends it
			if exp == "" || strings.Trim(exp, "0123456789") != "" {
				t.Errorf("expires_on %v is not a string of Unix seconds", r.body["expires_on"])
			}
		})
	}
	reqs := id.Requests()
	if len(reqs) != len(tests) || reqs[0].Path != azuretest.AppServiceTokenPath || reqs[0].Principal != id.SystemAssignedClientID() {
		t.Errorf("requests %+v", reqs)
	}
}

// TestAppServiceRealCredential drives azidentity's ManagedIdentityCredential
// through the App Service source, selected only by the environment, as the
// bot's binary does when a test runs it as a subprocess.
func TestAppServiceRealCredential(t *testing.T) {
	const user = "55555555-5555-5555-5555-555555555555"
	id := azuretest.ServeIdentity(t, azuretest.WithUserAssigned(user))
	tests := []struct {
		name     string
		clientID string
		header   string
		wantErr  string
	}{
		{name: "system-assigned"},
		{name: "user-assigned", clientID: user},
		{name: "wrong header", header: "wrong", wantErr: "401"},
		{name: "unknown client id", clientID: "66666666-6666-6666-6666-666666666666", wantErr: "400"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			azuretest.HermeticEnv(t)
			for _, kv := range id.AppServiceEnv() {
				name, value, _ := strings.Cut(kv, "=")
				t.Setenv(name, value)
			}
			if tc.header != "" {
				t.Setenv("IDENTITY_HEADER", tc.header)
			}
			// id.Transport only to prove nothing but loopback is dialled;
			// the App Service source needs no transport of its own.
			opts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: azcore.ClientOptions{Transport: id.Transport(), Retry: policy.RetryOptions{MaxRetries: -1}}}
			if tc.clientID != "" {
				opts.ID = azidentity.ClientID(tc.clientID)
			}
			cred, err := azidentity.NewManagedIdentityCredential(opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			before := len(id.Requests())
			tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://containerregistry.azure.net/.default"}})
			reqs := id.Requests()[before:]
			if len(reqs) == 0 {
				t.Fatal("the credential did not call the stand-in")
			}
			for _, rq := range reqs {
				if rq.Path != azuretest.AppServiceTokenPath || rq.Query.Get("api-version") != azuretest.AppServiceAPIVersion {
					t.Errorf("request to %s %v, want the App Service endpoint", rq.Path, rq.Query)
				}
			}
			if expectErr(t, err, tc.wantErr) {
				return
			}
			info, err := id.Verify(tok.Token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := id.SystemAssignedClientID()
			if tc.clientID != "" {
				want = tc.clientID
			}
			if info.ClientID != want || info.Resource != "https://containerregistry.azure.net" {
				t.Errorf("token info %+v, want client %s for the registry audience", info, want)
			}
			if d := time.Until(tok.ExpiresOn); d <= 0 || d > azuretest.DefaultTokenLifetime+time.Minute {
				t.Errorf("ExpiresOn in %v", d)
			}
		})
	}
}
