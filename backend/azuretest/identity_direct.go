package azuretest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// IMDSAPIVersion is the api-version DirectCredential asks IMDS for.
const IMDSAPIVersion = "2018-02-01"

// DirectCredential returns a credential that gets tokens for the machine's
// system-assigned identity straight from this stand-in's IMDS endpoint
// (GET {URL}/metadata/identity/oauth2/token with "Metadata: true"), over a
// client that connects to the stand-in's own loopback address and nothing
// else: no proxy, no redirect, no other host.
//
// It reads no environment variable and no file. azidentity's
// ManagedIdentityCredential ([Identity.Credential]) cannot promise that: it
// picks its endpoint from the process environment (IDENTITY_ENDPOINT with
// IDENTITY_HEADER or IMDS_ENDPOINT, MSI_ENDPOINT, ...) and from the disk (an
// Azure Arc agent), with no option to override either, so in a shell on App
// Service, Arc or Cloud Shell it asks that shell's endpoint instead of the
// stand-in. The demo signs in with this one, so it runs the same in any
// environment; tests of the real credential code use [Identity.Credential].
func (id *Identity) DirectCredential() azcore.TokenCredential {
	addr := id.srv.addr()
	return &directCredential{
		endpoint: id.srv.url + IMDSTokenPath,
		client: &http.Client{
			Transport: &http.Transport{
				Proxy: nil, // never through a proxy from the environment
				DialContext: func(ctx context.Context, network, to string) (net.Conn, error) {
					if to != addr {
						return nil, fmt.Errorf("azuretest: direct credential: refusing to connect to %s: only the identity stand-in at %s", to, addr)
					}
					var d net.Dialer
					return d.DialContext(ctx, "tcp", addr)
				},
				MaxIdleConnsPerHost: 2,
				IdleConnTimeout:     30 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return errors.New("azuretest: direct credential: the identity stand-in redirected")
			},
			Timeout: 30 * time.Second,
		},
	}
}

type directCredential struct {
	endpoint string
	client   *http.Client
}

// GetToken implements azcore.TokenCredential: one scope, a resource's
// "/.default" (or the bare resource).
func (c *directCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if len(o.Scopes) != 1 {
		return azcore.AccessToken{}, fmt.Errorf("azuretest: direct credential: want one scope, got %d", len(o.Scopes))
	}
	q := url.Values{"api-version": {IMDSAPIVersion}, "resource": {strings.TrimSuffix(o.Scopes[0], "/.default")}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint+"?"+q.Encode(), nil)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("azuretest: direct credential: %w", err)
	}
	req.Header.Set("Metadata", "true")
	resp, err := c.client.Do(req)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("azuretest: direct credential: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("azuretest: direct credential: read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e imdsError
		_ = json.Unmarshal(body, &e)
		return azcore.AccessToken{}, fmt.Errorf("azuretest: direct credential: the identity stand-in answered %s: %s %s", resp.Status, e.Error, e.Description)
	}
	var tok imdsToken
	if err := json.Unmarshal(body, &tok); err != nil {
		return azcore.AccessToken{}, fmt.Errorf("azuretest: direct credential: the identity stand-in's answer: %w", err)
	}
	exp, err := strconv.ParseInt(tok.ExpiresOn, 10, 64)
	if err != nil || tok.AccessToken == "" {
		return azcore.AccessToken{}, errors.New("azuretest: direct credential: the identity stand-in's answer has no token or expiry")
	}
	return azcore.AccessToken{Token: tok.AccessToken, ExpiresOn: time.Unix(exp, 0)}, nil
}
