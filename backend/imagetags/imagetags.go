// Package imagetags asks registries about the images values files pin: an
// image's tags (remote.List), and what one tag's image says of itself (its
// config's created time, its source and revision labels), to choose each
// reference's newest tag with model.NewestImageTag.
//
// Registries are read anonymously, through a keychain (the docker config
// and its credential helpers), or, for Azure Container Registries
// (*.azurecr.io), with the managed-identity login the registry side uses
// (registry.ACRLogin). Every call goes through the retry policy (package
// retry) and the caller's context; plain HTTP reaches loopback hosts only.
// The lookups of a values file run in parallel, so checking one takes
// about as long as its slowest lookup.
package imagetags

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/singleflight"

	"github.com/helmupgradebot/helmupgradebot/backend/loopback"
	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/backend/retry"
)

// OCI annotations and labels an image describes itself with.
const (
	LabelSource   = "org.opencontainers.image.source"
	LabelRevision = "org.opencontainers.image.revision"
)

// Defaults.
const (
	// DefaultConcurrency bounds the lookups a Client makes at once: enough
	// for the images of a large values file in one wave (a lookup is one
	// or two small requests).
	DefaultConcurrency = 32
	// DefaultMaxDescribed bounds the tags one hash-shaped pin has
	// described for their created times.
	DefaultMaxDescribed = 256
)

// acrSuffixes are the hosts of Azure Container Registries, in Azure's
// public and national clouds.
var acrSuffixes = []string{".azurecr.io", ".azurecr.cn", ".azurecr.us"}

// Client looks up image tags. What it learns (tag lists, descriptions) is
// kept for its lifetime, one run; it is safe for concurrent use.
type Client struct {
	base        http.RoundTripper // under the retry layer
	transport   http.RoundTripper // RequireTLS over retry over base
	policy      retry.Policy
	keychain    authn.Keychain
	azure       azcore.TokenCredential
	acrHosts    []string
	concurrency int
	maxDescribe int
	userAgent   string
	// slots bounds the registry calls in flight (of tags and
	// descriptions) to concurrency.
	slots chan struct{}

	pullers   cache[*remote.Puller]
	tags      cache[[]string]
	described cache[Description]
}

// Option configures New.
type Option func(*Client)

// WithRetry sets how calls are retried and bounded (package retry's
// defaults otherwise, or the configuration's retry keys).
func WithRetry(p retry.Policy) Option { return func(c *Client) { c.policy = p } }

// WithTransport sets the transport under the retry layer (default: a new
// one with every timeout set).
func WithTransport(rt http.RoundTripper) Option { return func(c *Client) { c.base = rt } }

// WithKeychain logs in to registries through k, such as
// authn.DefaultKeychain (the docker config and its credential helpers).
// Without it, registries other than ACRs are read anonymously.
func WithKeychain(k authn.Keychain) Option { return func(c *Client) { c.keychain = k } }

// WithAzureCredential logs in to Azure Container Registries (*.azurecr.io,
// .cn, .us, and the hosts given) with cred, as the registry side does.
func WithAzureCredential(cred azcore.TokenCredential, hosts ...string) Option {
	return func(c *Client) { c.azure, c.acrHosts = cred, append(c.acrHosts, hosts...) }
}

// WithConcurrency bounds the lookups (tag lists and descriptions) made at
// once, over all the Client's callers (default DefaultConcurrency).
func WithConcurrency(n int) Option { return func(c *Client) { c.concurrency = n } }

// WithMaxDescribed bounds the tags one commit-hash pin has described for
// their created times (default DefaultMaxDescribed); a pin with more tags
// of its shape is an error.
func WithMaxDescribed(n int) Option { return func(c *Client) { c.maxDescribe = n } }

// New returns a Client.
func New(opts ...Option) *Client {
	c := &Client{concurrency: DefaultConcurrency, maxDescribe: DefaultMaxDescribed, userAgent: "helmupgradebot"}
	for _, o := range opts {
		o(c)
	}
	c.concurrency = max(c.concurrency, 1)
	c.maxDescribe = max(c.maxDescribe, 1)
	c.slots = make(chan struct{}, c.concurrency)
	c.policy = c.policy.WithDefaults()
	if c.base == nil {
		t := retry.NewBaseTransport(c.policy)
		t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, 2*c.concurrency)
		c.base = t
	}
	c.transport = loopback.RequireTLS(retry.New(c.base, c.policy))
	return c
}

// repository parses a normalised image name; a loopback registry is
// spoken to in plain HTTP.
func repository(image string) (name.Repository, error) {
	host, _, _ := strings.Cut(image, "/")
	var opts []name.Option
	if loopback.Host(host) {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(image, opts...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("image %s: %w", image, err)
	}
	return repo, nil
}

func (c *Client) isACR(host string) bool {
	if c.azure == nil {
		return false
	}
	h := strings.ToLower(host)
	return slices.Contains(c.acrHosts, host) || slices.ContainsFunc(acrSuffixes, func(s string) bool { return strings.HasSuffix(h, s) })
}

// puller is the registry's puller, made once: its transports (and the
// tokens they hold) serve every lookup there.
func (c *Client) puller(reg name.Registry) (*remote.Puller, error) {
	host := reg.RegistryStr()
	return c.pullers.get(host, func() (*remote.Puller, error) {
		opts := []remote.Option{
			remote.WithTransport(c.transport),
			remote.WithUserAgent(c.userAgent),
			// go-containerregistry's retries off: the retry transport retries.
			remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
			remote.WithRetryPredicate(func(error) bool { return false }),
			remote.WithRetryStatusCodes(),
		}
		switch {
		case c.isACR(host):
			login, err := registry.ACRLogin(host, c.azure, registry.WithTransport(c.base), registry.WithRetry(c.policy))
			if err != nil {
				return nil, err
			}
			opts = append(opts, remote.WithAuth(login))
		case c.keychain != nil:
			opts = append(opts, remote.WithAuthFromKeychain(c.keychain))
		}
		return remote.NewPuller(opts...)
	})
}

// Tags lists the tags of image (a normalised name, as values.Reference's
// Image), once per Client.
func (c *Client) Tags(ctx context.Context, image string) ([]string, error) {
	repo, err := repository(image)
	if err != nil {
		return nil, err
	}
	tags, err := c.tags.get(repo.Name(), func() ([]string, error) {
		p, err := c.puller(repo.Registry)
		if err != nil {
			return nil, err
		}
		if err := c.acquire(ctx); err != nil {
			return nil, err
		}
		defer c.release()
		return p.List(ctx, repo)
	})
	if err != nil {
		return nil, fmt.Errorf("list the tags of %s on %s: %w", image, repo.RegistryStr(), err)
	}
	return tags, nil
}

// acquire takes one of the Client's slots for a registry call.
func (c *Client) acquire(ctx context.Context) error {
	select {
	case c.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) release() { <-c.slots }

// Description is what a tag's image says of itself.
type Description struct {
	Tag    string
	Digest string
	// Created is the image config's created time (zero when it has none);
	// of an index, its linux/amd64 image's (or its first's).
	Created time.Time
	// Source and Revision are the OCI annotations or labels
	// org.opencontainers.image.source and .revision, when set.
	Source, Revision string
}

// Describe reads image:tag's manifest and config, once per Client.
func (c *Client) Describe(ctx context.Context, image, tag string) (Description, error) {
	repo, err := repository(image)
	if err != nil {
		return Description{}, err
	}
	ref := repo.Tag(tag)
	d, err := c.described.get(ref.Name(), func() (Description, error) {
		p, err := c.puller(repo.Registry)
		if err != nil {
			return Description{}, err
		}
		if err := c.acquire(ctx); err != nil {
			return Description{}, err
		}
		defer c.release()
		return describe(ctx, p, ref)
	})
	if err != nil {
		return Description{}, fmt.Errorf("describe %s on %s: %w", ref, repo.RegistryStr(), err)
	}
	return d, nil
}

func describe(ctx context.Context, p *remote.Puller, ref name.Tag) (Description, error) {
	desc, err := p.Get(ctx, ref)
	if err != nil {
		return Description{}, err
	}
	d := Description{Tag: ref.TagStr(), Digest: desc.Digest.String()}
	var annotations struct {
		Annotations map[string]string `json:"annotations"`
	}
	if json.Unmarshal(desc.Manifest, &annotations) == nil {
		d.Source, d.Revision = annotations.Annotations[LabelSource], annotations.Annotations[LabelRevision]
	}
	img, err := desc.Image()
	if err != nil && desc.MediaType.IsIndex() {
		img, err = firstImage(desc)
	}
	if err != nil {
		return Description{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return Description{}, fmt.Errorf("config of %s: %w", desc.Digest, err)
	}
	d.Created = cf.Created.Time
	if d.Source == "" {
		d.Source = cf.Config.Labels[LabelSource]
	}
	if d.Revision == "" {
		d.Revision = cf.Config.Labels[LabelRevision]
	}
	return d, nil
}

// firstImage is an index's first image, for an index without linux/amd64.
func firstImage(desc *remote.Descriptor) (v1.Image, error) {
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, m := range im.Manifests {
		if m.MediaType.IsImage() {
			return idx.Image(m.Digest)
		}
	}
	return nil, errors.New("the index holds no image")
}

// cache keeps one value per key for a Client's lifetime; callers asking
// for a key being loaded wait for that load. Failed loads are not kept.
type cache[T any] struct {
	group singleflight.Group
	mu    sync.Mutex
	done  map[string]T
}

func (c *cache[T]) get(key string, load func() (T, error)) (T, error) {
	c.mu.Lock()
	v, ok := c.done[key]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	x, err, _ := c.group.Do(key, func() (any, error) {
		v, err := load()
		if err == nil {
			c.mu.Lock()
			if c.done == nil {
				c.done = map[string]T{}
			}
			c.done[key] = v
			c.mu.Unlock()
		}
		return v, err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return x.(T), nil
}
