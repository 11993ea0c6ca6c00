// Package registry inventories an OCI/Docker distribution registry and
// deletes manifests from it, through go-containerregistry.
//
// A scan walks the catalog and every repository's tag list, reads each
// tagged manifest (following image indexes to their platform manifests) and
// each image config (for its created time), and builds a model.Inventory
// whose blobs are the manifests, configs and layers the registry stores.
//
// The distribution API cannot list untagged manifests: an image that lost
// all its tags is invisible to Scan although it still takes space until it
// is deleted by digest and garbage-collected. (The ACR listing API can list
// them; an ACR Lister can slot in beside this one.)
package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/helmupgradebot/helmupgradebot/backend/digestcache"
	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
	"github.com/helmupgradebot/helmupgradebot/backend/retry"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// Progress reports how far a scan has come. Totals grow as listing
// proceeds: Images counts the tags listed so far.
type Progress struct {
	Repositories, RepositoriesDone int
	Images, ImagesDone             int
}

// Lister inventories a registry.
type Lister interface {
	// Scan lists everything in the registry. progress, when not nil, is
	// called from one goroutine at a time, and once more at the end.
	Scan(ctx context.Context, progress func(Progress)) (*model.Inventory, error)
}

// Deleter deletes manifests by digest, and re-reads a repository just
// before deleting in it.
type Deleter interface {
	// DeleteManifest deletes repository@digest. A manifest that is not
	// there gives an error matching ErrNotFound; a registry refusing all
	// deletes one matching ErrDeleteDisabled.
	DeleteManifest(ctx context.Context, repository, digest string) error
	// Current says what the repository holds now: its tags by digest, and
	// the platform manifests of tagged indexes that known (the scan's
	// digests) does not report.
	Current(ctx context.Context, repository string, known func(digest string) bool) (Current, error)
	// Exists reports whether repository@digest is in the registry: how a
	// later run learns what a killed run's deletion did.
	Exists(ctx context.Context, repository, digest string) (bool, error)
}

// Defaults.
const (
	DefaultConcurrency = 16
	// DefaultPageSize is the n asked of catalog and tag list pages: the
	// most distribution's catalog accepts by default (and ECR's limit). A
	// registry that rejects it with PAGINATION_NUMBER_INVALID is asked
	// again with smaller pages.
	DefaultPageSize = 1000
)

// Client talks to one registry. It implements Lister and Deleter and is
// safe for concurrent use.
type Client struct {
	host        string
	reg         name.Registry
	concurrency int
	pageSize    int
	now         func() time.Time
	remoteOpts  []remote.Option
	pusher      *remote.Pusher
	cache       *digestcache.Cache // nil: none
	batch       int                // manifests a listing kind's batch holds at least; 0: batchManifests
	// base is the transport under go-containerregistry's auth: the
	// retry layer, refusing plain HTTP unless allowed
	base http.RoundTripper
}

var (
	_ Lister  = (*Client)(nil)
	_ Deleter = (*Client)(nil)
)

// Option configures New.
type Option func(*options) error

type options struct {
	auth        authn.Authenticator
	keychain    authn.Keychain
	insecure    bool
	concurrency int
	transport   http.RoundTripper
	pageSize    int
	now         func() time.Time
	retry       retry.Policy
	cache       *digestcache.Cache
	ageFrom     string         // ACR only: AgeFromPushed (default) or AgeFromBuilt
	requests    *RequestCounts // nil: not counted
	deferLocks  bool           // ACR only: WithDeferredLocks
	ecrEndpoint string         // "": ECR's own for the region
	iamEndpoint string         // "": ecrEndpoint, else STS's and IAM's own
	batch       int            // Client.batch (tests: withBatch)
}

// WithAuthenticator logs in with a (e.g. basic) authenticator. The default
// is anonymous.
func WithAuthenticator(a authn.Authenticator) Option {
	return func(o *options) error {
		if a == nil {
			return errors.New("WithAuthenticator: nil authenticator")
		}
		o.auth = a
		return nil
	}
}

// WithKeychain finds credentials in a keychain, such as
// authn.DefaultKeychain (the docker config and its credential helpers).
func WithKeychain(k authn.Keychain) Option {
	return func(o *options) error {
		if k == nil {
			return errors.New("WithKeychain: nil keychain")
		}
		o.keychain = k
		return nil
	}
}

// WithInsecure allows plain HTTP to the registry. Without it plain HTTP is
// used only for loopback hosts (127.0.0.0/8, ::1, localhost); any other
// host must speak HTTPS (go-containerregistry alone would fall back to plain
// HTTP for private addresses; this client refuses that).
func WithInsecure() Option {
	return func(o *options) error {
		o.insecure = true
		return nil
	}
}

// WithConcurrency bounds the registry calls a scan makes at once (default
// DefaultConcurrency).
func WithConcurrency(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("WithConcurrency: %d is not positive", n)
		}
		o.concurrency = n
		return nil
	}
}

// WithTransport sets the HTTP transport under go-containerregistry's auth
// and retry layers (default: one shared http.Transport per Client).
func WithTransport(t http.RoundTripper) Option {
	return func(o *options) error {
		if t == nil {
			return errors.New("WithTransport: nil transport")
		}
		o.transport = t
		return nil
	}
}

// WithPageSize sets the n asked of catalog and tag list pages, and of
// ACR's listings (default DefaultPageSize).
func WithPageSize(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("WithPageSize: %d is not positive", n)
		}
		o.pageSize = n
		return nil
	}
}

// WithClock sets the clock that stamps Inventory.ScannedAt.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return errors.New("WithClock: nil clock")
		}
		o.now = now
		return nil
	}
}

// WithRetry sets how calls are retried and bounded (package retry; the
// default is retry's, or the configuration's retry keys). It replaces
// go-containerregistry's and the Azure SDK's own retries, which are off.
func WithRetry(p retry.Policy) Option {
	return func(o *options) error {
		o.retry = p
		return nil
	}
}

// WithRetryBackoff sets the attempts (Steps) and the first wait (Duration)
// of the retry policy (see WithRetry), in go-containerregistry's terms. Of
// it and WithRetry, the later option wins.
func WithRetryBackoff(b remote.Backoff) Option {
	return func(o *options) error {
		if b.Steps < 1 {
			return fmt.Errorf("WithRetryBackoff: %d steps; at least 1 (one try, no retry)", b.Steps)
		}
		o.retry.MaxAttempts = b.Steps
		if b.Duration > 0 {
			o.retry.BaseDelay, o.retry.MaxDelay = b.Duration, 10*b.Duration
		}
		return nil
	}
}

// New returns a client of the registry at host ("host[:port]", no scheme).
func New(host string, opts ...Option) (*Client, error) {
	o := options{concurrency: DefaultConcurrency, pageSize: DefaultPageSize, now: time.Now}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("registry %s: %w", host, err)
		}
	}
	if host == "" {
		return nil, errors.New("registry: empty host")
	}
	if i := strings.Index(host, "://"); i >= 0 {
		return nil, fmt.Errorf("registry %s: give host[:port] without a scheme; plain HTTP needs insecure (registry.insecure: true), except on loopback", host)
	}
	if strings.ContainsAny(host, "/?#@") {
		return nil, fmt.Errorf("registry %s: give host[:port] only, without a path", host)
	}
	if o.auth != nil && o.keychain != nil {
		return nil, fmt.Errorf("registry %s: give an authenticator or a keychain, not both", host)
	}
	if o.ageFrom == AgeFromPushed {
		return nil, fmt.Errorf("registry %s: the distribution API records no push times: an image's age is its config's created time (age_from: built)", host)
	}
	local := loopback.Host(host)
	var nameOpts []name.Option
	if o.insecure || local {
		nameOpts = append(nameOpts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", host, err)
	}

	base := o.retrying()
	if !o.insecure && !local {
		base = &httpsOnly{host: reg.RegistryStr(), inner: base}
	}

	ropts := []remote.Option{
		remote.WithTransport(base),
		remote.WithJobs(o.concurrency),
		remote.WithUserAgent("helmupgradebot"),
	}
	switch {
	case o.keychain != nil:
		ropts = append(ropts, remote.WithAuthFromKeychain(o.keychain))
	case o.auth != nil:
		ropts = append(ropts, remote.WithAuth(o.auth))
	}
	ropts = append(ropts, noRemoteRetries...)
	pusher, err := remote.NewPusher(ropts...)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", host, err)
	}
	return &Client{
		host:        host,
		reg:         reg,
		concurrency: o.concurrency,
		pageSize:    o.pageSize,
		now:         o.now,
		remoteOpts:  ropts,
		pusher:      pusher,
		cache:       o.cache,
		batch:       o.batch,
		base:        base,
	}, nil
}

// noRemoteRetries turns go-containerregistry's retries off: the retry
// transport under it retries (and honours Retry-After, which it does not).
var noRemoteRetries = []remote.Option{
	remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
	remote.WithRetryPredicate(func(error) bool { return false }),
	remote.WithRetryStatusCodes(),
}

// policy is the retry policy the options give.
func (o *options) policy() retry.Policy { return o.retry.WithDefaults() }

// retrying is the options' transport (a new one with every timeout set
// when none is given) under the retry layer.
func (o *options) retrying() http.RoundTripper {
	p := o.policy()
	base := o.transport
	if base == nil {
		t := retry.NewBaseTransport(p)
		t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, 2*o.concurrency)
		t.MaxIdleConns = max(t.MaxIdleConns, 2*o.concurrency)
		base = t
	}
	if o.requests != nil {
		base = countRequests{counts: o.requests, inner: base} // under the retries: each attempt counts
	}
	return retry.New(base, p)
}

// Host returns the registry's host[:port].
func (c *Client) Host() string { return c.host }

// puller returns a new go-containerregistry puller asking for pages of n.
func (c *Client) puller(n int) (*remote.Puller, error) {
	return remote.NewPuller(append(c.remoteOpts[:len(c.remoteOpts):len(c.remoteOpts)], remote.WithPageSize(n))...)
}

// httpsOnly refuses plain HTTP to the registry host. go-containerregistry
// tries plain HTTP for private addresses on its own; a registry that is not
// on loopback must opt in with WithInsecure.
type httpsOnly struct {
	host  string
	inner http.RoundTripper
}

func (t *httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && strings.EqualFold(req.URL.Host, t.host) {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, fmt.Errorf("refusing plain HTTP to %s: it is not a loopback host; set registry.insecure: true to allow it", t.host)
	}
	return t.inner.RoundTrip(req)
}
