package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/google"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/oauth2"
	googleauth "golang.org/x/oauth2/google"
)

// GAR inventories Google Artifact Registry or Container Registry (gcr.io)
// through Google's extended tags/list answer, read with
// go-containerregistry's google package: each repository's listing names
// every manifest, untagged ones and an index's platform manifests
// included, with its tags, push time (timeUploadedMs), build time
// (timeCreatedMs), Google's per-image size and media type, and the
// repositories under it (child). So no manifest is fetched by tag and no
// image config is read: manifests are read by digest only (through the
// digest cache), for the layers behind the deduplicated sizes.
//
// Deleting follows gcr-cleaner: each tag of the manifest is deleted by
// name (Container Registry refuses to delete a tagged manifest, with
// GOOGLE_MANIFEST_DANGLING_TAG), then the manifest by digest.
//
// An image's age is its push time (AgeFromPushed, the default), or with
// WithAgeFrom(AgeFromBuilt) Google's timeCreatedMs, its config's time:
// neither needs a config read. The push time is kept in Image.Pushed.
type GAR struct {
	*Client
	root    name.Repository
	auth    authn.Authenticator
	ageFrom string

	mu sync.Mutex
	tr http.RoundTripper // logged in, once: see ready
}

var (
	_ Lister  = (*GAR)(nil)
	_ Deleter = (*GAR)(nil)
)

// GoogleScope is the OAuth scope the registry's login asks for.
const GoogleScope = "https://www.googleapis.com/auth/cloud-platform"

// NewGAR returns a client of the Google registry at host
// ("us-docker.pkg.dev", "gcr.io", or a loopback stand-in) that lists
// everything under root: PROJECT on gcr.io, PROJECT/REPOSITORY on
// Artifact Registry. It takes New's options; the login is the
// authenticator given (GoogleLogin's, or a keychain's), else anonymous.
func NewGAR(host, root string, opts ...Option) (*GAR, error) {
	o := options{}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("registry %s: %w", host, err)
		}
	}
	// the Client reads no ages of its own: ageFrom is this one's
	c, err := New(host, append(slices.Clone(opts), func(o *options) error { o.ageFrom = ""; return nil })...)
	if err != nil {
		return nil, err
	}
	if root == "" {
		return nil, fmt.Errorf("registry %s: Artifact Registry needs the root to list under (PROJECT on gcr.io, PROJECT/REPOSITORY on pkg.dev)", host)
	}
	r, err := name.NewRepository(c.reg.RegistryStr()+"/"+root, name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("registry %s: root %q: %w", host, root, err)
	}
	r = c.reg.Repo(r.RepositoryStr()) // keep the registry's scheme
	auth := o.auth
	if o.keychain != nil {
		if auth, err = o.keychain.Resolve(c.reg); err != nil {
			return nil, fmt.Errorf("registry %s: credentials from the keychain: %w", host, err)
		}
	}
	if auth == nil {
		auth = authn.Anonymous
	}
	return &GAR{Client: c, root: r, auth: auth, ageFrom: cmp.Or(o.ageFrom, AgeFromPushed)}, nil
}

// ready logs in once (the registry's ping and token exchange) and makes
// every later call, go-containerregistry's reads and deletes included,
// carry that login: go-containerregistry takes a *transport.Wrapper as
// done with its handshake. The bearer transport renews the registry token
// when the registry challenges it again.
func (g *GAR) ready(ctx context.Context) (http.RoundTripper, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.tr != nil {
		return g.tr, nil
	}
	tr, err := transport.NewWithContext(ctx, g.reg, g.auth, g.base, []string{g.root.Scope(transport.PullScope)})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, garLoginError(g.host, err)
	}
	g.remoteOpts = append(slices.Clone(g.remoteOpts), remote.WithTransport(tr))
	pusher, err := remote.NewPusher(g.remoteOpts...)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", g.host, err)
	}
	g.pusher, g.tr = pusher, tr
	return tr, nil
}

// garLoginError says why the login to host failed and what to check.
func garLoginError(host string, err error) error {
	e := describe("log in to "+host, err)
	var ce *CallError
	if errors.As(e, &ce) && (ce.Status == http.StatusUnauthorized || ce.Status == http.StatusForbidden) {
		ce.Hint = "the Google credentials were not accepted; check GOOGLE_APPLICATION_CREDENTIALS or the workload identity, and that it has roles/artifactregistry.reader (repoAdmin to delete)"
	}
	return e
}

// list is Google's extended tags/list answer for repo.
func (g *GAR) list(ctx context.Context, tr http.RoundTripper, repo name.Repository) (*google.Tags, error) {
	tags, err := google.List(repo, google.WithTransport(tr), google.WithContext(ctx))
	if err != nil {
		return nil, describe("list "+repo.RepositoryStr(), err)
	}
	return tags, nil
}

// GoogleLogin is the login to a Google registry with Application Default
// Credentials (GOOGLE_APPLICATION_CREDENTIALS' file, gcloud's application
// default credentials, workload identity federation, or the GCE/GKE
// metadata server), or with key, a service-account key (JSON), when it is
// not nil. The token calls go through the options' transport and retries
// (WithTransport, WithRetry); the metadata server is asked by Google's own
// client. Access tokens are reused until they expire.
func GoogleLogin(ctx context.Context, key []byte, opts ...Option) (authn.Authenticator, error) {
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("Google login: %w", err)
		}
	}
	// The token source keeps this context for its calls: not ctx's end.
	tctx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, &http.Client{Transport: o.retrying()})
	var creds *googleauth.Credentials
	var err error
	if key != nil {
		creds, err = googleauth.CredentialsFromJSONWithType(tctx, key, googleauth.ServiceAccount, GoogleScope)
		if err != nil {
			return nil, fmt.Errorf("Google login: the service-account key: %w", err)
		}
	} else if creds, err = googleauth.FindDefaultCredentials(tctx, GoogleScope); err != nil {
		return nil, fmt.Errorf("Google login: no Application Default Credentials (set GOOGLE_APPLICATION_CREDENTIALS, use workload identity, or run on GCE/GKE): %w", err)
	}
	return GoogleTokenLogin(creds.TokenSource), nil
}

// GoogleTokenLogin is the login with Google access tokens from ts (reused
// until they expire), as docker login -u oauth2accesstoken does.
func GoogleTokenLogin(ts oauth2.TokenSource) authn.Authenticator {
	return googleTokens{oauth2.ReuseTokenSource(nil, ts)}
}

type googleTokens struct{ ts oauth2.TokenSource }

func (g googleTokens) Authorization() (*authn.AuthConfig, error) {
	tok, err := g.ts.Token()
	if err != nil {
		return nil, fmt.Errorf("get a Google access token: %w", err)
	}
	return &authn.AuthConfig{Username: "oauth2accesstoken", Password: tok.AccessToken}, nil
}

// garTime is a time from Google's listing: go-containerregistry reads an
// absent or "0" time as the Unix epoch, which means unknown.
func garTime(t time.Time) time.Time {
	if t.UnixMilli() <= 0 {
		return time.Time{}
	}
	return t.UTC()
}
