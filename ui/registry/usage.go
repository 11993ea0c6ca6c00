package registry

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/usage"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// usageService is a registry service that reads usage sources with its
// scans (*engine.Registry does).
type usageService interface {
	Usage(inv *model.Inventory) *usage.Result
}

// usageOf is what the usage sources said about a scan; nil without them.
func usageOf(svc Service, inv *model.Inventory) *usage.Result {
	if u, ok := svc.(usageService); ok {
		return u.Usage(inv)
	}
	return nil
}

func holdsWith(inv *model.Inventory, pol model.Policy, use *usage.Result) []model.Hold {
	if use == nil {
		return model.Holds(inv, pol)
	}
	return model.HoldsWithUsage(inv, pol, &use.Usage)
}

// usageHeldBytes is what the usage holds keep: none without usage.
func usageHeldBytes(x *imageIndex) int64 {
	if x.use == nil {
		return 0
	}
	return x.sizes.UsageHeldBytes(x.inv, x.holds)
}

// nextKey is the sort after the current one; the launch sorts only with
// usage sources.
func (x *imageIndex) nextKey() sortKey {
	k := (x.key + 1) % numSortKeys
	if x.use == nil && k >= sortLaunches {
		k = 0
	}
	return k
}

// usageKeys fills the sort keys for launches (most first) and last launch
// (latest first; never launched last).
func (x *imageIndex) usageKeys(buf []sortEntry, sign int64) {
	for i := range buf {
		var v int64
		if x.use != nil {
			u := x.use.Usage.Of(i)
			switch {
			case x.key == sortLaunches:
				v = int64(u.Launches)
			case u.LastLaunch.IsZero():
				v = math.MinInt64 + 1
			default:
				v = u.LastLaunch.UnixNano()
			}
		}
		buf[i] = sortEntry{-sign * v, int32(i)}
	}
}

// legend names the table's markers, the usage ones first.
func (x *imageIndex) legend() string {
	holds := "[P] protected [L] locked [K] newest kept [U] undated [I] in an index [!] scan incomplete [x] selected"
	if x.inv != nil && slices.ContainsFunc(x.inv.Images, func(im model.Image) bool { return !im.LastPulled.IsZero() }) {
		holds = "[D] pulled recently " + holds
	}
	switch {
	case x.use == nil:
		return holds
	case x.use.Usage.Unknown != "":
		return "[?] usage unknown [R] running [W] launched " + holds
	}
	return "[W] launched [R] running " + holds
}

// usageProblem says why nothing can be deleted when a usage source failed.
func (x *imageIndex) usageProblem() string {
	if x.use == nil || x.use.Usage.Unknown == "" {
		return ""
	}
	return "nothing can be deleted: " + x.use.Usage.Unknown
}

// usageInfo is the info line's usage part: the bytes usage holds back.
func (r *Model) usageInfo() []string {
	x := r.idx
	switch {
	case x.use == nil:
		return nil
	case x.use.Usage.Unknown != "":
		return []string{r.c.Styles.Error.Render("usage unknown: nothing can be deleted")}
	}
	return []string{fmt.Sprintf("usage holds %s (%d launched in %s, %d running)", model.FormatBytes(x.usageHeld),
		x.use.Launched, windowText(x.use.Window), x.use.InUse)}
}

// holdWhy says why image i is held, for the status line: a lock names
// which ("locked (tag hub:stable)").
func (x *imageIndex) holdWhy(i int, now time.Time) string {
	h := x.holds[i]
	if h == model.HoldLocked {
		return x.inv.Images[i].LockText()
	}
	if h == model.HoldPulled {
		return "pulled " + model.FormatAge(max(now.Sub(x.inv.Images[i].LastPulled), 0)) + " ago (" + x.inv.Images[i].LastPulled.Format("2006-01-02") + "), within keep_pulled_within"
	}
	if x.use == nil {
		return string(h)
	}
	u := x.use.Usage.Of(i)
	switch h {
	case model.HoldLaunched:
		return fmt.Sprintf("launched %s in the last %s, last %s ago", common.Count(u.Launches, "time"), windowText(x.use.Window),
			model.FormatAge(max(now.Sub(u.LastLaunch), 0)))
	case model.HoldInUse:
		return "in use: a running pod uses it"
	case model.HoldUsageUnknown:
		return "usage unknown: " + x.use.Usage.Unknown
	}
	return string(h)
}

// windowText writes keep_launched_within as the configuration does (30d).
func windowText(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return model.FormatAge(d)
}
