package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/helmupgradebot/helmupgradebot/backend/chartfile"
	"github.com/helmupgradebot/helmupgradebot/backend/chartrepo"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

// ChartRepositories builds the chart repository client: the index cache
// under the default directory (WithChartRepoOptions may set another), the
// credentials of the configuration's repositories map (their secrets
// resolved now), and for OCI repositories without credentials of their
// own the docker configuration's logins, then, for ACR hosts, the Azure
// identity's (the registry's token exchange). WithChartRepoOptions comes
// last, so a test may give another keychain. The entries named in skip
// give no credentials (--check-config leaves out those whose secrets do not
// resolve, and checks the rest).
func (b *Builder) ChartRepositories(ctx context.Context, skip ...string) (*chartrepo.Client, error) {
	creds, err := b.chartRepoCredentials(ctx, skip)
	if err != nil {
		return nil, err
	}
	acr, err := registry.ACRKeychain(lazyCredential{b.res}, config.IsACRHost, registry.WithRetry(b.retryPolicy()))
	if err != nil {
		return nil, err
	}
	copts := []chartrepo.Option{chartrepo.WithRetry(b.retryPolicy()), chartrepo.WithCredentials(creds...),
		chartrepo.WithKeychain(authn.NewMultiKeychain(authn.DefaultKeychain, acr))}
	if dir, err := chartrepo.DefaultCacheDir(); err == nil {
		copts = append([]chartrepo.Option{chartrepo.WithCacheDir(dir)}, copts...)
	}
	return chartrepo.New(append(copts, b.o.chartrepo...)...), nil
}

// chartRepoCredentials resolves the secrets of each repositories entry
// that has credentials; an error names the key.
func (b *Builder) chartRepoCredentials(ctx context.Context, skip []string) ([]chartrepo.Credentials, error) {
	var out []chartrepo.Credentials
	for _, name := range slices.Sorted(maps.Keys(b.cfg.Repositories)) {
		r := b.cfg.Repositories[name]
		if !r.HasCredentials() || slices.Contains(skip, name) {
			continue
		}
		cr := chartrepo.Credentials{Name: name, URL: r.URL, Username: r.Username}
		for _, s := range []struct {
			key, ref string
			into     *secrets.Secret
		}{{"password", r.Password, &cr.Password}, {"token", r.Token, &cr.Token}} {
			if s.ref == "" {
				continue
			}
			v, err := b.res.Resolve(ctx, s.ref)
			if err != nil {
				return nil, fmt.Errorf("repositories.%s.%s: %w", name, s.key, err)
			}
			*s.into = v
		}
		out = append(out, cr)
	}
	return out, nil
}

// lazyCredential is the resolver's Azure credential, built when a token is
// first asked for: a run without a chart repository in ACR builds none.
type lazyCredential struct{ res *secrets.Resolver }

func (l lazyCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	cred, err := l.res.Credential()
	if err != nil {
		return azcore.AccessToken{}, err
	}
	return cred.GetToken(ctx, o)
}

// resolveAlias gives a dependency written with a repository name ("@name",
// "alias:name") the URL the configuration's repositories map has for it.
func (c *Charts) resolveAlias(d chartfile.Dependency) (chartfile.Dependency, error) {
	u, err := config.ResolveAlias(c.aliases, d.Repository)
	if err != nil {
		return d, fmt.Errorf("dependency %s: %w", d.Key(), err)
	}
	d.Repository = u
	return d, nil
}

// isAlias reports whether a dependency names its repository ("@name").
func isAlias(repo string) bool {
	_, ok := config.Alias(repo)
	return ok
}
