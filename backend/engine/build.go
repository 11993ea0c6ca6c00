package engine

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/helmupgradebot/helmupgradebot/backend/chartrepo"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/digestcache"
	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

// Option tunes FromConfig.
type Option func(*buildOptions)

type buildOptions struct {
	getenv    func(string) string
	now       func() time.Time
	resolver  []secrets.Option
	registry  []registry.Option
	chartrepo []chartrepo.Option
	github    []github.Option
	// The registry's digest cache: off, or in cacheDir (default: under
	// $XDG_CACHE_HOME).
	noCache  bool
	cacheDir string
}

// WithGetenv replaces os.Getenv (default paths, env: secrets).
func WithGetenv(fn func(string) string) Option {
	return func(o *buildOptions) { o.getenv = fn }
}

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(o *buildOptions) { o.now = now } }

// WithSecretOptions passes options to the secret resolver.
func WithSecretOptions(opts ...secrets.Option) Option {
	return func(o *buildOptions) { o.resolver = append(o.resolver, opts...) }
}

// WithRegistryOptions passes options to the registry client.
func WithRegistryOptions(opts ...registry.Option) Option {
	return func(o *buildOptions) { o.registry = append(o.registry, opts...) }
}

// WithoutDigestCache reads every manifest and config from the registry
// (--no-cache). By default they are cached by digest under
// $XDG_CACHE_HOME/helmupgradebot/digests/<registry>.
func WithoutDigestCache() Option { return func(o *buildOptions) { o.noCache = true } }

// WithDigestCacheDir keeps the registry's digest cache in dir.
func WithDigestCacheDir(dir string) Option { return func(o *buildOptions) { o.cacheDir = dir } }

// WithChartRepoOptions passes options to the chart repository client.
func WithChartRepoOptions(opts ...chartrepo.Option) Option {
	return func(o *buildOptions) { o.chartrepo = append(o.chartrepo, opts...) }
}

// WithGitHubOptions passes options to the GitHub client.
func WithGitHubOptions(opts ...github.Option) Option {
	return func(o *buildOptions) { o.github = append(o.github, opts...) }
}

// FromConfig builds the registry and chart engines a configuration asks
// for (nil when a chore is not configured), resolving its secrets.
func FromConfig(ctx context.Context, cfg *config.Config, opts ...Option) (*Registry, *Charts, error) {
	o := buildOptions{getenv: os.Getenv, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	res := secrets.NewResolver(append([]secrets.Option{
		secrets.WithAzureClientID(cfg.Azure.ClientID),
		secrets.WithLookupEnv(func(k string) (string, bool) { v := o.getenv(k); return v, v != "" }),
	}, o.resolver...)...)

	var reg *Registry
	if rc := cfg.Registry; rc.URL != "" {
		ropts := []registry.Option{registry.WithConcurrency(rc.Concurrency), registry.WithClock(o.now), registry.WithDigestCache(o.digestCache(rc.URL))}
		if rc.Insecure {
			ropts = append(ropts, registry.WithInsecure())
		}
		switch rc.Auth.Type {
		case config.AuthBasic:
			pw, err := res.Resolve(ctx, rc.Auth.Password)
			if err != nil {
				return nil, nil, fmt.Errorf("registry.auth.password: %w", err)
			}
			ropts = append(ropts, registry.WithAuthenticator(&authn.Basic{Username: rc.Auth.Username, Password: pw.Reveal()}))
		case config.AuthDocker:
			ropts = append(ropts, registry.WithKeychain(authn.DefaultKeychain))
		}
		var (
			lister  registry.Lister
			deleter registry.Deleter
		)
		if rc.Flavor == config.FlavorACR {
			cred, err := res.Credential()
			if err != nil {
				return nil, nil, fmt.Errorf("registry.auth: %w", err)
			}
			acr, err := registry.NewACR(rc.URL, cred, append(ropts, o.registry...)...)
			if err != nil {
				return nil, nil, err // it names the registry
			}
			lister, deleter = acr, acr
		} else {
			client, err := registry.New(rc.URL, append(ropts, o.registry...)...)
			if err != nil {
				return nil, nil, err // it names the registry
			}
			lister, deleter = client, client
		}
		reg = NewRegistry(rc.URL, lister, deleter, rc.Policy.ModelPolicy(), cfg.AuditPath(o.getenv), o.now, WithFlavor(rc.Flavor))
	}

	var charts *Charts
	if len(cfg.Charts) > 0 {
		tok, err := res.Resolve(ctx, cfg.GitHub.Token)
		if err != nil {
			return nil, nil, fmt.Errorf("github.token: %w", err)
		}
		gh, err := github.New(cfg.GitHub.APIURL, strings.TrimSpace(tok.Reveal()), o.github...)
		if err != nil {
			return nil, nil, fmt.Errorf("github: %w", err)
		}
		copts := o.chartrepo
		if dir, err := chartrepo.DefaultCacheDir(); err == nil {
			copts = append([]chartrepo.Option{chartrepo.WithCacheDir(dir)}, copts...)
		}
		charts = NewCharts(gh, chartrepo.New(copts...), cfg.Charts, cfg.GitHub.Mode == config.ModeFork, o.now)
	}
	return reg, charts, nil
}

// digestCache opens the digest cache for the registry at host; nil when it
// is off or no directory can be had (scans then read everything, as
// without a cache: the cache saves requests, it is never needed).
func (o *buildOptions) digestCache(host string) *digestcache.Cache {
	if o.noCache {
		return nil
	}
	dir := o.cacheDir
	if dir == "" {
		d, err := digestcache.DefaultDir(o.getenv, host)
		if err != nil {
			return nil
		}
		dir = d
	}
	c, err := digestcache.Open(dir)
	if err != nil {
		return nil
	}
	return c
}
