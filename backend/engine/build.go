package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/helmupgradebot/helmupgradebot/backend/chartrepo"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/digestcache"
	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/imagetags"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/backend/retry"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
	"github.com/helmupgradebot/helmupgradebot/backend/usage"
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
	onRetry   func(retry.Retry)
	retry     *retry.Policy
	usage     []usage.Option
	imagetags []imagetags.Option
	// aws replaces the AWS SDK's default chain for flavor ecr (the demo's
	// stand-in); nil: the chain.
	aws *aws.Config
	// The registry's digest cache: off, or in cacheDir (default: under
	// $XDG_CACHE_HOME).
	noCache  bool
	cacheDir string
	cacheLog *slog.Logger // damage found in it; nil: not logged
	// only: build this part alone (--only); "" both.
	only Part
}

// Part is one chore of the configuration, for WithOnly.
type Part string

// The parts.
const (
	PartRegistry Part = "registry"
	PartCharts   Part = "charts"
)

// WithOnly builds one part of the configuration (--only registry, --only
// charts): the other's engine is nil, and its secrets are not resolved,
// so a registry run needs no GitHub token, nor a charts run the
// registry's password.
func WithOnly(p Part) Option { return func(o *buildOptions) { o.only = p } }

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

// WithAWSConfig logs in to ECR (flavor ecr) with cfg instead of the AWS
// SDK's default credential chain: the demo's stand-in, whatever the
// environment says.
func WithAWSConfig(cfg aws.Config) Option {
	return func(o *buildOptions) { o.aws = &cfg }
}

// WithoutDigestCache reads every manifest and config from the registry
// (--no-cache). By default they are cached by digest under
// $XDG_CACHE_HOME/helmupgradebot/digests/<registry>.
func WithoutDigestCache() Option { return func(o *buildOptions) { o.noCache = true } }

// WithDigestCacheDir keeps the registry's digest cache in dir.
func WithDigestCacheDir(dir string) Option { return func(o *buildOptions) { o.cacheDir = dir } }

// WithDigestCacheLogger logs damage found in the digest cache (a record
// that fails its checks, a damaged index) and what was done about it.
func WithDigestCacheLogger(l *slog.Logger) Option {
	return func(o *buildOptions) { o.cacheLog = l }
}

// WithChartRepoOptions passes options to the chart repository client.
func WithChartRepoOptions(opts ...chartrepo.Option) Option {
	return func(o *buildOptions) { o.chartrepo = append(o.chartrepo, opts...) }
}

// WithRetryObserver hears of every retry of every client (for logs).
func WithRetryObserver(fn func(retry.Retry)) Option {
	return func(o *buildOptions) { o.onRetry = fn }
}

// WithRetryPolicy replaces the configuration's retry policy (the demo's
// with faults, tests').
func WithRetryPolicy(p retry.Policy) Option {
	return func(o *buildOptions) { o.retry = &p }
}

// retryPolicy is the configuration's retry policy (retry.max_attempts,
// retry.max_wait), shared by every client.
func (b *Builder) retryPolicy() retry.Policy {
	p := b.cfg.Retry.Policy()
	if b.o.retry != nil {
		p = b.o.retry.WithDefaults()
	}
	p.OnRetry = b.o.onRetry
	return p
}

func (b *Builder) githubOptions() []github.Option {
	return append([]github.Option{github.WithRetry(b.retryPolicy())}, b.o.github...)
}

// WithGitHubOptions passes options to the GitHub client.
func WithGitHubOptions(opts ...github.Option) Option {
	return func(o *buildOptions) { o.github = append(o.github, opts...) }
}

// FromConfig builds the registry and chart engines a configuration asks
// for (nil when a chore is not configured, or left out by WithOnly),
// resolving the secrets of those it builds.
func FromConfig(ctx context.Context, cfg *config.Config, opts ...Option) (*Registry, *Charts, error) {
	b := NewBuilder(cfg, opts...)
	var reg *Registry
	if rc := cfg.Registry; rc.URL != "" && b.o.only != PartCharts {
		client, err := b.RegistryClient(ctx)
		if err != nil {
			return nil, nil, err
		}
		audit := cfg.AuditPath(b.o.getenv)
		reg = NewRegistry(rc.URL, client, client, rc.Policy.ModelPolicy(), audit, b.o.now, WithFlavor(rc.Flavor),
			WithSnapshotDir(filepath.Dir(audit)), WithRequestCounts(b.requests))
	}
	if reg != nil {
		b.addUsage(reg)
	}
	var charts *Charts
	if len(cfg.Charts) > 0 && b.o.only != PartRegistry {
		gh, err := b.GitHub(ctx)
		if err != nil {
			return nil, nil, err
		}
		repos, err := b.ChartRepositories(ctx)
		if err != nil {
			return nil, nil, err
		}
		charts = NewCharts(gh, repos, cfg.Charts, cfg.GitHub.Mode == config.ModeFork, b.o.now)
		charts.aliases = cfg.Repositories
		charts.newImages = b.imageTagClients()
		charts.statusIssues = statusIssues(cfg, gh)
	}
	return reg, charts, nil
}

// Builder builds the clients a configuration asks for one at a time, so
// that a caller can tell which part failed: FromConfig builds them all,
// --check-config checks each.
type Builder struct {
	cfg *config.Config
	o   buildOptions
	res *secrets.Resolver
	// requests counts the registry client's requests by API.
	requests *registry.RequestCounts
}

// NewBuilder prepares to build cfg's clients; nothing is resolved or
// contacted yet.
func NewBuilder(cfg *config.Config, opts ...Option) *Builder {
	o := buildOptions{getenv: os.Getenv, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	res := secrets.NewResolver(append([]secrets.Option{
		// Key Vault and the Entra credential keep the Azure SDK's retries,
		// over a transport with every timeout set.
		secrets.WithTransport(&http.Client{Transport: retry.NewBaseTransport(cfg.Retry.Policy())}),
		secrets.WithAzureClientID(cfg.Azure.ClientID),
		secrets.WithLookupEnv(func(k string) (string, bool) { v := o.getenv(k); return v, v != "" }),
	}, o.resolver...)...)
	return &Builder{cfg: cfg, o: o, res: res, requests: &registry.RequestCounts{}}
}

// Resolve resolves one of the configuration's secret references.
func (b *Builder) Resolve(ctx context.Context, ref string) (secrets.Secret, error) {
	return b.res.Resolve(ctx, ref)
}

// RegistryClient is the configured registry's client: a *registry.Client,
// a *registry.ACR for flavor acr, a *registry.Harbor for flavor harbor.
type RegistryClient interface {
	registry.Lister
	registry.Deleter
	// Probe lists one page, changing nothing (--check-config).
	Probe(ctx context.Context) (registry.Probe, error)
}

// RegistryClient builds the registry's client, resolving its password.
func (b *Builder) RegistryClient(ctx context.Context) (RegistryClient, error) {
	rc := b.cfg.Registry
	ropts := []registry.Option{registry.WithConcurrency(rc.Concurrency), registry.WithClock(b.o.now), registry.WithDigestCache(b.o.digestCache(rc.URL)), registry.WithRetry(b.retryPolicy()), registry.WithRequestCounts(b.requests)}
	if rc.Insecure {
		ropts = append(ropts, registry.WithInsecure())
	}
	switch rc.Auth.Type {
	case config.AuthBasic:
		pw, err := b.res.Resolve(ctx, rc.Auth.Password)
		if err != nil {
			return nil, fmt.Errorf("registry.auth.password: %w", err)
		}
		ropts = append(ropts, registry.WithAuthenticator(&authn.Basic{Username: rc.Auth.Username, Password: pw.Reveal()}))
	case config.AuthDocker:
		ropts = append(ropts, registry.WithKeychain(authn.DefaultKeychain))
	}
	if rc.Flavor == config.FlavorECR {
		if rc.AgeFrom != "" { // else ECR's default, pushed
			ropts = append(ropts, registry.WithAgeFrom(rc.AgeFrom))
		}
		opts := append(ropts, b.o.registry...)
		if b.o.aws != nil {
			return registry.NewECR(rc.URL, *b.o.aws, opts...)
		}
		cfg, err := registry.ECRConfig(ctx, rc.URL, opts...)
		if err != nil {
			return nil, fmt.Errorf("registry.auth: %w", err)
		}
		return registry.NewECR(rc.URL, cfg, opts...) // its errors name the registry
	}
	if rc.Flavor == config.FlavorGAR {
		return b.garClient(ctx, ropts)
	}
	if rc.Flavor == config.FlavorHarbor {
		return registry.NewHarbor(rc.URL, rc.Projects, append(ropts, b.o.registry...)...) // its errors name the registry
	}
	if rc.Flavor == config.FlavorACR {
		cred, err := b.res.Credential()
		if err != nil {
			return nil, fmt.Errorf("registry.auth: %w", err)
		}
		if rc.AgeFrom != "" { // else ACR's default, pushed
			ropts = append(ropts, registry.WithAgeFrom(rc.AgeFrom))
		}
		return registry.NewACR(rc.URL, cred, append(ropts, b.o.registry...)...) // its errors name the registry
	}
	return registry.New(rc.URL, append(ropts, b.o.registry...)...)
}

// garClient builds the client of Google's registry: logged in with
// Application Default Credentials, or the service-account key
// registry.auth.password references, unless auth is basic or docker.
func (b *Builder) garClient(ctx context.Context, ropts []registry.Option) (RegistryClient, error) {
	rc := b.cfg.Registry
	if rc.Auth.Type == config.AuthGoogle {
		var key []byte
		if rc.Auth.Password != "" {
			k, err := b.res.Resolve(ctx, rc.Auth.Password)
			if err != nil {
				return nil, fmt.Errorf("registry.auth.password: %w", err)
			}
			key = []byte(k.Reveal())
		}
		auth, err := registry.GoogleLogin(ctx, key, append(slices.Clone(ropts), b.o.registry...)...)
		if err != nil {
			return nil, fmt.Errorf("registry.auth: %w", err)
		}
		ropts = append(ropts, registry.WithAuthenticator(auth))
	}
	if rc.AgeFrom != "" { // else Google's default, pushed
		ropts = append(ropts, registry.WithAgeFrom(rc.AgeFrom))
	}
	return registry.NewGAR(rc.URL, rc.Root, append(ropts, b.o.registry...)...)
}

// GitHub builds the GitHub client: with the token, or signed in as the
// GitHub App's installation with its private key.
func (b *Builder) GitHub(ctx context.Context) (*github.Client, error) {
	g := b.cfg.GitHub
	if g.App() {
		key, err := b.res.Resolve(ctx, g.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("github.private_key: %w", err)
		}
		gh, err := github.NewApp(g.APIURL, github.App{ID: g.AppID, InstallationID: g.InstallationID, PrivateKey: []byte(key.Reveal())}, b.githubOptions()...)
		if err != nil {
			return nil, fmt.Errorf("github.private_key: %w", err)
		}
		return gh, nil
	}
	tok, err := b.res.Resolve(ctx, g.Token)
	if err != nil {
		return nil, fmt.Errorf("github.token: %w", err)
	}
	gh, err := github.New(g.APIURL, strings.TrimSpace(tok.Reveal()), b.githubOptions()...)
	if err != nil {
		return nil, fmt.Errorf("github: %w", err)
	}
	return gh, nil
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
	var opts []digestcache.Option
	if o.cacheLog != nil {
		opts = append(opts, digestcache.WithLogger(o.cacheLog))
	}
	c, err := digestcache.Open(dir, opts...)
	if err != nil {
		return nil
	}
	return c
}
