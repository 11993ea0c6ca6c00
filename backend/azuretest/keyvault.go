package azuretest

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// VaultResource is the audience of Key Vault tokens, announced in the
// challenge of every unauthenticated request.
const VaultResource = "https://vault.azure.net"

const vaultDNSSuffix = "vault.azure.net"

// LatestAPIVersion is the newest Key Vault api-version the stand-in knows
// (the one azsecrets v1.5 sends). It also accepts 7.0 to 7.6 and other
// date-shaped versions.
const LatestAPIVersion = "2026-04-01"

var (
	vaultNameRE  = regexp.MustCompile(`^[a-zA-Z](?:[a-zA-Z0-9]|-[a-zA-Z0-9]){2,23}$`)
	secretNameRE = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)
	apiVersionRE = regexp.MustCompile(`^(?:7\.[0-6]|20\d\d-\d\d-\d\d(?:-preview)?)$`)
)

// KeyVault stands in for the secrets API of one Azure Key Vault:
// GET /secrets/{name}[/{version}]?api-version=..., served over TLS on
// 127.0.0.1 with Key Vault's challenge-based bearer authentication.
//
// A request without a valid bearer token gets 401 with
//
//	WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>", resource="https://vault.azure.net"
//
// which is what the azsecrets client's challenge policy parses before it
// asks its credential for a token. Tokens must come from the vault's
// [Identity], be unexpired, be issued for https://vault.azure.net and by the
// vault's tenant. A token's identity needs a [KeyVault.Grant] for the secret
// (403 Forbidden/AccessDenied otherwise); then a missing secret or version
// is 404 SecretNotFound, a disabled one 403 Forbidden/SecretDisabled, and a
// found one 200 {"value","id","attributes"}.
//
// Clients reach it in two ways:
//   - as https://NAME.vault.azure.net/ ([KeyVault.VaultURL]) through
//     [Identity.Transport], which routes that host to the loopback server;
//     the challenge then passes azsecrets' resource verification unchanged;
//   - directly at [KeyVault.URL] (https://127.0.0.1:PORT), with
//     azsecrets.ClientOptions.DisableChallengeResourceVerification set,
//     because 127.0.0.1 is not a subdomain of vault.azure.net.
type KeyVault struct {
	id           *Identity
	ownsIdentity bool
	name, host   string
	tenant       string
	srv          *loopbackServer

	mu       sync.Mutex
	secrets  map[string]*vaultSecret    // by lower-case name
	grants   map[string]map[string]bool // client ID (lower) -> secret names (lower); nil = all
	requests []Request
}

type vaultSecret struct {
	name     string
	versions []secretVersion // oldest first
	disabled bool
}

type secretVersion struct {
	version, value   string
	created, updated time.Time
}

// KeyVaultOption configures NewKeyVault.
type KeyVaultOption func(*vaultConfig)

type vaultConfig struct {
	name   string
	id     *Identity
	tenant string
}

// WithVaultName sets the vault's name, which makes its host NAME.vault.azure.net
// (default "standin").
func WithVaultName(name string) KeyVaultOption {
	return func(c *vaultConfig) { c.name = name }
}

// WithIdentity makes the vault trust tokens issued by id and attaches it to
// id.Transport(). Without it NewKeyVault starts an Identity of its own,
// available from [KeyVault.Identity] and closed with the vault.
func WithIdentity(id *Identity) KeyVaultOption {
	return func(c *vaultConfig) { c.id = id }
}

// WithVaultTenant sets the tenant the vault belongs to (default: the
// identity's). Tokens from another tenant are rejected with 401.
func WithVaultTenant(tenant string) KeyVaultOption {
	return func(c *vaultConfig) { c.tenant = tenant }
}

// NewKeyVault starts a Key Vault stand-in on 127.0.0.1. Close it when done.
func NewKeyVault(opts ...KeyVaultOption) (*KeyVault, error) {
	cfg := vaultConfig{name: "standin"}
	for _, o := range opts {
		o(&cfg)
	}
	if !vaultNameRE.MatchString(cfg.name) {
		return nil, fmt.Errorf("azuretest: invalid vault name %q: use 3-24 letters, digits and single hyphens, starting with a letter", cfg.name)
	}
	kv := &KeyVault{
		id:      cfg.id,
		name:    strings.ToLower(cfg.name),
		secrets: map[string]*vaultSecret{},
		grants:  map[string]map[string]bool{},
	}
	kv.host = kv.name + "." + vaultDNSSuffix
	if kv.id == nil {
		id, err := NewIdentity()
		if err != nil {
			return nil, err
		}
		kv.id, kv.ownsIdentity = id, true
	}
	kv.tenant = cfg.tenant
	if kv.tenant == "" {
		kv.tenant = kv.id.TenantID()
	}
	cert, err := kv.id.ca.issue(kv.host, "127.0.0.1", "localhost", "::1")
	if err != nil {
		kv.closeOwned()
		return nil, fmt.Errorf("azuretest: vault %s: %w", kv.name, err)
	}
	kv.srv, err = startServer(http.HandlerFunc(kv.serve), &cert)
	if err != nil {
		kv.closeOwned()
		return nil, fmt.Errorf("azuretest: start vault %s: %w", kv.name, err)
	}
	if err := kv.id.Route(kv.host, kv.srv.addr()); err != nil {
		_ = kv.srv.close()
		kv.closeOwned()
		return nil, err
	}
	return kv, nil
}

func (kv *KeyVault) closeOwned() {
	if kv.ownsIdentity {
		_ = kv.id.Close()
	}
}

// Name is the vault's name.
func (kv *KeyVault) Name() string { return kv.name }

// Host is the vault's DNS name, NAME.vault.azure.net.
func (kv *KeyVault) Host() string { return kv.host }

// VaultURL is the vault's URL as Azure spells it, "https://NAME.vault.azure.net/";
// it is reachable through [Identity.Transport].
func (kv *KeyVault) VaultURL() string { return "https://" + kv.host + "/" }

// URL is the loopback address of the vault, e.g. "https://127.0.0.1:43210".
func (kv *KeyVault) URL() string { return kv.srv.url }

// TenantID is the tenant the vault belongs to.
func (kv *KeyVault) TenantID() string { return kv.tenant }

// Identity is the identity stand-in whose tokens the vault trusts.
func (kv *KeyVault) Identity() *Identity { return kv.id }

// CertPool trusts the vault's TLS certificate.
func (kv *KeyVault) CertPool() *x509.CertPool { return kv.id.CertPool() }

// Client is an HTTP client that trusts the vault and routes its Azure host
// name to it (the same client as Identity().Transport()).
func (kv *KeyVault) Client() *http.Client { return kv.id.Transport() }

// SetSecret stores a new version of a secret (creating the secret) and
// returns the version's ID. It panics on a name Key Vault would reject
// (1-127 letters, digits and hyphens).
func (kv *KeyVault) SetSecret(name, value string) string {
	if !secretNameRE.MatchString(name) {
		panic(fmt.Sprintf("azuretest: invalid secret name %q: use 1-127 letters, digits and hyphens", name))
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	s := kv.secrets[strings.ToLower(name)]
	if s == nil {
		s = &vaultSecret{name: name}
		kv.secrets[strings.ToLower(name)] = s
	}
	now := time.Now().UTC().Truncate(time.Second)
	v := secretVersion{version: randomHex(32), value: value, created: now, updated: now}
	s.versions = append(s.versions, v)
	return v.version
}

// SetEnabled enables or disables a secret; a disabled secret answers 403
// SecretDisabled. It reports whether the secret exists.
func (kv *KeyVault) SetEnabled(name string, enabled bool) bool {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	s := kv.secrets[strings.ToLower(name)]
	if s == nil {
		return false
	}
	s.disabled = !enabled
	return true
}

// DeleteSecret removes a secret and all its versions.
func (kv *KeyVault) DeleteSecret(name string) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	delete(kv.secrets, strings.ToLower(name))
}

// Grant gives the identity with clientID "get" permission on the named
// secrets, or on every secret in the vault when no names are given.
func (kv *KeyVault) Grant(clientID string, secretNames ...string) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	key := strings.ToLower(clientID)
	if len(secretNames) == 0 {
		kv.grants[key] = nil
		return
	}
	cur, ok := kv.grants[key]
	if ok && cur == nil {
		return // already granted everything
	}
	if cur == nil {
		cur = map[string]bool{}
		kv.grants[key] = cur
	}
	for _, n := range secretNames {
		cur[strings.ToLower(n)] = true
	}
}

// Revoke removes every permission of the identity with clientID.
func (kv *KeyVault) Revoke(clientID string) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	delete(kv.grants, strings.ToLower(clientID))
}

// Requests returns the requests the vault answered so far, oldest first.
func (kv *KeyVault) Requests() []Request {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	return slices.Clone(kv.requests)
}

// Close stops the vault, detaches it from its identity, and closes the
// identity if the vault started it.
func (kv *KeyVault) Close() error {
	kv.id.unroute(kv.host)
	err := kv.srv.close()
	kv.closeOwned()
	return err
}

type kvErrorBody struct {
	Error kvError `json:"error"`
}

type kvError struct {
	Code       string        `json:"code"`
	Message    string        `json:"message"`
	InnerError *kvInnerError `json:"innererror,omitempty"`
}

type kvInnerError struct {
	Code string `json:"code"`
}

type kvSecretBundle struct {
	Value      string            `json:"value"`
	ID         string            `json:"id"`
	Attributes kvAttributes      `json:"attributes"`
	Tags       map[string]string `json:"tags"`
}

type kvAttributes struct {
	Enabled         bool   `json:"enabled"`
	Created         int64  `json:"created"`
	Updated         int64  `json:"updated"`
	RecoveryLevel   string `json:"recoveryLevel"`
	RecoverableDays int    `json:"recoverableDays"`
}

func kvFail(status int, code, msg, inner string) (int, any) {
	e := kvErrorBody{Error: kvError{Code: code, Message: msg}}
	if inner != "" {
		e.Error.InnerError = &kvInnerError{Code: inner}
	}
	return status, e
}

func (kv *KeyVault) serve(w http.ResponseWriter, r *http.Request) {
	rec := Request{Time: time.Now(), Method: r.Method, Host: r.Host, Path: r.URL.Path, Query: copyQuery(r.URL.Query())}
	status, body := kv.answer(w, r, &rec)
	rec.Status = status
	kv.mu.Lock()
	kv.requests = append(kv.requests, rec)
	kv.mu.Unlock()
	w.Header().Set("x-ms-keyvault-service-version", "1.9.0.0")
	w.Header().Set("x-ms-request-id", NewGUID())
	writeJSON(w, status, body)
}

func (kv *KeyVault) challenge(w http.ResponseWriter, msg string) (int, any) {
	w.Header().Set("WWW-Authenticate",
		fmt.Sprintf(`Bearer authorization="https://login.microsoftonline.com/%s", resource="%s"`, kv.tenant, VaultResource))
	return kvFail(http.StatusUnauthorized, "Unauthorized", msg, "")
}

func (kv *KeyVault) answer(w http.ResponseWriter, r *http.Request, rec *Request) (int, any) {
	// authenticate first, like Key Vault: the challenge is how clients learn
	// the tenant and resource to request a token for
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || token == "" {
		return kv.challenge(w, "AKV10000: Request is missing a Bearer or PoP token.")
	}
	info, err := kv.id.Verify(token)
	if err != nil {
		return kv.challenge(w, err.Error())
	}
	if strings.TrimSuffix(info.Resource, "/") != VaultResource {
		return kv.challenge(w, fmt.Sprintf("Invalid audience. Expected %s, found: %s.", VaultResource, info.Resource))
	}
	if info.TenantID != kv.tenant {
		return kv.challenge(w, fmt.Sprintf("Invalid issuer. Expected https://sts.windows.net/%s/, found: https://sts.windows.net/%s/.", kv.tenant, info.TenantID))
	}
	rec.Principal = info.ClientID

	v := r.URL.Query().Get("api-version")
	if v == "" {
		return kvFail(http.StatusBadRequest, "BadParameter", "The 'api-version' query parameter is missing.", "")
	}
	if !apiVersionRE.MatchString(v) {
		return kvFail(http.StatusBadRequest, "BadParameter",
			fmt.Sprintf("The specified version (%s) is not recognized. Consider using the latest supported version (%s).", v, LatestAPIVersion), "")
	}

	rest, ok := strings.CutPrefix(r.URL.Path, "/secrets/")
	if !ok {
		return kvFail(http.StatusNotFound, "NotFound", fmt.Sprintf("The requested path %s is not served by this stand-in; only GET /secrets/{name}[/{version}] is.", r.URL.Path), "")
	}
	name, version, _ := strings.Cut(rest, "/")
	if strings.Contains(version, "/") {
		return kvFail(http.StatusNotFound, "NotFound", fmt.Sprintf("The requested path %s is not served by this stand-in.", r.URL.Path), "")
	}
	if r.Method != http.MethodGet {
		return kvFail(http.StatusMethodNotAllowed, "BadParameter", fmt.Sprintf("The method %s is not supported by this stand-in; only GET is.", r.Method), "")
	}
	if !secretNameRE.MatchString(name) {
		return kvFail(http.StatusBadRequest, "BadParameter", "The request URI contains an invalid name: "+name, "")
	}

	kv.mu.Lock()
	defer kv.mu.Unlock()
	if !kv.allowed(info.ClientID, name) {
		return kvFail(http.StatusForbidden, "Forbidden",
			fmt.Sprintf("The user, group or application 'appid=%s;oid=%s;iss=https://sts.windows.net/%s/' does not have secrets get permission on key vault '%s;location=westeurope'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
				info.ClientID, info.ClientID, info.TenantID, kv.name),
			"AccessDenied")
	}
	s := kv.secrets[strings.ToLower(name)]
	if s == nil || len(s.versions) == 0 {
		return kvFail(http.StatusNotFound, "SecretNotFound", notFoundMsg(name), "")
	}
	sv := s.versions[len(s.versions)-1]
	if version != "" {
		found := false
		for _, cand := range s.versions {
			if strings.EqualFold(cand.version, version) {
				sv, found = cand, true
				break
			}
		}
		if !found {
			return kvFail(http.StatusNotFound, "SecretNotFound", notFoundMsg(name+"/"+version), "")
		}
	}
	if s.disabled {
		return kvFail(http.StatusForbidden, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled")
	}
	return http.StatusOK, kvSecretBundle{
		Value: sv.value,
		ID:    "https://" + r.Host + "/secrets/" + s.name + "/" + sv.version,
		Attributes: kvAttributes{
			Enabled:         true,
			Created:         sv.created.Unix(),
			Updated:         sv.updated.Unix(),
			RecoveryLevel:   "Recoverable+Purgeable",
			RecoverableDays: 90,
		},
		Tags: map[string]string{},
	}
}

func notFoundMsg(nameOrID string) string {
	return fmt.Sprintf("A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", nameOrID)
}

// allowed reports whether clientID may get the secret; kv.mu must be held.
func (kv *KeyVault) allowed(clientID, secret string) bool {
	names, ok := kv.grants[strings.ToLower(clientID)]
	if !ok {
		return false
	}
	return names == nil || names[strings.ToLower(secret)]
}
