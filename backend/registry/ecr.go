package registry

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/helmupgradebot/helmupgradebot/backend/retry"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// ECR inventories an Amazon Elastic Container Registry through its API
// (aws-sdk-go-v2's service/ecr): DescribeRepositories, then DescribeImages
// per repository, which names every image, untagged ones included, with
// its tags, push time, ECR's own size (not deduplicated) and the last pull
// ECR recorded. No config is read (unless WithAgeFrom(AgeFromBuilt)): ages
// and pulls come from the listing.
// Manifests are read by digest, once each and through the digest cache,
// through the distribution API ECR also serves (logged in with a
// GetAuthorizationToken token, renewed before it expires), for their
// layers only: the deduplicated sizes, and so the reclaim estimate, come
// from them. Deletions go out as BatchDeleteImage, by digest, the
// deletions under way in a repository joined into one call of up to 100
// (a BatchDeleter: Apply fills the calls).
// Each repository's lifecycle policy is read and kept in the inventory
// (model.RegistryRule): ECR expires images by it on its own.
type ECR struct {
	*Client
	api        *ecr.Client
	registryID string // "" on a stand-in: the caller's default registry
	tokens     *ecrTokens
	batches    *batcher // DeleteManifest's, outside Apply
	ageFrom    string   // AgeFromPushed (default) or AgeFromBuilt
	prev       previous
	identity   *ecrIdentity // STS and IAM, for the probe (ecr_simulate.go)
}

var (
	_ Lister       = (*ECR)(nil)
	_ Deleter      = (*ECR)(nil)
	_ BatchDeleter = (*ECR)(nil)
)

// ECR limits.
const (
	// ecrPage is the most DescribeRepositories and DescribeImages give a page.
	ecrPage = 1000
	// ecrBatch is the most image ids one BatchDeleteImage takes.
	ecrBatch = 100
)

// ecrHost matches an ECR registry host: ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn]
// or the dual-stack ACCOUNT.dkr-ecr.REGION.on.aws.
var ecrHost = regexp.MustCompile(`^(\d{12})\.(?:dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?|dkr-ecr\.([a-z0-9-]+)\.on\.aws)$`)

// ParseECRHost returns the account (registry ID) and region of an ECR
// registry host; ok is false for any other host.
func ParseECRHost(host string) (registryID, region string, ok bool) {
	m := ecrHost.FindStringSubmatch(strings.ToLower(host))
	if m == nil {
		return "", "", false
	}
	return m[1], m[2] + m[3], true
}

// WithECREndpoint sends ECR API calls to u (a stand-in's "http://127.0.0.1:PORT")
// instead of ECR's endpoint for the region; the probe's STS and IAM calls
// too, unless WithIAMEndpoint says otherwise.
func WithECREndpoint(u string) Option {
	return func(o *options) error {
		if u == "" {
			return errors.New("WithECREndpoint: empty endpoint")
		}
		o.ecrEndpoint = u
		return nil
	}
}

// ECRConfig loads the AWS configuration NewECR takes for the registry at
// host from the SDK's default chain (environment, shared files, web
// identity as IRSA sets it, the instance profile), in the region the
// host names (or the chain's, for a host that names none). Its HTTP calls
// (the credential providers') go through the options' transport and
// retries.
func ECRConfig(ctx context.Context, host string, opts ...Option) (aws.Config, error) {
	o, err := readOptions(host, opts)
	if err != nil {
		return aws.Config{}, err
	}
	lopts := []func(*awsconfig.LoadOptions) error{awsconfig.WithHTTPClient(newSDKClient(o))}
	if _, region, ok := ParseECRHost(host); ok {
		lopts = append(lopts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, lopts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("registry %s: load the AWS configuration: %w", host, err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("registry %s: no AWS region: give the ECR host (ACCOUNT.dkr.ecr.REGION.amazonaws.com) or set AWS_REGION", host)
	}
	return cfg, nil
}

// sdkClient is the HTTP client of the SDK's credential providers: the
// options' transport under the retry layer. WithTransportOptions (the
// SDK's way to apply AWS_CA_BUNDLE) gives a new client over a new base
// transport with them applied; a transport given with WithTransport is
// kept as it is.
type sdkClient struct {
	*http.Client
	o options
}

func newSDKClient(o options) *sdkClient {
	return &sdkClient{Client: &http.Client{Transport: o.retrying()}, o: o}
}

// WithTransportOptions implements the SDK's awshttp transport options.
func (c *sdkClient) WithTransportOptions(opts ...func(*http.Transport)) aws.HTTPClient {
	if c.o.transport != nil {
		return c
	}
	o := c.o
	t := retry.NewBaseTransport(o.policy())
	for _, f := range opts {
		f(t)
	}
	o.transport = t
	return newSDKClient(o)
}

func readOptions(host string, opts []Option) (options, error) {
	o := options{concurrency: DefaultConcurrency, pageSize: DefaultPageSize, now: time.Now}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, fmt.Errorf("registry %s: %w", host, err)
		}
	}
	return o, nil
}

// NewECR returns a client of the ECR registry at host
// ("ACCOUNT.dkr.ecr.REGION.amazonaws.com", or a loopback stand-in with
// WithECREndpoint), calling ECR with cfg's credentials and region (see
// ECRConfig). It takes New's options but WithAuthenticator and
// WithKeychain: the login is cfg's. The SDK's own retries are off but for
// ThrottlingException (an answer only the SDK can read); the retry
// transport retries the rest.
func NewECR(host string, cfg aws.Config, opts ...Option) (*ECR, error) {
	o, err := readOptions(host, opts)
	if err != nil {
		return nil, err
	}
	if o.auth != nil || o.keychain != nil {
		return nil, fmt.Errorf("registry %s: ECR logs in with its AWS credentials; give no authenticator or keychain", host)
	}
	if cfg.Credentials == nil {
		return nil, fmt.Errorf("registry %s: ECR needs AWS credentials", host)
	}
	registryID, region, isECR := ParseECRHost(host)
	if !isECR && o.ecrEndpoint == "" {
		return nil, fmt.Errorf("registry %s: not an ECR host (ACCOUNT.dkr.ecr.REGION.amazonaws.com)", host)
	}
	pol := o.policy()
	api := ecr.NewFromConfig(cfg, func(eo *ecr.Options) {
		if cfg.HTTPClient == nil { // ECRConfig's has the options' transport, and AWS_CA_BUNDLE
			eo.HTTPClient = &http.Client{Transport: o.retrying()}
		}
		if region != "" {
			eo.Region = region
		}
		if o.ecrEndpoint != "" {
			eo.BaseEndpoint = aws.String(o.ecrEndpoint)
		}
		eo.Retryer = awsretry.NewStandard(func(so *awsretry.StandardOptions) {
			so.MaxAttempts = pol.MaxAttempts
			so.MaxBackoff = pol.MaxDelay
			so.Retryables = []awsretry.IsErrorRetryable{awsretry.RetryableErrorCode{Codes: map[string]struct{}{"ThrottlingException": {}}}}
			so.RateLimiter = noRateLimit{}
		})
	})
	tokens := &ecrTokens{api: api, registryID: registryID, host: host, now: o.now}
	// the Client reads no ages of its own: ageFrom is this one's
	client, err := New(host, append(slices.Clone(opts), WithAuthenticator(tokens), func(o *options) error { o.ageFrom = ""; return nil })...)
	if err != nil {
		return nil, err
	}
	e := &ECR{Client: client, api: api, registryID: registryID, tokens: tokens, ageFrom: cmp.Or(o.ageFrom, AgeFromPushed),
		identity: newECRIdentity(cfg, o, cmp.Or(region, cfg.Region))}
	e.batches = newBatcher(e, client.concurrency, nil)
	return e, nil
}

// noRateLimit lets the SDK retry throttling without its client-side
// retry quota (the retry transport bounds the calls).
type noRateLimit struct{}

func (noRateLimit) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}
func (noRateLimit) AddTokens(uint) error { return nil }

// Seed gives the next scan a previous inventory of this registry: the
// manifests it read whole are not read again.
func (e *ECR) Seed(inv *model.Inventory) { e.prev.seed(inv) }

// regID is the registryId to send: nil for the caller's default registry.
func (e *ECR) regID() *string {
	if e.registryID == "" {
		return nil
	}
	return aws.String(e.registryID)
}

// ecrTokens logs in to the registry's distribution API with the basic
// credentials of a GetAuthorizationToken token (user AWS), renewed
// renewBefore its expiry (ECR's last 12 hours).
type ecrTokens struct {
	api        *ecr.Client
	registryID string
	host       string
	now        func() time.Time

	mu   sync.Mutex
	pass string
	exp  time.Time
}

// Authorization implements authn.Authenticator.
func (t *ecrTokens) Authorization() (*authn.AuthConfig, error) {
	return t.AuthorizationContext(context.Background())
}

// AuthorizationContext implements authn.ContextAuthenticator.
func (t *ecrTokens) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	pass, err := t.get(ctx)
	if err != nil {
		return nil, err
	}
	return &authn.AuthConfig{Username: "AWS", Password: pass}, nil
}

func (t *ecrTokens) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pass != "" && t.now().Before(t.exp.Add(-renewBefore)) {
		return t.pass, nil
	}
	in := &ecr.GetAuthorizationTokenInput{}
	if t.registryID != "" {
		in.RegistryIds = []string{t.registryID} //nolint:staticcheck // deprecated but honoured: the token of this registry
	}
	out, err := t.api.GetAuthorizationToken(ctx, in)
	if err != nil {
		return "", ecrCallError("log in to "+t.host+" (GetAuthorizationToken)", err)
	}
	if len(out.AuthorizationData) == 0 || out.AuthorizationData[0].AuthorizationToken == nil {
		return "", fmt.Errorf("log in to %s: GetAuthorizationToken gave no token", t.host)
	}
	d := out.AuthorizationData[0]
	raw, err := base64.StdEncoding.DecodeString(*d.AuthorizationToken)
	user, pass, ok := strings.Cut(string(raw), ":")
	if err != nil || !ok || user != "AWS" {
		return "", fmt.Errorf("log in to %s: GetAuthorizationToken gave a token that is not base64 of AWS:password", t.host)
	}
	t.pass, t.exp = pass, t.now().Add(time.Hour)
	if d.ExpiresAt != nil {
		t.exp = *d.ExpiresAt
	}
	return t.pass, nil
}

// ecrCallError describes a failed ECR API call op from ECR's error code and
// the HTTP status, as a *CallError (RepositoryNotFoundException and
// ImageNotFoundException match ErrNotFound). Errors that are not ECR's
// answers (network, context) are wrapped with op only.
func ecrCallError(op string, err error) error {
	var ae smithy.APIError
	var re *smithyhttp.ResponseError
	if !errors.As(err, &ae) || !errors.As(err, &re) {
		return fmt.Errorf("%s: %w", op, err)
	}
	ce := &CallError{Op: op, Status: re.HTTPStatusCode(), Codes: []string{ae.ErrorCode()}, Detail: ae.ErrorCode(), err: err}
	if m := ae.ErrorMessage(); m != "" {
		ce.Detail += ": " + m
	}
	switch ae.ErrorCode() {
	case "RepositoryNotFoundException", "ImageNotFoundException":
		ce.sentinel = ErrNotFound
	case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException":
		ce.Hint = "check the AWS credentials (IRSA's role, the instance profile, AWS_* variables) and that their policy allows ecr:DescribeRepositories, ecr:DescribeImages, ecr:BatchGetImage, ecr:GetAuthorizationToken, ecr:GetLifecyclePolicy (and ecr:BatchDeleteImage to delete)"
	case "ThrottlingException":
		ce.Hint = "ECR throttled the calls; lower registry.concurrency or try again later"
	case "ServerException":
		ce.Hint = "ECR failed; try again later"
	}
	return ce
}
