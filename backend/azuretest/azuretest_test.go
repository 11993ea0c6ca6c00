package azuretest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
)

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, c *http.Client, method, u string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %v\n%s", method, u, err, raw)
	}
	return response{resp.StatusCode, resp.Header, body}
}

func imdsURL(q url.Values) string {
	return "http://" + azuretest.IMDSHost + azuretest.IMDSTokenPath + "?" + q.Encode()
}

func token(t *testing.T, id *azuretest.Identity, clientID, resource string) string {
	t.Helper()
	q := url.Values{"api-version": {"2018-02-01"}, "resource": {resource}}
	if clientID != "" {
		q.Set("client_id", clientID)
	}
	r := do(t, id.Transport(), "GET", imdsURL(q), map[string]string{"Metadata": "true"})
	if r.status != 200 {
		t.Fatalf("token for %q: status %d %v", clientID, r.status, r.body)
	}
	return r.body["access_token"].(string)
}

// expectErr fails the test unless err mentions want, or is nil when want is
// "". It reports whether an expected error was seen.
func expectErr(t *testing.T, err error, want string) bool {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to mention %q", err, want)
	}
	return true
}

// withQuery returns a copy of base with k set to v, or deleted when v is "".
func withQuery(base url.Values, k, v string) url.Values {
	q := url.Values{}
	for kk, vv := range base {
		q[kk] = vv
	}
	if v == "" {
		q.Del(k)
	} else {
		q.Set(k, v)
	}
	return q
}

func TestIMDSAnswers(t *testing.T) {
	const user1, user2 = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
	base := url.Values{"api-version": {"2018-02-01"}, "resource": {"https://vault.azure.net"}}
	with := func(k, v string) url.Values { return withQuery(base, k, v) }
	meta := map[string]string{"Metadata": "true"}
	tests := []struct {
		name       string
		opts       []azuretest.IdentityOption
		path       string
		query      url.Values
		header     map[string]string
		wantStatus int
		wantErr    string // error_description
		wantClient string // client_id of a 200; "system" for the system-assigned one
	}{
		{name: "system-assigned", query: base, header: meta, wantStatus: 200, wantClient: "system"},
		{name: "user-assigned", opts: []azuretest.IdentityOption{azuretest.WithUserAssigned(user1)}, query: with("client_id", user1), header: meta, wantStatus: 200, wantClient: user1},
		{name: "user-assigned upper case id", opts: []azuretest.IdentityOption{azuretest.WithUserAssigned(user1)}, query: with("client_id", strings.ToUpper(user1)), header: meta, wantStatus: 200, wantClient: strings.ToUpper(user1)},
		{name: "unknown client id", query: with("client_id", user2), header: meta, wantStatus: 400, wantErr: "Identity not found"},
		{name: "object id unsupported", query: with("object_id", user1), header: meta, wantStatus: 400, wantErr: "Identity not found"},
		{name: "no metadata header", query: base, wantStatus: 400, wantErr: "Required metadata header not specified"},
		{name: "metadata false", query: base, header: map[string]string{"Metadata": "false"}, wantStatus: 400, wantErr: "Required metadata header not specified"},
		{name: "no resource", query: with("resource", ""), header: meta, wantStatus: 400, wantErr: "Required query variable 'resource' is missing"},
		{name: "no api-version", query: with("api-version", ""), header: meta, wantStatus: 400, wantErr: "Required query variable 'api-version' is missing"},
		{name: "only one user-assigned, none asked", opts: []azuretest.IdentityOption{azuretest.WithoutSystemAssigned(), azuretest.WithUserAssigned(user1)}, query: base, header: meta, wantStatus: 200, wantClient: user1},
		{name: "two user-assigned, none asked", opts: []azuretest.IdentityOption{azuretest.WithoutSystemAssigned(), azuretest.WithUserAssigned(user1, user2)}, query: base, header: meta, wantStatus: 400, wantErr: "Multiple user assigned identities exist"},
		{name: "no identity at all", opts: []azuretest.IdentityOption{azuretest.WithoutSystemAssigned()}, query: base, header: meta, wantStatus: 400, wantErr: "Identity not found"},
		{name: "other path", path: "/metadata/instance", query: base, header: meta, wantStatus: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := azuretest.ServeIdentity(t, tc.opts...)
			u := imdsURL(tc.query)
			if tc.path != "" {
				u = "http://" + azuretest.IMDSHost + tc.path + "?" + tc.query.Encode()
			}
			before := time.Now().Unix()
			r := do(t, id.Transport(), "GET", u, tc.header)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d (%v)", r.status, tc.wantStatus, r.body)
			}
			if tc.wantErr != "" {
				if r.body["error"] != "invalid_request" || !strings.Contains(r.body["error_description"].(string), tc.wantErr) {
					t.Errorf("error body %v, want invalid_request / %q", r.body, tc.wantErr)
				}
			}
			if tc.wantStatus != 200 {
				if len(id.IssuedTokens()) != 0 {
					t.Error("a failed request issued a token")
				}
				return
			}
			want := tc.wantClient
			if want == "system" {
				want = id.SystemAssignedClientID()
			}
			if r.body["client_id"] != want || r.body["token_type"] != "Bearer" || r.body["resource"] != "https://vault.azure.net" {
				t.Errorf("token body %v, want client_id %s, Bearer, resource echoed", r.body, want)
			}
			// IMDS sends numbers as strings
			in, err1 := strconv.Atoi(r.body["expires_in"].(string))
			on, err2 := strconv.ParseInt(r.body["expires_on"].(string), 10, 64)
			if err1 != nil || err2 != nil || in != int(azuretest.DefaultTokenLifetime/time.Second) || on < before+int64(in) || on > time.Now().Unix()+int64(in) {
				t.Errorf("expires_in %v / expires_on %v inconsistent", r.body["expires_in"], r.body["expires_on"])
			}
			tok := r.body["access_token"].(string)
			info, err := id.Verify(tok)
			if err != nil || !strings.EqualFold(info.ClientID, want) || info.TenantID != id.TenantID() {
				t.Errorf("Verify(issued token) = %+v, %v", info, err)
			}
			reqs := id.Requests()
			if len(reqs) != 1 || reqs[0].Status != 200 || !strings.EqualFold(reqs[0].Principal, want) {
				t.Errorf("recorded requests %+v", reqs)
			}
		})
	}
}

func TestKeyVaultChallenge(t *testing.T) {
	kv := azuretest.ServeKeyVault(t, azuretest.WithVaultName("challenged"))
	r := do(t, kv.Client(), "GET", kv.VaultURL()+"secrets/x?api-version=7.4", nil)
	if r.status != 401 {
		t.Fatalf("status %d, want 401", r.status)
	}
	want := `Bearer authorization="https://login.microsoftonline.com/` + kv.TenantID() + `", resource="https://vault.azure.net"`
	if got := r.header.Get("WWW-Authenticate"); got != want {
		t.Errorf("WWW-Authenticate = %s\nwant %s", got, want)
	}
	e := r.body["error"].(map[string]any)
	if e["code"] != "Unauthorized" || !strings.Contains(e["message"].(string), "missing a Bearer") {
		t.Errorf("body %v", r.body)
	}
}

func TestKeyVaultAnswers(t *testing.T) {
	id := azuretest.ServeIdentity(t, azuretest.WithUserAssigned("aaaaaaaa-0000-0000-0000-000000000001", "aaaaaaaa-0000-0000-0000-000000000002"))
	kv := azuretest.ServeKeyVault(t, azuretest.WithVaultName("answers"), azuretest.WithIdentity(id))
	reader, scoped, outsider := id.SystemAssignedClientID(), "aaaaaaaa-0000-0000-0000-000000000001", "aaaaaaaa-0000-0000-0000-000000000002"
	v1 := kv.SetSecret("Github-Token", "value-one")
	v2 := kv.SetSecret("github-token", "value-two")
	kv.SetSecret("other", "other-value")
	kv.SetSecret("off", "off-value")
	kv.SetEnabled("off", false)
	kv.Grant(reader)
	kv.Grant(scoped, "other")

	readerTok := token(t, id, "", azuretest.VaultResource)
	scopedTok := token(t, id, scoped, azuretest.VaultResource)
	outsiderTok := token(t, id, outsider, azuretest.VaultResource)
	armTok := token(t, id, "", "https://management.azure.com/")
	foreign := azuretest.ServeIdentity(t)
	foreignTok := token(t, foreign, "", azuretest.VaultResource)
	otherTenant := azuretest.ServeKeyVault(t, azuretest.WithVaultName("othertenant"), azuretest.WithIdentity(id), azuretest.WithVaultTenant("99999999-9999-9999-9999-999999999999"))
	otherTenant.Grant(reader)
	otherTenant.SetSecret("s", "v")

	tests := []struct {
		name       string
		base       string
		path       string
		method     string
		token      string
		wantStatus int
		wantCode   string
		wantInner  string
		wantValue  string
		wantVer    string
	}{
		{name: "latest", path: "secrets/github-token?api-version=7.4", token: readerTok, wantStatus: 200, wantValue: "value-two", wantVer: v2},
		{name: "latest with trailing slash (azsecrets form)", path: "secrets/github-token/?api-version=" + azuretest.LatestAPIVersion, token: readerTok, wantStatus: 200, wantValue: "value-two", wantVer: v2},
		{name: "names are case-insensitive", path: "secrets/GITHUB-TOKEN?api-version=7.4", token: readerTok, wantStatus: 200, wantValue: "value-two", wantVer: v2},
		{name: "older version", path: "secrets/github-token/" + v1 + "?api-version=7.4", token: readerTok, wantStatus: 200, wantValue: "value-one", wantVer: v1},
		{name: "missing secret", path: "secrets/nope?api-version=7.4", token: readerTok, wantStatus: 404, wantCode: "SecretNotFound"},
		{name: "missing version", path: "secrets/github-token/0123456789abcdef0123456789abcdef?api-version=7.4", token: readerTok, wantStatus: 404, wantCode: "SecretNotFound"},
		{name: "disabled", path: "secrets/off?api-version=7.4", token: readerTok, wantStatus: 403, wantCode: "Forbidden", wantInner: "SecretDisabled"},
		{name: "no permission", path: "secrets/github-token?api-version=7.4", token: outsiderTok, wantStatus: 403, wantCode: "Forbidden", wantInner: "AccessDenied"},
		{name: "no permission even when missing", path: "secrets/nope?api-version=7.4", token: outsiderTok, wantStatus: 403, wantCode: "Forbidden", wantInner: "AccessDenied"},
		{name: "scoped grant allows its secret", path: "secrets/other?api-version=7.4", token: scopedTok, wantStatus: 200, wantValue: "other-value"},
		{name: "scoped grant denies others", path: "secrets/github-token?api-version=7.4", token: scopedTok, wantStatus: 403, wantCode: "Forbidden", wantInner: "AccessDenied"},
		{name: "unknown token", path: "secrets/github-token?api-version=7.4", token: foreignTok, wantStatus: 401, wantCode: "Unauthorized"},
		{name: "wrong audience", path: "secrets/github-token?api-version=7.4", token: armTok, wantStatus: 401, wantCode: "Unauthorized"},
		{name: "wrong tenant", base: otherTenant.VaultURL(), path: "secrets/s?api-version=7.4", token: readerTok, wantStatus: 401, wantCode: "Unauthorized"},
		{name: "no api-version", path: "secrets/github-token", token: readerTok, wantStatus: 400, wantCode: "BadParameter"},
		{name: "unknown api-version", path: "secrets/github-token?api-version=6.9", token: readerTok, wantStatus: 400, wantCode: "BadParameter"},
		{name: "invalid name", path: "secrets/bad_name?api-version=7.4", token: readerTok, wantStatus: 400, wantCode: "BadParameter"},
		{name: "other method", method: "DELETE", path: "secrets/github-token?api-version=7.4", token: readerTok, wantStatus: 405, wantCode: "BadParameter"},
		{name: "loopback URL works too", base: kv.URL() + "/", path: "secrets/github-token?api-version=7.4", token: readerTok, wantStatus: 200, wantValue: "value-two", wantVer: v2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := kv.VaultURL()
			if tc.base != "" {
				base = tc.base
			}
			method := "GET"
			if tc.method != "" {
				method = tc.method
			}
			r := do(t, kv.Client(), method, base+tc.path, map[string]string{"Authorization": "Bearer " + tc.token})
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %v", r.status, tc.wantStatus, r.body)
			}
			if tc.wantStatus == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer authorization=") {
				t.Errorf("401 without challenge: %v", r.header)
			}
			if tc.wantCode != "" {
				e, _ := r.body["error"].(map[string]any)
				if e["code"] != tc.wantCode || e["message"] == "" {
					t.Errorf("error %v, want code %s", r.body, tc.wantCode)
				}
				inner, _ := e["innererror"].(map[string]any)
				if tc.wantInner != "" && (inner == nil || inner["code"] != tc.wantInner) {
					t.Errorf("innererror %v, want %s", e["innererror"], tc.wantInner)
				}
				return
			}
			if r.body["value"] != tc.wantValue {
				t.Errorf("value %v, want %s", r.body["value"], tc.wantValue)
			}
			u, err := url.Parse(base)
			if err != nil {
				t.Fatal(err)
			}
			idPrefix := "https://" + u.Host + "/secrets/"
			gotID, _ := r.body["id"].(string)
			if !strings.HasPrefix(gotID, idPrefix) || (tc.wantVer != "" && !strings.HasSuffix(gotID, "/"+tc.wantVer)) {
				t.Errorf("id %q, want %s<name>/%s", gotID, idPrefix, tc.wantVer)
			}
			attrs, _ := r.body["attributes"].(map[string]any)
			if attrs["enabled"] != true || attrs["created"] == nil || attrs["updated"] == nil {
				t.Errorf("attributes %v", attrs)
			}
		})
	}
	// the vault records who asked, never the token
	var sawOutsider bool
	for _, rq := range kv.Requests() {
		if strings.EqualFold(rq.Principal, outsider) && rq.Status == 403 {
			sawOutsider = true
		}
		for _, vs := range rq.Query {
			for _, v := range vs {
				if v == readerTok {
					t.Error("a token was recorded")
				}
			}
		}
	}
	if !sawOutsider {
		t.Errorf("outsider's 403 not recorded: %+v", kv.Requests())
	}
}

func TestTransportStaysOnLoopback(t *testing.T) {
	// not ServeIdentity: this test provokes refusals on purpose
	id, err := azuretest.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { id.Close() })
	kv := azuretest.ServeKeyVault(t, azuretest.WithIdentity(id))
	c := id.Transport()

	for _, u := range []string{"https://login.microsoftonline.com/common/oauth2/v2.0/token", "http://example.com/", "https://169.254.169.254/metadata/identity/oauth2/token", "http://169.254.169.254:8080/"} {
		_, err := c.Get(u)
		if err == nil || !strings.Contains(err.Error(), "refusing to connect") {
			t.Errorf("GET %s: err = %v, want a refusal", u, err)
		}
	}
	if got := len(id.Refused()); got != 4 {
		t.Errorf("Refused() has %d entries, want 4: %v", got, id.Refused())
	}

	_, err = c.Get("https://nosuchvault.vault.azure.net/secrets/x?api-version=7.4")
	var dns *net.DNSError
	if !errors.As(err, &dns) || !dns.IsNotFound {
		t.Errorf("unknown vault: err = %v, want a not-found DNS error", err)
	}

	// loopback goes through, with the vault's certificate trusted
	resp, err := c.Get(kv.URL() + "/secrets/x?api-version=7.4")
	if err != nil {
		t.Fatalf("loopback vault URL: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("loopback vault answered %d, want 401 challenge", resp.StatusCode)
	}
	kv.Close()
	if _, err := c.Get(kv.VaultURL()); err == nil {
		t.Error("a closed vault is still routed")
	}
}

// TestRealClients drives the real azidentity ManagedIdentityCredential and
// azsecrets client through the stand-ins.
func TestRealClients(t *testing.T) {
	azuretest.HermeticEnv(t)
	const user = "bbbbbbbb-0000-0000-0000-00000000000b"
	id := azuretest.ServeIdentity(t, azuretest.WithUserAssigned(user))
	kv := azuretest.ServeKeyVault(t, azuretest.WithVaultName("realclients"), azuretest.WithIdentity(id))
	version := kv.SetSecret("token", "s3cr3t-value")
	kv.Grant(id.SystemAssignedClientID())
	kv.Grant(user)
	co := azcore.ClientOptions{Transport: id.Transport(), Retry: policy.RetryOptions{MaxRetries: -1}}

	tests := []struct {
		name     string
		clientID string
		vaultURL string
		disable  bool
		wantErr  string
	}{
		{name: "system-assigned via Azure host", vaultURL: kv.VaultURL()},
		{name: "user-assigned via Azure host", clientID: user, vaultURL: kv.VaultURL()},
		{name: "loopback URL needs verification disabled", vaultURL: kv.URL(), disable: true},
		{name: "loopback URL fails resource verification", vaultURL: kv.URL(), wantErr: "doesn't match the requested domain"},
		{name: "unknown client id", clientID: "cccccccc-0000-0000-0000-00000000000c", vaultURL: kv.VaultURL(), wantErr: "isn't assigned to this resource"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
			if tc.clientID != "" {
				mo.ID = azidentity.ClientID(tc.clientID)
			}
			cred, err := azidentity.NewManagedIdentityCredential(mo)
			if err != nil {
				t.Fatal(err)
			}
			client, err := azsecrets.NewClient(tc.vaultURL, cred, &azsecrets.ClientOptions{ClientOptions: co, DisableChallengeResourceVerification: tc.disable})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			before := len(id.Requests())
			resp, err := client.GetSecret(ctx, "token", "", nil)
			if expectErr(t, err, tc.wantErr) {
				return
			}
			if resp.Value == nil || *resp.Value != "s3cr3t-value" || resp.ID.Name() != "token" || resp.ID.Version() != version {
				t.Errorf("got value/id %v %v", resp.Value, resp.ID)
			}
			reqs := id.Requests()[before:]
			if len(reqs) == 0 || reqs[len(reqs)-1].Status != 200 {
				t.Fatalf("the credential did not get its token from the IMDS stand-in: %+v", reqs)
			}
			want := id.SystemAssignedClientID()
			if tc.clientID != "" {
				want = tc.clientID
				if reqs[len(reqs)-1].Query.Get("client_id") != tc.clientID {
					t.Errorf("IMDS request lacks client_id: %v", reqs[len(reqs)-1].Query)
				}
			}
			if !strings.EqualFold(reqs[len(reqs)-1].Principal, want) {
				t.Errorf("token issued to %s, want %s", reqs[len(reqs)-1].Principal, want)
			}
		})
	}
}
