package githubtest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"math/big"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// App is a GitHub App registered with the stand-in.
type App struct {
	// ID is the App ID, the JSON web token's "iss".
	ID int64
	// Slug names the App; its commits and pull requests are by "<slug>[bot]".
	// Default "helmupgradebot-app".
	Slug string
	// PublicKey verifies the App's JSON web tokens (RS256).
	PublicKey *rsa.PublicKey
	// Installations maps each installation ID to the repositories
	// ("owner/name") it may see.
	Installations map[int64][]string
	// Permissions are the installation tokens' permissions; default
	// DefaultAppPermissions.
	Permissions map[string]string
}

// DefaultAppPermissions are what a registered App's installation tokens
// carry unless App.Permissions says otherwise: what helmupgradebot needs.
var DefaultAppPermissions = map[string]string{"contents": "write", "pull_requests": "write", "metadata": "read",
	"checks": "read", "statuses": "read", "issues": "write"}

// installation is one installation of a registered App.
type installation struct {
	id    int64
	app   *App
	repos map[string]bool // key(owner, name)
}

// bot is the login of the App's bot user.
func (in *installation) bot() string { return in.app.Slug + "[bot]" }

// installationToken is an issued installation access token.
type installationToken struct {
	inst    *installation
	expires time.Time
}

// AddApp registers a GitHub App: POST /app/installations/{id}/access_tokens
// then issues tokens for its installations to requests signed with the
// App's key, and the API accepts those tokens, limited to the
// installation's repositories and the App's permissions.
func (s *Server) AddApp(app App) error {
	if app.ID <= 0 || app.PublicKey == nil {
		return errors.New("githubtest: an App needs a positive ID and a public key")
	}
	if app.Slug == "" {
		app.Slug = "helmupgradebot-app"
	}
	if app.Permissions == nil {
		app.Permissions = maps.Clone(DefaultAppPermissions)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.installations == nil {
		s.installations = map[int64]*installation{}
		s.instTokens = map[string]*installationToken{}
	}
	for id, repos := range app.Installations {
		in := &installation{id: id, app: &app, repos: map[string]bool{}}
		for _, r := range repos {
			owner, name, _ := strings.Cut(r, "/")
			in.repos[key(owner, name)] = true
		}
		s.installations[id] = in
	}
	return nil
}

// InstallationTokens returns the installation tokens issued so far (tests
// look for them in output that must not show them).
func (s *Server) InstallationTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slicesOfKeys(s.instTokens)
}

func slicesOfKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

var accessTokensPath = regexp.MustCompile(`^/app/installations/([0-9]+)/access_tokens$`)

const appDocs = docsRoot + "/apps/apps#create-an-installation-access-token-for-an-app"

// serveAccessToken answers POST /app/installations/{id}/access_tokens as
// GitHub documents it: the request must carry a JSON web token signed
// (RS256) with the key of the App named by its "iss", issued no later than
// a minute from now and expiring in the future, at most 10 minutes after
// it was issued. Then, for an installation of that App, 201 with a token
// good for an hour.
func (s *Server) serveAccessToken(w http.ResponseWriter, r *http.Request, id int64) {
	jwt, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded", appDocs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	app, msg := s.verifyAppJWT(strings.TrimSpace(jwt), time.Now())
	if app == nil {
		writeError(w, http.StatusUnauthorized, msg, appDocs)
		return
	}
	in, ok := s.installations[id]
	if !ok || in.app.ID != app.ID {
		writeError(w, http.StatusNotFound, "Not Found", appDocs)
		return
	}
	tok := "ghs_" + randomAlnum(36)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	s.instTokens[tok] = &installationToken{inst: in, expires: exp}
	var repos []any
	for _, r := range s.repos {
		if in.repos[key(r.owner, r.name)] {
			repos = append(repos, s.repoJSON(r))
		}
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"token":                tok,
		"expires_at":           exp.Format(time.RFC3339),
		"permissions":          in.app.Permissions,
		"repository_selection": "selected",
		"repositories":         repos,
	})
}

// verifyAppJWT checks an App's JSON web token and returns its App, or
// GitHub's message for why not. s.mu must be held.
func (s *Server) verifyAppJWT(tok string, now time.Time) (*App, string) {
	const undecodable = "A JSON web token could not be decoded"
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, undecodable
	}
	var header struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss json.RawMessage `json:"iss"`
		Iat json.Number     `json:"iat"`
		Exp json.Number     `json:"exp"`
	}
	if !decodeSegment(parts[0], &header) || !decodeSegment(parts[1], &claims) || header.Alg != "RS256" {
		return nil, undecodable
	}
	iss := strings.Trim(string(claims.Iss), `"`)
	appID, err := strconv.ParseInt(iss, 10, 64)
	if err != nil {
		return nil, "'Issuer' claim ('iss') must be an Integer"
	}
	var app *App
	for _, in := range s.installations {
		if in.app.ID == appID {
			app = in.app
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if app == nil || err != nil {
		return nil, undecodable
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(app.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return nil, undecodable
	}
	iat, err1 := claims.Iat.Int64()
	exp, err2 := claims.Exp.Int64()
	switch {
	case err1 != nil || iat > now.Add(time.Minute).Unix():
		return nil, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	case err2 != nil || exp <= now.Unix():
		return nil, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	case exp-iat > 600:
		return nil, "'Expiration time' claim ('exp') is too far in the future"
	}
	return app, ""
}

func decodeSegment(seg string, v any) bool {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return false
	}
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	return d.Decode(v) == nil
}

func randomAlnum(n int) string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(letters))))
		if err != nil {
			panic(err)
		}
		b[i] = letters[k.Int64()]
	}
	return string(b)
}

type principalKey struct{}

// installationOf returns the installation whose token authorized req; nil
// for the user token.
func installationOf(req *http.Request) *installation {
	in, _ := req.Context().Value(principalKey{}).(*installation)
	return in
}

func withInstallation(req *http.Request, in *installation) *http.Request {
	if in == nil {
		return req
	}
	return req.WithContext(context.WithValue(req.Context(), principalKey{}, in))
}

// installationFor returns the installation of an unexpired installation
// token. s.mu must be held.
func (s *Server) installationFor(tok string) *installation {
	it, ok := s.instTokens[tok]
	if !ok || !time.Now().Before(it.expires) {
		return nil
	}
	return it.inst
}

// integrationRefuses answers for an installation token that may not see
// r (404) or may not write what req writes (403), as GitHub does; it
// reports whether it answered.
func integrationRefuses(w http.ResponseWriter, req *http.Request, r *repository, write bool) bool {
	in := installationOf(req)
	if in == nil {
		return false
	}
	if !in.repos[key(r.owner, r.name)] {
		writeError(w, http.StatusNotFound, "Not Found", docsRoot+"/repos/repos#get-a-repository")
		return true
	}
	if !write {
		return false
	}
	perm := "contents"
	switch p := req.URL.Path; {
	case strings.Contains(p, "/pulls") || strings.Contains(p, "/issues/") && strings.HasSuffix(p, "/labels"):
		perm = "pull_requests" // labels on a pull request
	case strings.Contains(p, "/issues"):
		perm = "issues"
	}
	if in.app.Permissions[perm] != "write" {
		writeError(w, http.StatusForbidden, "Resource not accessible by integration", docsRoot)
		return true
	}
	return false
}

// actor is the login a request acts as: the token's user or the App's bot.
func (s *Server) actor(req *http.Request) string {
	if in := installationOf(req); in != nil {
		return in.bot()
	}
	return s.login
}
