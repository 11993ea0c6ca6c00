package secrets_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

// Secret values and tokens the stand-ins hold; none may ever show up in an
// error or a log line.
const (
	kvLatest   = "kv-latest-7f3a9c1e"
	kvOld      = "kv-old-2b8d4e6f"
	kvDisabled = "kv-disabled-9a1c3e5b"
	kvOther    = "kv-other-4d6f8a0c"
	bogusToken = "bogus-token-6b8d0f2a"
)

var allKVSecrets = []string{kvLatest, kvOld, kvDisabled, kvOther, bogusToken}

const (
	userID    = "aaaaaaaa-1111-2222-3333-444444444444"
	unknownID = "dddddddd-1111-2222-3333-444444444444"
)

// fixture is an IMDS stand-in with a vault attached, holding the secrets above.
type fixture struct {
	id         *azuretest.Identity
	kv         *azuretest.KeyVault
	oldVersion string
}

func newFixture(t testing.TB, vault string, idOpts ...azuretest.IdentityOption) fixture {
	t.Helper()
	id := azuretest.ServeIdentity(t, idOpts...) // fails t on any non-loopback connection
	kv := azuretest.ServeKeyVault(t, azuretest.WithVaultName(vault), azuretest.WithIdentity(id))
	f := fixture{id: id, kv: kv}
	f.oldVersion = kv.SetSecret("github-token", kvOld)
	kv.SetSecret("github-token", kvLatest)
	kv.SetSecret("disabled-one", kvDisabled)
	kv.SetEnabled("disabled-one", false)
	kv.SetSecret("other", kvOther)
	kv.SetSecret("blank", "")
	if sys := id.SystemAssignedClientID(); sys != "" {
		kv.Grant(sys)
	}
	return f
}

// opts are the resolver options every case uses: the stand-ins' transport
// and no retries (so failing cases fail fast).
func (f fixture) opts(extra ...secrets.Option) []secrets.Option {
	return append([]secrets.Option{
		secrets.WithTransport(f.id.Transport()),
		secrets.WithKeyVaultClientOptions(&azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}}),
	}, extra...)
}

type staticCred struct {
	token string
	err   error
}

func (c staticCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, c.err
}

type kvCase struct {
	name string
	// build sets up the stand-ins; it returns the fixture, resolver options and reference
	build    func(t *testing.T) (fixture, []secrets.Option, string)
	want     string
	wantKind secrets.ErrorKind
	wantMsg  []string
	verify   func(t *testing.T, f fixture)
}

func kvCases() []kvCase {
	ref := func(f fixture, secret string) string { return "keyvault://" + f.kv.Name() + "/" + secret }
	return []kvCase{
		{
			name: "system-assigned identity through DefaultAzureCredential",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "sysvault")
				return f, f.opts(), ref(f, "github-token")
			},
			want: kvLatest,
			verify: func(t *testing.T, f fixture) {
				reqs := f.id.Requests()
				// DefaultAzureCredential probes IMDS without the Metadata header first
				if len(reqs) < 2 || reqs[0].Status != 400 || reqs[len(reqs)-1].Status != 200 ||
					reqs[len(reqs)-1].Principal != f.id.SystemAssignedClientID() || reqs[len(reqs)-1].Query.Has("client_id") {
					t.Errorf("IMDS requests %+v, want a probe then a system-assigned token", reqs)
				}
				kvReqs := f.kv.Requests()
				if len(kvReqs) != 2 || kvReqs[0].Status != 401 || kvReqs[1].Status != 200 {
					t.Errorf("vault requests %+v, want challenge then success", kvReqs)
				}
			},
		},
		{
			name: "user-assigned identity by client ID",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "uservault", azuretest.WithUserAssigned(userID))
				f.kv.Revoke(f.id.SystemAssignedClientID())
				f.kv.Grant(userID)
				return f, f.opts(secrets.WithAzureClientID(userID)), ref(f, "github-token")
			},
			want: kvLatest,
			verify: func(t *testing.T, f fixture) {
				reqs := f.id.Requests()
				if len(reqs) != 1 || reqs[0].Query.Get("client_id") != userID || reqs[0].Status != 200 {
					t.Errorf("IMDS requests %+v, want one token request for %s", reqs, userID)
				}
			},
		},
		{
			name: "vault given as host",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "hostvault")
				return f, f.opts(), "keyvault://" + f.kv.Host() + "/github-token"
			},
			want: kvLatest,
		},
		{
			name: "pinned version",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "vervault")
				return f, f.opts(), ref(f, "github-token/"+f.oldVersion)
			},
			want: kvOld,
		},
		{
			name: "explicit credential",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "credvault")
				cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
					ClientOptions: azcore.ClientOptions{Transport: f.id.Transport()},
				})
				if err != nil {
					t.Fatal(err)
				}
				return f, f.opts(secrets.WithCredential(cred)), ref(f, "github-token")
			},
			want: kvLatest,
		},
		{
			name: "loopback vault URL with challenge verification disabled",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "loopvault")
				return f, append(f.opts(), // replaces the options above
					secrets.WithKeyVaultClientOptions(&azsecrets.ClientOptions{DisableChallengeResourceVerification: true}),
					secrets.WithVaultURL(func(vault string) string {
						if vault != "loopvault" {
							t.Errorf("WithVaultURL got %q", vault)
						}
						return f.kv.URL()
					})), ref(f, "github-token")
			},
			want: kvLatest,
		},
		{
			name: "loopback vault URL fails challenge verification",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "loopvault")
				return f, f.opts(secrets.WithVaultURL(func(string) string { return f.kv.URL() })), ref(f, "github-token")
			},
			wantKind: secrets.ErrUnavailable,
			wantMsg:  []string{"resolve keyvault://loopvault/github-token: reading secret github-token from vault loopvault", "doesn't match the requested domain"},
		},
		{
			name: "unknown client ID",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "unkvault", azuretest.WithUserAssigned(userID))
				return f, f.opts(secrets.WithAzureClientID(unknownID)), ref(f, "github-token")
			},
			wantKind: secrets.ErrNoIdentity,
			wantMsg:  []string{"no managed identity with client ID " + unknownID + " is assigned to this machine", "Identity not found", "check azure.client_id"},
		},
		{
			name: "identity without permission",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "permvault", azuretest.WithUserAssigned(userID))
				return f, f.opts(secrets.WithAzureClientID(userID)), ref(f, "github-token")
			},
			wantKind: secrets.ErrPermission,
			wantMsg:  []string{"the identity lacks 'get' permission on secrets in vault permvault", "key vault 'permvault;location", "403 Forbidden", "appid=" + userID},
		},
		{
			name: "permission for other secrets only",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "scopevault", azuretest.WithUserAssigned(userID))
				f.kv.Grant(userID, "other")
				return f, f.opts(secrets.WithAzureClientID(userID)), ref(f, "github-token")
			},
			wantKind: secrets.ErrPermission,
			wantMsg:  []string{"lacks 'get' permission on secrets in vault scopevault"},
		},
		{
			name: "missing secret",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "missvault")
				return f, f.opts(), ref(f, "nope")
			},
			wantKind: secrets.ErrNotFound,
			wantMsg:  []string{"resolve keyvault://missvault/nope: secret nope not found in vault missvault"},
		},
		{
			name: "missing version",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "missvault")
				return f, f.opts(), ref(f, "github-token/0123456789abcdef0123456789abcdef")
			},
			wantKind: secrets.ErrNotFound,
			wantMsg:  []string{"resolve keyvault://missvault/github-token/0123456789abcdef0123456789abcdef: secret github-token version 0123456789abcdef0123456789abcdef not found in vault missvault"},
		},
		{
			name: "disabled secret",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "offvault")
				return f, f.opts(), ref(f, "disabled-one")
			},
			wantKind: secrets.ErrPermission,
			wantMsg:  []string{"secret disabled-one in vault offvault is disabled"},
		},
		{
			name: "empty secret",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "blankvault")
				return f, f.opts(), ref(f, "blank")
			},
			wantKind: secrets.ErrNotSet,
			wantMsg:  []string{"secret blank in vault blankvault has an empty value"},
		},
		{
			name: "machine without any identity",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "noidvault", azuretest.WithoutSystemAssigned())
				return f, f.opts(), ref(f, "github-token")
			},
			wantKind: secrets.ErrNoIdentity,
			wantMsg:  []string{"no Azure identity available: run on an Azure VM with a managed identity, or set azure.client_id / AZURE_* environment", "ManagedIdentityCredential", "Identity not found"},
		},
		{
			name: "not on Azure: IMDS unreachable",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "offazure")
				f.id.Close() // the vault stays reachable, IMDS refuses connections
				return f, f.opts(), ref(f, "github-token")
			},
			wantKind: secrets.ErrNoIdentity,
			wantMsg:  []string{"no Azure identity available"},
		},
		{
			name: "vault of another tenant",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "homevault")
				other := azuretest.ServeKeyVault(t, azuretest.WithVaultName("foreignvault"), azuretest.WithIdentity(f.id), azuretest.WithVaultTenant("99999999-9999-9999-9999-999999999999"))
				other.SetSecret("github-token", kvOther)
				other.Grant(f.id.SystemAssignedClientID())
				return f, f.opts(), "keyvault://foreignvault/github-token"
			},
			wantKind: secrets.ErrAuthentication,
			wantMsg:  []string{"vault foreignvault rejected the identity's token (401 Unauthorized", "Invalid issuer"},
		},
		{
			name: "credential with a token the vault does not know",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "bogusvault")
				return f, f.opts(secrets.WithCredential(staticCred{token: bogusToken})), ref(f, "github-token")
			},
			wantKind: secrets.ErrAuthentication,
			wantMsg:  []string{"vault bogusvault rejected the identity's token (401"},
		},
		{
			name: "credential that fails",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "failvault")
				return f, f.opts(secrets.WithCredential(staticCred{err: errors.New("device login expired")})), ref(f, "github-token")
			},
			wantKind: secrets.ErrAuthentication,
			wantMsg:  []string{"credential failed to get a token for vault failvault: device login expired"},
		},
		{
			name: "vault that does not exist",
			build: func(t *testing.T) (fixture, []secrets.Option, string) {
				f := newFixture(t, "realvault")
				return f, f.opts(), "keyvault://typovault/github-token"
			},
			wantKind: secrets.ErrNotFound,
			wantMsg:  []string{"resolve keyvault://typovault/github-token: vault typovault does not exist (no such host typovault.vault.azure.net)"},
		},
	}
}

func TestResolveKeyVault(t *testing.T) {
	azuretest.HermeticEnv(t)
	for _, tc := range kvCases() {
		t.Run(tc.name, func(t *testing.T) {
			f, opts, ref := tc.build(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := secrets.NewResolver(opts...).Resolve(ctx, ref)
			if tc.wantKind == 0 {
				if err != nil {
					t.Fatalf("Resolve(%s): %v", ref, err)
				}
				if s.Reveal() != tc.want {
					t.Fatalf("Resolve(%s) = %q, want %q", ref, s.Reveal(), tc.want)
				}
			} else {
				if err == nil {
					t.Fatalf("Resolve(%s) succeeded, want %v", ref, tc.wantKind)
				}
				t.Logf("error: %v", err)
				if !errors.Is(err, tc.wantKind) {
					t.Errorf("error %q is not %v", err, tc.wantKind)
				}
				for _, m := range tc.wantMsg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q\ndoes not say %q", err, m)
					}
				}
				// the reference is named whole: the vault, the secret and the
				// version are what the operator has to check
				parsed, _ := secrets.ParseReference(ref)
				if !strings.Contains(err.Error(), "resolve "+parsed.String()+": ") {
					t.Errorf("error %q does not name %s whole", err, parsed)
				}
				if strings.Contains(err.Error(), "…") {
					t.Errorf("error %q shortens a name", err)
				}
			}
			if tc.verify != nil {
				tc.verify(t, f)
			}
		})
	}
}

func TestResolverReusesClientAndToken(t *testing.T) {
	azuretest.HermeticEnv(t)
	f := newFixture(t, "reusevault")
	r := secrets.NewResolver(f.opts()...)
	for i := range 3 {
		for _, name := range []string{"github-token", "other"} {
			if _, err := r.Resolve(context.Background(), "keyvault://reusevault/"+name); err != nil {
				t.Fatalf("round %d, %s: %v", i, name, err)
			}
		}
	}
	tokens := 0
	for _, rq := range f.id.Requests() {
		if rq.Status == 200 {
			tokens++
		}
	}
	if tokens != 1 {
		t.Errorf("%d tokens issued for 6 resolutions, want 1", tokens)
	}
	if n := len(f.kv.Requests()); n != 7 { // one challenge, six reads
		t.Errorf("vault saw %d requests, want 7", n)
	}
}

func TestResolveKeyVaultCancelled(t *testing.T) {
	azuretest.HermeticEnv(t)
	f := newFixture(t, "slowvault")
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	_, err := secrets.NewResolver(f.opts()...).Resolve(ctx, "keyvault://slowvault/github-token")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}
