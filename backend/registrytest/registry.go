// Package registrytest runs the real Docker/OCI registry
// (github.com/distribution/distribution/v3) in-process on loopback, and fills
// it with a realistic, deterministic BinderHub population: Seed pushes it over
// HTTP with go-containerregistry, Registry.Populate writes the identical
// result straight into storage (for benchmarks). Both return the truth
// (Seeded) to check scanners and size calculations against. It serves tests,
// benchmarks and the interactive demo, so it does not import testing.
//
// The registry is configured as a production registry would be for a
// cleanup tool: deletes enabled, no auth, no redis, no notifications, upload
// purging off, logs discarded. Behaviour worth knowing, checked by this
// package's tests against distribution v3.1.2:
//
//   - GET /v2/_catalog rejects n above the catalog limit (default 1000) with
//     400 PAGINATION_NUMBER_INVALID; without n it returns at most 100
//     repositories; pages continue through the Link header.
//   - GET /v2/<name>/tags/list clamps n above the tags limit (default 1000)
//     to the limit instead of rejecting it, and continues through Link.
//   - DELETE /v2/<name>/manifests/<digest> removes the manifest and every tag
//     pointing at it; DELETE by tag removes only that tag.
//   - Nothing is freed until GarbageCollect (distribution's mark and sweep).
//     Deleting an index leaves its platform manifests (untagged but still
//     linked in the repository) and everything they reference, unless they
//     are deleted by digest too or GC runs with DeleteUntagged.
package registrytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"path"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/sirupsen/logrus"
)

// Page limits distribution applies when its configuration leaves them unset
// (configuration.Parse fills these in; NewApp does not, so Start does).
const (
	// DefaultCatalogMaxEntries is the largest n /v2/_catalog accepts; a
	// larger n is rejected with 400 PAGINATION_NUMBER_INVALID.
	DefaultCatalogMaxEntries = 1000
	// DefaultMaxTags is the most tags one /v2/<name>/tags/list page returns;
	// a larger n is clamped, not rejected.
	DefaultMaxTags = 1000
)

// blobsRoot is where distribution keeps blob data (layers, configs and
// manifests alike): blobs/sha256/<2 hex>/<64 hex>/data.
const blobsRoot = "/docker/registry/v2/blobs"

// sharedDriverName names a storage driver factory that hands NewApp a driver
// built by Start, so that GarbageCollect and BlobBytes see the very same
// storage, inmemory included. Registering at init is how distribution's own
// drivers plug in.
const sharedDriverName = "helmupgradebot-registrytest-shared"

func init() {
	factory.Register(sharedDriverName, sharedDriverFactory{})
}

type sharedDriverFactory struct{}

func (sharedDriverFactory) Create(_ context.Context, params map[string]any) (storagedriver.StorageDriver, error) {
	d, ok := params["driver"].(storagedriver.StorageDriver)
	if !ok {
		return nil, fmt.Errorf("storage driver %s: parameter driver is %T, want a StorageDriver", sharedDriverName, params["driver"])
	}
	return d, nil
}

// Option configures Start.
type Option func(*options) error

type options struct {
	dir        string
	wrappers   []func(http.Handler) http.Handler
	logOut     io.Writer
	catalogMax int
	maxTags    int
	haveFS     bool
}

// WithFilesystem stores the registry under dir (distribution's filesystem
// driver) instead of in memory. The directory is created if needed and left
// in place by Close.
func WithFilesystem(dir string) Option {
	return func(o *options) error {
		if dir == "" {
			return errors.New("WithFilesystem: empty directory")
		}
		o.dir, o.haveFS = dir, true
		return nil
	}
}

// WithHandler wraps the registry's HTTP handler, e.g. to count requests or
// inject faults. Wrappers apply in order: the last one given is outermost.
func WithHandler(wrap func(http.Handler) http.Handler) Option {
	return func(o *options) error {
		if wrap == nil {
			return errors.New("WithHandler: nil wrapper")
		}
		o.wrappers = append(o.wrappers, wrap)
		return nil
	}
}

// WithLogOutput sends the registry's logs (info level and up) to w. By
// default they are discarded.
func WithLogOutput(w io.Writer) Option {
	return func(o *options) error {
		if w == nil {
			return errors.New("WithLogOutput: nil writer")
		}
		o.logOut = w
		return nil
	}
}

// WithCatalogMaxEntries sets the largest n /v2/_catalog accepts (default
// DefaultCatalogMaxEntries); distribution rejects a larger n.
func WithCatalogMaxEntries(n int) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("WithCatalogMaxEntries: %d is not positive", n)
		}
		o.catalogMax = n
		return nil
	}
}

// WithMaxTags sets the most tags one tags/list page returns (default
// DefaultMaxTags); distribution clamps a larger n to it.
func WithMaxTags(n int) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("WithMaxTags: %d is not positive", n)
		}
		o.maxTags = n
		return nil
	}
}

// Registry is a running in-process distribution registry.
type Registry struct {
	host      string
	srv       *http.Server
	app       *handlers.App
	driver    storagedriver.StorageDriver
	namespace distribution.Namespace
	logCtx    func(context.Context) context.Context
	served    chan struct{}

	// gate keeps requests out while GarbageCollect runs (distribution's
	// garbage collection is only safe on a registry nobody writes to) and
	// lets Close wait for running handlers; closed is set under it.
	gate   sync.RWMutex
	closed bool

	closeOnce sync.Once
	closeErr  error
}

// Start runs the real distribution registry on 127.0.0.1 (a free port)
// until Close. ctx bounds startup and carries values (not cancellation) to
// the registry.
func Start(ctx context.Context, opts ...Option) (*Registry, error) {
	o := options{catalogMax: DefaultCatalogMaxEntries, maxTags: DefaultMaxTags}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("start registry: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start registry: %w", err)
	}

	var drv storagedriver.StorageDriver = inmemory.New()
	if o.haveFS {
		fs, err := filesystem.FromParameters(map[string]any{"rootdirectory": o.dir})
		if err != nil {
			return nil, fmt.Errorf("start registry: filesystem storage at %s: %w", o.dir, err)
		}
		drv = fs
	}

	logger := logrus.New()
	logger.Out = io.Discard
	logger.Level = logrus.PanicLevel
	errLog := log.New(io.Discard, "", 0)
	if o.logOut != nil {
		logger.Out = o.logOut
		logger.Level = logrus.InfoLevel
		errLog = log.New(o.logOut, "registrytest: ", log.LstdFlags)
	}
	entry := logrus.NewEntry(logger)
	logCtx := func(c context.Context) context.Context { return loggerContext{Context: c, logger: entry} }
	base := logCtx(context.WithoutCancel(ctx))

	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("start registry: http secret: %w", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start registry: listen on loopback: %w", err)
	}

	cfg := &configuration.Configuration{Version: "0.1"}
	cfg.Log.Level = "error"
	cfg.HTTP.Addr = ln.Addr().String()
	cfg.HTTP.Secret = hex.EncodeToString(secret)
	cfg.Catalog.MaxEntries = o.catalogMax
	cfg.Tags.MaxTags = o.maxTags
	cfg.Storage = configuration.Storage{
		sharedDriverName: configuration.Parameters{"driver": drv},
		"delete":         configuration.Parameters{"enabled": true},
		"maintenance": configuration.Parameters{
			"uploadpurging": map[any]any{"enabled": false},
		},
	}

	app, err := newApp(base, cfg)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("start registry: %w", err)
	}
	ns, err := storage.NewRegistry(base, drv, storage.EnableDelete)
	if err != nil {
		_ = ln.Close()
		_ = app.Shutdown()
		return nil, fmt.Errorf("start registry: storage namespace for garbage collection: %w", err)
	}

	r := &Registry{
		host:      ln.Addr().String(),
		app:       app,
		driver:    drv,
		namespace: ns,
		logCtx:    logCtx,
		served:    make(chan struct{}),
	}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.gate.RLock()
		defer r.gate.RUnlock()
		if r.closed {
			http.Error(w, "registry closed", http.StatusServiceUnavailable)
			return
		}
		app.ServeHTTP(w, req)
	})
	for _, wrap := range o.wrappers {
		h = wrap(h)
	}
	r.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          errLog,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	go func() {
		defer close(r.served)
		_ = r.srv.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	return r, nil
}

// newApp turns NewApp's configuration panics into an error.
func newApp(ctx context.Context, cfg *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("configure distribution: %v", p)
		}
	}()
	return handlers.NewApp(ctx, cfg), nil
}

// Host returns "127.0.0.1:PORT", the registry's address (plain http).
func (r *Registry) Host() string { return r.host }

// Close stops serving, cutting open connections, waits for running
// handlers and releases the registry. Filesystem contents stay. It is safe
// to call more than once.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() {
		// Not Shutdown: it waits up to 5s for connections a client opened
		// and never used, which go-containerregistry's pool leaves behind.
		_ = r.srv.Close()
		<-r.served
		r.gate.Lock()
		r.closed = true
		r.gate.Unlock()
		if err := r.app.Shutdown(); err != nil {
			r.closeErr = fmt.Errorf("close registry %s: %w", r.host, err)
		}
	})
	return r.closeErr
}

// GCOption configures GarbageCollect.
type GCOption func(*gcOptions)

type gcOptions struct{ deleteUntagged bool }

// DeleteUntagged makes GarbageCollect also delete manifests no tag points
// at (and that no surviving index references), like
// `registry garbage-collect --delete-untagged`.
func DeleteUntagged() GCOption {
	return func(o *gcOptions) { o.deleteUntagged = true }
}

// GarbageCollect runs distribution's own mark and sweep
// (storage.MarkAndSweep) on the registry's storage, freeing blobs no
// manifest references. Requests wait while it runs. It works on both
// drivers.
func (r *Registry) GarbageCollect(ctx context.Context, opts ...GCOption) error {
	var o gcOptions
	for _, opt := range opts {
		opt(&o)
	}
	gc := storage.GCOpts{RemoveUntagged: o.deleteUntagged, Quiet: true} // not Quiet prints to stdout
	r.gate.Lock()
	defer r.gate.Unlock()
	if r.closed {
		return fmt.Errorf("garbage-collect registry %s: registry closed", r.host)
	}
	if err := storage.MarkAndSweep(r.logCtx(ctx), r.driver, r.namespace, gc); err != nil {
		return fmt.Errorf("garbage-collect registry %s: %w", r.host, err)
	}
	return nil
}

// Storage runs fn with the registry's storage: distribution's namespace
// (repositories, manifests, tags, blobs; deletes enabled) and its storage
// driver, for in-process stand-ins that serve more than the registry API
// from the same content (acrtest's listing of every manifest). fn runs under
// the gate HTTP requests take, so never during GarbageCollect; it must not
// itself call the registry over HTTP. Its ctx carries the registry's logger.
func (r *Registry) Storage(ctx context.Context, fn func(ctx context.Context, ns distribution.Namespace, d storagedriver.StorageDriver) error) error {
	r.gate.RLock()
	defer r.gate.RUnlock()
	if r.closed {
		return fmt.Errorf("registry %s: closed", r.host)
	}
	return fn(r.logCtx(ctx), r.namespace, r.driver)
}

// Blobs returns every blob stored (layers, configs and manifests alike),
// digest to size in bytes: the `data` files under docker/registry/v2/blobs.
func (r *Registry) Blobs(ctx context.Context) (map[string]int64, error) {
	out := make(map[string]int64)
	err := r.driver.Walk(r.logCtx(ctx), blobsRoot, func(fi storagedriver.FileInfo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if fi.IsDir() || path.Base(fi.Path()) != "data" {
			return nil
		}
		// .../blobs/<algorithm>/<2 hex>/<hex>/data
		parts := strings.Split(strings.TrimPrefix(fi.Path(), blobsRoot+"/"), "/")
		if len(parts) != 4 {
			return fmt.Errorf("unexpected blob path %s", fi.Path())
		}
		out[parts[0]+":"+parts[2]] = fi.Size()
		return nil
	})
	var notFound storagedriver.PathNotFoundError
	if errors.As(err, &notFound) {
		return out, nil // nothing pushed yet
	}
	if err != nil {
		return nil, fmt.Errorf("list blobs of registry %s: %w", r.host, err)
	}
	return out, nil
}

// BlobBytes returns the bytes of blob data in storage: the sum of the sizes
// of the `data` files under docker/registry/v2/blobs. On the filesystem
// driver these are the bytes on disk.
func (r *Registry) BlobBytes(ctx context.Context) (int64, error) {
	blobs, err := r.Blobs(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, size := range blobs {
		n += size
	}
	return n, nil
}

// loggerContext gives distribution's code a logger of our own. distribution
// looks its logger up under an unexported key of its internal dcontext
// package and otherwise falls back to logrus' process-wide logger; answering
// that key here keeps registry logs out of test output without touching
// global state. TestRegistryLogsStayQuiet catches a change of that key.
type loggerContext struct {
	context.Context
	logger *logrus.Entry
}

func (c loggerContext) Value(key any) any {
	if isDistributionLoggerKey(key) {
		return c.logger
	}
	return c.Context.Value(key)
}

const dcontextPkg = "github.com/distribution/distribution/v3/internal/dcontext"

func isDistributionLoggerKey(key any) bool {
	t := reflect.TypeOf(key)
	return t != nil && t.Name() == "loggerKey" && t.PkgPath() == dcontextPkg
}
