package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/google/go-containerregistry/pkg/authn"
)

// scopedTokens puts on each ACR API request an access token for the scope
// it needs (repository:<name>:metadata_read for a listing or a property
// read, metadata_write for an update, delete for a delete,
// registry:catalog:* for the catalog), exchanged once per scope and kept
// until shortly before it expires. The SDK's own policy keeps one access
// token at a time: requests over many repositories in parallel would each
// meet a challenge and a token exchange, three round trips a call instead
// of one. It starts once the registry has challenged a request (the SDK's
// policy answered it): a registry that asks for no token gets none. A
// token the registry refuses all the same is dropped; the SDK's policy
// then answers the challenge as it would have.
type scopedTokens struct {
	tokens     *acrTokens
	challenged atomic.Bool
	mu         sync.Mutex
	cache      map[string]*scopedToken
}

type scopedToken struct {
	mu       sync.Mutex
	token    string
	renewAt  time.Time
	acquired bool
}

func (p *scopedTokens) Do(req *policy.Request) (*http.Response, error) {
	scope := acrScope(req.Raw())
	switch {
	case scope == "" || req.Raw().Header.Get("Authorization") != "":
		return req.Next()
	case !p.challenged.Load():
		resp, err := req.Next()
		if sentWith(resp) != "" { // the SDK's policy answered a challenge
			p.challenged.Store(true)
		}
		return resp, err
	}
	tok, err := p.get(req.Raw().Context(), scope)
	if err != nil {
		return req.Next() // the SDK's policy tries in its own way
	}
	bearer := "Bearer " + tok
	req.Raw().Header.Set("Authorization", bearer)
	resp, err := req.Next()
	if resp != nil && sentWith(resp) != bearer { // refused: the SDK's policy took over
		p.drop(scope, tok)
	}
	return resp, err
}

// sentWith is the Authorization header of the request that got resp (the
// pipeline sends a copy of the request it is given).
func sentWith(resp *http.Response) string {
	if resp == nil || resp.Request == nil {
		return ""
	}
	return resp.Request.Header.Get("Authorization")
}

// get is an access token for scope, exchanged for the refresh token when
// none is kept or the kept one is about to expire.
func (p *scopedTokens) get(ctx context.Context, scope string) (string, error) {
	p.mu.Lock()
	e := p.cache[scope]
	if e == nil {
		e = &scopedToken{}
		p.cache[scope] = e
	}
	p.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	now := p.tokens.now()
	if e.acquired && now.Before(e.renewAt) {
		return e.token, nil
	}
	refresh, err := p.tokens.get(ctx)
	if err != nil {
		return "", err
	}
	resp, err := p.tokens.auth.ExchangeACRRefreshTokenForACRAccessToken(ctx, p.tokens.service, scope, refresh,
		&azcontainerregistry.AuthenticationClientExchangeACRRefreshTokenForACRAccessTokenOptions{GrantType: to.Ptr(azcontainerregistry.TokenGrantTypeRefreshToken)})
	if err != nil {
		return "", err
	}
	if resp.AccessToken == nil || *resp.AccessToken == "" {
		return "", errors.New("the registry gave no access token")
	}
	exp := jwtExpiry(*resp.AccessToken, now)
	e.token, e.acquired = *resp.AccessToken, true
	e.renewAt = exp.Add(-min(time.Minute, exp.Sub(now)/4))
	return e.token, nil
}

// drop forgets scope's token if it is still tok.
func (p *scopedTokens) drop(scope, tok string) {
	p.mu.Lock()
	e := p.cache[scope]
	p.mu.Unlock()
	if e == nil {
		return
	}
	e.mu.Lock()
	if e.token == tok {
		e.acquired = false
	}
	e.mu.Unlock()
}

// acrScope is the scope ACR's API wants for req: "" for a request that is
// not to /acr/v1/.
func acrScope(req *http.Request) string {
	rest, ok := strings.CutPrefix(req.URL.Path, "/acr/v1/")
	switch {
	case !ok || rest == "":
		return ""
	case rest == "_catalog":
		return "registry:catalog:*"
	}
	repo := rest
	if i := strings.Index(rest, "/_"); i > 0 { // /_manifests, /_tags: no component of a name starts with _
		repo = rest[:i]
	}
	action := "metadata_read"
	switch req.Method {
	case http.MethodPatch:
		action = "metadata_write"
	case http.MethodDelete:
		action = "delete"
	}
	return "repository:" + repo + ":" + action
}

// acrTokens gets ACR refresh tokens for go-containerregistry's basic login
// (user acrUser, the refresh token as password), exchanging a Microsoft
// Entra token at /oauth2/exchange, and renews them before they expire.
type acrTokens struct {
	cred    azcore.TokenCredential
	auth    *azcontainerregistry.AuthenticationClient
	service string
	now     func() time.Time

	mu    sync.Mutex
	token string
	exp   time.Time
}

var _ authn.ContextAuthenticator = (*acrTokens)(nil)

// Authorization implements authn.Authenticator.
func (t *acrTokens) Authorization() (*authn.AuthConfig, error) {
	return t.AuthorizationContext(context.Background())
}

// AuthorizationContext implements authn.ContextAuthenticator.
func (t *acrTokens) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	tok, err := t.get(ctx)
	if err != nil {
		return nil, err
	}
	return &authn.AuthConfig{Username: acrUser, Password: tok}, nil
}

func (t *acrTokens) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.now().Before(t.exp.Add(-renewBefore)) {
		return t.token, nil
	}
	aad, err := t.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{acrAudience}})
	if err != nil {
		return "", fmt.Errorf("log in to %s: no Microsoft Entra token: %s; on an Azure VM assign it a managed identity (and set azure.client_id for a user-assigned one), on AKS use workload identity, elsewhere set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET or run az login", t.service, scrubTokens(firstLine(err.Error())))
	}
	resp, err := t.auth.ExchangeAADAccessTokenForACRRefreshToken(ctx, azcontainerregistry.PostContentSchemaGrantTypeAccessToken, t.service,
		&azcontainerregistry.AuthenticationClientExchangeAADAccessTokenForACRRefreshTokenOptions{AccessToken: &aad.Token})
	if err != nil {
		return "", acrCallError(fmt.Sprintf("log in to %s: exchange the Entra token for an ACR refresh token", t.service), err)
	}
	if resp.RefreshToken == nil || *resp.RefreshToken == "" {
		return "", fmt.Errorf("log in to %s: the token exchange gave no refresh token", t.service)
	}
	t.token = *resp.RefreshToken
	t.exp = jwtExpiry(t.token, t.now())
	return t.token, nil
}

// jwtExpiry reads a JWT's exp claim; without one, the token is taken to
// last an hour from now.
func jwtExpiry(tok string, now time.Time) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) == 3 {
		if raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "=")); err == nil {
			var c struct {
				Exp int64 `json:"exp"`
			}
			if json.Unmarshal(raw, &c) == nil && c.Exp > 0 {
				return time.Unix(c.Exp, 0)
			}
		}
	}
	return now.Add(time.Hour)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
