package model

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// synthetic makes daily runs over days with a known growth per week, noise
// of a few percent of a day's growth, a recorded deletion (a clean-up that
// freed bytes) and, when glitch is set, one run whose size is far off.
func synthetic(r *rand.Rand, days int, perWeek float64, deleteAt int, freed int64, glitch bool) []SizePoint {
	start := time.Date(2026, 6, 1, 3, 15, 0, 0, time.UTC)
	size := 500e9
	var out []SizePoint
	bad := -1
	if glitch {
		bad = r.IntN(days)
	}
	for d := range days {
		size += perWeek / 7 * (1 + (r.Float64()-0.5)*0.1)
		p := SizePoint{At: start.AddDate(0, 0, d), TotalBytes: int64(size)}
		if d == deleteAt {
			p.FreedBytes = freed
			size -= float64(freed)
		}
		if d == bad {
			p.TotalBytes /= 3
		}
		out = append(out, p)
	}
	return out
}

// TestForecastRecoversSlope: on histories with a known slope, one big
// recorded deletion and one glitched run, the fit is within 5%.
func TestForecastRecoversSlope(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 300 {
		perWeek := math.Pow(10, 8+r.Float64()*4) // 100 MB to 1 TB a week
		days := 14 + r.IntN(700)
		pts := synthetic(r, days, perWeek, r.IntN(days), int64(perWeek*float64(1+r.IntN(20))), r.IntN(2) == 0)
		f, ok, why := FitForecast(pts, 0)
		if !ok {
			t.Fatalf("case %d: no forecast: %s", n, why)
		}
		if rel := math.Abs(float64(f.GrowthBytesPerWeek)-perWeek) / perWeek; rel > 0.05 {
			t.Fatalf("case %d (%d days): growth %d/week, want %.0f (off by %.1f%%)", n, days, f.GrowthBytesPerWeek, perWeek, rel*100)
		}
	}
}

func TestForecastCap(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	week := int64(10 << 30)
	var pts []SizePoint
	for w := range 10 {
		pts = append(pts, SizePoint{At: start.AddDate(0, 0, 7*w), TotalBytes: 100<<30 + int64(w)*week})
	}
	// now 190 GiB; a 300 GiB cap is 11 weeks away
	f, ok, _ := FitForecast(pts, 300<<30)
	if !ok || f.GrowthBytesPerWeek != week || f.BasedOnRuns != 10 {
		t.Fatalf("forecast %+v", f)
	}
	if want := pts[9].At.AddDate(0, 0, 77); !f.CapReachedAt.Equal(want) {
		t.Errorf("cap reached %v, want %v", f.CapReachedAt, want)
	}
	if f, _, _ := FitForecast(pts, 150<<30); !f.OverCap || !f.CapReachedAt.IsZero() {
		t.Errorf("over the cap: %+v", f)
	}
	for _, tt := range []struct {
		name string
		pts  []SizePoint
	}{{"none", nil}, {"two", pts[:2]}, {"one day", []SizePoint{{At: start}, {At: start.Add(time.Hour)}, {At: start.Add(2 * time.Hour)}}}} {
		if _, ok, why := FitForecast(tt.pts, 1); ok || why == "" {
			t.Errorf("%s: forecast made (%q)", tt.name, why)
		}
	}
	// shrinking without recorded deletions: no cap date
	rev := []SizePoint{{At: start, TotalBytes: 300}, {At: start.AddDate(0, 0, 7), TotalBytes: 200}, {At: start.AddDate(0, 0, 14), TotalBytes: 100}}
	if f, ok, _ := FitForecast(rev, 1000); !ok || f.GrowthBytesPerWeek >= 0 || !f.CapReachedAt.IsZero() {
		t.Errorf("shrinking: %+v", f)
	}
}
