package chartrepo

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
)

// Probe reaches a chart repository with its credentials and reads only
// what shows they work, for --check-config: an HTTP repository's index
// (its charts counted), or for OCI a registry token for the repository's
// path and the registry's /v2/ endpoint with it. It says what answered; a
// 401 or 403 is an error for which Unauthorized is true.
func (c *Client) Probe(ctx context.Context, repository string) (string, error) {
	k, err := repositoryKind(repository, "(any)")
	if err != nil {
		return "", err
	}
	how := "anonymously"
	if cr := c.credentials(repository); cr != nil {
		how = "with " + cr.method()
	}
	if k == kindHTTP {
		ix, _, err := c.index(ctx, repository)
		if err != nil {
			return "", err
		}
		charts := "charts"
		if len(ix.Entries) == 1 {
			charts = "chart"
		}
		return fmt.Sprintf("answers %s (index.yaml): %d %s", how, len(ix.Entries), charts), nil
	}
	keychain, err := c.ociProbe(ctx, repository)
	if err != nil {
		return "", fmt.Errorf("reach %s: %w%s", redactRaw(repository), err, c.authHint(repository, err))
	}
	if keychain {
		how = "with a login from the docker configuration or, for ACR, the Azure identity"
	}
	return "answers " + how + " (OCI: a registry token for the path, then /v2/)", nil
}

// ociProbe gets a pull token for an OCI repository's path and reads the
// registry's /v2/ with it. keychain: the login came from the keychain.
func (c *Client) ociProbe(ctx context.Context, repository string) (keychain bool, err error) {
	rest, opts, err := ociPath(repository)
	if err != nil {
		return false, err
	}
	host, path, _ := strings.Cut(rest, "/")
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return false, err
	}
	var target authn.Resource = reg
	var scopes []string
	if path != "" {
		repo := reg.Repo(path)
		target, scopes = repo, []string{repo.Scope(transport.PullScope)}
	}
	auth := authn.Anonymous
	if cr := c.credentials(repository); cr != nil {
		auth = cr.authenticator()
	} else if c.keychain != nil {
		if auth, err = authn.Resolve(ctx, c.keychain, target); err != nil {
			return false, fmt.Errorf("find a login for %s: %w", host, err)
		}
		keychain = auth != authn.Anonymous
	}
	rt, err := transport.NewWithContext(ctx, reg, auth, loopback.RequireTLS(c.transport), scopes)
	if err != nil {
		return keychain, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reg.Scheme()+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return keychain, err
	}
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return keychain, err
	}
	defer resp.Body.Close()
	return keychain, transport.CheckError(resp, http.StatusOK)
}
