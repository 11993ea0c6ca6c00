package usage

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/redact"
)

// Sources are the usage sources a configuration names.
type Sources struct {
	// Window is keep_launched_within: launches since now minus Window
	// hold their images.
	Window time.Duration
	// Events are file globs or http(s) URLs with {date}.
	Events []string
	// AllowEmpty are the Events sources trusted when they hold no launch
	// event in the window: "nobody launched anything". Any other events
	// source without one makes the usage unknown, since an emptied
	// (rotated) or stale log says nothing about who launches what.
	AllowEmpty []string
	// Kubernetes are the clusters whose running pods' images are in use.
	Kubernetes []Kube
}

// Kube selects the pods of one namespace.
type Kube struct {
	// Namespace; "" is the in-cluster pod's own namespace, or the
	// kubeconfig context's, else "default".
	Namespace string
	// Selector is a label selector; "" is DefaultSelector.
	Selector string
	// Kubeconfig is a kubeconfig file; "" is the in-cluster configuration
	// when running in a pod, else $KUBECONFIG or ~/.kube/config.
	Kubeconfig string
	// Context is the kubeconfig context; "" is its current-context.
	Context string
}

// DefaultSelector selects the notebook servers BinderHub launches
// (JupyterHub's KubeSpawner labels them so).
const DefaultSelector = "component=singleuser-server"

// Empty reports whether no source is configured.
func (s Sources) Empty() bool { return len(s.Events) == 0 && len(s.Kubernetes) == 0 }

// IsURL reports whether an events source is fetched over HTTP(S).
func IsURL(src string) bool {
	return strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://")
}

// DatePlaceholder is replaced by each day of the window in an events URL.
const DatePlaceholder = "{date}"

// Reader reads usage sources.
type Reader struct {
	src      Sources
	now      func() time.Time
	cacheDir string
	client   *http.Client
	getenv   func(string) string
	// serviceAccount is where an in-cluster pod finds its token, CA and
	// namespace.
	serviceAccount string
	// fetchers bounds the days fetched at once.
	fetchers int
}

// Option tunes NewReader.
type Option func(*Reader)

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(r *Reader) { r.now = now } }

// WithCacheDir keeps fetched events files in dir (the default is under
// the user cache directory; "" fetches every day each run).
func WithCacheDir(dir string) Option { return func(r *Reader) { r.cacheDir = dir } }

// WithHTTPClient replaces the HTTP client for events URLs.
func WithHTTPClient(c *http.Client) Option { return func(r *Reader) { r.client = c } }

// WithGetenv replaces os.Getenv (KUBECONFIG, HOME, in-cluster variables).
func WithGetenv(fn func(string) string) Option { return func(r *Reader) { r.getenv = fn } }

// WithServiceAccountDir replaces /var/run/secrets/kubernetes.io/serviceaccount.
func WithServiceAccountDir(dir string) Option { return func(r *Reader) { r.serviceAccount = dir } }

// DefaultCacheDir is where fetched events files are kept by default.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the user cache directory: %w", err)
	}
	return filepath.Join(dir, "helmupgradebot", "events"), nil
}

// NewReader prepares to read the sources; nothing is read yet.
func NewReader(src Sources, opts ...Option) *Reader {
	r := &Reader{src: src, now: time.Now, client: &http.Client{Timeout: 2 * time.Minute}, getenv: os.Getenv,
		serviceAccount: "/var/run/secrets/kubernetes.io/serviceaccount", fetchers: 4}
	if dir, err := DefaultCacheDir(); err == nil {
		r.cacheDir = dir
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Sources returns what the reader reads.
func (r *Reader) Sources() Sources { return r.src }

// Read reads every source. A source that cannot be read whole is reported
// in its SourceReport's Error, never skipped silently; Match then makes the
// usage unknown.
func (r *Reader) Read(ctx context.Context) *Observed {
	now := r.now()
	obs := &Observed{Window: r.src.Window, Since: now.Add(-r.src.Window), Launches: NewTally(now.Add(-r.src.Window))}
	for _, e := range r.src.Events {
		rep := SourceReport{Source: "events: " + redact.URL(e), Kind: "events", Stats: &Stats{}}
		add := func(ev *Event) {
			obs.Launches.Add(ev)
			if !ev.Timestamp.Before(obs.Since) {
				rep.InWindow++
			}
		}
		var err error
		if IsURL(e) {
			err = r.readURL(ctx, e, obs.Since, add, &rep)
		} else {
			err = r.readGlob(ctx, e, add, &rep)
		}
		switch {
		case err != nil:
		case rep.Lines > 0 && rep.Bad == rep.Lines:
			err = fmt.Errorf("no line is an event (first: %s)", rep.FirstBad)
		case rep.InWindow == 0 && !slices.Contains(r.src.AllowEmpty, e):
			err = noEventInWindow(rep, obs.Since)
		}
		if err != nil {
			rep.Error = redact.Text(err.Error())
		}
		obs.Sources = append(obs.Sources, rep)
	}
	for _, k := range r.src.Kubernetes {
		rep := SourceReport{Source: "kubernetes: " + k.String(), Kind: "kubernetes"}
		pods, n, err := r.listPods(ctx, k)
		if err != nil {
			rep.Error = redact.Text(err.Error())
		}
		rep.Pods = n
		obs.PodsSeen += n
		obs.Pods = append(obs.Pods, pods...)
		obs.Sources = append(obs.Sources, rep)
	}
	return obs
}

// noEventInWindow is the error of an events source that read no launch
// event in the window. Logrotate leaves an empty file; a BinderHub whose
// event handler broke leaves a stale one; an archive may publish empty
// days. None says that nobody launched anything, and taking it so would
// delete every image people launch; only allow_empty trusts it.
func noEventInWindow(rep SourceReport, since time.Time) error {
	what := "it is empty"
	switch {
	case rep.Files == 0:
		what = "no file was read"
	case rep.Events > 0:
		what = fmt.Sprintf("its launch events (%d) are all older", rep.Events)
	case rep.Lines > 0:
		what = fmt.Sprintf("its lines (%d) hold no launch event", rep.Lines)
	}
	return fmt.Errorf("no launch event since %s (the keep_launched_within window): %s. An emptied, rotated or stale log cannot say that nobody launched anything, so usage is unknown and nothing is deleted; set allow_empty: true on this source if a window without launches is expected",
		since.UTC().Format(time.RFC3339), what)
}

func (k Kube) String() string {
	ns := k.Namespace
	if ns == "" {
		ns = "(default namespace)"
	}
	sel := k.Selector
	if sel == "" {
		sel = DefaultSelector
	}
	return ns + " (" + sel + ")"
}

// readGlob reads every file a glob matches: launches before the window
// hold nothing, but give images their last launch, which orders the cap
// step.
func (r *Reader) readGlob(ctx context.Context, pattern string, add func(*Event), rep *SourceReport) error {
	files, err := filepath.Glob(pattern)
	if err != nil {
		return fmt.Errorf("bad pattern: %w", err)
	}
	if len(files) == 0 {
		return fmt.Errorf("no file matches %s", pattern)
	}
	slices.Sort(files)
	var errs []string
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := os.Stat(f)
		switch {
		case err != nil:
			errs = append(errs, err.Error())
			continue
		case fi.IsDir():
			continue
		}
		st, err := readFile(f, add)
		rep.Files++
		rep.Stats.Add(st)
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func readFile(path string, add func(*Event)) (Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return Stats{}, err
	}
	defer f.Close()
	return ReadEvents(f, path, add)
}
