package azuretest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// IMDSHost is the link-local address of the Azure Instance Metadata Service.
// The transport returned by [Identity.Transport] routes it to the stand-in.
const IMDSHost = "169.254.169.254"

// IMDSTokenPath is the managed-identity token path of IMDS.
const IMDSTokenPath = "/metadata/identity/oauth2/token"

// DefaultTokenLifetime is the lifetime of tokens an Identity issues unless
// [WithTokenLifetime] says otherwise. It is deliberately shorter than the
// five-minute window in which MSAL (used by azidentity) refuses to serve a
// token from its process-wide managed-identity cache: a token issued by one
// stand-in is then never handed to a credential talking to another one, so
// several stand-ins can live in one test binary. Real IMDS tokens last
// about 24 hours.
const DefaultTokenLifetime = 4 * time.Minute

// Identity stands in for the managed-identity endpoint of the Azure Instance
// Metadata Service (IMDS) of one virtual machine, and for the Microsoft Entra
// tenant that signs its tokens.
//
// It serves GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R
// [&client_id=C] over plain HTTP on 127.0.0.1, requires the "Metadata: true"
// header, and answers like IMDS: 200 with access_token, client_id,
// expires_in, expires_on, not_before, resource and token_type (numbers as
// strings); 400 {"error":"invalid_request","error_description":"Identity not
// found"} for an identity the machine does not have.
//
// The azidentity ManagedIdentityCredential always sends its requests to
// http://169.254.169.254; [Identity.Transport] returns an HTTP client that
// routes that address (and every vault attached with [WithIdentity]) to the
// loopback stand-ins and refuses any other non-loopback host, so the real
// credential code runs unmodified without process-wide environment
// variables.
//
// The same server also stands in for the managed-identity endpoint of Azure
// App Service ([Identity.AppServiceEndpoint]), which azidentity uses instead
// of IMDS when IDENTITY_ENDPOINT and IDENTITY_HEADER are set. Both endpoints
// issue tokens for the same identities, and [Identity.Verify] accepts both.
// That endpoint is reachable without [Identity.Transport], so a subprocess
// (the bot's binary under test) can use the real credential through the
// environment alone.
type Identity struct {
	ca     *authority
	srv    *loopbackServer
	client *http.Client
	tenant string
	// appHeader is the secret the App Service endpoint requires in
	// X-IDENTITY-HEADER (App Service hands it to the app as IDENTITY_HEADER).
	appHeader string

	mu       sync.Mutex
	system   string          // client ID of the system-assigned identity; "" when none
	users    map[string]bool // user-assigned client IDs, lower case
	lifetime time.Duration
	tokens   map[string]TokenInfo
	routes   map[string]string // host (lower case, no port) -> loopback address
	requests []Request
	refused  []string
}

// TokenInfo describes an access token an Identity issued.
type TokenInfo struct {
	ClientID  string // identity the token was issued to
	Resource  string // audience, e.g. "https://vault.azure.net"
	TenantID  string
	ExpiresOn time.Time
}

// IdentityOption configures NewIdentity.
type IdentityOption func(*identityConfig)

type identityConfig struct {
	tenant   string
	system   string
	noSystem bool
	users    []string
	lifetime time.Duration
}

// WithTenantID sets the tenant that issues the identity's tokens (default: a random GUID).
func WithTenantID(tenant string) IdentityOption {
	return func(c *identityConfig) { c.tenant = tenant }
}

// WithSystemAssigned sets the client ID of the machine's system-assigned
// identity (default: a random GUID).
func WithSystemAssigned(clientID string) IdentityOption {
	return func(c *identityConfig) { c.system, c.noSystem = clientID, false }
}

// WithoutSystemAssigned models a machine with no system-assigned identity.
func WithoutSystemAssigned() IdentityOption {
	return func(c *identityConfig) { c.system, c.noSystem = "", true }
}

// WithUserAssigned assigns user-assigned identities (by client ID) to the machine.
func WithUserAssigned(clientIDs ...string) IdentityOption {
	return func(c *identityConfig) { c.users = append(c.users, clientIDs...) }
}

// WithTokenLifetime sets the lifetime of issued tokens (see [DefaultTokenLifetime]).
func WithTokenLifetime(d time.Duration) IdentityOption {
	return func(c *identityConfig) { c.lifetime = d }
}

// NewIdentity starts an IMDS stand-in on 127.0.0.1. Close it when done.
func NewIdentity(opts ...IdentityOption) (*Identity, error) {
	cfg := identityConfig{lifetime: DefaultTokenLifetime}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.tenant == "" {
		cfg.tenant = NewGUID()
	}
	if cfg.system == "" && !cfg.noSystem {
		cfg.system = NewGUID()
	}
	if cfg.lifetime <= 0 {
		return nil, fmt.Errorf("azuretest: token lifetime must be positive, got %v", cfg.lifetime)
	}
	ca, err := newAuthority()
	if err != nil {
		return nil, fmt.Errorf("azuretest: %w", err)
	}
	id := &Identity{
		ca:        ca,
		tenant:    cfg.tenant,
		appHeader: randomToken(),
		system:    cfg.system,
		users:     map[string]bool{},
		lifetime:  cfg.lifetime,
		tokens:    map[string]TokenInfo{},
		routes:    map[string]string{},
	}
	for _, u := range cfg.users {
		id.users[strings.ToLower(u)] = true
	}
	id.srv, err = startServer(http.HandlerFunc(id.serveIMDS), nil)
	if err != nil {
		return nil, fmt.Errorf("azuretest: start identity endpoint: %w", err)
	}
	id.client = &http.Client{Transport: &http.Transport{
		Proxy:               nil, // never send stand-in traffic through a proxy from the environment
		DialContext:         id.dial,
		TLSClientConfig:     &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}}
	return id, nil
}

// URL is the stand-in's own address, e.g. "http://127.0.0.1:41234".
func (id *Identity) URL() string { return id.srv.url }

// TenantID is the tenant that issues this identity's tokens.
func (id *Identity) TenantID() string { return id.tenant }

// SystemAssignedClientID is the client ID of the machine's system-assigned
// identity, or "" when it has none.
func (id *Identity) SystemAssignedClientID() string {
	id.mu.Lock()
	defer id.mu.Unlock()
	return id.system
}

// AddIdentity assigns a user-assigned identity to the machine.
func (id *Identity) AddIdentity(clientID string) {
	id.mu.Lock()
	defer id.mu.Unlock()
	id.users[strings.ToLower(clientID)] = true
}

// RemoveIdentity unassigns a user-assigned identity; tokens already issued stay valid.
func (id *Identity) RemoveIdentity(clientID string) {
	id.mu.Lock()
	defer id.mu.Unlock()
	delete(id.users, strings.ToLower(clientID))
}

// Transport returns an HTTP client for azcore's ClientOptions.Transport (an
// *http.Client is a policy.Transporter). It sends http://169.254.169.254 to
// this stand-in, every host registered with [Identity.Route] (vaults attached
// with [WithIdentity]) to its loopback server, trusts the stand-ins' TLS
// certificates, and lets loopback addresses through. Any other host fails
// with an error and is recorded in [Identity.Refused]; an unregistered
// *.vault.azure.net host fails like DNS would ("no such host").
func (id *Identity) Transport() *http.Client { return id.client }

// Credential is the Azure SDK's system-assigned managed identity
// credential getting its tokens from this stand-in over Transport, with the
// SDK's own retries off: what tests and benchmarks log in with.
func (id *Identity) Credential() (*azidentity.ManagedIdentityCredential, error) {
	return azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: id.Transport(), Retry: policy.RetryOptions{MaxRetries: -1}}})
}

// CertPool returns the pool that trusts every TLS stand-in attached to this identity.
func (id *Identity) CertPool() *x509.CertPool { return id.ca.pool }

// ServerTLSConfig returns a TLS server configuration with a certificate for
// hosts issued by this identity's throwaway authority, for other stand-ins
// that want to be reachable through [Identity.Transport].
func (id *Identity) ServerTLSConfig(hosts ...string) (*tls.Config, error) {
	if len(hosts) == 0 {
		return nil, errors.New("azuretest: ServerTLSConfig needs at least one host")
	}
	cert, err := id.ca.issue(hosts...)
	if err != nil {
		return nil, fmt.Errorf("azuretest: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Route makes [Identity.Transport] send connections for host (any port) to
// addr, which must be a loopback address such as "127.0.0.1:43210".
func (id *Identity) Route(host, addr string) error {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("azuretest: route %s: bad address %q: %w", host, addr, err)
	}
	if !isLoopback(h) {
		return fmt.Errorf("azuretest: route %s: %s is not a loopback address", host, addr)
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	id.routes[strings.ToLower(host)] = addr
	return nil
}

func (id *Identity) unroute(host string) {
	id.mu.Lock()
	defer id.mu.Unlock()
	delete(id.routes, strings.ToLower(host))
}

// Requests returns the token requests answered so far, oldest first.
func (id *Identity) Requests() []Request {
	id.mu.Lock()
	defer id.mu.Unlock()
	return slices.Clone(id.requests)
}

// Refused lists the host:port of every connection [Identity.Transport]
// refused because it was neither loopback nor a stand-in. Tests assert it is
// empty to prove they stayed off the network.
func (id *Identity) Refused() []string {
	id.mu.Lock()
	defer id.mu.Unlock()
	return slices.Clone(id.refused)
}

// IssuedTokens returns every access token issued so far, so that tests can
// assert none of them leaks into errors or logs.
func (id *Identity) IssuedTokens() []string {
	id.mu.Lock()
	defer id.mu.Unlock()
	return slices.Sorted(maps.Keys(id.tokens))
}

// Errors returned by [Identity.Verify].
var (
	ErrUnknownToken = errors.New("invalid token: it was not issued by this stand-in's authority")
	ErrTokenExpired = errors.New("invalid token: the token is expired")
)

// Verify looks up a token this identity issued. It fails for unknown and
// expired tokens.
func (id *Identity) Verify(token string) (TokenInfo, error) {
	id.mu.Lock()
	info, ok := id.tokens[token]
	id.mu.Unlock()
	if !ok {
		return TokenInfo{}, ErrUnknownToken
	}
	if !time.Now().Before(info.ExpiresOn) {
		return TokenInfo{}, ErrTokenExpired
	}
	return info, nil
}

// Close stops the stand-in and drops idle client connections.
func (id *Identity) Close() error {
	err := id.srv.close()
	id.client.CloseIdleConnections()
	return err
}

// dial implements the routing of Transport.
func (id *Identity) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("azuretest: bad address %q: %w", addr, err)
	}
	host = strings.ToLower(host)
	target := ""
	switch {
	case host == IMDSHost && port == "80":
		target = id.srv.addr()
	case isLoopback(host):
		target = addr
	default:
		id.mu.Lock()
		target = id.routes[host]
		if target == "" && !isVaultHost(host) {
			id.refused = append(id.refused, addr)
		}
		id.mu.Unlock()
		if target == "" {
			if isVaultHost(host) {
				return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
			}
			return nil, fmt.Errorf("azuretest: refusing to connect to %s: only loopback stand-ins are reachable (IMDS at %s and attached vaults)", addr, IMDSHost)
		}
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", target)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isVaultHost(host string) bool {
	return strings.HasSuffix(host, "."+vaultDNSSuffix)
}

type imdsError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

type imdsToken struct {
	AccessToken  string `json:"access_token"`
	ClientID     string `json:"client_id"`
	ExpiresIn    string `json:"expires_in"`
	ExpiresOn    string `json:"expires_on"`
	ExtExpiresIn string `json:"ext_expires_in"`
	NotBefore    string `json:"not_before"`
	Resource     string `json:"resource"`
	TokenType    string `json:"token_type"`
}

func (id *Identity) serveIMDS(w http.ResponseWriter, r *http.Request) {
	rec := Request{Time: time.Now(), Method: r.Method, Host: r.Host, Path: r.URL.Path, Query: copyQuery(r.URL.Query())}
	answer := id.answerIMDS
	if r.URL.Path == AppServiceTokenPath {
		answer = id.answerAppService
	}
	status, body := answer(r, &rec)
	rec.Status = status
	id.mu.Lock()
	id.requests = append(id.requests, rec)
	id.mu.Unlock()
	writeJSON(w, status, body)
}

func (id *Identity) answerIMDS(r *http.Request, rec *Request) (int, any) {
	bad := func(desc string) (int, any) {
		return http.StatusBadRequest, imdsError{Error: "invalid_request", Description: desc}
	}
	if r.URL.Path != IMDSTokenPath {
		return http.StatusNotFound, imdsError{Error: "not_found", Description: "The requested path " + r.URL.Path + " is not served by this stand-in"}
	}
	if r.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, imdsError{Error: "invalid_request", Description: "The request method " + r.Method + " is not allowed"}
	}
	if !strings.EqualFold(r.Header.Get("Metadata"), "true") {
		return bad("Required metadata header not specified")
	}
	q := r.URL.Query()
	if q.Get("api-version") == "" {
		return bad("Required query variable 'api-version' is missing")
	}
	resource := q.Get("resource")
	if resource == "" {
		return bad("Required query variable 'resource' is missing")
	}
	if q.Has("object_id") || q.Has("msi_res_id") || q.Has("mi_res_id") {
		// this stand-in knows identities by client ID only
		return bad("Identity not found")
	}

	principal, tok, now, exp, desc := id.issue(q.Get("client_id"), resource)
	if desc != "" {
		return bad(desc)
	}
	rec.Principal = principal
	secs := strconv.Itoa(int(exp.Sub(now) / time.Second))
	return http.StatusOK, imdsToken{
		AccessToken:  tok,
		ClientID:     principal,
		ExpiresIn:    secs,
		ExpiresOn:    strconv.FormatInt(exp.Unix(), 10),
		ExtExpiresIn: secs,
		NotBefore:    strconv.FormatInt(now.Unix(), 10),
		Resource:     resource,
		TokenType:    "Bearer",
	}
}

// issue picks the identity a token request acts as (clientID, else the
// system-assigned identity, else the only user-assigned one) and issues it
// a token for resource, like both managed-identity endpoints do. desc is
// the endpoint's error description when there is no such identity.
func (id *Identity) issue(clientID, resource string) (principal, tok string, now, exp time.Time, desc string) {
	id.mu.Lock()
	defer id.mu.Unlock()
	if clientID != "" {
		if !id.users[strings.ToLower(clientID)] && !strings.EqualFold(clientID, id.system) {
			return "", "", now, exp, "Identity not found"
		}
		principal = clientID
		if strings.EqualFold(clientID, id.system) {
			principal = id.system
		}
	} else {
		switch {
		case id.system != "":
			principal = id.system
		case len(id.users) == 1:
			for u := range id.users {
				principal = u
			}
		case len(id.users) > 1:
			return "", "", now, exp, "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request"
		default:
			return "", "", now, exp, "Identity not found"
		}
	}
	now = time.Now()
	exp = now.Add(id.lifetime)
	tok = randomToken()
	id.tokens[tok] = TokenInfo{ClientID: principal, Resource: resource, TenantID: id.tenant, ExpiresOn: exp}
	return principal, tok, now, exp, ""
}
