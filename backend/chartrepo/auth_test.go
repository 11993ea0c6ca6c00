package chartrepo

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

const (
	testPassword = "pw-9f4Kq2-never-shown"
	testToken    = "tok-7Hd21x-never-shown"
)

// authServer serves an index.yaml under every path ending in /index.yaml
// to requests whose Authorization header is want ("" lets everyone in),
// and records the Authorization header of each request by path.
type authServer struct {
	*httptest.Server
	want string
	mu   sync.Mutex
	seen map[string][]string
}

func newAuthServer(t *testing.T, want string, mux func(*http.ServeMux, *authServer)) *authServer {
	t.Helper()
	s := &authServer{want: want, seen: map[string][]string{}}
	m := http.NewServeMux()
	if mux != nil {
		mux(m, s)
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		if !strings.HasSuffix(r.URL.Path, "/index.yaml") {
			http.NotFound(w, r)
			return
		}
		if s.want != "" && r.Header.Get("Authorization") != s.want {
			w.Header().Set("WWW-Authenticate", `Basic realm="charts"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Write([]byte("entries:\n  demo:\n  - version: 1.0.0\n  - version: 1.1.0\n"))
	})
	s.Server = httptest.NewServer(m)
	t.Cleanup(s.Close)
	return s
}

func (s *authServer) record(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[r.URL.Path] = append(s.seen[r.URL.Path], r.Header.Get("Authorization"))
}

func (s *authServer) authorizations(path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen[path]...)
}

func basicHeader(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// TestHTTPCredentials: a repository's basic or bearer credentials go with
// its index fetch, however the dependency spells its URL; refused or
// missing credentials are errors that say so, without the secret.
func TestHTTPCredentials(t *testing.T) {
	basic := basicHeader("bot", testPassword)
	bearer := "Bearer " + testToken
	tests := []struct {
		name      string
		serverSay string // the Authorization header the server wants
		creds     *Credentials
		spell     func(url string) string
		wantErr   []string
	}{
		{name: "basic", serverSay: basic, creds: &Credentials{Name: "private", Username: "bot", Password: secrets.New(testPassword)}},
		{name: "bearer", serverSay: bearer, creds: &Credentials{Name: "private", Token: secrets.New(testToken)}},
		{name: "spelt otherwise", serverSay: basic, creds: &Credentials{Name: "private", Username: "bot", Password: secrets.New(testPassword)},
			spell: func(u string) string { return strings.Replace(u, "http://", "HTTP://", 1) + "/" }},
		{name: "credentials to an open repository", creds: &Credentials{Name: "private", Username: "bot", Password: secrets.New(testPassword)}},
		{name: "wrong password", serverSay: basicHeader("bot", "another"), creds: &Credentials{Name: "private", Username: "bot", Password: secrets.New(testPassword)},
			wantErr: []string{"HTTP 401", "credentials rejected for private http://", "(basic auth from repositories.private)"}},
		{name: "wrong token", serverSay: "Bearer another", creds: &Credentials{Name: "private", Token: secrets.New(testToken)},
			wantErr: []string{"HTTP 401", "credentials rejected for private", "(a bearer token from repositories.private)"}},
		{name: "none given", serverSay: basic,
			wantErr: []string{"HTTP 401", "the repository wants credentials: give username and password (or token) in the configuration's repositories map"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newAuthServer(t, tt.serverSay, nil)
			repo := srv.URL + "/charts"
			var opts []Option
			if tt.creds != nil {
				cr := *tt.creds
				cr.URL = repo
				opts = append(opts, WithCredentials(cr))
			}
			if tt.spell != nil {
				repo = tt.spell(repo)
			}
			dir := t.TempDir()
			c := New(append(opts, WithCacheDir(dir))...)
			vs, err := c.Versions(context.Background(), repo, "demo")
			if len(tt.wantErr) == 0 {
				if err != nil || len(vs) != 2 {
					t.Fatalf("Versions = %v, %v", vs, err)
				}
			} else {
				if err == nil {
					t.Fatal("want an error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if !Unauthorized(err) {
					t.Errorf("Unauthorized(%v) = false", err)
				}
			}
			if err != nil {
				assertErrorNoSecret(t, err)
			}
			assertNoSecretIn(t, dir)
			seen := srv.authorizations("/charts/index.yaml")
			if len(seen) == 0 {
				t.Fatal("the server saw no request")
			}
			wantHeader := ""
			if tt.creds != nil {
				wantHeader = basic
				if !tt.creds.Token.IsZero() {
					wantHeader = bearer
				}
			}
			if seen[0] != wantHeader {
				t.Errorf("the server saw Authorization %q, want %q", seen[0], wantHeader)
			}
		})
	}
}

// TestCredentialsStayWithTheirRepository: another repository on the same
// server gets none of them.
func TestCredentialsStayWithTheirRepository(t *testing.T) {
	srv := newAuthServer(t, "", nil)
	c := New(WithCredentials(Credentials{Name: "a", URL: srv.URL + "/a", Username: "bot", Password: secrets.New(testPassword)}))
	ctx := context.Background()
	for _, repo := range []string{srv.URL + "/a", srv.URL + "/b", srv.URL + "/a/b"} {
		if _, err := c.Versions(ctx, repo, "demo"); err != nil {
			t.Fatal(err)
		}
	}
	for path, want := range map[string]string{"/a/index.yaml": basicHeader("bot", testPassword), "/b/index.yaml": "", "/a/b/index.yaml": ""} {
		if got := srv.authorizations(path); len(got) != 1 || got[0] != want {
			t.Errorf("%s saw Authorization %q, want [%q]", path, got, want)
		}
	}
}

// TestRedirectKeepsCredentialsHome: a repository that redirects its index
// elsewhere (another port of the same host, another host name) sends its
// credentials only to itself. Go's http.Client alone would carry them to
// the other port, which the first case shows.
func TestRedirectKeepsCredentialsHome(t *testing.T) {
	basic := basicHeader("bot", testPassword)
	other := newAuthServer(t, "", nil)
	_, port, _ := strings.Cut(other.Listener.Addr().String(), ":")
	targets := map[string]string{
		"/same-host-other-port/index.yaml": other.URL + "/moved/index.yaml",
		"/other-host/index.yaml":           "http://localhost:" + port + "/moved2/index.yaml",
		"/same-origin/index.yaml":          "/home/index.yaml",
	}
	home := newAuthServer(t, "", func(m *http.ServeMux, s *authServer) {
		for from, to := range targets {
			m.HandleFunc(from, func(w http.ResponseWriter, r *http.Request) {
				s.record(r)
				http.Redirect(w, r, to, http.StatusFound)
			})
		}
	})

	// The premise: Go's client forwards a header it was given to another
	// port of the same host.
	req, _ := http.NewRequest(http.MethodGet, home.URL+"/same-host-other-port/index.yaml", nil)
	req.SetBasicAuth("bot", testPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := other.authorizations("/moved/index.yaml"); len(got) != 1 || got[0] != basic {
		t.Fatalf("premise: Go's client sent %q to the other port; this test assumes it forwards the header", got)
	}

	for from := range targets {
		repo := home.URL + strings.TrimSuffix(from, "/index.yaml")
		c := New(WithCredentials(Credentials{Name: "home", URL: repo, Username: "bot", Password: secrets.New(testPassword)}))
		if _, err := c.Versions(context.Background(), repo, "demo"); err != nil {
			t.Fatalf("%s: %v", from, err)
		}
		if got := home.authorizations(from); len(got) == 0 || got[len(got)-1] != basic {
			t.Errorf("%s: the repository saw %q, want its credentials", from, got)
		}
	}
	if got := other.authorizations("/moved/index.yaml"); len(got) != 2 || got[1] != "" {
		t.Errorf("another port of the same host saw %q after the premise, want no credentials", got)
	}
	if got := other.authorizations("/moved2/index.yaml"); len(got) != 1 || got[0] != "" {
		t.Errorf("another host saw %q, want no credentials", got)
	}
	if got := home.authorizations("/home/index.yaml"); len(got) != 1 || got[0] != basic {
		t.Errorf("a redirect within the repository's origin saw %q, want the credentials", got)
	}
}

// assertErrorNoSecret renders err every way a log might, and each error
// in its chain, looking for a secret.
func assertErrorNoSecret(t *testing.T, err error) {
	t.Helper()
	var walk func(e error)
	walk = func(e error) {
		for _, verb := range []string{"%v", "%+v", "%#v", "%q"} {
			assertNoSecret(t, "error "+verb, fmt.Sprintf(verb, e))
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if inner := u.Unwrap(); inner != nil {
				walk(inner)
			}
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				walk(inner)
			}
		}
	}
	walk(err)
}

func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{testPassword, testToken} {
		if strings.Contains(s, secret) {
			t.Errorf("%s holds a secret: %s", what, s)
		}
	}
}

// assertNoSecretIn checks every file under dir (the index cache).
func assertNoSecretIn(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		assertNoSecret(t, "cache file "+f, string(b))
	}
}
