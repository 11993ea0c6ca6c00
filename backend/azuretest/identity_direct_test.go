package azuretest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
)

// trap is a loopback server that counts every request: the endpoint the
// environment names, which a credential independent of it never calls.
func trap(t *testing.T) (url string, hits *atomic.Int64) {
	t.Helper()
	hits = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "trap", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, hits
}

// TestDirectCredentialIgnoresTheEnvironment: whatever managed-identity or
// service-principal variables the process has, DirectCredential asks the
// stand-in's IMDS endpoint on loopback, and nothing else.
func TestDirectCredentialIgnoresTheEnvironment(t *testing.T) {
	trapURL, hits := trap(t)
	federated := filepath.Join(t.TempDir(), "federated-token")
	if err := os.WriteFile(federated, []byte("not.a.jwt"), 0o600); err != nil {
		t.Fatal(err)
	}
	envs := []struct {
		name string
		env  map[string]string
	}{
		{"none", nil},
		{"App Service", map[string]string{"IDENTITY_ENDPOINT": trapURL + "/msi/token", "IDENTITY_HEADER": "x"}},
		{"Service Fabric", map[string]string{"IDENTITY_ENDPOINT": trapURL + "/msi/token", "IDENTITY_HEADER": "x", "IDENTITY_SERVER_THUMBPRINT": "00"}},
		{"Azure Arc", map[string]string{"IDENTITY_ENDPOINT": trapURL + "/msi/token", "IMDS_ENDPOINT": trapURL}},
		{"Cloud Shell", map[string]string{"MSI_ENDPOINT": trapURL + "/msi"}},
		{"Azure ML", map[string]string{"MSI_ENDPOINT": trapURL + "/msi", "MSI_SECRET": "x"}},
		{"service principal", map[string]string{"AZURE_CLIENT_ID": "junk", "AZURE_TENANT_ID": "junk", "AZURE_CLIENT_SECRET": "junk",
			"AZURE_AUTHORITY_HOST": trapURL, "AZURE_FEDERATED_TOKEN_FILE": federated, "AZURE_TOKEN_CREDENTIALS": "dev"}},
	}
	id := azuretest.ServeIdentity(t)
	for _, tc := range envs {
		t.Run(tc.name, func(t *testing.T) {
			azuretest.HermeticEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cred := id.DirectCredential()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			before := len(id.Requests())
			tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://containerregistry.azure.net/.default"}})
			if err != nil {
				t.Fatal(err)
			}
			info, err := id.Verify(tok.Token)
			if err != nil {
				t.Fatal(err)
			}
			if info.ClientID != id.SystemAssignedClientID() || info.Resource != "https://containerregistry.azure.net" {
				t.Errorf("token info %+v", info)
			}
			if d := time.Until(tok.ExpiresOn); d <= 0 || d > azuretest.DefaultTokenLifetime+time.Minute {
				t.Errorf("ExpiresOn in %v", d)
			}
			reqs := id.Requests()[before:]
			if len(reqs) != 1 || reqs[0].Path != azuretest.IMDSTokenPath || !strings.HasPrefix(reqs[0].Host, "127.0.0.1:") ||
				reqs[0].Query.Get("api-version") != azuretest.IMDSAPIVersion {
				t.Errorf("requests %+v, want one to the stand-in's IMDS endpoint on loopback", reqs)
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("the endpoint the environment names got %d requests", n)
			}
		})
	}
}

func TestDirectCredentialErrors(t *testing.T) {
	ctx := t.Context()
	scope := policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}}

	// no identity on the machine: IMDS's answer, no token in it
	none := azuretest.ServeIdentity(t, azuretest.WithoutSystemAssigned())
	_, err := none.DirectCredential().GetToken(ctx, scope)
	expectErr(t, err, "Identity not found")

	id := azuretest.ServeIdentity(t)
	_, err = id.DirectCredential().GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"a", "b"}})
	expectErr(t, err, "want one scope")

	// the stand-in gone: a connection error at once, no other host tried
	cred := id.DirectCredential()
	id.Close()
	start := time.Now()
	_, err = cred.GetToken(ctx, scope)
	expectErr(t, err, "connect")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failing took %v", d)
	}
}
