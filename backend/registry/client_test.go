package registry

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

func TestScanWithBasicAuth(t *testing.T) {
	const user, pass = "scanner", "s3cret-pass"
	auth := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if r.Method == http.MethodGet && (!ok || u != user || p != pass) {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	pop := population()
	pop.Repositories, pop.TagsPerRepository = 3, 2
	ctx := t.Context()
	reg := registrytest.Serve(t, registrytest.WithHandler(auth))
	seeded, err := registrytest.Seed(ctx, reg.Host(), pop, remote.WithAuth(&authn.Basic{Username: user, Password: pass}))
	if err != nil {
		t.Fatal(err)
	}

	inv, err := newClient(t, reg.Host(), WithAuthenticator(&authn.Basic{Username: user, Password: pass})).Scan(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Errors) != 0 {
		t.Errorf("scan errors: %+v", inv.Errors)
	}
	checkMatchesSeed(t, inv, seeded)

	_, err = newClient(t, reg.Host(), WithAuthenticator(&authn.Basic{Username: user, Password: "wrong-pass"})).Scan(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "registry.auth") {
		t.Errorf("wrong password: err = %v, want a 401 naming registry.auth", err)
	}
	if err != nil && strings.Contains(err.Error(), "wrong-pass") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		host    string
		opts    []Option
		wantErr string
		scheme  string
	}{
		{host: "127.0.0.1:5000", scheme: "http"},
		{host: "127.0.0.2:5000", scheme: "http"},
		{host: "localhost:5000", scheme: "http"},
		{host: "[::1]:5000", scheme: "http"},
		{host: "myregistry.azurecr.io", scheme: "https"},
		{host: "10.1.2.3:5000", opts: []Option{WithInsecure()}, scheme: "http"},
		{host: "", wantErr: "empty host"},
		{host: "http://10.1.2.3:5000", wantErr: "without a scheme"},
		{host: "r.example/path", wantErr: "without a path"},
		{host: "r.example", opts: []Option{WithConcurrency(0)}, wantErr: "not positive"},
		{host: "r.example", opts: []Option{WithPageSize(-1)}, wantErr: "not positive"},
		{host: "r.example", opts: []Option{WithAuthenticator(authn.Anonymous), WithKeychain(authn.DefaultKeychain)}, wantErr: "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			c, err := New(tt.host, tt.opts...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New(%q) err = %v, want %q", tt.host, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.reg.Scheme() != tt.scheme {
				t.Errorf("scheme %q, want %q", c.reg.Scheme(), tt.scheme)
			}
		})
	}
}

// TestPlainHTTPRefusedOffLoopback: go-containerregistry would fall back to
// plain HTTP for a private address by itself; the client must not, unless
// told to. The base transport here reaches no network: it records and
// fails every request.
func TestPlainHTTPRefusedOffLoopback(t *testing.T) {
	for _, insecure := range []bool{false, true} {
		t.Run(fmt.Sprintf("insecure=%v", insecure), func(t *testing.T) {
			ct := &countingTransport{inner: offline{}}
			opts := []Option{WithTransport(ct), WithRetryBackoff(remote.Backoff{Steps: 1})}
			if insecure {
				opts = append(opts, WithInsecure())
			}
			c, err := New("10.255.255.1:5000", opts...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Scan(t.Context(), nil)
			if err == nil {
				t.Fatal("Scan of an unreachable registry succeeded")
			}
			schemes := map[string]int{}
			for _, cl := range ct.snapshot() {
				schemes[cl.scheme]++
			}
			if insecure {
				if schemes["http"] == 0 {
					t.Errorf("insecure: no plain HTTP attempted (%v)", schemes)
				}
				return
			}
			if schemes["http"] != 0 || schemes["https"] == 0 {
				t.Errorf("requests by scheme %v: want HTTPS only", schemes)
			}
			if !strings.Contains(err.Error(), "registry.insecure") {
				t.Errorf("error %q does not say how to allow plain HTTP", err)
			}
		})
	}
}

type offline struct{}

func (offline) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in this test")
}
