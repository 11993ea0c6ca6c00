package model

import (
	"slices"
	"testing"
	"time"
)

// TestPulledHolds: keep_pulled_within holds an image the registry saw
// pulled within the window before the scan; an unknown pull time holds
// nothing and releases nothing; usage holds and the pull hold combine
// (either holds), the usage one named first.
func TestPulledHolds(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct {
		name       string
		lastPulled time.Time
		usage      ImageUsage
		window     time.Duration
		want       Hold
	}{
		{"pulled in the window", now.Add(-10 * day), ImageUsage{}, 30 * day, HoldPulled},
		{"pulled on the window's edge", now.Add(-30 * day), ImageUsage{}, 30 * day, HoldPulled},
		{"pulled before the window", now.Add(-31 * day), ImageUsage{}, 30 * day, HoldNone},
		{"never pulled (unknown)", time.Time{}, ImageUsage{}, 30 * day, HoldNone},
		{"window off", now.Add(-time.Hour), ImageUsage{}, 0, HoldNone},
		{"launched and pulled", now.Add(-time.Hour), ImageUsage{Launches: 1, LastLaunch: now}, 30 * day, HoldLaunched},
		{"launched, pull unknown", time.Time{}, ImageUsage{Launches: 1, LastLaunch: now}, 30 * day, HoldLaunched},
		{"in use, pulled long ago", now.Add(-300 * day), ImageUsage{InUse: true}, 30 * day, HoldInUse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inv := build(t, img{repo: "a", digest: "x", ageDays: 200, tags: []string{"v1"}, blobs: map[string]int64{"x": 1, "l": 100}})
			inv.Images[0].LastPulled = tc.lastPulled
			pol := Policy{MaxAge: 90 * day, KeepPulledWithin: tc.window}
			u := &Usage{Images: []ImageUsage{tc.usage}}
			if got := HoldsWithUsage(inv, pol, u); !slices.Equal(got, []Hold{tc.want}) {
				t.Fatalf("holds %v, want %v", got, tc.want)
			}
			p := MakePlan(inv, Request{Policy: pol, Now: now, Usage: u})
			if planned := len(p.Deletions) == 1; planned != (tc.want == HoldNone) {
				t.Errorf("planned %v with hold %q", planned, tc.want)
			}
			if tc.want != HoldNone && p.Held[tc.want] != 1 {
				t.Errorf("held %v", p.Held)
			}
		})
	}
}
