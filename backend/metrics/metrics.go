// Package metrics turns a headless run's outcome into Prometheus metrics:
// a registry built with client_golang from what the run found and did,
// written for node_exporter's textfile collector (WriteFile) or pushed to
// a Pushgateway (Push). Every metric describes the last run, so each is a
// gauge; a metric of a part that did not run (--only) is absent.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace prefixes every metric's name.
const Namespace = "helmupgradebot"

// Run is one run's outcome, as the metrics show it.
type Run struct {
	// Start and End bound the run; ExitCode is what it exits with.
	Start, End time.Time
	ExitCode   int
	// Applied: the run could delete and open pull requests (--apply).
	Applied bool
	// LastSuccess is when the newest run that exited 0 ended (this one,
	// or one the history recorded); zero when none is known.
	LastSuccess time.Time
	// Registry and Charts are the parts that ran; nil: not run.
	Registry *Registry
	Charts   *Charts
}

// Registry is what a run saw of the registry and did to it.
type Registry struct {
	// Scanned: the scan succeeded. Without it only Requests and
	// ScanSeconds are known.
	Scanned bool
	// TotalBytes is what the registry stores, each blob once; CapBytes the
	// cap (0: none); ReclaimBytes what the plan would free.
	TotalBytes, CapBytes, ReclaimBytes int64
	Images, Untagged                   int
	// Held counts the images the plan keeps, by hold.
	Held map[string]int
	// TimeToCap is how long until the forecast reaches the cap (0 when
	// over it); nil without a trend or a cap. GrowthBytesPerDay is the
	// forecast's growth; nil without enough runs.
	TimeToCap         *time.Duration
	GrowthBytesPerDay *float64
	// Deleted, FreedBytes and FailedDeletions are what the run's
	// deletions did (0 in a dry run).
	Deleted, FailedDeletions int
	FreedBytes               int64
	// Requests counts the HTTP requests sent, by registry API.
	Requests map[string]int64
	// ScanDuration is how long the scan took.
	ScanDuration time.Duration
	// Usage is what the usage sources gave; nil without any.
	Usage *Usage
}

// Usage is what the usage sources gave.
type Usage struct {
	Sources    []Source
	EventsRead int
}

// Source is one usage source and whether it was read whole.
type Source struct {
	// Kind is events or kubernetes; Name the source as configured.
	Kind, Name string
	OK         bool
}

// Charts is what a run saw of the chart dependencies and their pull
// requests.
type Charts struct {
	// ByStatus counts the dependencies by status (up-to-date, outdated,
	// pr-open, …).
	ByStatus map[string]int
	// OpenPRs counts the open pull requests; FailingPRs those whose
	// checks fail.
	OpenPRs, FailingPRs int
	// OldestPROpened and OldestFailingPROpened are when the oldest open
	// pull request, and the oldest one whose checks fail, were opened;
	// zero: none.
	OldestPROpened, OldestFailingPROpened time.Time
}

// The metrics' names, without the namespace.
const (
	NameRunStart        = "last_run_start_timestamp_seconds"
	NameRunEnd          = "last_run_end_timestamp_seconds"
	NameRunDuration     = "last_run_duration_seconds"
	NameRunSuccess      = "last_run_success"
	NameRunExitCode     = "last_run_exit_code"
	NameRunApplied      = "last_run_applied"
	NameLastSuccess     = "last_success_timestamp_seconds"
	NameStored          = "registry_stored_bytes"
	NameCap             = "registry_cap_bytes"
	NameReclaimable     = "registry_reclaimable_bytes"
	NameImages          = "registry_images"
	NameUntagged        = "registry_untagged_images"
	NameHeld            = "registry_held_images"
	NameTimeToCap       = "registry_time_to_cap_seconds"
	NameGrowth          = "registry_growth_bytes_per_second"
	NameDeleted         = "last_run_deleted_images"
	NameFreed           = "last_run_freed_bytes"
	NameFailed          = "last_run_failed_deletions"
	NameRequests        = "last_run_registry_requests"
	NameScanDuration    = "last_run_scan_duration_seconds"
	NameSourceUp        = "usage_source_up"
	NameEventsRead      = "usage_events_read"
	NameDependencies    = "chart_dependencies"
	NameOpenPRs         = "chart_open_pull_requests"
	NameOldestPRAge     = "chart_oldest_pull_request_age_seconds"
	NameFailingPRs      = "chart_failing_pull_requests"
	NameOldestFailingPR = "chart_oldest_failing_pull_request_age_seconds"
)

// Help is each metric's HELP text, by name without the namespace.
var Help = map[string]string{
	NameRunStart:        "When the last run started, in seconds since the Unix epoch.",
	NameRunEnd:          "When the last run ended, in seconds since the Unix epoch.",
	NameRunDuration:     "How long the last run took, in seconds.",
	NameRunSuccess:      "1 when the last run exited 0, else 0.",
	NameRunExitCode:     "The last run's exit code: 0 done, 1 failed, 3 partly done.",
	NameRunApplied:      "1 when the last run could delete images and open pull requests (--apply), 0 for a dry run.",
	NameLastSuccess:     "When the newest run that exited 0 ended, in seconds since the Unix epoch.",
	NameStored:          "Bytes the registry stores, each blob counted once however many images share it.",
	NameCap:             "The registry's size cap in bytes (registry.policy.cap).",
	NameReclaimable:     "Bytes the deletion plan would free under the policy.",
	NameImages:          "Images in the registry, untagged manifests included.",
	NameUntagged:        "Manifests in the registry that no tag points at.",
	NameHeld:            "Images the plan keeps, by the reason they are held.",
	NameTimeToCap:       "Seconds until the registry is forecast to reach its cap (0 when over it); absent without a growth trend or a cap.",
	NameGrowth:          "How fast the registry grows, in bytes a second, fitted over the run history; absent with too few runs.",
	NameDeleted:         "Images the last run deleted.",
	NameFreed:           "Bytes the last run's deletions freed.",
	NameFailed:          "Deletions that failed in the last run.",
	NameRequests:        "HTTP requests the last run sent to the registry, retries included, by registry API.",
	NameScanDuration:    "How long the last run's registry scan took, in seconds.",
	NameSourceUp:        "1 when the usage source was read whole, 0 when it failed (then nothing is deleted).",
	NameEventsRead:      "Launch events the last run read from the usage sources.",
	NameDependencies:    "Chart dependencies followed, by status.",
	NameOpenPRs:         "Open chart bump pull requests.",
	NameOldestPRAge:     "Age of the oldest open chart bump pull request, in seconds; absent when none is open.",
	NameFailingPRs:      "Open chart bump pull requests whose checks fail.",
	NameOldestFailingPR: "Age of the oldest open chart bump pull request whose checks fail, in seconds; absent when none fails.",
}

// Labels of the metrics that have some.
var Labels = map[string][]string{
	NameHeld:         {"reason"},
	NameRequests:     {"api"},
	NameSourceUp:     {"kind", "source"},
	NameDependencies: {"status"},
}

// FullName is a metric's name with the namespace.
func FullName(name string) string { return Namespace + "_" + name }

// Build makes a registry holding run's metrics, each with the constant
// labels given (none: nil).
func Build(run Run, labels prometheus.Labels) *prometheus.Registry {
	reg := prometheus.NewPedanticRegistry()
	b := builder{r: prometheus.WrapRegistererWith(labels, reg)}
	b.set(NameRunStart, unix(run.Start))
	b.set(NameRunEnd, unix(run.End))
	b.set(NameRunDuration, run.End.Sub(run.Start).Seconds())
	b.set(NameRunSuccess, boolValue(run.ExitCode == 0))
	b.set(NameRunExitCode, float64(run.ExitCode))
	b.set(NameRunApplied, boolValue(run.Applied))
	if !run.LastSuccess.IsZero() {
		b.set(NameLastSuccess, unix(run.LastSuccess))
	}
	if r := run.Registry; r != nil {
		b.registry(r)
	}
	if c := run.Charts; c != nil {
		b.charts(c, run.End)
	}
	return reg
}

type builder struct{ r prometheus.Registerer }

// set registers a gauge of one value.
func (b builder) set(name string, v float64) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: Help[name]})
	g.Set(v)
	b.r.MustRegister(g)
}

// vec registers a gauge with one series per key of values, each labelled
// with label(key).
func vec[K comparable](b builder, name string, values map[K]float64, label func(K) []string) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: Help[name]}, Labels[name])
	for k, v := range values {
		g.WithLabelValues(label(k)...).Set(v)
	}
	b.r.MustRegister(g)
}

func (b builder) registry(r *Registry) {
	if r.Scanned {
		b.set(NameStored, float64(r.TotalBytes))
		if r.CapBytes > 0 {
			b.set(NameCap, float64(r.CapBytes))
		}
		b.set(NameReclaimable, float64(r.ReclaimBytes))
		b.set(NameImages, float64(r.Images))
		b.set(NameUntagged, float64(r.Untagged))
		vec(b, NameHeld, floats(r.Held), one)
		if r.TimeToCap != nil {
			b.set(NameTimeToCap, max(0, r.TimeToCap.Seconds()))
		}
		if r.GrowthBytesPerDay != nil {
			b.set(NameGrowth, *r.GrowthBytesPerDay/(24*60*60))
		}
		b.set(NameDeleted, float64(r.Deleted))
		b.set(NameFreed, float64(r.FreedBytes))
		b.set(NameFailed, float64(r.FailedDeletions))
	}
	vec(b, NameRequests, floats(r.Requests), one)
	b.set(NameScanDuration, r.ScanDuration.Seconds())
	if u := r.Usage; u != nil {
		up := map[Source]float64{} // a source given twice is up when both reads were whole
		for _, s := range u.Sources {
			k, v := Source{Kind: s.Kind, Name: s.Name}, boolValue(s.OK)
			if old, seen := up[k]; seen {
				v = min(old, v)
			}
			up[k] = v
		}
		vec(b, NameSourceUp, up, func(s Source) []string { return []string{s.Kind, s.Name} })
		b.set(NameEventsRead, float64(u.EventsRead))
	}
}

func (b builder) charts(c *Charts, now time.Time) {
	vec(b, NameDependencies, floats(c.ByStatus), one)
	b.set(NameOpenPRs, float64(c.OpenPRs))
	b.set(NameFailingPRs, float64(c.FailingPRs))
	if !c.OldestPROpened.IsZero() {
		b.set(NameOldestPRAge, max(0, now.Sub(c.OldestPROpened).Seconds()))
	}
	if !c.OldestFailingPROpened.IsZero() {
		b.set(NameOldestFailingPR, max(0, now.Sub(c.OldestFailingPROpened).Seconds()))
	}
}

func one(s string) []string { return []string{s} }

func floats[V int | int64](m map[string]V) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = float64(v)
	}
	return out
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
