package chartrepo

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

// Credentials log in to one chart repository: HTTP basic (Username and
// Password) or a bearer Token. They go with every lookup whose repository
// is URL (compared as config.RepositoryKey does), and only to URL's scheme,
// host and port.
type Credentials struct {
	// Name is the repository's name in the configuration (repositories.NAME),
	// for messages.
	Name     string
	URL      string
	Username string
	Password secrets.Secret
	Token    secrets.Secret
}

// label names the repository in messages: "NAME URL", or the URL.
func (cr *Credentials) label() string {
	if cr.Name == "" {
		return redactRaw(cr.URL)
	}
	return cr.Name + " " + redactRaw(cr.URL)
}

// method is how the credentials log in: "basic auth" or "a bearer token".
func (cr *Credentials) method() string {
	if !cr.Token.IsZero() {
		return "a bearer token"
	}
	return "basic auth"
}

// WithCredentials gives chart repositories their credentials, one entry
// per repository URL.
func WithCredentials(creds ...Credentials) Option {
	return func(c *Client) {
		for _, cr := range creds {
			c.creds[config.RepositoryKey(cr.URL)] = &cr
		}
	}
}

// WithKeychain is what an OCI repository without credentials of its own
// logs in with: authn.DefaultKeychain (the docker configuration and its
// credential helpers) in a run, with an ACR keychain after it. Without it
// such a repository is read anonymously. Give no authenticator or keychain
// through WithRemoteOptions beside it.
func WithKeychain(k authn.Keychain) Option {
	return func(c *Client) { c.keychain = k }
}

// credentials are the credentials of repository, or nil.
func (c *Client) credentials(repository string) *Credentials {
	return c.creds[config.RepositoryKey(repository)]
}

// ociAuth is the login option of an OCI repository: its credentials, else
// the keychain, else none (anonymous, or what WithRemoteOptions gave).
func (c *Client) ociAuth(repository string) []remote.Option {
	if cr := c.credentials(repository); cr != nil {
		return []remote.Option{remote.WithAuth(cr.authenticator())}
	}
	if c.keychain != nil {
		return []remote.Option{remote.WithAuthFromKeychain(c.keychain)}
	}
	return nil
}

// authenticator logs in to an OCI registry as docker login does: basic
// credentials at the registry's token service (or as basic auth where the
// registry asks for it), a token as the registry token.
func (cr *Credentials) authenticator() authn.Authenticator {
	if !cr.Token.IsZero() {
		return &authn.Bearer{Token: cr.Token.Reveal()}
	}
	return &authn.Basic{Username: cr.Username, Password: cr.Password.Reveal()}
}

// httpClientFor is the client that fetches repository's index: the
// client's own, or one whose transport adds the repository's credentials.
func (c *Client) httpClientFor(repository string) *http.Client {
	cr := c.credentials(repository)
	if cr == nil {
		return c.httpClient
	}
	hc := *c.httpClient
	hc.Transport = &authTransport{base: c.httpClient.Transport, creds: cr, origin: origin(cr.URL)}
	return &hc
}

// authTransport adds a repository's credentials to each request to the
// repository's own scheme, host and port, redirects included, and to no
// other. The header is never set on the request the http.Client is
// given: the client copies an Authorization header it was given to a
// redirect's target when that is the same host on another port, or a
// subdomain, and over a downgrade from https to http.
type authTransport struct {
	base   http.RoundTripper
	creds  *Credentials
	origin string
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" || origin(req.URL.String()) != t.origin {
		return t.base.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	if !t.creds.Token.IsZero() {
		r.Header.Set("Authorization", "Bearer "+t.creds.Token.Reveal())
	} else {
		r.SetBasicAuth(t.creds.Username, t.creds.Password.Reveal())
	}
	return t.base.RoundTrip(r)
}

// origin is a URL's scheme, host and port, normalised.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "" // matches no request
	}
	return config.RepositoryKey(u.Scheme + "://" + u.Host)
}

// StatusError is an HTTP chart repository's answer other than 200.
type StatusError struct {
	Code   int
	Status string
}

func (e *StatusError) Error() string { return "HTTP " + e.Status }

// Unauthorized reports whether err is a chart repository's or an OCI
// registry's 401 or 403: credentials missing or refused.
func Unauthorized(err error) bool { return deniedStatus(err) != 0 }

// deniedStatus is err's 401 or 403, else 0.
func deniedStatus(err error) (code int) {
	var se *StatusError
	var te *transport.Error
	switch {
	case errors.As(err, &se):
		code = se.Code
	case errors.As(err, &te):
		code = te.StatusCode
	}
	if code == http.StatusUnauthorized || code == http.StatusForbidden {
		return code
	}
	return 0
}

// authHint says what a 401 or 403 means for repository: its credentials
// were refused, or it wants some.
func (c *Client) authHint(repository string, err error) string {
	code := deniedStatus(err)
	if code == 0 {
		return ""
	}
	status := ""
	var te *transport.Error
	if errors.As(err, &te) && !strings.Contains(err.Error(), strconv.Itoa(code)) { // it may show only the registry's codes
		status = fmt.Sprintf(" HTTP %d:", code)
	}
	if cr := c.credentials(repository); cr != nil {
		from := ""
		if cr.Name != "" {
			from = " from repositories." + cr.Name
		}
		return fmt.Sprintf(";%s credentials rejected for %s (%s%s)", status, cr.label(), cr.method(), from)
	}
	if strings.HasPrefix(strings.ToLower(repository), "oci://") {
		return ";" + status + " the registry wants credentials: log in with docker login, or give username and password (or token) in the configuration's repositories map"
	}
	return ";" + status + " the repository wants credentials: give username and password (or token) in the configuration's repositories map"
}
