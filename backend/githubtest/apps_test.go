package githubtest_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
)

// signJWT makes an App's JSON web token by hand (RS256), independently of
// any JWT library.
func signJWT(t *testing.T, key *rsa.PrivateKey, iss any, iat, exp time.Time) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(map[string]any{"iss": iss, "iat": iat.Unix(), "exp": exp.Unix()})
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

type apiAnswer struct {
	status int
	body   map[string]any
}

// appCall is call with the status and body only; path is below the API root.
func appCall(t *testing.T, s *githubtest.Server, method, path, auth string) apiAnswer {
	t.Helper()
	status, _, body := call(t, s, auth, method, "/"+path, nil)
	return apiAnswer{status, body}
}

var (
	appKeyOnce   *rsa.PrivateKey
	otherKeyOnce *rsa.PrivateKey
)

func appKeys(t *testing.T) (app, other *rsa.PrivateKey) {
	t.Helper()
	if appKeyOnce == nil {
		var err error
		if appKeyOnce, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
		if otherKeyOnce, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
	}
	return appKeyOnce, otherKeyOnce
}

// TestAppInstallationTokens: POST /app/installations/{id}/access_tokens
// checks the App's JSON web token as GitHub does and answers with
// GitHub's messages; the token it issues works like a user token, within
// the installation's repositories and the App's permissions.
func TestAppInstallationTokens(t *testing.T) {
	s := newServer(t)
	key, other := appKeys(t)
	s.AddRepository("org", "deploy", "main", map[string]string{"Chart.yaml": "name: x\n"})
	s.AddRepository("org", "elsewhere", "main", map[string]string{"README.md": "hi\n"})
	if err := s.AddApp(githubtest.App{ID: 4242, PublicKey: &key.PublicKey, Installations: map[int64][]string{77: {"org/deploy"}}}); err != nil {
		t.Fatal(err)
	}
	tokensPath := func(id int) string { return fmt.Sprintf("app/installations/%d/access_tokens", id) }
	now := time.Now()

	for _, tc := range []struct {
		name   string
		auth   string
		inst   int
		status int
		msg    string
	}{
		{"no token", "", 77, 401, "A JSON web token could not be decoded"},
		{"user token", "Bearer " + s.Token(), 77, 401, "A JSON web token could not be decoded"},
		{"another key", "Bearer " + signJWT(t, other, "4242", now.Add(-30*time.Second), now.Add(2*time.Minute)), 77, 401, "A JSON web token could not be decoded"},
		{"unknown app", "Bearer " + signJWT(t, key, "4243", now.Add(-30*time.Second), now.Add(2*time.Minute)), 77, 401, "A JSON web token could not be decoded"},
		{"iss not a number", "Bearer " + signJWT(t, key, "my-app", now.Add(-30*time.Second), now.Add(2*time.Minute)), 77, 401, "'Issuer' claim ('iss') must be an Integer"},
		{"expired", "Bearer " + signJWT(t, key, 4242, now.Add(-11*time.Minute), now.Add(-time.Minute)), 77, 401, "'Expiration time' claim ('exp') must be a numeric value"},
		{"exp too far", "Bearer " + signJWT(t, key, 4242, now.Add(-30*time.Second), now.Add(11*time.Minute)), 77, 401, "'Expiration time' claim ('exp') is too far in the future"},
		{"iat in the future", "Bearer " + signJWT(t, key, 4242, now.Add(5*time.Minute), now.Add(9*time.Minute)), 77, 401, "'Issued at' claim ('iat')"},
		{"unknown installation", "Bearer " + signJWT(t, key, 4242, now.Add(-30*time.Second), now.Add(2*time.Minute)), 78, 404, "Not Found"},
	} {
		a := appCall(t, s, "POST", tokensPath(tc.inst), tc.auth)
		if a.status != tc.status || !strings.Contains(fmt.Sprint(a.body["message"]), tc.msg) || a.body["documentation_url"] == nil {
			t.Errorf("%s: %d %v, want %d %q", tc.name, a.status, a.body, tc.status, tc.msg)
		}
	}
	if n := len(s.InstallationTokens()); n != 0 {
		t.Fatalf("%d tokens issued to refused requests", n)
	}

	// exactly 10 minutes is allowed; iss as a number or a string
	a := appCall(t, s, "POST", tokensPath(77), "Bearer "+signJWT(t, key, 4242, now.Add(-time.Second), now.Add(10*time.Minute-time.Second)))
	if a.status != http.StatusCreated {
		t.Fatalf("valid JWT: %d %v", a.status, a.body)
	}
	tok, _ := a.body["token"].(string)
	exp, err := time.Parse(time.RFC3339, fmt.Sprint(a.body["expires_at"]))
	if !strings.HasPrefix(tok, "ghs_") || len(tok) != 40 || err != nil || exp.Before(now.Add(50*time.Minute)) {
		t.Errorf("token %q expires %v (%v)", tok, a.body["expires_at"], err)
	}
	if p, _ := a.body["permissions"].(map[string]any); p["contents"] != "write" || p["pull_requests"] != "write" || p["metadata"] != "read" {
		t.Errorf("permissions %v", a.body["permissions"])
	}
	if repos, _ := a.body["repositories"].([]any); len(repos) != 1 {
		t.Errorf("repositories %v", a.body["repositories"])
	}

	for _, auth := range []string{"token " + tok, "Bearer " + tok} {
		if a := appCall(t, s, "GET", "repos/org/deploy", auth); a.status != 200 || a.body["full_name"] != "org/deploy" {
			t.Errorf("%s… on its repository: %d %v", auth[:8], a.status, a.body)
		}
	}
	if a := appCall(t, s, "GET", "repos/org/elsewhere", "token "+tok); a.status != 404 {
		t.Errorf("a repository outside the installation: %d %v", a.status, a.body)
	}
	if a := appCall(t, s, "GET", "user", "token "+tok); a.status != 403 || a.body["message"] != "Resource not accessible by integration" {
		t.Errorf("GET /user with an installation token: %d %v", a.status, a.body)
	}
	if a := appCall(t, s, "GET", "repos/org/deploy", "token ghs_"+strings.Repeat("x", 36)); a.status != 401 {
		t.Errorf("a made-up installation token: %d", a.status)
	}
}

// TestAppPermissions: an installation without contents write cannot push.
func TestAppPermissions(t *testing.T) {
	s := newServer(t)
	key, _ := appKeys(t)
	s.AddRepository("org", "deploy", "main", map[string]string{"Chart.yaml": "name: x\n"})
	if err := s.AddApp(githubtest.App{ID: 9, PublicKey: &key.PublicKey, Installations: map[int64][]string{1: {"org/deploy"}},
		Permissions: map[string]string{"contents": "read", "metadata": "read"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a := appCall(t, s, "POST", "app/installations/1/access_tokens", "Bearer "+signJWT(t, key, 9, now, now.Add(time.Minute)))
	tok, _ := a.body["token"].(string)
	c := s.Client(tok)
	if _, _, err := c.Repositories.Get(t.Context(), "org", "deploy"); err != nil {
		t.Fatal(err)
	}
	_, resp, err := c.Git.CreateRef(t.Context(), "org", "deploy", &gh.Reference{Ref: gh.String("refs/heads/x"), Object: &gh.GitObject{SHA: gh.String(strings.Repeat("0", 40))}})
	if err == nil || resp.StatusCode != 403 || !strings.Contains(err.Error(), "Resource not accessible by integration") {
		t.Errorf("a write without contents: write: %v", err)
	}
	// Reading checks and statuses takes checks and statuses read.
	if _, _, err := c.Checks.ListCheckRunsForRef(t.Context(), "org", "deploy", "main", nil); !isMsg(err, 403, "Resource not accessible by integration") {
		t.Errorf("check runs without checks: read: %v", err)
	}
	if _, _, err := c.Repositories.GetCombinedStatus(t.Context(), "org", "deploy", "main", nil); !isMsg(err, 403, "Resource not accessible by integration") {
		t.Errorf("statuses without statuses: read: %v", err)
	}
}
