// Package demo runs helmupgradebot's embedded demo: the real distribution
// registry seeded with a BinderHub-like population, a chartpress-style chart
// repository, and a GitHub stand-in holding a deployment repository, all
// in-process on 127.0.0.1. Every action works for real against them.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/chartrepo"
	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/ecrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/faulttest"
	"github.com/helmupgradebot/helmupgradebot/backend/gartest"
	"github.com/helmupgradebot/helmupgradebot/backend/github"
	"github.com/helmupgradebot/helmupgradebot/backend/githubtest"
	"github.com/helmupgradebot/helmupgradebot/backend/harbortest"
	"github.com/helmupgradebot/helmupgradebot/backend/history"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
	"github.com/helmupgradebot/helmupgradebot/backend/retry"
	"github.com/helmupgradebot/helmupgradebot/backend/secrets"
)

// The deployment repository the demo's GitHub stand-in holds.
const (
	Owner    = "binderhub-ops"
	Repo     = "hub-deploy"
	File     = "hub/Chart.yaml"
	tokenEnv = "HELMUPGRADEBOT_DEMO_TOKEN"
)

// Env is a running demo.
type Env struct {
	Config   *config.Config
	Registry *engine.Registry
	Charts   *engine.Charts
	// GitHub is the stand-in; tests inject faults through it.
	GitHub *githubtest.Server
	// Faults are the fault proxies in front of the services (WithFaults),
	// nil without.
	Faults *Faults
	// RegistryServer is the embedded registry.
	RegistryServer *registrytest.Registry
	// History holds the demo's run history, seeded with 90 days of runs
	// marked as demo data.
	History *history.Store
	// ACR is the Azure Container Registry stand-in in front of it, which
	// the engine talks to with a managed identity.
	ACR *acrtest.Server
	// ECR is the Amazon ECR stand-in in front of it, with WithRegistry(RegistryECR)
	// instead of ACR.
	ECR *ecrtest.Server
	// GAR and Harbor are the Google Artifact Registry and Harbor
	// stand-ins, with WithRegistry(RegistryGAR) or (RegistryHarbor).
	GAR    *gartest.Server
	Harbor *harbortest.Server
	// Seeded is what was pushed to it.
	Seeded *registrytest.Seeded
	// ChartRepository is the chart repository's URL, and OCIChartRepository
	// the oci:// one.
	ChartRepository    string
	OCIChartRepository string
	// ImageRegistry is the host of the registry holding the images the
	// values file pins (the OCI chart registry), as the engine reaches it.
	ImageRegistry string

	// Usage is the demo's usage sources: launch events and running pods.
	Usage *UsageEnv

	closers   []func()
	dir       string
	imageHost string // ImageRegistry without a fault proxy, for PushImage
}

// Option tunes Start.
type Option func(*options)

type options struct {
	now        time.Time
	population *registrytest.Population
	configure  func(*config.Config)
	wrap       func(http.Handler) http.Handler
	engine     []engine.Option
	faults     *faulttest.Options
	retry      *retry.Policy
	kind       string // RegistryKinds; "" RegistryACR
}

// WithConfigure edits the demo's configuration before the engine is built
// (tests tighten the policy, for one).
func WithConfigure(fn func(*config.Config)) Option { return func(o *options) { o.configure = fn } }

// WithRegistryHandler wraps the embedded registry's HTTP handler (tests
// inject faults with it).
func WithRegistryHandler(wrap func(http.Handler) http.Handler) Option {
	return func(o *options) { o.wrap = wrap }
}

// WithEngineOptions passes options to the engine (after the demo's own:
// engine.WithoutDigestCache for --no-cache, say).
func WithEngineOptions(opts ...engine.Option) Option {
	return func(o *options) { o.engine = append(o.engine, opts...) }
}

// WithNow fixes the demo's clock (created times, ages), for reproducible
// screens.
func WithNow(t time.Time) Option { return func(o *options) { o.now = t } }

// WithPopulation replaces the registry's default population.
func WithPopulation(p registrytest.Population) Option {
	return func(o *options) { o.population = &p }
}

// Start brings the demo up; Close takes it down and removes its files.
func Start(ctx context.Context, opts ...Option) (env *Env, err error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	clock := time.Now
	if !o.now.IsZero() {
		fixed := o.now
		clock = func() time.Time { return fixed }
	}
	now := clock()
	env = &Env{}
	started := env // a failing return sets env to nil before this runs
	defer func() {
		if err != nil {
			started.Close()
			env = nil
		}
	}()
	env.dir, err = os.MkdirTemp("", "helmupgradebot-demo-")
	if err != nil {
		return nil, fmt.Errorf("demo: make a working directory: %w", err)
	}

	var ropts []registrytest.Option
	if o.wrap != nil {
		ropts = append(ropts, registrytest.WithHandler(o.wrap))
	}
	reg, err := registrytest.Start(ctx, ropts...)
	if err != nil {
		return nil, fmt.Errorf("demo: start registry: %w", err)
	}
	env.RegistryServer = reg
	env.closers = append(env.closers, func() { _ = reg.Close() })
	pop := registrytest.DefaultPopulation()
	if o.population != nil {
		pop = *o.population
	}
	pop.Now = now
	if o.kind == RegistryGAR || o.kind == RegistryHarbor {
		pop.Prefix = demoProject + "/" // registry.root, registry.projects
	}
	prefix := pop.Prefix
	env.Seeded, err = reg.Populate(ctx, pop)
	if err != nil {
		return nil, fmt.Errorf("demo: seed registry: %w", err)
	}
	var regHost string
	var kindOpts []engine.Option
	secretEnv := map[string]string{} // the registry's secrets, for the engine's getenv
	switch o.kind {
	case "", RegistryACR:
		acr, cred, err := acrDemo(ctx, env, reg, now)
		if err != nil {
			return nil, err
		}
		env.ACR = acr
		if regHost, err = env.front(&o, acr.Host(), 0, func(f *Faults, p *faulttest.Proxy) { f.Registry = p; acr.SetLoginServer(p.Host()) }); err != nil {
			return nil, err
		}
		kindOpts = append(kindOpts, engine.WithSecretOptions(secrets.WithCredential(cred)))
	case RegistryECR:
		srv, err := ecrDemo(ctx, env, reg, now)
		if err != nil {
			return nil, err
		}
		env.ECR = srv
		if regHost, err = env.front(&o, srv.Host(), 0, func(f *Faults, p *faulttest.Proxy) { f.Registry = p }); err != nil {
			return nil, err
		}
		// the stand-in's static credentials, never the environment's or
		// the instance metadata service's
		kindOpts = append(kindOpts, engine.WithAWSConfig(srv.AWSConfig()), engine.WithRegistryOptions(registry.WithECREndpoint("http://"+regHost)))
	case RegistryGAR:
		srv, err := garDemo(ctx, env, reg, now)
		if err != nil {
			return nil, err
		}
		env.GAR = srv
		if regHost, err = env.front(&o, srv.Host(), 0, func(f *Faults, p *faulttest.Proxy) { f.Registry = p; srv.SetLoginServer(p.Host()) }); err != nil {
			return nil, err
		}
		// the stand-in's service-account key, whose token_uri is the
		// stand-in: never the metadata server nor the shell's ADC
		secretEnv[garKeyEnv] = string(srv.KeyFile())
	case RegistryHarbor:
		srv, err := harborDemo(ctx, env, reg, now)
		if err != nil {
			return nil, err
		}
		env.Harbor = srv
		if regHost, err = env.front(&o, srv.Host(), 0, func(f *Faults, p *faulttest.Proxy) { f.Registry = p }); err != nil {
			return nil, err
		}
		secretEnv[harborPassEnv] = harborPassword
	default:
		return nil, fmt.Errorf("demo: registry %q is not one of %v", o.kind, RegistryKinds)
	}

	// Charts also come from an OCI registry, as traefik's do for
	// mybinder.org: a second embedded registry, so that its chart artifacts
	// stay out of the registry tab.
	ociReg, err := registrytest.Start(ctx)
	if err != nil {
		return nil, fmt.Errorf("demo: start chart registry: %w", err)
	}
	env.closers = append(env.closers, func() { _ = ociReg.Close() })
	if err := pushOCIChart(ctx, ociReg.Host(), demoOCIChart(now)); err != nil {
		return nil, err
	}
	// The repo2docker image the values file pins lives there too.
	env.imageHost = ociReg.Host()
	if err := pushRepo2docker(ctx, env.imageHost); err != nil {
		return nil, err
	}
	ociHost, err := env.front(&o, ociReg.Host(), 1, func(f *Faults, p *faulttest.Proxy) { f.OCICharts = p })
	if err != nil {
		return nil, err
	}
	env.OCIChartRepository = "oci://" + ociHost + "/helm"
	env.ImageRegistry = ociHost

	chartURL, stop, err := serveIndex(demoCharts(now), now)
	if err != nil {
		return nil, err
	}
	env.closers = append(env.closers, stop)
	if chartURL, err = env.front(&o, chartURL, 2, func(f *Faults, p *faulttest.Proxy) { f.Charts = p }); err != nil {
		return nil, err
	}
	env.ChartRepository = chartURL

	gh := githubtest.NewServer()
	env.GitHub = gh
	env.closers = append(env.closers, gh.Close)
	ghURL, err := env.front(&o, gh.URL(), 3, func(f *Faults, p *faulttest.Proxy) { f.GitHub = p })
	if err != nil {
		return nil, err
	}
	gh.AddRepository(Owner, Repo, "main", map[string]string{
		File:        deploymentChart(chartURL, env.OCIChartRepository),
		ValuesFile:  deploymentValues(ociHost),
		"README.md": "# hub-deploy\n\nThe demo hub's deployment.\n",
	})
	if err := gh.AddCollaborators(Owner, Repo, "hub-admin"); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := seedReleases(gh, now); err != nil {
		return nil, err
	}

	total := distinctBytes(env.Seeded)
	env.Config = &config.Config{
		Registry: config.Registry{
			URL:         regHost,
			Flavor:      config.FlavorACR,
			Auth:        config.Auth{Type: config.AuthAzure},
			Concurrency: 8,
			Policy: config.Policy{
				MaxAge:            config.Age{Duration: 90 * 24 * time.Hour},
				UntaggedMaxAge:    config.Age{Duration: 7 * 24 * time.Hour},
				Protect:           mustRegexps(`^`+regexp.QuoteMeta(prefix)+`jupyterhub/`, `^`+regexp.QuoteMeta(prefix)+`base:latest$`),
				Cap:               config.Size{Bytes: total * 3 / 4}, // reachable with the launched images held
				Aggressive:        true,
				MaxDeleteFraction: ptr(0.75),
			},
		},
		AuditLog: filepath.Join(env.dir, "audit.jsonl"),
		GitHub:   config.GitHub{APIURL: ghURL, Token: "env:" + tokenEnv, Mode: config.ModeBranch, StatusIssue: true},
		Charts: []config.Chart{{
			Repository: Owner + "/" + Repo,
			File:       File,
			Dependencies: map[string]config.Dependency{
				"binderhub":     {Prereleases: true},
				"jupyterhub":    {},
				"ingress-nginx": {},
				"traefik":       {},
			},
			Values:    []string{ValuesFile},
			Labels:    []string{"dependencies"},
			Reviewers: []string{"hub-admin"},
		}},
	}
	if env.ECR != nil {
		rc := &env.Config.Registry
		rc.Flavor, rc.Auth.Type = config.FlavorECR, config.AuthAWS
		rc.Policy.KeepPulledWithin = config.Age{Duration: 30 * 24 * time.Hour}
	}
	if env.GAR != nil {
		rc := &env.Config.Registry
		rc.Flavor, rc.Root = config.FlavorGAR, demoProject
		rc.Auth = config.Auth{Type: config.AuthGoogle, Password: "env:" + garKeyEnv}
	}
	if env.Harbor != nil {
		rc := &env.Config.Registry
		rc.Flavor, rc.Projects = config.FlavorHarbor, []string{demoProject}
		rc.Auth = config.Auth{Type: config.AuthBasic, Username: harborRobot, Password: "env:" + harborPassEnv}
		rc.Policy.KeepPulledWithin = config.Age{Duration: 30 * 24 * time.Hour}
	}
	if err := env.startUsage(now); err != nil {
		return nil, err
	}
	if o.configure != nil {
		o.configure(env.Config)
	}
	env.History = history.Open(filepath.Join(env.dir, "history.jsonl"))
	if err := seedHistory(env.History, regHost, total, env.Config.Registry.Policy.Cap.Bytes, now); err != nil {
		return nil, err
	}
	getenv := func(k string) string {
		if k == tokenEnv {
			return gh.Token()
		}
		return secretEnv[k]
	}
	env.Registry, env.Charts, err = engine.FromConfig(ctx, env.Config, append([]engine.Option{
		engine.WithGetenv(getenv), engine.WithClock(clock),
		engine.WithChartRepoOptions(chartrepo.WithCacheDir(filepath.Join(env.dir, "charts"))),
		engine.WithDigestCacheDir(filepath.Join(env.dir, "digests")),
		// The stand-in computes mergeable at once: no need to wait long.
		engine.WithGitHubOptions(github.WithMergeablePolling(50*time.Millisecond, 3)),
	}, append(append(kindOpts, o.retryOptions()...), o.engine...)...)...)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if env.Charts != nil {
		env.Charts.UseHistory(env.History)
	}
	return env, nil
}

// Close stops every demo service and removes the demo's files.
func (e *Env) Close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}

// serveIndex serves a chart repository's index.yaml on loopback.
func serveIndex(charts []indexChart, now time.Time) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("demo: chart repository: %w", err)
	}
	base := "http://" + ln.Addr().String() + "/"
	body := indexYAML(base, charts, now)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /index.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-yaml")
		http.ServeContent(w, r, "index.yaml", now, bytes.NewReader(body))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the demo's chart repository stopped; requests will say so
		}
	}()
	return base, func() { _ = srv.Close() }, nil
}

// deploymentChart is the deployment's Chart.yaml: binderhub a few dev
// builds behind, jupyterhub current, ingress-nginx a minor behind, traefik
// (from OCI) a major behind; quoted and unquoted versions and comments, as
// real ones have.
func deploymentChart(chartURL, ociURL string) string {
	return `apiVersion: v2
name: hub
version: 0.1.0
description: The demo hub's deployment
dependencies:
  # BinderHub follows every dev build
  - name: binderhub
    version: "1.0.0-0.dev.git.3478.h` + chartpressHash("binderhub", 3478) + `"
    repository: ` + chartURL + `
  - name: jupyterhub
    version: 3.3.8 # stable releases only
    repository: ` + chartURL + `
  - name: ingress-nginx
    version: '4.11.3'
    repository: ` + chartURL + `
    condition: ingress-nginx.enabled
  # traefik comes from an OCI registry
  - name: traefik
    version: "34.0.0"
    repository: ` + ociURL + `
`
}

// distinctBytes is the seeded registry's real size: each blob once.
func distinctBytes(s *registrytest.Seeded) int64 {
	seen := map[string]bool{}
	var n int64
	for _, im := range s.Images {
		for _, b := range im.Blobs {
			if !seen[b.Digest] {
				seen[b.Digest] = true
				n += b.Size
			}
		}
	}
	return n
}

func mustRegexps(pats ...string) []config.Regexp {
	out := make([]config.Regexp, len(pats))
	for i, p := range pats {
		out[i] = config.Regexp{Regexp: regexp.MustCompile(p)}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
