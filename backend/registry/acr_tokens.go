// This file is over 500 lines: the whole life of ACR's tokens (the Entra
// exchange, scopes batched into one request, expiry read from the token,
// the cache by scope, the challenge) in one place, so that what keeps a
// request from ever being answered 401 first is read at once.

package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
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

// ACR access tokens. Every call to ACR, its own API (/acr/v1/) and the
// registry API (/v2/) alike, carries an access token from the start, so
// that none is answered 401 first: acrAccess keeps the tokens, each
// covering the scopes of many repositories, exchanged in one request to
// /oauth2/token (the scope parameter lists them, space-separated, as
// Azure's acr-cli asks them), and reused until shortly before they
// expire (their exp claim, as acr-cli and the Azure SDK read it).
//
// What a token grants is read from its access claim: a scope it does not
// grant (a role missing on that repository) is refused at once, naming
// it, without a request the registry would refuse. A token the registry
// refuses all the same is dropped (invalid_token: expired early, revoked)
// or stops standing for that scope (insufficient_scope).

// Batches of repository scopes. A batch of reads asks for 20
// repositories at most, each with metadata_read and pull: 40 scope
// entries, as many as acr-cli's default ABAC batch (10 repositories of 4
// actions). Its scope parameter is kept under 4 KiB (fewer repositories
// when their names are long), and so is the access claim of the token
// it gives, which goes in every request's Authorization header: well
// under the 8 KiB a header line may take at common proxies.
const (
	acrBatchRepos = 20
	acrBatchBytes = 4 << 10
	// acrRenewBefore is how long before its expiry an access token is
	// renewed at most (a quarter of its lifetime when that is shorter):
	// acr-cli's five minutes.
	acrRenewBefore = 5 * time.Minute
)

// The actions a scan asks of each repository it reads, in one batch.
var acrReadActions = []string{"metadata_read", "pull"}

// acrAccess keeps ACR access tokens for the repositories of one client.
type acrAccess struct {
	tokens *acrTokens

	mu    sync.Mutex
	held  []*accessToken
	repos []string // the repositories reads are expected in, sorted: batched together

	exchange sync.Mutex // one exchange at a time: parallel requests wait for it and share its token
}

// accessToken is one ACR access token and what it grants.
type accessToken struct {
	token   string
	renewAt time.Time
	grants  grants
}

// grants maps a resource ("repository:a/b", "registry:catalog") to the
// actions granted on it ("*" for all; a repository named "*" stands for
// every repository).
type grants map[string]map[string]bool

func (g grants) add(resource, action string) {
	if g[resource] == nil {
		g[resource] = map[string]bool{}
	}
	g[resource][action] = true
}

func (g grants) covers(resource, action string) bool {
	typ, _, _ := strings.Cut(resource, ":")
	for _, r := range []string{resource, typ + ":*"} {
		if a := g[r]; a[action] || a["*"] {
			return true
		}
	}
	return false
}

// splitScope splits a scope "type:name:action" into its resource
// ("type:name") and its action.
func splitScope(scope string) (resource, action string) {
	i := strings.LastIndexByte(scope, ':')
	if i < 0 {
		return scope, ""
	}
	return scope[:i], scope[i+1:]
}

// expect says which repositories reads are coming for, so that their
// scopes are asked together.
func (a *acrAccess) expect(repos []string) {
	sorted := slices.Sorted(slices.Values(repos))
	a.mu.Lock()
	a.repos = slices.Compact(sorted)
	a.mu.Unlock()
}

// errNotGranted: the registry's token does not grant a scope.
type errNotGranted struct{ resource, action string }

func (e *errNotGranted) Error() string {
	what := "the identity needs AcrPull on the registry (or, with ABAC repository permissions, Container Registry Repository Reader on it)"
	switch e.action {
	case "delete":
		what = "the identity needs AcrDelete on the registry (or, with ABAC repository permissions, Container Registry Repository Contributor on it)"
	case "*":
		if e.resource == "registry:catalog" {
			what = "the identity needs AcrPull on the registry (or, with ABAC repository permissions, Container Registry Repository Catalog Lister)"
		}
	}
	return fmt.Sprintf("the registry's access token does not grant %s on %s: %s", e.action, e.resource, what)
}

// bearer is an access token for scope ("repository:a/b:pull",
// "registry:catalog:*"): a held one that covers it, else one exchanged
// for it and, for a read, the scopes of the repositories expected next.
func (a *acrAccess) bearer(ctx context.Context, scope string) (string, error) {
	resource, action := splitScope(scope)
	if tok := a.find(resource, action); tok != "" {
		return tok, nil
	}
	a.exchange.Lock()
	defer a.exchange.Unlock()
	if tok := a.find(resource, action); tok != "" { // exchanged while this one waited
		return tok, nil
	}
	t, err := a.fetch(ctx, a.batch(resource, action))
	if err != nil {
		return "", err
	}
	if !t.grants.covers(resource, action) {
		return "", &errNotGranted{resource: resource, action: action}
	}
	if next := a.next(resource, action); next != "" {
		go a.ahead(ctx, next)
	}
	return t.token, nil
}

// next is, after a token for a read of a repository (or the catalog,
// which comes with the first expected repositories), the first expected
// repository after it that no token covers: the next batch's first, ""
// when there is none.
func (a *acrAccess) next(resource, action string) string {
	repo, isRepo := strings.CutPrefix(resource, "repository:")
	switch {
	case resource == "registry:catalog":
		repo = "" // from the first
	case !isRepo || !slices.Contains(acrReadActions, action):
		return ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	start, _ := slices.BinarySearch(a.repos, repo)
	for _, r := range a.repos[start:] {
		if !slices.ContainsFunc(a.held, func(t *accessToken) bool { return t.grants.covers("repository:"+r, acrReadActions[0]) }) {
			return r
		}
	}
	return ""
}

// ahead fetches the tokens of the batches from the one starting at repo
// on, one after the other, while the reads covered by those before go
// on, so that a read finds its token held instead of waiting a round
// trip: a listing of many repositories, 16 in flight, would otherwise
// stop at each batch. A failure ends it and is left to the read, which
// asks again.
func (a *acrAccess) ahead(ctx context.Context, repo string) {
	for repo != "" && ctx.Err() == nil {
		resource := "repository:" + repo
		a.exchange.Lock()
		if a.find(resource, acrReadActions[0]) == "" {
			if _, err := a.fetch(ctx, a.batch(resource, acrReadActions[0])); err != nil {
				a.exchange.Unlock()
				return
			}
		}
		a.exchange.Unlock()
		next := a.next(resource, acrReadActions[0])
		if next == repo { // not granted there: the read says so
			return
		}
		repo = next
	}
}

// any is a held token that has not expired, "" when there is none.
func (a *acrAccess) any() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.tokens.now()
	for _, t := range a.held {
		if now.Before(t.renewAt) {
			return t.token
		}
	}
	return ""
}

// find is a held token covering action on resource, "" when none does;
// it lets go of the tokens about to expire.
func (a *acrAccess) find(resource, action string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.tokens.now()
	a.held = slices.DeleteFunc(a.held, func(t *accessToken) bool { return !now.Before(t.renewAt) })
	for _, t := range a.held {
		if t.grants.covers(resource, action) {
			return t.token
		}
	}
	return ""
}

// batch is what to ask for with action on resource: for a read of a
// repository, its reads and those of the expected repositories after it
// that no token covers, within the batch's bounds (and the catalog, when
// no token covers it); for the catalog, the catalog and the first
// expected repositories; anything else (a delete) alone.
func (a *acrAccess) batch(resource, action string) []string {
	repo, isRepo := strings.CutPrefix(resource, "repository:")
	reading := isRepo && slices.Contains(acrReadActions, action)
	catalog := resource == "registry:catalog"
	if !reading && !catalog {
		return []string{resource + ":" + action}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	covered := func(resource string, actions ...string) bool {
		for _, act := range actions {
			if !slices.ContainsFunc(a.held, func(t *accessToken) bool { return t.grants.covers(resource, act) }) {
				return false
			}
		}
		return true
	}
	var out []string
	size := 0
	add := func(scopes ...string) bool {
		n := 0
		for _, s := range scopes {
			n += len(s) + 1
		}
		if len(out) > 0 && size+n > acrBatchBytes {
			return false
		}
		out, size = append(out, scopes...), size+n
		return true
	}
	reads := func(repo string) []string {
		out := make([]string, len(acrReadActions))
		for k, act := range acrReadActions {
			out[k] = "repository:" + repo + ":" + act
		}
		return out
	}
	if catalog || !covered("registry:catalog", "*") {
		add("registry:catalog:*")
	}
	repos := 0
	if reading {
		add(reads(repo)...)
		repos++
	}
	// the expected repositories from this one on, then those before it
	start, _ := slices.BinarySearch(a.repos, repo)
	for k := range len(a.repos) {
		r := a.repos[(start+k)%len(a.repos)]
		if repos == acrBatchRepos {
			break
		}
		if (reading && r == repo) || covered("repository:"+r, acrReadActions...) {
			continue
		}
		if !add(reads(r)...) {
			break
		}
		repos++
	}
	return out
}

// fetch exchanges the refresh token for an access token for scopes, and
// holds it.
func (a *acrAccess) fetch(ctx context.Context, scopes []string) (*accessToken, error) {
	refresh, err := a.tokens.get(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := a.tokens.auth.ExchangeACRRefreshTokenForACRAccessToken(ctx, a.tokens.service, strings.Join(scopes, " "), refresh,
		&azcontainerregistry.AuthenticationClientExchangeACRRefreshTokenForACRAccessTokenOptions{GrantType: to.Ptr(azcontainerregistry.TokenGrantTypeRefreshToken)})
	if err != nil {
		return nil, acrCallError(fmt.Sprintf("get an access token for %d scopes of %s", len(scopes), a.tokens.service), err)
	}
	if resp.AccessToken == nil || *resp.AccessToken == "" {
		return nil, fmt.Errorf("get an access token for %d scopes of %s: the registry gave none", len(scopes), a.tokens.service)
	}
	now := a.tokens.now()
	tok := *resp.AccessToken
	exp := jwtExpiry(tok, now)
	t := &accessToken{token: tok, renewAt: exp.Add(-min(acrRenewBefore, exp.Sub(now)/4))}
	g, ok := accessGrants(tok)
	if !ok { // no readable access claim: take it as granting what was asked
		g = grants{}
		for _, s := range scopes {
			g.add(splitScope(s))
		}
	}
	t.grants = g
	a.mu.Lock()
	a.held = append(a.held, t)
	a.mu.Unlock()
	return t, nil
}

// refused records that the registry answered 401 to a request carrying
// tok for action on resource, with the challenge's error: the token no
// longer stands for that scope, and, unless the scope alone was lacking
// (insufficient_scope), for any.
func (a *acrAccess) refused(tok, resource, action, challengeErr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, t := range a.held {
		if t.token != tok {
			continue
		}
		if challengeErr != "insufficient_scope" {
			a.held = slices.Delete(a.held, k, k+1)
			return
		}
		delete(t.grants[resource], action)
		delete(t.grants[resource], "*")
		return
	}
}

// challengeError is the error parameter of a Bearer challenge, "" when
// it has none.
func challengeError(resp *http.Response) string {
	h := resp.Header.Get("WWW-Authenticate")
	_, rest, ok := strings.Cut(h, `error="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// bearerOf is the token of a request's Bearer Authorization header.
func bearerOf(req *http.Request) string {
	scheme, tok, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return tok
}

// acrAuthPolicy puts an access token on each request to ACR's API before
// the Azure SDK's own authentication policy sees it (which then sends it
// as it is; it answers a 401 with its own challenge flow, one scope at a
// time, as the fallback).
type acrAuthPolicy struct{ access *acrAccess }

func (p *acrAuthPolicy) Do(req *policy.Request) (*http.Response, error) {
	scope := acrScope(req.Raw())
	if scope == "" || req.Raw().Header.Get("Authorization") != "" {
		return req.Next()
	}
	tok, err := p.access.bearer(req.Raw().Context(), scope)
	if err != nil {
		return nil, err
	}
	req.Raw().Header.Set("Authorization", "Bearer "+tok)
	return req.Next()
}

// acrRefusals watches the answers to each attempt (after the SDK's
// authentication policy, so it sees the first answer to a token of
// acrAccess) and tells acrAccess of those refusing one.
type acrRefusals struct{ access *acrAccess }

func (p *acrRefusals) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if resp != nil && resp.StatusCode == http.StatusUnauthorized {
		if tok := bearerOf(req.Raw()); tok != "" {
			resource, action := splitScope(acrScope(req.Raw()))
			p.access.refused(tok, resource, action, challengeError(resp))
		}
	}
	return resp, err
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

// v2Scope is the scope a registry API request (/v2/) wants: pull to read,
// delete to delete, push to write; "" for /v2/ itself (any valid token)
// and for anything else.
func v2Scope(req *http.Request) string {
	rest, ok := strings.CutPrefix(req.URL.Path, "/v2/")
	if !ok || rest == "" {
		return ""
	}
	if rest == "_catalog" {
		return "registry:catalog:*"
	}
	repo := ""
	for _, k := range []string{"/manifests/", "/blobs/", "/tags/list"} {
		if i := strings.LastIndex(rest, k); i > 0 {
			repo = rest[:i]
			break
		}
	}
	if repo == "" {
		return ""
	}
	action := "pull"
	switch req.Method {
	case http.MethodDelete:
		action = "delete"
	case http.MethodPut, http.MethodPost, http.MethodPatch:
		action = "push"
	}
	return "repository:" + repo + ":" + action
}

// acrBearer puts an access token on each registry API request to host
// (never on a redirect elsewhere, such as blob storage), and asks once
// more with a fresh token when the registry refuses one as invalid.
type acrBearer struct {
	access *acrAccess
	host   string
	inner  http.RoundTripper
	// pinged: /v2/ answered 200 to a token (ACR.v2 asks)
	pinged atomic.Bool
}

func (t *acrBearer) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.EqualFold(req.URL.Host, t.host) || req.Header.Get("Authorization") != "" {
		return t.inner.RoundTrip(req)
	}
	scope := v2Scope(req)
	send := func() (*http.Response, string, error) {
		var tok string
		if scope == "" {
			tok = t.access.any()
		} else {
			var err error
			if tok, err = t.access.bearer(req.Context(), scope); err != nil {
				if req.Body != nil {
					_ = req.Body.Close()
				}
				return nil, "", err
			}
		}
		r := req.Clone(req.Context())
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := t.inner.RoundTrip(r)
		return resp, tok, err
	}
	resp, tok, err := send()
	if err == nil && scope == "" && tok != "" && resp.StatusCode == http.StatusOK {
		t.pinged.Store(true)
	}
	if err != nil || resp.StatusCode != http.StatusUnauthorized || tok == "" {
		return resp, err
	}
	why := challengeError(resp)
	resource, action := splitScope(scope)
	t.access.refused(tok, resource, action, why)
	if why != "invalid_token" || (req.Body != nil && req.Body != http.NoBody) {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	resp, _, err = send()
	return resp, err
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
	var c struct {
		Exp int64 `json:"exp"`
	}
	if jwtPayload(tok, &c) && c.Exp > 0 {
		return time.Unix(c.Exp, 0)
	}
	return now.Add(time.Hour)
}

// jwtPayload decodes a JWT's claims into v, without verifying the token
// (the registry checks it; this only reads what it says). The payload
// may be base64url or standard base64, padded or not.
func jwtPayload(tok string, v any) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	seg := strings.TrimRight(parts[1], "=")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(seg); err != nil {
			return false
		}
	}
	return json.Unmarshal(raw, v) == nil
}

// accessEntry is one entry of a registry access token's access claim.
type accessEntry struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// accessClaim reads a registry access token's access claim; ok is false
// when it has none.
func accessClaim(tok string) ([]accessEntry, bool) {
	var c struct {
		Access *[]accessEntry `json:"access"`
	}
	if !jwtPayload(tok, &c) || c.Access == nil {
		return nil, false
	}
	return *c.Access, true
}

// accessGrants reads what a registry access token grants, from its
// access claim; ok is false when it has none.
func accessGrants(tok string) (grants, bool) {
	entries, ok := accessClaim(tok)
	if !ok {
		return nil, false
	}
	g := grants{}
	for _, e := range entries {
		for _, act := range e.Actions {
			g.add(e.Type+":"+e.Name, act)
		}
	}
	return g, true
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
