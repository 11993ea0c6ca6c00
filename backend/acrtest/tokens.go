package acrtest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
)

// TokenUsername is the user name that goes with an ACR refresh token used
// as a password (basic auth to /oauth2/token, or a docker login).
const TokenUsername = "00000000-0000-0000-0000-000000000000"

// Audience is the resource of the Microsoft Entra tokens that
// /oauth2/exchange accepts (scope Audience+"/.default", what
// azcontainerregistry asks its credential for). Like ACR it also accepts
// Azure Resource Manager tokens.
const Audience = "https://containerregistry.azure.net"

var acceptedAudiences = []string{Audience, "https://management.azure.com", "https://management.core.windows.net"}

// Token lifetimes, as ACR issues them.
const (
	DefaultRefreshTokenLifetime = 3 * time.Hour
	DefaultAccessTokenLifetime  = 75 * time.Minute
)

// Claims every token carries; ACR's have the same names.
const (
	tokenIssuer = "Azure Container Registry"
	refreshKind = "refresh_token"
	accessKind  = "access_token"
)

// grant is one entry of an access token's "access" claim, and a parsed scope
// "type:name:action[,action...]".
type grant struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// issued is what the stand-in knows about a token it minted.
type issued struct {
	kind      string // refreshKind or accessKind
	principal string
	tenant    string
	expires   time.Time
	access    []grant
}

type tokenClaims struct {
	JTI         string       `json:"jti"`
	Sub         string       `json:"sub"`
	NBF         int64        `json:"nbf"`
	Exp         int64        `json:"exp"`
	IAT         int64        `json:"iat"`
	Iss         string       `json:"iss"`
	Aud         string       `json:"aud"`
	Version     string       `json:"version"`
	RID         string       `json:"rid"`
	GrantType   string       `json:"grant_type"`
	AppID       string       `json:"appid"`
	Tenant      string       `json:"tenant"`
	Permissions *permissions `json:"permissions,omitempty"`
	Access      *[]grant     `json:"access,omitempty"`
	Roles       []string     `json:"roles"`
}

type permissions struct {
	Actions    []string `json:"actions"`
	NotActions []string `json:"notActions"`
}

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"acrtest"}`))

// mint issues a JWT of kind for principal, remembers it and returns it.
func (s *Server) mint(kind, principal, tenant string, ttl time.Duration, access []grant) string {
	now := time.Now()
	c := tokenClaims{
		JTI: azuretest.NewGUID(), Sub: principal, NBF: now.Unix(), IAT: now.Unix(), Exp: now.Add(ttl).Unix(),
		Iss: tokenIssuer, Aud: s.login(), Version: "1.0", RID: randomHex(32), GrantType: refreshKind,
		AppID: principal, Tenant: tenant, Roles: []string{},
	}
	if kind == refreshKind {
		c.Permissions = &permissions{Actions: []string{"read", "write", "delete", "deleted/read", "deleted/restore/action"}}
	} else {
		a := slices.Clone(access)
		if a == nil {
			a = []grant{}
		}
		c.Access = &a
	}
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("acrtest: marshal token claims: %v", err)) // plain strings and numbers
	}
	payload := base64.RawURLEncoding.EncodeToString(stdBase64Safe(b))
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(jwtHeader + "." + payload))
	tok := jwtHeader + "." + payload + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	s.mu.Lock()
	s.tokens[tok] = &issued{kind: kind, principal: principal, tenant: tenant, expires: time.Unix(c.Exp, 0), access: access}
	s.mu.Unlock()
	return tok
}

// lookup returns the unexpired token of kind, or why not.
func (s *Server) lookup(tok, kind string) (issued, string) {
	s.mu.Lock()
	t, ok := s.tokens[tok]
	var info issued
	if ok {
		info = *t
	}
	s.mu.Unlock()
	switch {
	case !ok || info.kind != kind:
		return issued{}, "the " + strings.ReplaceAll(kind, "_", " ") + " is invalid"
	case !time.Now().Before(info.expires):
		return issued{}, "the " + strings.ReplaceAll(kind, "_", " ") + " is expired"
	}
	return info, ""
}

// IssuedTokens returns every refresh and access token issued so far, so
// that tests can assert none of them leaks into output, logs or caches.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.tokens))
}

// ExpireAccessTokens makes every access token issued so far expired: the
// next request carrying one gets 401 with error="invalid_token", as when an
// ACR access token runs out mid-run.
func (s *Server) ExpireAccessTokens() { s.expire(accessKind) }

// ExpireRefreshTokens makes every refresh token issued so far expired:
// /oauth2/token refuses them with 401.
func (s *Server) ExpireRefreshTokens() { s.expire(refreshKind) }

func (s *Server) expire(kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for _, t := range s.tokens {
		if t.kind == kind {
			t.expires = past
		}
	}
}

// IssueRefreshToken returns a refresh token for principal, as
// /oauth2/exchange would issue it, for tests that start past the exchange
// (a docker config holding an identity token, say).
func (s *Server) IssueRefreshToken(principal string) string {
	return s.mint(refreshKind, principal, s.id.TenantID(), s.refreshTTL, nil)
}

// stdBase64Safe rewrites JSON so that its base64url encoding has no '-' or
// '_', and so decodes with base64.StdEncoding too: azcontainerregistry
// v0.2.3 reads a refresh token's exp that way. With only ASCII bytes, a
// 6-bit group can be 62 or 63 only when it is the low bits of a '>', '?',
// '~' or DEL; so those, and every non-ASCII character, are written as
// \uXXXX escapes, which JSON allows in strings (the only place they occur).
func stdBase64Safe(b []byte) []byte {
	var out []byte
	for _, r := range string(b) {
		switch {
		case r == '>' || r == '?' || r == '~' || r == 0x7f:
			out = fmt.Appendf(out, `\u%04x`, r)
		case r < 0x80:
			out = append(out, byte(r))
		case r > 0xffff:
			r -= 0x10000
			out = fmt.Appendf(out, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
	}
	return out
}

// parseScopes parses scope values ("type:name:actions", several per value
// separated by spaces, as the form POST sends them, or one per value, as the
// GET query does), keeping repository and registry scopes and merging
// actions per resource.
func parseScopes(values []string) []grant {
	var out []grant
	for _, v := range values {
		for _, f := range strings.Fields(v) {
			i, j := strings.Index(f, ":"), strings.LastIndex(f, ":")
			if i <= 0 || j == i || j == len(f)-1 {
				continue
			}
			g := grant{Type: f[:i], Name: f[i+1 : j]}
			if g.Type != "repository" && g.Type != "registry" {
				continue
			}
			k := slices.IndexFunc(out, func(o grant) bool { return o.Type == g.Type && o.Name == g.Name })
			if k < 0 {
				out = append(out, g)
				k = len(out) - 1
			}
			for _, a := range strings.Split(f[j+1:], ",") {
				if a != "" && !slices.Contains(out[k].Actions, a) {
					out[k].Actions = append(out[k].Actions, a)
				}
			}
		}
	}
	return out
}

// allows reports whether access covers need (one action on one resource).
// A name or action "*" covers all.
func allows(access []grant, need grant) bool {
	for _, g := range access {
		if g.Type != need.Type || (g.Name != need.Name && g.Name != "*") {
			continue
		}
		if slices.Contains(g.Actions, "*") || slices.Contains(g.Actions, need.Actions[0]) {
			return true
		}
	}
	return false
}

// authorize checks the bearer token of a registry or listing request
// against need (nil: any valid access token) and answers ACR's 401
// challenge when it falls short. It reports whether to go on.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, rec *Request, need *grant) bool {
	problem := ""
	auth := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(auth, " ")
	switch {
	case auth == "":
	case !strings.EqualFold(scheme, "Bearer"):
		// ACR's registry endpoints take the bearer token flow only here
	default:
		info, why := s.lookup(strings.TrimSpace(tok), accessKind)
		if why != "" {
			problem = "invalid_token"
			break
		}
		rec.Principal = info.principal
		if need == nil || allows(info.access, *need) {
			return true
		}
		problem = "insufficient_scope"
	}
	challenge := fmt.Sprintf(`Bearer realm="http://%s/oauth2/token",service="%s"`, s.login(), s.login())
	var detail any
	if need != nil {
		challenge += fmt.Sprintf(`,scope="%s:%s:%s"`, need.Type, need.Name, need.Actions[0])
		detail = []map[string]string{{"Type": need.Type, "Name": need.Name, "Action": need.Actions[0]}}
	}
	if problem != "" {
		challenge += `,error="` + problem + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required, visit https://aka.ms/acr/authorization for more information.", detail)
	return false
}

func audienceOK(resource string) bool {
	return slices.Contains(acceptedAudiences, strings.TrimRight(strings.ToLower(resource), "/"))
}

// serveExchange answers POST /oauth2/exchange: a Microsoft Entra access
// token for an ACR refresh token.
func (s *Server) serveExchange(w http.ResponseWriter, r *http.Request, rec *Request) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.", nil)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "The request body is not a valid form.", nil)
		return
	}
	f := r.PostForm
	switch gt := f.Get("grant_type"); gt {
	case "access_token", "access_token_refresh_token":
	case "":
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "grant_type is required.", nil)
		return
	default:
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("grant_type %q is not supported.", gt), nil)
		return
	}
	if svc := f.Get("service"); svc != s.login() {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("service %q is not this registry (%s).", svc, s.login()), nil)
		return
	}
	aad := f.Get("access_token")
	if aad == "" {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "access_token is required.", nil)
		return
	}
	info, err := s.id.Verify(aad)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "The Microsoft Entra access token is not valid: "+err.Error(), nil)
		return
	}
	rec.Principal = info.ClientID
	if !audienceOK(info.Resource) {
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", fmt.Sprintf("The Microsoft Entra access token is for %s, not %s.", info.Resource, Audience), nil)
		return
	}
	if t := f.Get("tenant"); t != "" && !strings.EqualFold(t, info.TenantID) {
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", fmt.Sprintf("The Microsoft Entra access token is from another tenant than %s.", t), nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"refresh_token": s.mint(refreshKind, info.ClientID, info.TenantID, s.refreshTTL, nil)})
}

// serveToken answers /oauth2/token: an ACR refresh token (form POST with
// grant_type=refresh_token, or GET with basic auth) for an access token
// carrying the scopes asked for.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, rec *Request) {
	var refresh, service string
	var scopes []string
	switch r.Method {
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			writeError(w, http.StatusBadRequest, "BAD_REQUEST", "The request body is not a valid form.", nil)
			return
		}
		f := r.PostForm
		if gt := f.Get("grant_type"); gt != "refresh_token" {
			// "password" is anonymous pull, which this registry does not allow
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", fmt.Sprintf("grant_type %q is not allowed; use refresh_token.", gt), nil)
			return
		}
		refresh, service, scopes = f.Get("refresh_token"), f.Get("service"), f["scope"]
	case http.MethodGet:
		user, pass, ok := r.BasicAuth()
		if !ok || user != TokenUsername {
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required: basic auth with user "+TokenUsername+" and an ACR refresh token as the password.", nil)
			return
		}
		q := r.URL.Query()
		refresh, service, scopes = pass, q.Get("service"), q["scope"]
	default:
		writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.", nil)
		return
	}
	if service != s.login() {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("service %q is not this registry (%s).", service, s.login()), nil)
		return
	}
	info, why := s.lookup(refresh, refreshKind)
	if why != "" {
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", why+".", nil)
		return
	}
	rec.Principal = info.principal
	writeJSON(w, http.StatusOK, map[string]string{"access_token": s.mint(accessKind, info.principal, info.tenant, s.accessTTL, s.permitted(info.principal, parseScopes(scopes)))})
}

// Permit limits what access tokens grant principal (a client ID) to
// actions, as its role assignments would on a real registry: repository
// actions "pull", "push", "delete", "metadata_read" and "metadata_write",
// and "catalog" for registry:catalog:*. /oauth2/token still answers, with
// the "access" claim holding only the permitted part of the scopes asked
// for (possibly none); requests needing more get 401
// error="insufficient_scope". Without Permit a principal may do anything.
// Calling it again replaces the list.
func (s *Server) Permit(principal string, actions ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.permits[strings.ToLower(principal)] = slices.Clone(actions)
}

// permitted trims asked to what principal may do.
func (s *Server) permitted(principal string, asked []grant) []grant {
	s.mu.Lock()
	allowed, restricted := s.permits[strings.ToLower(principal)]
	s.mu.Unlock()
	if !restricted {
		return asked
	}
	var out []grant
	for _, g := range asked {
		var actions []string
		switch {
		case g.Type == "registry":
			if slices.Contains(allowed, "catalog") {
				actions = g.Actions
			}
		case slices.Contains(g.Actions, "*"):
			actions = slices.DeleteFunc(slices.Clone(allowed), func(a string) bool { return a == "catalog" })
		default:
			actions = slices.DeleteFunc(slices.Clone(g.Actions), func(a string) bool { return !slices.Contains(allowed, a) })
		}
		if len(actions) > 0 {
			out = append(out, grant{Type: g.Type, Name: g.Name, Actions: actions})
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)[:n]
}
