package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// ACR inventories an Azure Container Registry through its own listing API
// (/acr/v1/_catalog and /acr/v1/<repository>/_manifests, through the Azure
// SDK's azcontainerregistry client). The listing names every manifest,
// untagged ones included, with its tags, push time and own lock (the
// repository's and the tags' locks are read beside it), so no
// manifest is fetched by tag: manifests are read by digest only, once
// each, for the blobs behind the deduplicated sizes, and configs only
// where an image's age is its build time (AgeFromBuilt). Reads and
// deletes go through go-containerregistry. Every call carries an ACR
// access token from the start (acrAccess: one token for the scopes of
// many repositories), exchanged for an ACR refresh token, itself
// exchanged for a Microsoft Entra token and renewed before it expires.
//
// An image's age is its push time (ACR's createdTime), which a
// reproducible build's 1970 config cannot fool, unless AgeFromBuilt makes
// it the config's created time (the push time is then in Image.Pushed).
// The platform manifests of an index, which ACR lists as untagged entries
// of their own, are part of their index, not images.
type ACR struct {
	*Client
	az      *azcontainerregistry.Client
	tokens  *acrTokens
	access  *acrAccess
	bearer  *acrBearer // the registry API's transport: access tokens over the Client's
	ageFrom string
	// deferLocks: the scan leaves repository and tag locks unread
	// (WithDeferredLocks)
	deferLocks bool
	// page is the n asked of ACR's listings (WithPageSize; by default
	// DefaultPageSize, 1,000: the most a page gives, as the tag listing
	// answers 1,000 to more, Azure/acr#749); a listing that gives fewer
	// is followed through its Link header all the same
	page *int32
	prev previous

	v2mu sync.Mutex
	v2ok bool // the Client's go-containerregistry calls carry access tokens
}

// What an ACR image's age is (WithAgeFrom).
const (
	// AgeFromPushed: its push time, the listing's createdTime (acr purge's
	// age too). No image config is read. ACR's default.
	AgeFromPushed = "pushed"
	// AgeFromBuilt: its config's created time (for an index the newest of
	// its platform images'), as on the distribution API, where it is the
	// only one: a config read per distinct config.
	AgeFromBuilt = "built"
)

// WithAgeFrom says what an ACR image's age is: AgeFromPushed (the default
// for ACR) or AgeFromBuilt (the only one the distribution API has).
func WithAgeFrom(s string) Option {
	return func(o *options) error {
		switch s {
		case AgeFromPushed, AgeFromBuilt:
		default:
			return fmt.Errorf("WithAgeFrom: %q is not %s or %s", s, AgeFromPushed, AgeFromBuilt)
		}
		o.ageFrom = s
		return nil
	}
}

// Seed gives the next scan a previous inventory of this registry (the
// last run's snapshot): the manifests it read whole that the listing
// still shows are not read again. A scan seeds the one after it itself.
func (a *ACR) Seed(inv *model.Inventory) { a.prev.seed(inv) }

var (
	_ Lister  = (*ACR)(nil)
	_ Deleter = (*ACR)(nil)
)

// ACR login constants.
const (
	// acrUser is the user name that goes with an ACR refresh token.
	acrUser = "00000000-0000-0000-0000-000000000000"
	// acrAudience is the Entra scope of ACR's token exchange.
	acrAudience = "https://containerregistry.azure.net/.default"
	// renewBefore is how long before its expiry a refresh token is renewed.
	renewBefore = 10 * time.Minute
)

// NewACR returns a client of the ACR at host ("name.azurecr.io", or a
// loopback stand-in), authenticating with cred (a managed identity or any
// azidentity credential). It takes the same options as New, except
// WithAuthenticator and WithKeychain: the login is cred's.
func NewACR(host string, cred azcore.TokenCredential, opts ...Option) (*ACR, error) {
	o, err := acrOptions(host, cred, opts)
	if err != nil {
		return nil, err
	}
	if o.auth != nil || o.keychain != nil {
		return nil, fmt.Errorf("registry %s: ACR logs in with its Azure credential; give no authenticator or keychain", host)
	}
	tokens, endpoint, co, err := newACRTokens(host, cred, &o)
	if err != nil {
		return nil, err
	}
	ageFrom := cmp.Or(o.ageFrom, AgeFromPushed)
	// the Client reads no ages of its own: ageFrom is this one's
	client, err := New(host, append(slices.Clone(opts), func(o *options) error { o.ageFrom = ""; return nil })...)
	if err != nil {
		return nil, err
	}
	access := &acrAccess{tokens: tokens}
	aco := co
	aco.PerCallPolicies = []policy.Policy{&acrAuthPolicy{access: access}}
	aco.PerRetryPolicies = []policy.Policy{&acrRefusals{access: access}}
	az, err := azcontainerregistry.NewClient(endpoint, cred, &azcontainerregistry.ClientOptions{ClientOptions: aco})
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", host, err)
	}
	return &ACR{Client: client, az: az, tokens: tokens, access: access, ageFrom: ageFrom, deferLocks: o.deferLocks, page: to.Ptr(int32(min(o.pageSize, math.MaxInt32))),
		bearer: &acrBearer{access: access, host: client.reg.RegistryStr(), inner: client.base}}, nil
}

// v2 makes the Client's go-containerregistry calls (the registry API,
// /v2/) carry acrAccess's tokens from the start, with no handshake of
// their own: go-containerregistry pings the registry once, here, with a
// token held (else one for scope), and takes the transport that did so
// as its own (transport.Wrapper: no ping, no token exchange per
// repository after).
func (a *ACR) v2(ctx context.Context, scope string) error {
	a.v2mu.Lock()
	defer a.v2mu.Unlock()
	if a.v2ok {
		return nil
	}
	if a.access.any() == "" {
		if _, err := a.access.bearer(ctx, scope); err != nil {
			return err
		}
	}
	a.bearer.pinged.Store(false)
	rt, err := transport.NewWithContext(ctx, a.reg, authn.Anonymous, a.bearer, nil)
	if err != nil {
		return describe("reach the registry API of "+a.host, err)
	}
	if _, ok := rt.(*transport.Wrapper); !ok || !a.bearer.pinged.Load() {
		return fmt.Errorf("reach the registry API of %s: it refused ACR's access token at /v2/", a.host)
	}
	ropts := append([]remote.Option{remote.WithTransport(rt), remote.WithJobs(a.concurrency), remote.WithUserAgent("helmupgradebot")}, noRemoteRetries...)
	pusher, err := remote.NewPusher(ropts...)
	if err != nil {
		return fmt.Errorf("registry %s: %w", a.host, err)
	}
	a.remoteOpts, a.pusher, a.v2ok = ropts, pusher, true
	return nil
}

// DeleteManifest deletes repository@digest with a token granting delete
// on that repository alone (see Client.DeleteManifest).
func (a *ACR) DeleteManifest(ctx context.Context, repository, digest string) error {
	if err := a.v2(ctx, "repository:"+repository+":delete"); err != nil {
		return fmt.Errorf("delete %s@%s: %w", repository, digest, err)
	}
	return a.Client.DeleteManifest(ctx, repository, digest)
}

// Exists reports whether repository@digest is in the registry (see
// Client.Exists).
func (a *ACR) Exists(ctx context.Context, repository, digest string) (bool, error) {
	if err := a.v2(ctx, "repository:"+repository+":pull"); err != nil {
		return false, fmt.Errorf("check %s@%s: %w", repository, digest, err)
	}
	return a.Client.Exists(ctx, repository, digest)
}

// newACRTokens sets up the login to the ACR at host: the token exchange
// through the Azure SDK's authentication client, at endpoint, with the
// client options co (o's transport, the SDK's retries off).
func newACRTokens(host string, cred azcore.TokenCredential, o *options) (*acrTokens, string, azcore.ClientOptions, error) {
	scheme := "https://"
	if o.insecure || loopback.Host(host) {
		scheme = "http://"
	}
	endpoint := scheme + host
	// The SDK's own retries are off: the retry transport retries.
	co := azcore.ClientOptions{Transport: &http.Client{Transport: checkLinks{o.retrying()}}, Retry: policy.RetryOptions{MaxRetries: -1}}
	authClient, err := azcontainerregistry.NewAuthenticationClient(endpoint, &azcontainerregistry.AuthenticationClientOptions{ClientOptions: co})
	if err != nil {
		return nil, "", co, fmt.Errorf("registry %s: %w", host, err)
	}
	return &acrTokens{cred: cred, auth: authClient, service: host, now: o.now}, endpoint, co, nil
}

// acrOptions reads the options of an ACR client.
func acrOptions(host string, cred azcore.TokenCredential, opts []Option) (options, error) {
	o := options{concurrency: DefaultConcurrency, pageSize: DefaultPageSize, now: time.Now}
	if cred == nil {
		return o, fmt.Errorf("registry %s: ACR needs an Azure credential", host)
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, fmt.Errorf("registry %s: %w", host, err)
		}
	}
	return o, nil
}

// ACRLogin is the login to the ACR at host ("name.azurecr.io", or a
// loopback stand-in) that NewACR uses, for any go-containerregistry
// client: cred's Microsoft Entra token exchanged at /oauth2/exchange for
// an ACR refresh token, renewed before it expires. Of the options, those
// of the exchange's HTTP calls count (WithRetry, WithTransport,
// WithInsecure, WithClock).
func ACRLogin(host string, cred azcore.TokenCredential, opts ...Option) (authn.Authenticator, error) {
	o, err := acrOptions(host, cred, opts)
	if err != nil {
		return nil, err
	}
	tokens, _, _, err := newACRTokens(host, cred, &o)
	if err != nil {
		return nil, err
	}
	return tokens, nil
}

// checkLinks fails a listing page whose Link header the Azure SDK cannot
// read (it panics on one without "<...>"): that page fails, naming the
// header, instead of the whole run.
type checkLinks struct{ inner http.RoundTripper }

func (c checkLinks) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.inner.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if l := resp.Header.Get("Link"); l != "" && !(strings.HasPrefix(l, "<") && strings.IndexByte(l, '>') > 0) {
		_ = resp.Body.Close()
		if len(l) > 80 {
			l = l[:80] + "…"
		}
		return nil, fmt.Errorf("the registry answered a malformed Link header %q", scrubTokens(l))
	}
	return resp, nil
}

// acrCallError describes a failed ACR API call from its status and ACR's
// error codes, never from request details (which carry tokens).
func acrCallError(op string, err error) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return fmt.Errorf("%s: %s", op, scrubTokens(err.Error()))
	}
	msg := fmt.Sprintf("%s: registry answered %d %s", op, re.StatusCode, http.StatusText(re.StatusCode))
	if codes := acrErrorCodes(re.RawResponse); codes != "" {
		msg += " (" + codes + ")"
	}
	switch re.StatusCode {
	case http.StatusUnauthorized:
		msg += ": the Azure identity was not accepted; check azure.client_id and that the identity is assigned to this machine"
	case http.StatusForbidden:
		msg += ": the identity may not do this; grant it AcrPull (and AcrDelete to delete) on the registry"
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		msg += ": the registry failed; try again later"
	}
	return &acrError{msg: msg, err: err}
}

type acrError struct {
	msg string
	err error
}

func (e *acrError) Error() string { return e.msg }
func (e *acrError) Unwrap() error { return e.err }

// acrErrorCodes lists the codes and messages of a registry error body.
func acrErrorCodes(resp *http.Response) string {
	if resp == nil {
		return ""
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return ""
	}
	var e struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	var parts []string
	for _, x := range e.Errors {
		parts = append(parts, strings.TrimSpace(x.Code+" "+x.Message))
	}
	return scrubTokens(strings.Join(parts, "; "))
}

// scrubTokens removes anything shaped like a JWT from text.
func scrubTokens(s string) string {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '"' || r == '\'' || r == '=' || r == '&' })
	for _, f := range fields {
		if strings.HasPrefix(f, "eyJ") && strings.Count(f, ".") >= 2 {
			s = strings.ReplaceAll(s, f, "[token]")
		}
	}
	return s
}
