package azuretest

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
)

// AppServiceTokenPath is the path of the App Service managed-identity
// endpoint on the Identity's server. Real App Service hands apps a similar
// loopback URL in IDENTITY_ENDPOINT.
const AppServiceTokenPath = "/msi/token"

// AppServiceAPIVersion is the api-version of the App Service
// managed-identity protocol that azidentity (through MSAL) speaks.
const AppServiceAPIVersion = "2019-08-01"

// AppServiceEndpoint is the URL of the App Service managed-identity endpoint,
// e.g. "http://127.0.0.1:41234/msi/token": the value for IDENTITY_ENDPOINT.
//
// With IDENTITY_ENDPOINT and IDENTITY_HEADER ([Identity.AppServiceHeader])
// set, azidentity's ManagedIdentityCredential (and DefaultAzureCredential)
// sends GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=R[&client_id=C]
// with the header X-IDENTITY-HEADER. The stand-in answers like App Service:
// 200 {"access_token","expires_on","resource","token_type","client_id"}
// (expires_on in Unix seconds, as a string); 401 for a missing or wrong
// header; 400 {"statusCode":400,"message":...} for a bad request or an
// identity the app does not have. Plain http on 127.0.0.1 is accepted by
// azidentity, so no transport or certificate is needed: a subprocess gets
// managed identity from its environment alone.
func (id *Identity) AppServiceEndpoint() string { return id.srv.url + AppServiceTokenPath }

// AppServiceHeader is the secret the App Service endpoint requires in the
// X-IDENTITY-HEADER header: the value for IDENTITY_HEADER.
func (id *Identity) AppServiceHeader() string { return id.appHeader }

// AppServiceEnv returns the environment ("NAME=value" pairs) that makes
// azidentity in another process use this identity through the App Service
// endpoint. Clear the other managed-identity variables as [HermeticEnv] does.
func (id *Identity) AppServiceEnv() []string {
	return []string{"IDENTITY_ENDPOINT=" + id.AppServiceEndpoint(), "IDENTITY_HEADER=" + id.AppServiceHeader()}
}

type appServiceError struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
}

type appServiceToken struct {
	AccessToken string `json:"access_token"`
	ExpiresOn   string `json:"expires_on"`
	Resource    string `json:"resource"`
	TokenType   string `json:"token_type"`
	ClientID    string `json:"client_id"`
}

func (id *Identity) answerAppService(r *http.Request, rec *Request) (int, any) {
	fail := func(status int, msg string) (int, any) {
		return status, appServiceError{StatusCode: status, Message: msg}
	}
	if r.Method != http.MethodGet {
		return fail(http.StatusMethodNotAllowed, "The request method "+r.Method+" is not allowed")
	}
	got := r.Header.Get("X-IDENTITY-HEADER")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(id.appHeader)) != 1 {
		return fail(http.StatusUnauthorized, "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER")
	}
	q := r.URL.Query()
	if v := q.Get("api-version"); v != AppServiceAPIVersion {
		return fail(http.StatusBadRequest, "Unsupported api-version '"+v+"'; this endpoint serves "+AppServiceAPIVersion)
	}
	resource := q.Get("resource")
	if resource == "" {
		return fail(http.StatusBadRequest, "Required query variable 'resource' is missing")
	}
	if q.Has("principal_id") || q.Has("object_id") || q.Has("mi_res_id") {
		// this stand-in knows identities by client ID only
		return fail(http.StatusBadRequest, "Unable to load the proper Managed Identity.")
	}
	principal, tok, _, exp, desc := id.issue(q.Get("client_id"), resource)
	if desc != "" {
		if !strings.HasPrefix(desc, "Multiple") {
			desc = "Unable to load the proper Managed Identity."
		}
		return fail(http.StatusBadRequest, desc)
	}
	rec.Principal = principal
	return http.StatusOK, appServiceToken{
		AccessToken: tok,
		ExpiresOn:   strconv.FormatInt(exp.Unix(), 10),
		Resource:    resource,
		TokenType:   "Bearer",
		ClientID:    principal,
	}
}
