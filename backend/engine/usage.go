package engine

import (
	"context"
	"path/filepath"
	"sync"

	"github.com/helmupgradebot/helmupgradebot/backend/registry"
	"github.com/helmupgradebot/helmupgradebot/backend/usage"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// usageState reads the usage sources on each scan and keeps the matched
// usage of the last few inventories scanned, for their plans.
type usageState struct {
	reader  *usage.Reader
	mu      sync.Mutex
	results map[*model.Inventory]*usage.Result
	order   []*model.Inventory
}

// keptUsage is how many scans' usage is kept: the console plans against
// the inventory it shows while a rescan runs.
const keptUsage = 4

// WithUsage reads the usage sources (launch events, running pods) with
// every scan; plans then hold launched and in-use images.
func WithUsage(rd *usage.Reader) RegistryOption {
	return func(r *Registry) { r.usage = &usageState{reader: rd, results: map[*model.Inventory]*usage.Result{}} }
}

// WithUsageOptions passes options to the usage reader (its cache
// directory, HTTP client, where a pod's service account is).
func WithUsageOptions(opts ...usage.Option) Option {
	return func(o *buildOptions) { o.usage = append(o.usage, opts...) }
}

// addUsage gives the registry engine the configuration's usage sources.
// Relative event paths are relative to the configuration file.
func (b *Builder) addUsage(reg *Registry) {
	p := b.cfg.Registry.Policy
	if len(p.Usage) == 0 {
		return
	}
	src := usage.Sources{Window: p.KeepLaunchedWithin.Duration}
	for _, u := range p.Usage {
		switch {
		case u.Events != "":
			e := u.Events
			if !usage.IsURL(e) && !filepath.IsAbs(e) && b.cfg.Path != "" {
				e = filepath.Join(filepath.Dir(b.cfg.Path), e)
			}
			src.Events = append(src.Events, e)
			if u.AllowEmpty {
				src.AllowEmpty = append(src.AllowEmpty, e)
			}
		case u.Kubernetes != nil:
			k := *u.Kubernetes
			if k.Kubeconfig != "" && !filepath.IsAbs(k.Kubeconfig) && b.cfg.Path != "" {
				k.Kubeconfig = filepath.Join(filepath.Dir(b.cfg.Path), k.Kubeconfig)
			}
			src.Kubernetes = append(src.Kubernetes, usage.Kube{Namespace: k.Namespace, Selector: k.Selector, Kubeconfig: k.Kubeconfig, Context: k.Context})
		}
	}
	opts := append([]usage.Option{usage.WithClock(b.o.now), usage.WithGetenv(b.o.getenv)}, b.o.usage...)
	WithUsage(usage.NewReader(src, opts...))(reg)
}

// scanWithUsage scans the registry and, when usage sources are configured,
// reads them meanwhile and matches them to the inventory.
func (r *Registry) scanWithUsage(ctx context.Context, progress func(registry.Progress)) (*model.Inventory, error) {
	if r.usage == nil {
		return r.lister.Scan(ctx, progress)
	}
	read := make(chan *usage.Observed, 1)
	go func() { read <- r.usage.reader.Read(ctx) }()
	inv, err := r.lister.Scan(ctx, progress)
	obs := <-read
	if err != nil {
		return nil, err
	}
	r.usage.keep(inv, usage.Match(inv, obs))
	return inv, nil
}

func (u *usageState) keep(inv *model.Inventory, res *usage.Result) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.results[inv] = res
	u.order = append(u.order, inv)
	if len(u.order) > keptUsage {
		delete(u.results, u.order[0])
		u.order = u.order[1:]
	}
}

// Usage is what the usage sources said about a scan's inventory: nil when
// none is configured, or for an inventory this engine did not scan (a
// snapshot).
func (r *Registry) Usage(inv *model.Inventory) *usage.Result {
	if r.usage == nil {
		return nil
	}
	r.usage.mu.Lock()
	defer r.usage.mu.Unlock()
	return r.usage.results[inv]
}

// UsageConfigured reports whether usage sources are configured.
func (r *Registry) UsageConfigured() bool { return r.usage != nil }

// planUsage is a plan's usage input: nil without usage sources; for an
// inventory whose usage was not read, unknown, so nothing is deleted.
func (r *Registry) planUsage(inv *model.Inventory) *model.Usage {
	if r.usage == nil {
		return nil
	}
	if res := r.Usage(inv); res != nil {
		return &res.Usage
	}
	return &model.Usage{Unknown: "the usage sources were not read for this inventory; rescan"}
}
