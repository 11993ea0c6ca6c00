package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

const noIdentityHint = "no Azure identity available: run on an Azure VM with a managed identity, or set azure.client_id / AZURE_* environment"

func (r *Resolver) fromKeyVault(ctx context.Context, ref Reference) (Secret, error) {
	client, err := r.vaultClient(ref)
	if err != nil {
		return Secret{}, err
	}
	resp, err := client.GetSecret(ctx, ref.SecretName, ref.Version, nil)
	if err != nil {
		return Secret{}, r.keyVaultError(ref, err)
	}
	if resp.Value == nil || *resp.Value == "" {
		return Secret{}, newError(ErrNotSet, ref.label(), fmt.Sprintf("secret %s in vault %s has an empty value", shown(ref.SecretName), ref.vaultLabel()), nil)
	}
	return New(*resp.Value), nil
}

// vaultClient returns the cached Key Vault client of ref's vault.
func (r *Resolver) vaultClient(ref Reference) (*azsecrets.Client, error) {
	u := "https://" + ref.VaultHost + "/"
	if r.vaultURL != nil {
		u = r.vaultURL(ref.Vault)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.clients[u]; c != nil {
		return c, nil
	}
	cred, err := r.credentialLocked()
	if err != nil {
		return nil, newError(ErrNoIdentity, ref.label(), ref.scrub(err.Error()), err)
	}
	opts := r.kvOpts
	if r.transport != nil {
		opts.Transport = r.transport
	}
	c, err := azsecrets.NewClient(u, cred, &opts)
	if err != nil {
		return nil, newError(ErrUnavailable, ref.label(), ref.scrub(fmt.Sprintf("create Key Vault client for %s: %v", u, err)), err)
	}
	r.clients[u] = c
	return c, nil
}

// credentialLocked returns the credential, building it once; r.mu must be held.
func (r *Resolver) credentialLocked() (azcore.TokenCredential, error) {
	if r.cred != nil {
		return trackedCredential{r.cred}, nil
	}
	if r.built != nil || r.builtErr != nil {
		return r.built, r.builtErr
	}
	co := azcore.ClientOptions{Transport: r.transport}
	var (
		cred azcore.TokenCredential
		err  error
	)
	if r.clientID != "" {
		cred, err = azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
			ClientOptions: co,
			ID:            azidentity.ClientID(r.clientID),
		})
		if err != nil {
			err = fmt.Errorf("set up managed identity with client ID %s: %v", r.clientID, err)
		}
	} else {
		cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: co})
		if err != nil {
			err = fmt.Errorf("set up Azure credential chain: %v", err)
		}
	}
	if err != nil {
		r.builtErr = err
		return nil, err
	}
	r.built = trackedCredential{cred}
	return r.built, nil
}

// trackedCredential marks errors that come from the credential, so that they
// can be told apart from Key Vault's answers.
type trackedCredential struct{ inner azcore.TokenCredential }

func (c trackedCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.inner.GetToken(ctx, o)
	if err != nil {
		return tok, &credentialError{err: err}
	}
	return tok, nil
}

type credentialError struct{ err error }

func (e *credentialError) Error() string { return e.err.Error() }
func (e *credentialError) Unwrap() error { return e.err }

// keyVaultError turns a GetSecret error into one of ours. Messages are built
// from status codes, error codes and IMDS/Key Vault error descriptions, never
// from a success body (which is the secret) or request headers (which hold
// the token). Names show their first four characters only, also where the
// SDK's or the server's text quotes them.
func (r *Resolver) keyVaultError(ref Reference, err error) error {
	name, vault := ref.label(), ref.vaultLabel()
	secret := shown(ref.SecretName)
	if ref.Version != "" {
		secret += " version " + shown(ref.Version)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return newError(ErrUnavailable, name, fmt.Sprintf("reading secret %s from vault %s: %v", secret, vault, contextErr(err)), err)
	}

	var ce *credentialError
	if errors.As(err, &ce) {
		return r.credentialFailure(ref, ce.err)
	}

	var re *azcore.ResponseError
	if errors.As(err, &re) {
		code := re.ErrorCode
		switch re.StatusCode {
		case http.StatusUnauthorized:
			return newError(ErrAuthentication, name, fmt.Sprintf("vault %s rejected the identity's token (401 %s%s); check that the identity belongs to the vault's tenant", vault, code, ref.scrub(serverSays(re.RawResponse))), err)
		case http.StatusForbidden:
			if innerCode(re.RawResponse) == "SecretDisabled" {
				return newError(ErrPermission, name, fmt.Sprintf("secret %s in vault %s is disabled; enable it in the vault", secret, vault), err)
			}
			return newError(ErrPermission, name, fmt.Sprintf("the identity lacks 'get' permission on secrets in vault %s; grant it with an access policy (secret permissions: get) or the \"Key Vault Secrets User\" role (403 %s%s)", vault, code, ref.scrub(serverSays(re.RawResponse))), err)
		case http.StatusNotFound:
			return newError(ErrNotFound, name, fmt.Sprintf("secret %s not found in vault %s", secret, vault), err)
		}
		return newError(ErrUnavailable, name, fmt.Sprintf("vault %s answered %d %s reading secret %s", vault, re.StatusCode, code, secret), err)
	}

	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return newError(ErrNotFound, name, fmt.Sprintf("vault %s does not exist (no such host %s)", vault, ref.scrub(dns.Name)), err)
	}
	msg := err.Error()
	if strings.Contains(msg, "unmarshalling") {
		// a decoding error of a 200 answer may quote the body, which is the secret
		return newError(ErrUnavailable, name, fmt.Sprintf("vault %s sent a malformed answer for secret %s (details withheld: the answer holds the secret)", vault, secret), nil)
	}
	return newError(ErrUnavailable, name, fmt.Sprintf("reading secret %s from vault %s: %s", secret, vault, ref.scrub(firstLine(msg))), err)
}

func (r *Resolver) credentialFailure(ref Reference, err error) error {
	name, vault := ref.label(), ref.vaultLabel()
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return newError(ErrUnavailable, name, fmt.Sprintf("getting a token for vault %s: %v", vault, contextErr(err)), err)
	}
	var af *azidentity.AuthenticationFailedError
	if errors.As(err, &af) {
		if r.cred == nil && r.clientID != "" && af.RawResponse != nil && af.RawResponse.StatusCode == http.StatusBadRequest {
			return newError(ErrNoIdentity, name, fmt.Sprintf(
				"no managed identity with client ID %s is assigned to this machine (IMDS: %s); check azure.client_id and the VM's identities",
				r.clientID, describeIdentityResponse(af.RawResponse)), err)
		}
		detail := ref.scrub(firstLine(err.Error()))
		if af.RawResponse != nil {
			detail = fmt.Sprintf("%d: %s", af.RawResponse.StatusCode, describeIdentityResponse(af.RawResponse))
		}
		return newError(ErrAuthentication, name, fmt.Sprintf("Azure identity failed to authenticate for vault %s (%s)", vault, detail), err)
	}
	if r.cred != nil {
		return newError(ErrAuthentication, name, fmt.Sprintf("credential failed to get a token for vault %s: %s", vault, ref.scrub(firstLine(err.Error()))), err)
	}
	// azidentity reports "credential unavailable" with an unexported type:
	// everything else from the credentials built here means none applied
	msg := noIdentityHint
	if tried := attempted(err.Error()); tried != "" {
		msg += " (tried: " + ref.scrub(tried) + ")"
	}
	return newError(ErrNoIdentity, name, msg, err)
}

// attempted summarises DefaultAzureCredential's per-credential lines.
func attempted(msg string) string {
	var out []string
	for _, line := range strings.Split(msg, "\n") {
		if strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, "\t\t") {
			line = strings.TrimSpace(line)
			if i := strings.Index(line, " To troubleshoot"); i > 0 {
				line = line[:i]
			}
			out = append(out, truncate(line, 240))
		}
	}
	if len(out) == 0 {
		return truncate(firstLine(msg), 240)
	}
	return strings.Join(out, "; ")
}

// describeIdentityResponse extracts error_description (or error) from an
// OAuth/IMDS error body.
func describeIdentityResponse(resp *http.Response) string {
	body, err := runtime.Payload(resp)
	if err != nil || len(body) == 0 {
		return http.StatusText(resp.StatusCode)
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) != nil || (e.Error == "" && e.Description == "") {
		return http.StatusText(resp.StatusCode)
	}
	if e.Description != "" {
		return truncate(firstLine(e.Description), 240)
	}
	return e.Error
}

type kvErrorBody struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			Code string `json:"code"`
		} `json:"innererror"`
	} `json:"error"`
}

func parseKVError(resp *http.Response) (kvErrorBody, bool) {
	var b kvErrorBody
	if resp == nil || resp.StatusCode < 400 {
		return b, false
	}
	body, err := runtime.Payload(resp)
	if err != nil || json.Unmarshal(body, &b) != nil {
		return b, false
	}
	return b, true
}

func innerCode(resp *http.Response) string {
	b, _ := parseKVError(resp)
	return b.Error.InnerError.Code
}

// serverSays quotes Key Vault's error message (error answers carry no secret).
func serverSays(resp *http.Response) string {
	b, ok := parseKVError(resp)
	if !ok || b.Error.Message == "" {
		return ""
	}
	return ": " + truncate(b.Error.Message, 400)
}

func contextErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return context.Canceled
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
