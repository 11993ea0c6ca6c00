package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// ACR inventories an Azure Container Registry through its own listing API
// (/acr/v1/_catalog and /acr/v1/<repository>/_manifests, through the Azure
// SDK's azcontainerregistry client). The listing names every manifest,
// untagged ones included, with its tags, push time and own lock (the
// repository's and the tags' locks are read beside it), so no
// manifest is fetched by tag: manifests and configs are read by digest only,
// once each, for the blobs behind the deduplicated sizes. Reads and deletes
// go through go-containerregistry, logged in with an ACR refresh token that
// is exchanged for a Microsoft Entra token and renewed before it expires.
//
// An image's age is its push time (ACR's createdTime), which a reproducible
// build's 1970 config cannot fool; the config's time is kept beside it.
// The platform manifests of an index, which ACR lists as untagged entries
// of their own, are part of their index, not images.
type ACR struct {
	*Client
	az     *azcontainerregistry.Client
	tokens *acrTokens
	prev   previous
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
	// acrPage is what ACR's listing gives at most per page, whatever n asks.
	acrPage = 100
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
	client, err := New(host, append(slices.Clone(opts), WithAuthenticator(tokens))...)
	if err != nil {
		return nil, err
	}
	aco := co
	aco.PerCallPolicies = []policy.Policy{&scopedTokens{tokens: tokens, cache: map[string]*scopedToken{}}}
	az, err := azcontainerregistry.NewClient(endpoint, cred, &azcontainerregistry.ClientOptions{ClientOptions: aco})
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", host, err)
	}
	return &ACR{Client: client, az: az, tokens: tokens}, nil
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
