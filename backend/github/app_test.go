package github_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
)

func appKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func TestNewAppKeys(t *testing.T) {
	k, _ := appKey(t)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := github.NewApp("", github.App{ID: 1, InstallationID: 2, PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})}); err != nil {
		t.Errorf("a PKCS #8 key: %v", err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	for _, tc := range []struct {
		name string
		app  github.App
		want string
	}{
		{"no id", github.App{InstallationID: 2, PrivateKey: []byte("x")}, "github.app_id"},
		{"not PEM", github.App{ID: 1, InstallationID: 2, PrivateKey: []byte("hunter2-secret")}, "not PEM-encoded"},
		{"garbage in PEM", github.App{ID: 1, InstallationID: 2, PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("hunter2-secret")})}, "not an RSA private key"},
		{"an EC key", github.App{ID: 1, InstallationID: 2, PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})}, "not RSA"},
	} {
		_, err := github.NewApp("", tc.app)
		if err == nil || !errors.Is(err, github.ErrAppAuth) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestAppAccess: Whoami and RepoAccess for an App's installation, and for
// a token's user; an App's errors never show the key or a token.
func TestAppAccess(t *testing.T) {
	ctx := context.Background()
	key, pemText := appKey(t)
	s := githubtest.NewServer()
	defer s.Close()
	s.AddRepository("org", "deploy", "main", map[string]string{"Chart.yaml": chart})
	s.AddRepository("org", "other", "main", map[string]string{"Chart.yaml": chart})
	if err := s.AddApp(githubtest.App{ID: 11, PublicKey: &key.PublicKey, Installations: map[int64][]string{
		21: {"org/deploy"}, 22: {"org/deploy"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddApp(githubtest.App{ID: 12, PublicKey: &key.PublicKey, Installations: map[int64][]string{23: {"org/deploy"}},
		Permissions: map[string]string{"contents": "read", "metadata": "read"}}); err != nil {
		t.Fatal(err)
	}
	c, err := github.NewApp(s.URL(), github.App{ID: 11, InstallationID: 21, PrivateKey: pemText})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Whoami(ctx)
	if err != nil || !id.App() || id.Permissions["contents"] != "write" || id.Login != "" {
		t.Fatalf("whoami: %+v %v", id, err)
	}
	a, err := c.RepoAccess(ctx, "org", "deploy")
	if err != nil || !a.Push || a.DefaultBranch != "main" {
		t.Errorf("access to an installed repository: %+v %v", a, err)
	}
	var texts []string
	_, err = c.RepoAccess(ctx, "org", "other")
	if !errors.Is(err, github.ErrNotVisible) || !strings.Contains(err.Error(), "installation 21") || !strings.Contains(err.Error(), "Repository access") {
		t.Errorf("a repository outside the installation: %v", err)
	}
	texts = append(texts, fmt.Sprintf("%v %+v %#v", err, err, err))

	ro, err := github.NewApp(s.URL(), github.App{ID: 12, InstallationID: 23, PrivateKey: pemText})
	if err != nil {
		t.Fatal(err)
	}
	a, err = ro.RepoAccess(ctx, "org", "deploy")
	if err != nil || a.Push || !strings.Contains(a.Why, "contents: read (needs write)") || !strings.Contains(a.Why, "Pull requests: read and write") {
		t.Errorf("access of an App without write: %+v %v", a, err)
	}

	// An installation of another App, then a rejected key.
	for _, app := range []github.App{{ID: 12, InstallationID: 21, PrivateKey: pemText}, {ID: 11, InstallationID: 21}} {
		if app.PrivateKey == nil {
			_, app.PrivateKey = appKey(t)
		}
		bad, err := github.NewApp(s.URL(), app)
		if err != nil {
			t.Fatal(err)
		}
		_, err = bad.Whoami(ctx)
		if !errors.Is(err, github.ErrAppAuth) || !strings.Contains(err.Error(), "GitHub App authentication failed") {
			t.Errorf("app %d installation %d: %v", app.ID, app.InstallationID, err)
		}
		texts = append(texts, fmt.Sprintf("%v %+v %#v", err, err, err))
		_, _, err = bad.GetFile(ctx, "org", "deploy", "Chart.yaml", "")
		texts = append(texts, fmt.Sprintf("%v %+v %#v", err, err, err))
	}
	for _, text := range texts {
		for _, tok := range s.InstallationTokens() {
			if strings.Contains(text, tok) {
				t.Errorf("an installation token in %q", text)
			}
		}
		if strings.Contains(text, "eyJ") || strings.Contains(text, string(pemText[40:80])) {
			t.Errorf("a JSON web token or the key in %q", text)
		}
	}

	// A token's user: push is the repository's permissions.push.
	u, err := github.New(s.URL(), s.Token())
	if err != nil {
		t.Fatal(err)
	}
	if id, err := u.Whoami(ctx); err != nil || id.Login != githubtest.DefaultUser || id.App() {
		t.Errorf("whoami with a token: %+v %v", id, err)
	}
	if err := s.ReadOnly("org", "other"); err != nil {
		t.Fatal(err)
	}
	if a, err := u.RepoAccess(ctx, "org", "other"); err != nil || a.Push || !strings.Contains(a.Why, "permissions.push") {
		t.Errorf("read-only repository: %+v %v", a, err)
	}
	if a, err := u.RepoAccess(ctx, "org", "deploy"); err != nil || !a.Push {
		t.Errorf("writable repository: %+v %v", a, err)
	}
}
