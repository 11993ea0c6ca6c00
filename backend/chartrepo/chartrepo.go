// Package chartrepo lists the published versions of Helm charts, from HTTP
// chart repositories (index.yaml) and OCI registries (tags).
package chartrepo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/helmupgradebot/helmupgradebot/backend/retry"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// Client looks up chart versions. Each repository's index (or each OCI
// chart's tag list) is fetched once per Client and shared by every lookup
// after that; a Client is safe for concurrent use.
type Client struct {
	httpClient *http.Client
	transport  http.RoundTripper
	cacheDir   string
	remoteOpts []remote.Option
	userAgent  string
	retry      retry.Policy
	creds      map[string]*Credentials // by config.RepositoryKey
	keychain   authn.Keychain

	indexes memo[*Index]
	tags    memo[[]string]
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the client that fetches index.yaml files; its
// transport also carries OCI registry requests.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		c.httpClient = hc
		c.transport = hc.Transport
	}
}

// WithTransport sets the transport for index fetches and OCI registry
// requests alike.
func WithTransport(rt http.RoundTripper) Option {
	return func(c *Client) {
		c.httpClient = &http.Client{Transport: rt}
		c.transport = rt
	}
}

// WithCacheDir keeps fetched indexes in dir and revalidates them with
// If-None-Match / If-Modified-Since, so an unchanged index is not
// downloaded again. See DefaultCacheDir. Without it nothing is cached on
// disk.
func WithCacheDir(dir string) Option {
	return func(c *Client) { c.cacheDir = dir }
}

// WithRemoteOptions adds go-containerregistry options to OCI requests, such
// as remote.WithAuth or remote.WithAuthFromKeychain. Set the transport with
// WithTransport rather than remote.WithTransport.
func WithRemoteOptions(opts ...remote.Option) Option {
	return func(c *Client) { c.remoteOpts = append(c.remoteOpts, opts...) }
}

// WithRetry sets how index fetches and OCI registry requests are retried
// and bounded (package retry's defaults otherwise). The retry layer goes
// under every transport, given or not.
func WithRetry(p retry.Policy) Option {
	return func(c *Client) { c.retry = p }
}

// New returns a Client.
func New(opts ...Option) *Client {
	c := &Client{httpClient: &http.Client{}, userAgent: "helmupgradebot", creds: map[string]*Credentials{}}
	for _, o := range opts {
		o(c)
	}
	p := c.retry.WithDefaults()
	base := c.transport
	if base == nil {
		base = retry.NewBaseTransport(p)
	}
	c.transport = retry.New(base, p)
	hc := *c.httpClient
	hc.Transport = c.transport
	c.httpClient = &hc
	return c
}

// kind is how a chart repository is reached.
type kind int

const (
	kindHTTP kind = iota
	kindOCI
)

func repositoryKind(repository, chart string) (kind, error) {
	scheme, _, ok := strings.Cut(repository, "://")
	switch strings.ToLower(scheme) {
	case "https", "http":
		return kindHTTP, nil
	case "oci":
		return kindOCI, nil
	}
	hint := ""
	switch {
	case repository == "":
		hint = " (an empty repository means a chart kept beside the chart file; there is nothing to bump)"
	case strings.HasPrefix(repository, "file://"):
		hint = " (a file:// chart is kept beside the chart file; there is nothing to bump)"
	case strings.HasPrefix(repository, "@") || strings.HasPrefix(repository, "alias:"):
		hint = " (a repository name is resolved through the configuration's repositories map first; give the name's URL there, or write the URL)"
	case !ok:
		hint = " (it has no scheme)"
	}
	return 0, fmt.Errorf("chart %s: unsupported repository %q, want https://, http:// or oci://%s", chart, redactRaw(repository), hint)
}

// Versions lists the published versions of chart in repository, which is
// an https:// (or http://) chart repository or an oci:// registry path as
// written in a Chart.yaml. Versions from an index carry their created time,
// home, sources, appVersion and digest; versions from OCI tags carry only
// the version (see Describe).
func (c *Client) Versions(ctx context.Context, repository, chart string) ([]model.ChartVersion, error) {
	k, err := repositoryKind(repository, chart)
	if err != nil {
		return nil, err
	}
	if k == kindOCI {
		return c.ociVersions(ctx, repository, chart)
	}
	ix, shown, err := c.index(ctx, repository)
	if err != nil {
		return nil, err
	}
	return c.chartVersions(ix, shown, chart)
}

// Describe returns everything the repository says about one version of a
// chart. For an HTTP repository that is its index entry; for OCI it reads
// the chart's manifest and config (created time, home, sources,
// appVersion, manifest digest), so call it only for the versions a pull
// request mentions.
func (c *Client) Describe(ctx context.Context, repository, chart, version string) (model.ChartVersion, error) {
	k, err := repositoryKind(repository, chart)
	if err != nil {
		return model.ChartVersion{}, err
	}
	if k == kindOCI {
		return c.ociDescribe(ctx, repository, chart, version)
	}
	ix, shown, err := c.index(ctx, repository)
	if err != nil {
		return model.ChartVersion{}, err
	}
	vs, err := c.chartVersions(ix, shown, chart)
	if err != nil {
		return model.ChartVersion{}, err
	}
	for _, v := range vs {
		if v.Version == version {
			return v, nil
		}
	}
	return model.ChartVersion{}, fmt.Errorf("chart %s has no version %s in %s", chart, version, shown)
}

func (c *Client) chartVersions(ix *Index, shown, chart string) ([]model.ChartVersion, error) {
	vs, err := ix.Versions(chart)
	var nf *ChartNotFoundError
	if errors.As(err, &nf) {
		nf.Index = shown
	}
	return vs, err
}

// Index returns the parsed index of an HTTP chart repository, fetching it
// on first use.
func (c *Client) Index(ctx context.Context, repository string) (*Index, error) {
	ix, _, err := c.index(ctx, repository)
	return ix, err
}

func (c *Client) index(ctx context.Context, repository string) (*Index, string, error) {
	u, err := indexURL(repository)
	if err != nil {
		return nil, "", err
	}
	if s := strings.ToLower(u.Scheme); s != "https" && s != "http" {
		return nil, "", fmt.Errorf("chart repository %s is not an http(s) URL", u.Redacted())
	}
	shown := u.Redacted()
	ix, err := c.indexes.get(u.String(), func() (*Index, error) {
		ix, err := c.fetchIndex(ctx, c.httpClientFor(repository), u)
		if err != nil {
			return nil, fmt.Errorf("%w%s", err, c.authHint(repository, err))
		}
		return ix, nil
	})
	return ix, shown, err
}

// memo keeps one value per key, loading it once; failed loads are retried
// by the next caller.
type memo[T any] struct {
	mu    sync.Mutex
	cells map[string]*memoCell[T]
}

type memoCell[T any] struct {
	mu   sync.Mutex
	done bool
	v    T
}

func (m *memo[T]) get(key string, load func() (T, error)) (T, error) {
	m.mu.Lock()
	if m.cells == nil {
		m.cells = map[string]*memoCell[T]{}
	}
	cell, ok := m.cells[key]
	if !ok {
		cell = &memoCell[T]{}
		m.cells[key] = cell
	}
	m.mu.Unlock()

	cell.mu.Lock()
	defer cell.mu.Unlock()
	if cell.done {
		return cell.v, nil
	}
	v, err := load()
	if err != nil {
		var zero T
		return zero, err
	}
	cell.v, cell.done = v, true
	return v, nil
}
