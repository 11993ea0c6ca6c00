package chartrepo

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

// startRegistry runs the embedded distribution registry, closed with t.
func startRegistry(t *testing.T, opts ...registrytest.Option) *registrytest.Registry {
	t.Helper()
	reg, err := registrytest.Start(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

// requireAuth lets in requests whose Authorization header is one of
// accept, and challenges the rest for basic auth, as a registry with
// htpasswd does.
func requireAuth(accept ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !slices.Contains(accept, r.Header.Get("Authorization")) {
				w.Header().Set("WWW-Authenticate", `Basic realm="registry"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// pushChart publishes chart versions under host/helm/<chart>.
func pushChart(t *testing.T, host, chart string, versions []string, opts ...remote.Option) {
	t.Helper()
	repo, err := name.NewRepository(host+"/helm/"+chart, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range versions {
		cfg, _ := json.Marshal(map[string]any{"apiVersion": "v2", "name": chart, "version": v, "home": "https://example.org/" + chart})
		pushArtifact(t, repo, v, HelmConfigMediaType, cfg, nil, opts...)
	}
}

// keychainFunc is a keychain from a function.
type keychainFunc func(authn.Resource) (authn.Authenticator, error)

func (f keychainFunc) Resolve(r authn.Resource) (authn.Authenticator, error) { return f(r) }

// TestOCICredentials: an OCI repository behind basic auth (the embedded
// registry) is listed and described with its entry's credentials or the
// keychain's, and refuses otherwise with an error that says which.
func TestOCICredentials(t *testing.T) {
	basic := basicHeader("bot", testPassword)
	bearer := "Bearer " + testToken
	reg := startRegistry(t, registrytest.WithHandler(requireAuth(basic, bearer)))
	pushChart(t, reg.Host(), "traefik", []string{"41.0.0", "42.0.0"}, remote.WithAuth(&authn.Basic{Username: "bot", Password: testPassword}))
	repo := "oci://" + reg.Host() + "/helm"

	keychainFor := func(host string, a authn.Authenticator) authn.Keychain {
		return keychainFunc(func(r authn.Resource) (authn.Authenticator, error) {
			if r.RegistryStr() == host {
				return a, nil
			}
			return authn.Anonymous, nil
		})
	}
	tests := []struct {
		name    string
		opts    []Option
		wantErr []string
	}{
		{name: "basic", opts: []Option{WithCredentials(Credentials{Name: "charts", URL: repo + "/", Username: "bot", Password: secrets.New(testPassword)})}},
		{name: "bearer", opts: []Option{WithCredentials(Credentials{Name: "charts", URL: repo, Token: secrets.New(testToken)})}},
		{name: "keychain", opts: []Option{WithKeychain(keychainFor(reg.Host(), &authn.Basic{Username: "bot", Password: testPassword}))}},
		{name: "credentials before the keychain", opts: []Option{
			WithCredentials(Credentials{Name: "charts", URL: repo, Username: "bot", Password: secrets.New(testPassword)}),
			WithKeychain(keychainFor(reg.Host(), &authn.Basic{Username: "bot", Password: "stale"}))}},
		{name: "wrong password", opts: []Option{WithCredentials(Credentials{Name: "charts", URL: repo, Username: "bot", Password: secrets.New("stale-" + testPassword[:3])})},
			wantErr: []string{"401", "credentials rejected for charts oci://" + reg.Host() + "/helm (basic auth from repositories.charts)"}},
		{name: "wrong token", opts: []Option{WithCredentials(Credentials{Name: "charts", URL: repo, Token: secrets.New(testToken + "-old")})},
			wantErr: []string{"401", "credentials rejected for charts oci://" + reg.Host() + "/helm (a bearer token from repositories.charts)"}},
		{name: "no login", opts: []Option{WithKeychain(keychainFor("elsewhere.example.org", &authn.Basic{Username: "bot", Password: testPassword}))},
			wantErr: []string{"401", "the registry wants credentials: log in with docker login"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.opts...)
			ctx := context.Background()
			vs, err := c.Versions(ctx, repo, "traefik")
			probe, perr := c.Probe(ctx, repo)
			if len(tt.wantErr) > 0 {
				for _, e := range []error{err, perr} {
					if e == nil {
						t.Fatalf("want errors, got Versions %v and Probe %q", vs, probe)
					}
					for _, w := range tt.wantErr {
						if !strings.Contains(e.Error(), w) {
							t.Errorf("error %q lacks %q", e, w)
						}
					}
					if !Unauthorized(e) {
						t.Errorf("Unauthorized(%v) = false", e)
					}
					assertErrorNoSecret(t, e)
				}
				return
			}
			if err != nil || len(vs) != 2 {
				t.Fatalf("Versions = %v, %v", vs, err)
			}
			d, err := c.Describe(ctx, repo, "traefik", "42.0.0")
			if err != nil || d.Home != "https://example.org/traefik" {
				t.Errorf("Describe = %+v, %v", d, err)
			}
			if perr != nil || !strings.HasPrefix(probe, "answers with") {
				t.Errorf("Probe = %q, %v", probe, perr)
			}
		})
	}
}

// TestOCIACRManagedIdentity: a chart repository in ACR (the stand-in, in
// front of the embedded registry) is read with the registry side's
// managed-identity login: the Entra token exchanged for an ACR refresh
// token, then access tokens; an identity without pull rights is refused.
func TestOCIACRManagedIdentity(t *testing.T) {
	azuretest.HermeticEnv(t)
	reg := startRegistry(t)
	pushChart(t, reg.Host(), "binderhub", []string{"1.0.0", "1.1.0", "1.2.0-0.dev.git.3.habc"})
	id, err := azuretest.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { id.Close() })
	acr, err := acrtest.New(t.Context(), reg, acrtest.WithIdentity(id))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acr.Close() })
	keychain, err := registry.ACRKeychain(id.DirectCredential(), func(host string) bool { return host == acr.Host() })
	if err != nil {
		t.Fatal(err)
	}
	repo := "oci://" + acr.Host() + "/helm"
	ctx := context.Background()

	// Anonymous: ACR wants a token.
	if _, err := New().Versions(ctx, repo, "binderhub"); err == nil || !Unauthorized(err) {
		t.Fatalf("anonymous: %v, want a 401", err)
	}

	c := New(WithKeychain(authn.NewMultiKeychain(keychainFunc(func(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }), keychain)))
	vs, err := c.Versions(ctx, repo, "binderhub")
	if err != nil || len(vs) != 3 {
		t.Fatalf("Versions = %v, %v", vs, err)
	}
	if d, err := c.Describe(ctx, repo, "binderhub", "1.1.0"); err != nil || d.Home != "https://example.org/binderhub" {
		t.Errorf("Describe = %+v, %v", d, err)
	}
	probe, err := c.Probe(ctx, repo)
	if err != nil || !strings.Contains(probe, "the Azure identity") {
		t.Errorf("Probe = %q, %v", probe, err)
	}
	exchanges := 0
	for _, r := range acr.Requests() {
		if strings.HasPrefix(r.Path, "/oauth2/exchange") {
			exchanges++
		}
	}
	if exchanges != 1 {
		t.Errorf("%d token exchanges, want one (the refresh token is kept)", exchanges)
	}

	acr.Permit(id.SystemAssignedClientID(), "metadata_read")
	denied := New(WithKeychain(keychain))
	_, err = denied.Versions(ctx, repo, "binderhub")
	if err == nil || !Unauthorized(err) {
		t.Fatalf("without pull rights: %v, want a 401", err)
	}
	for _, tok := range append(acr.IssuedTokens(), id.IssuedTokens()...) {
		if strings.Contains(err.Error(), tok) {
			t.Errorf("the error shows a token: %v", err)
		}
	}
}
