package secrets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// maxFileSize bounds how much of a secret file is read.
const maxFileSize = 1 << 20

// Resolver turns secret references into [Secret]s. It is safe for
// concurrent use; it builds its Azure credential and Key Vault clients on
// first use and keeps them, so tokens are reused across resolutions.
type Resolver struct {
	clientID  string
	cred      azcore.TokenCredential
	kvOpts    azsecrets.ClientOptions
	transport policy.Transporter
	vaultURL  func(vault string) string
	lookupEnv func(string) (string, bool)
	log       *slog.Logger

	mu       sync.Mutex
	built    azcore.TokenCredential
	builtErr error
	clients  map[string]*azsecrets.Client
}

// Option configures a Resolver.
type Option func(*Resolver)

// WithAzureClientID selects the user-assigned managed identity with this
// client ID (config azure.client_id). Empty (the default) means the
// DefaultAzureCredential chain; see [Resolver.Resolve].
func WithAzureClientID(id string) Option {
	return func(r *Resolver) { r.clientID = strings.TrimSpace(id) }
}

// WithCredential makes the resolver use cred for Key Vault instead of
// building one.
func WithCredential(cred azcore.TokenCredential) Option {
	return func(r *Resolver) { r.cred = cred }
}

// WithKeyVaultClientOptions sets the azsecrets client options (retries,
// logging, DisableChallengeResourceVerification, ...). The options are copied.
func WithKeyVaultClientOptions(o *azsecrets.ClientOptions) Option {
	return func(r *Resolver) {
		if o != nil {
			r.kvOpts = *o
		}
	}
}

// WithTransport sets the HTTP transport of both the Key Vault clients and
// the credential the resolver builds (tests pass azuretest's
// Identity.Transport()). It overrides the Transport of WithKeyVaultClientOptions.
func WithTransport(t policy.Transporter) Option {
	return func(r *Resolver) { r.transport = t }
}

// WithVaultURL maps a vault name (the first label of its host) to the URL
// the Key Vault client uses; the default is https://HOST/.
func WithVaultURL(fn func(vault string) string) Option {
	return func(r *Resolver) { r.vaultURL = fn }
}

// WithLookupEnv replaces os.LookupEnv for env: references.
func WithLookupEnv(fn func(string) (string, bool)) Option {
	return func(r *Resolver) { r.lookupEnv = fn }
}

// WithLogger sets the logger for debug records of resolutions (values are
// never logged). The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(r *Resolver) { r.log = l }
}

// NewResolver returns a Resolver.
func NewResolver(opts ...Option) *Resolver {
	r := &Resolver{
		lookupEnv: os.LookupEnv,
		log:       slog.New(slog.DiscardHandler),
		clients:   map[string]*azsecrets.Client{},
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Resolve parses ref and fetches the secret it names:
//
//   - env:NAME reads an environment variable; unset or empty is an error.
//   - file:PATH reads a file that only its owner may access (mode 0600 or
//     stricter; anything else is refused with the chmod that fixes it), less
//     one trailing newline; an empty file is an error.
//   - keyvault://VAULT/SECRET[/VERSION] gets the latest (or given) version
//     from Azure Key Vault. The credential is the one given with
//     WithCredential; else, with WithAzureClientID, the user-assigned
//     managed identity with that client ID (ManagedIdentityCredential: on a
//     VM it asks IMDS at 169.254.169.254); else DefaultAzureCredential,
//     which tries AZURE_* service-principal variables, workload identity,
//     the VM's system-assigned managed identity (after a one-second probe of
//     IMDS, so off Azure it moves on quickly), then Azure CLI / azd /
//     PowerShell logins. A chain of ManagedIdentityCredential(client ID)
//     followed by DefaultAzureCredential is not used: a chain only moves on
//     when a credential is "unavailable", so a wrong client ID would stop it
//     anyway, and off Azure a standalone managed identity credential retries
//     the unreachable IMDS for a long time before failing.
//
// Errors say what failed and how to fix it, match one [ErrorKind], and never
// contain the secret or a token.
func (r *Resolver) Resolve(ctx context.Context, ref string) (Secret, error) {
	parsed, err := ParseReference(ref)
	if err != nil {
		r.log.DebugContext(ctx, "secret reference rejected", "err", err)
		return Secret{}, err
	}
	return r.ResolveReference(ctx, parsed)
}

// ResolveReference fetches the secret a parsed reference names; see [Resolver.Resolve].
func (r *Resolver) ResolveReference(ctx context.Context, ref Reference) (Secret, error) {
	var (
		s   Secret
		err error
	)
	if err = ref.refuseCredentialNames(); err != nil {
		r.log.DebugContext(ctx, "secret reference rejected", "err", err)
		return Secret{}, err
	}
	if err = ctx.Err(); err != nil {
		err = newError(ErrUnavailable, ref.label(), "resolution cancelled: "+err.Error(), err)
	} else {
		switch ref.Kind {
		case KindEnv:
			s, err = r.fromEnv(ref)
		case KindFile:
			s, err = r.fromFile(ref)
		case KindKeyVault:
			s, err = r.fromKeyVault(ctx, ref)
		default:
			err = newError(ErrBadReference, "", fmt.Sprintf("unknown reference kind %q (%s)", ref.Kind, Accepted), nil)
		}
	}
	if err != nil {
		r.log.DebugContext(ctx, "secret resolution failed", "ref", ref.label(), "err", err)
		return Secret{}, err
	}
	r.log.DebugContext(ctx, "secret resolved", "ref", ref.label(), "secret", s)
	return s, nil
}

func (r *Resolver) fromEnv(ref Reference) (Secret, error) {
	v, ok := r.lookupEnv(ref.EnvVar)
	if !ok {
		return Secret{}, newError(ErrNotSet, ref.label(), fmt.Sprintf("environment variable %s is not set", shown(ref.EnvVar)), nil)
	}
	if v == "" {
		return Secret{}, newError(ErrNotSet, ref.label(), fmt.Sprintf("environment variable %s is empty", shown(ref.EnvVar)), nil)
	}
	return New(v), nil
}

func (r *Resolver) fromFile(ref Reference) (Secret, error) {
	// errors name the file once, whole (see shown), with the operating
	// system's error unwrapped from its *fs.PathError, which repeats the path
	name, path := ref.label(), shown(ref.Path)
	f, err := os.Open(ref.Path)
	if err != nil {
		err = withoutPath(err)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return Secret{}, newError(ErrNotFound, name, fmt.Sprintf("secret file %s does not exist", path), err)
		case errors.Is(err, fs.ErrPermission):
			return Secret{}, newError(ErrPermission, name, fmt.Sprintf("secret file %s cannot be read by this user (permission denied)", path), err)
		}
		return Secret{}, newError(ErrUnavailable, name, fmt.Sprintf("open secret file %s: %v", path, err), err)
	}
	defer f.Close()
	// check the opened file, not the path, so a swap between check and read cannot slip through
	info, err := f.Stat()
	if err != nil {
		err = withoutPath(err)
		return Secret{}, newError(ErrUnavailable, name, fmt.Sprintf("stat secret file %s: %v", path, err), err)
	}
	if !info.Mode().IsRegular() {
		return Secret{}, newError(ErrBadReference, name, fmt.Sprintf("secret file %s is not a regular file (%s)", path, info.Mode().Type()), nil)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return Secret{}, newError(ErrInsecureFile, name, fmt.Sprintf(
			"secret file %s has mode %04o, so group or other users can access it; restrict it to its owner (chmod 600 FILE)",
			path, perm), nil)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		err = withoutPath(err)
		return Secret{}, newError(ErrUnavailable, name, fmt.Sprintf("read secret file %s: %v", path, err), err)
	}
	if len(data) > maxFileSize {
		return Secret{}, newError(ErrBadReference, name, fmt.Sprintf("secret file %s is larger than %d bytes; is it the right file?", path, maxFileSize), nil)
	}
	v := string(data)
	if t, ok := strings.CutSuffix(v, "\n"); ok {
		v = strings.TrimSuffix(t, "\r")
	}
	if v == "" {
		return Secret{}, newError(ErrNotSet, name, fmt.Sprintf("secret file %s is empty", path), nil)
	}
	return New(v), nil
}

// withoutPath returns the error inside an *fs.PathError, whose text holds
// the path; errors.Is(err, fs.ErrNotExist) and the like still hold.
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
