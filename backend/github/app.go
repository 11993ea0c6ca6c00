package github

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"
)

// ErrAppAuth: GitHub refused to issue the App's installation token.
var ErrAppAuth = errors.New("GitHub App authentication failed")

// App is a GitHub App installation to sign in as.
type App struct {
	ID             int64
	InstallationID int64
	// PrivateKey is the App's private key, PEM-encoded as GitHub gives it
	// (PKCS #1 "RSA PRIVATE KEY", or PKCS #8).
	PrivateKey []byte
}

// appAuth is a Client's GitHub App sign-in.
type appAuth struct {
	id, installation int64
	itr              *ghinstallation.Transport
	apps             *ghinstallation.AppsTransport // signs as the App itself (GET /app)
	seen             *seenTokens
}

// NewApp returns a client for the REST API rooted at apiURL (as for New)
// that signs in as the GitHub App installation app: it signs a JSON web
// token with the App's key, exchanges it for an installation token
// (POST app/installations/{id}/access_tokens under apiURL, so GitHub
// Enterprise works too) and renews that token before it expires
// (github.com/bradleyfalzon/ghinstallation). Neither the key nor a token
// ever appears in an error.
func NewApp(apiURL string, app App, opts ...Option) (*Client, error) {
	if app.ID <= 0 || app.InstallationID <= 0 {
		return nil, fmt.Errorf("%w: github.app_id and github.installation_id must be positive numbers", ErrAppAuth)
	}
	key, err := parseAppKey(app.PrivateKey)
	if err != nil {
		return nil, err
	}
	o := options{pollInterval: 2 * time.Second, forkTimeout: 5 * time.Minute}
	for _, opt := range opts {
		opt(&o)
	}
	hc := o.retrying() // the installation token's requests are retried too
	base := hc.Transport
	seen := &seenTokens{}
	apps := ghinstallation.NewAppsTransportFromPrivateKey(&recordTokens{inner: base, seen: seen}, app.ID, key)
	itr := ghinstallation.NewFromAppsTransport(apps, app.InstallationID)
	hc.Transport = itr
	c, err := newClient(apiURL, gh.NewClient(hc), o)
	if err != nil {
		return nil, err
	}
	itr.BaseURL = strings.TrimSuffix(c.gh.BaseURL.String(), "/")
	c.app = &appAuth{id: app.ID, installation: app.InstallationID, itr: itr, apps: apps, seen: seen}
	return c, nil
}

// parseAppKey reads a PEM RSA private key. Its errors never quote the key.
func parseAppKey(data []byte) (*rsa.PrivateKey, error) {
	const fix = "github.private_key must hold the whole .pem file GitHub gave when a private key was generated in the App's settings (-----BEGIN RSA PRIVATE KEY----- … -----END RSA PRIVATE KEY-----)"
	block, _ := pem.Decode([]byte(strings.TrimSpace(string(data))))
	if block == nil {
		return nil, fmt.Errorf("%w: the private key is not PEM-encoded: %s", ErrAppAuth, fix)
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: the private key (PEM block %q) is not an RSA private key: %s", ErrAppAuth, block.Type, fix)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: the private key is a %T, not RSA: GitHub Apps sign with RSA keys; %s", ErrAppAuth, k, fix)
	}
	return rk, nil
}

// Identity is who a Client acts as.
type Identity struct {
	// Login is the token's user; empty for a GitHub App.
	Login string
	// AppID and InstallationID are set for a GitHub App.
	AppID, InstallationID int64
	// Permissions are the installation token's permissions ("contents":
	// "write", …); nil for a user token.
	Permissions map[string]string
}

// App reports whether the identity is a GitHub App installation.
func (i Identity) App() bool { return i.AppID != 0 }

// Whoami checks the credentials: for a token it reads the token's user
// (GET /user); for a GitHub App it obtains an installation token and
// returns its permissions.
func (c *Client) Whoami(ctx context.Context) (Identity, error) {
	if c.app == nil {
		login, err := c.user(ctx)
		return Identity{Login: login}, c.redact(err)
	}
	id := Identity{AppID: c.app.id, InstallationID: c.app.installation}
	if _, err := c.app.itr.Token(ctx); err != nil {
		return id, c.redact(fail(err, c.gh.BaseURL.Host, fmt.Sprintf("sign in as GitHub App %d (installation %d)", c.app.id, c.app.installation), ""))
	}
	p, err := c.app.itr.Permissions()
	if err != nil {
		return id, err
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return id, err
	}
	if err := json.Unmarshal(raw, &id.Permissions); err != nil {
		return id, err
	}
	return id, nil
}

// Access is what the client may do in a repository.
type Access struct {
	FullName      string
	DefaultBranch string
	// Push: the token may push to the repository (its permissions.push),
	// or the App's installation, which can see the repository, may write
	// its contents and pull requests.
	Push bool
	// Why explains a Push of false.
	Why string
}

// RepoAccess reads a repository (GET /repos/{owner}/{repo}) and says
// whether the client may push to it.
func (c *Client) RepoAccess(ctx context.Context, owner, repo string) (Access, error) {
	r, err := c.repository(ctx, owner, repo)
	if err != nil {
		return Access{}, c.redact(err)
	}
	a := Access{FullName: r.GetFullName(), DefaultBranch: r.GetDefaultBranch()}
	if c.app == nil {
		a.Push = r.GetPermissions()["push"]
		if !a.Push {
			a.Why = "the token's user may read but not push to it (permissions.push is false): " + needs + ", or add the user as a collaborator with write access"
		}
		return a, nil
	}
	id, err := c.Whoami(ctx)
	if err != nil {
		return a, err
	}
	var missing []string
	for _, p := range []string{"contents", "pull_requests"} {
		if id.Permissions[p] != "write" {
			missing = append(missing, fmt.Sprintf("%s: %s (needs write)", p, cmpOr(id.Permissions[p], "none")))
		}
	}
	a.Push = len(missing) == 0
	if !a.Push {
		a.Why = fmt.Sprintf("the App's installation has %s: %s", strings.Join(missing, ", "), appNeeds)
	}
	return a, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// appNeeds names the permissions a GitHub App needs.
const appNeeds = "give the GitHub App the repository permissions Contents: read and write, Pull requests: read and write and Metadata: read, and accept the new permissions on the installation"

// appError explains a failed installation token request.
func appError(e *Error, hte *ghinstallation.HTTPError) {
	e.Kind = ErrAppAuth
	if hte.Response == nil {
		e.advice = fmt.Sprintf("%v: could not ask GitHub for installation %d's token: %v", ErrAppAuth, hte.InstallationID, hte.RootCause)
		return
	}
	e.Status = hte.Response.StatusCode
	msg := http.StatusText(e.Status)
	if hte.Response.Body != nil {
		var body struct {
			Message string `json:"message"`
		}
		raw, _ := io.ReadAll(io.LimitReader(hte.Response.Body, 64<<10))
		_ = hte.Response.Body.Close()
		if json.Unmarshal(raw, &body) == nil && body.Message != "" {
			msg = strings.Join(strings.Fields(body.Message), " ")
		}
	}
	switch e.Status {
	case http.StatusUnauthorized:
		e.advice = fmt.Sprintf("%v: GitHub refused the App's signed request for an installation token (401: %s): github.private_key is not a current private key of the App github.app_id names, or github.app_id is not that App's ID; "+
			"in the App's settings (Settings → Developer settings → GitHub Apps → the App) check the App ID, generate a private key and store the whole .pem where github.private_key points; also check this machine's clock", ErrAppAuth, msg)
	case http.StatusNotFound:
		e.advice = fmt.Sprintf("%v: installation %d of the App was not found (404: %s): check github.installation_id (the number at the end of the installation's settings URL, …/settings/installations/ID) and that the App is still installed", ErrAppAuth, hte.InstallationID, msg)
	case http.StatusForbidden:
		e.advice = fmt.Sprintf("%v: GitHub refused installation %d a token (403: %s): the installation may be suspended; check it in the organization's settings (GitHub Apps)", ErrAppAuth, hte.InstallationID, msg)
	default:
		e.advice = fmt.Sprintf("%v: GitHub answered %d (%s) to the installation token request for installation %d", ErrAppAuth, e.Status, msg, hte.InstallationID)
	}
}

// explainApp rewords the advice of an error about a call made with an
// installation token, which names github.token and a token's permissions.
func (a *appAuth) explain(err error) error {
	var e *Error
	if a == nil || !errors.As(err, &e) {
		return err
	}
	switch e.Kind {
	case ErrBadToken:
		e.advice = fmt.Sprintf("GitHub rejected the installation token of GitHub App %d (401): check github.app_id, github.installation_id and github.private_key", a.id)
	case ErrNotVisible:
		e.advice = fmt.Sprintf("repository %s not found or GitHub App %d's installation %d cannot see it: add the repository to the installation (…/settings/installations/%d → Repository access)", e.Repo, a.id, a.installation, a.installation)
	case ErrForbidden:
		e.advice = strings.Replace(e.advice, needs, appNeeds, 1)
	}
	return err
}

// seenTokens remembers the credentials sent, to keep them out of errors.
type seenTokens struct {
	mu     sync.Mutex
	tokens []string
}

func (s *seenTokens) add(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if t == tok {
			return
		}
	}
	s.tokens = append(s.tokens, tok)
	if len(s.tokens) > 16 {
		s.tokens = s.tokens[1:]
	}
}

func (s *seenTokens) scrub(text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		text = strings.ReplaceAll(text, t, "[REDACTED]")
	}
	return text
}

// recordTokens sits under the installation transport and notes each
// credential (App JSON web token, installation token) it sends.
type recordTokens struct {
	inner http.RoundTripper
	seen  *seenTokens
}

func (t *recordTokens) RoundTrip(req *http.Request) (*http.Response, error) {
	a := req.Header.Get("Authorization")
	if _, tok, ok := strings.Cut(a, " "); ok && len(tok) >= 8 {
		t.seen.add(tok)
	}
	return t.inner.RoundTrip(req)
}
