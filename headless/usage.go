package headless

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/engine"
	"github.com/helmupgradebot/helmupgradebot/backend/usage"
	"github.com/helmupgradebot/helmupgradebot/model"
)

// UsageReport is the report's usage section: what each source gave, how
// the launches matched, what usage holds back, and which sources failed.
type UsageReport struct {
	// KeepLaunchedWithin is the window (e.g. "30d"); Since its start.
	KeepLaunchedWithin string     `json:"keep_launched_within,omitempty"`
	Since              *time.Time `json:"since,omitempty"`
	// Sources lists every configured source and what it gave.
	Sources []usage.SourceReport `json:"sources"`
	// EventsRead counts the launch events read; EventsInWindow the
	// successful ones inside the window, which are Matched to an image or
	// Unmatched; FailedLaunches those with status failure (they hold
	// nothing); BadLines the lines that were not events.
	EventsRead     int `json:"events_read"`
	EventsInWindow int `json:"events_in_window"`
	Matched        int `json:"matched"`
	Unmatched      int `json:"unmatched"`
	FailedLaunches int `json:"failed_launches"`
	BadLines       int `json:"bad_lines"`
	// Pods counts the running pods read; PodImagesUnmatched their images
	// that are not in the registry.
	Pods               int `json:"pods"`
	PodImagesUnmatched int `json:"pod_images_unmatched"`
	// LaunchedImages and InUseImages count the images usage holds;
	// HeldBytes is what deleting them would free.
	LaunchedImages int   `json:"launched_images"`
	InUseImages    int   `json:"in_use_images"`
	HeldBytes      int64 `json:"held_bytes"`
	// Errors are the sources that could not be read whole. With any, the
	// run deletes nothing and exits 3.
	Errors []UsageError `json:"errors"`
}

// UsageError is a source that could not be read.
type UsageError struct {
	Source string `json:"source"`
	Error  string `json:"error"`
}

// heldKey is a hold's key under held: the hold's name, but in_use for
// in-use, as the report's usage fields are spelled.
func heldKey(h model.Hold) string {
	if h == model.HoldInUse {
		return "in_use"
	}
	return string(h)
}

// reportUsage fills the report's usage section for a scan and reports
// whether a source failed (the plan then deletes nothing).
func reportUsage(rr *RegistryReport, reg *engine.Registry, inv *model.Inventory, log *slog.Logger) (*usage.Result, bool) {
	res := reg.Usage(inv)
	if res == nil {
		return nil, false
	}
	rr.Usage = UsageFromResult(inv, reg.Policy(), res)
	for _, e := range rr.Usage.Errors {
		log.Error("usage source could not be read: nothing is deleted", "source", e.Source, "err", e.Error)
		rr.Errors = append(rr.Errors, ErrorReport{Reference: e.Source, Error: e.Error})
	}
	u := rr.Usage
	log.Info("usage", "events_read", u.EventsRead, "in_window", u.EventsInWindow, "matched", u.Matched, "unmatched", u.Unmatched,
		"bad_lines", u.BadLines, "pods", u.Pods, "launched_images", u.LaunchedImages, "in_use_images", u.InUseImages, "held_bytes", u.HeldBytes)
	return res, len(u.Errors) > 0
}

// UsageFromResult summarises a usage result for the report.
func UsageFromResult(inv *model.Inventory, pol model.Policy, res *usage.Result) *UsageReport {
	u := &UsageReport{Sources: res.Sources, Errors: []UsageError{}, Matched: res.Matched, Unmatched: res.Unmatched,
		Pods: res.PodsSeen, PodImagesUnmatched: res.PodImagesUnmatched, LaunchedImages: res.Launched, InUseImages: res.InUse}
	if u.Sources == nil {
		u.Sources = []usage.SourceReport{}
	}
	if res.Window > 0 {
		u.KeepLaunchedWithin = formatWindow(res.Window)
		since := res.Since
		u.Since = &since
	}
	if t := res.Launches; t != nil {
		u.EventsRead, u.EventsInWindow, u.FailedLaunches = t.Events, t.InWindow, t.Failed
	}
	for _, s := range res.Sources {
		if s.Stats != nil {
			u.BadLines += s.Bad
		}
		if s.Error != "" {
			u.Errors = append(u.Errors, UsageError{Source: s.Source, Error: s.Error})
		}
	}
	u.HeldBytes = model.ComputeSizes(inv).UsageHeldBytes(inv, model.HoldsWithUsage(inv, pol, &res.Usage))
	return u
}

// withUsage adds image i's launches to its report entry.
func withUsage(ir ImageReport, res *usage.Result, i int) ImageReport {
	if res == nil {
		return ir
	}
	u := res.Usage.Of(i)
	n := u.Launches
	ir.Launches = &n
	if !u.LastLaunch.IsZero() {
		t := u.LastLaunch
		ir.LastLaunch = &t
	}
	return ir
}

// writeUsageSummary is the summary's usage line and its errors.
func writeUsageSummary(w io.Writer, u *UsageReport) {
	if u == nil {
		return
	}
	fmt.Fprintf(w, "usage: %d launches read, %d in the last %s (%d matched, %d unmatched), %d bad lines, %d pods; holding %d launched and %d in-use images (%s)\n",
		u.EventsRead, u.EventsInWindow, u.KeepLaunchedWithin, u.Matched, u.Unmatched, u.BadLines, u.Pods, u.LaunchedImages, u.InUseImages, model.FormatBytes(u.HeldBytes))
	for _, e := range u.Errors {
		fmt.Fprintf(w, "usage source failed, nothing is deleted: %s: %s\n", e.Source, e.Error)
	}
}

// formatWindow writes a window as the configuration does: 30d, else 36h.
func formatWindow(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}
