package model

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"time"
)

// SizePoint is the registry's size as one run saw it, with what that run
// and the runs before it deleted.
type SizePoint struct {
	At time.Time
	// TotalBytes is the registry's deduplicated size at the scan.
	TotalBytes int64
	// FreedBytes is what this run's deletions freed (0 for a dry run).
	FreedBytes int64
}

// Forecast is the registry's growth and when it reaches its cap.
type Forecast struct {
	// GrowthBytesPerWeek is what is pushed per week: the size's trend with
	// recorded deletions added back, so that a clean-up does not look
	// like shrinkage.
	GrowthBytesPerWeek int64
	// CapReachedAt is when the registry reaches the cap at that growth;
	// zero when it is already over the cap, has no cap, or is not growing.
	CapReachedAt time.Time
	// OverCap: the latest size is already over the cap.
	OverCap bool
	// BasedOnRuns is how many runs the fit used.
	BasedOnRuns int
}

// Forecast thresholds.
const (
	// MinForecastRuns is how many runs a forecast needs.
	MinForecastRuns = 3
	// MinForecastSpan is the least time those runs must span.
	MinForecastSpan = 24 * time.Hour
	// maxForecastPoints bounds the O(n²) pairwise fit; older runs are
	// thinned evenly.
	maxForecastPoints = 200
)

// FitForecast fits the registry's growth to its size history with the
// Theil–Sen estimator (the median of the slopes between every pair of
// runs), which one odd run cannot pull, after adding back what recorded
// deletions freed. It returns ok=false and why when there are too few runs.
func FitForecast(points []SizePoint, capBytes int64) (f Forecast, ok bool, why string) {
	pts := slices.Clone(points)
	slices.SortStableFunc(pts, func(a, b SizePoint) int { return a.At.Compare(b.At) })
	if len(pts) < MinForecastRuns {
		return Forecast{}, false, "too few runs to forecast: " + strconv.Itoa(len(pts)) + " of " + strconv.Itoa(MinForecastRuns)
	}
	if pts[len(pts)-1].At.Sub(pts[0].At) < MinForecastSpan {
		return Forecast{}, false, "the runs span less than a day"
	}
	// gross[i]: the size plus everything deleted before run i's scan, i.e.
	// the bytes pushed so far.
	xs := make([]float64, len(pts))
	ys := make([]float64, len(pts))
	var freed float64
	t0 := pts[0].At
	for i, p := range pts {
		xs[i] = p.At.Sub(t0).Hours() / (24 * 7)
		ys[i] = float64(p.TotalBytes) + freed
		freed += float64(p.FreedBytes) // this run deleted after its scan
	}
	if len(xs) > maxForecastPoints {
		xs, ys = thin(xs, ys, maxForecastPoints)
	}
	slope, ok := theilSen(xs, ys)
	if !ok {
		return Forecast{}, false, "the runs share one time"
	}
	last := pts[len(pts)-1]
	size := last.TotalBytes - last.FreedBytes
	f = Forecast{GrowthBytesPerWeek: int64(math.Round(slope)), BasedOnRuns: len(pts)}
	switch {
	case capBytes <= 0:
	case size >= capBytes:
		f.OverCap = true
	case slope > 0:
		weeks := float64(capBytes-size) / slope
		if weeks < 52*100 { // beyond a century is never
			f.CapReachedAt = last.At.Add(time.Duration(weeks * 7 * 24 * float64(time.Hour)))
		}
	}
	return f, true, ""
}

// theilSen is the median of the pairwise slopes (ties in x skipped).
func theilSen(xs, ys []float64) (float64, bool) {
	slopes := make([]float64, 0, len(xs)*(len(xs)-1)/2)
	for i := range xs {
		for j := i + 1; j < len(xs); j++ {
			if dx := xs[j] - xs[i]; dx != 0 {
				slopes = append(slopes, (ys[j]-ys[i])/dx)
			}
		}
	}
	if len(slopes) == 0 {
		return 0, false
	}
	slices.SortFunc(slopes, cmp.Compare[float64])
	n := len(slopes)
	if n%2 == 1 {
		return slopes[n/2], true
	}
	return (slopes[n/2-1] + slopes[n/2]) / 2, true
}

// thin keeps n points spread evenly, always the first and the last.
func thin(xs, ys []float64, n int) ([]float64, []float64) {
	ox, oy := make([]float64, 0, n), make([]float64, 0, n)
	for k := range n {
		i := k * (len(xs) - 1) / (n - 1)
		ox, oy = append(ox, xs[i]), append(oy, ys[i])
	}
	return ox, oy
}
