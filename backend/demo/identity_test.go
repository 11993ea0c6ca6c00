package demo

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
)

// TestDemoIdentityIgnoresTheEnvironment: with every managed-identity and
// service-principal variable pointing at a trap, the demo's scan signs in
// through its own stand-in's IMDS endpoint on loopback, and the trap is
// never called. (The demo's credential is azuretest's DirectCredential,
// which dials only that stand-in: 169.254.169.254 is out of its reach.)
func TestDemoIdentityIgnoresTheEnvironment(t *testing.T) {
	var hits atomic.Int64
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "trap", http.StatusTeapot)
	}))
	defer trap.Close()
	azuretest.HermeticEnv(t)
	for k, v := range map[string]string{
		"IDENTITY_ENDPOINT": trap.URL + "/msi/token", "IDENTITY_HEADER": "x", "IMDS_ENDPOINT": trap.URL,
		"MSI_ENDPOINT": trap.URL + "/msi", "AZURE_CLIENT_ID": "junk", "AZURE_TENANT_ID": "junk",
		"AZURE_CLIENT_SECRET": "junk", "AZURE_AUTHORITY_HOST": trap.URL,
	} {
		t.Setenv(k, v)
	}
	env, err := Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	inv, err := env.Registry.Scan(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) > 0 || len(inv.Images) != len(env.Seeded.Images) {
		t.Errorf("scan: %d images of %d, errors %v", len(inv.Images), len(env.Seeded.Images), inv.Errors)
	}
	reqs := env.ACR.Identity().Requests()
	if len(reqs) == 0 {
		t.Error("the demo's stand-in issued no token")
	}
	for _, r := range reqs {
		if r.Path != azuretest.IMDSTokenPath || !strings.HasPrefix(r.Host, "127.0.0.1:") || r.Status != http.StatusOK {
			t.Errorf("token request %s %s: %d, want the stand-in's IMDS endpoint on loopback", r.Host, r.Path, r.Status)
		}
	}
	if n := hits.Load(); n > 0 {
		t.Errorf("the endpoints the environment names got %d requests", n)
	}
}
