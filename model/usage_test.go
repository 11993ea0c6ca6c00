package model

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestUsageHolds: an image launched in the window or used by a running pod
// is held, never planned for age, untagged or cap, and a manual pick of it
// is refused with its hold; one launched only before the window is planned.
func TestUsageHolds(t *testing.T) {
	inv := build(t,
		img{repo: "a", digest: "hot", ageDays: 200, tags: []string{"c1"}, blobs: map[string]int64{"hot": 1, "x": 100}},
		img{repo: "a", digest: "cold", ageDays: 200, tags: []string{"c2"}, blobs: map[string]int64{"cold": 1, "y": 100}},
		img{repo: "a", digest: "pod", ageDays: 200, tags: []string{"c3"}, blobs: map[string]int64{"pod": 1, "z": 100}},
		img{repo: "a", digest: "u-hot", ageDays: 30, blobs: map[string]int64{"u-hot": 1, "w": 100}},
	)
	u := &Usage{Images: []ImageUsage{
		{Launches: 3, LastLaunch: now.Add(-time.Hour)},
		{LastLaunch: now.AddDate(0, -3, 0)}, // launched before the window only
		{InUse: true},
		{Launches: 1, LastLaunch: now.Add(-time.Hour)},
	}}
	pol := Policy{MaxAge: 90 * 24 * time.Hour, UntaggedMaxAge: 7 * 24 * time.Hour, Cap: 1, Aggressive: true}
	if got, want := HoldsWithUsage(inv, pol, u), []Hold{HoldLaunched, HoldNone, HoldInUse, HoldLaunched}; !slices.Equal(got, want) {
		t.Fatalf("holds %v, want %v", got, want)
	}
	p := MakePlan(inv, Request{Policy: pol, Now: now, Usage: u})
	if got := refs(inv, p); !slices.Equal(got, []string{"cold:age"}) {
		t.Errorf("plan %v, want only the image launched before the window", got)
	}
	if p.Held[HoldLaunched] != 2 || p.Held[HoldInUse] != 1 {
		t.Errorf("held %v", p.Held)
	}
	p = MakePlan(inv, Request{Policy: pol, Now: now, Usage: u, Manual: []int{0, 1, 2}})
	if got := refs(inv, p); !slices.Equal(got, []string{"cold:manual"}) {
		t.Errorf("manual plan %v", got)
	}
	if len(p.Excluded) != 2 || p.Excluded[0].Hold != HoldLaunched || p.Excluded[1].Hold != HoldInUse {
		t.Errorf("excluded %+v, want the launched and the in-use image with their holds", p.Excluded)
	}
	// without usage, all four go
	if p := MakePlan(inv, Request{Policy: pol, Now: now}); len(p.Deletions) != 4 {
		t.Errorf("without usage: %v", refs(inv, p))
	}
}

// TestUsageUnknownDeletesNothing: when a usage source failed, nothing is
// planned, by policy or by hand, and the plan says why.
func TestUsageUnknownDeletesNothing(t *testing.T) {
	inv := build(t,
		img{repo: "a", digest: "old", ageDays: 200, tags: []string{"v1"}, blobs: map[string]int64{"old": 1, "x": 100}},
		img{repo: "a", digest: "new", ageDays: 1, tags: []string{"v2"}, blobs: map[string]int64{"new": 1, "y": 100}},
		img{repo: "b", digest: "locked", ageDays: 200, tags: []string{"v1"}, locked: true, blobs: map[string]int64{"locked": 1}},
	)
	u := &Usage{Unknown: "usage source events: /var/log/x/*.jsonl: no file matches"}
	pol := Policy{MaxAge: 90 * 24 * time.Hour, Cap: 1, Aggressive: true}
	p := MakePlan(inv, Request{Policy: pol, Now: now, Usage: u})
	if len(p.Deletions) != 0 {
		t.Fatalf("planned %v with usage unknown", refs(inv, p))
	}
	if p.Held[HoldUsageUnknown] != 2 || p.Held[HoldLocked] != 1 {
		t.Errorf("held %v", p.Held)
	}
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "no file matches") {
		t.Errorf("notes %q", p.Notes)
	}
	p = MakePlan(inv, Request{Policy: pol, Now: now, Usage: u, Manual: []int{0}})
	if len(p.Deletions) != 0 || len(p.Excluded) != 1 || p.Excluded[0].Hold != HoldUsageUnknown {
		t.Errorf("manual: %v excluded %+v", refs(inv, p), p.Excluded)
	}
}

// TestCapPrefersLessLaunched: among images that free about the same bytes
// (one GainBucket), the cap step deletes the less launched first, then the
// one launched longer ago; a clearly larger gain still goes first.
func TestCapPrefersLessLaunched(t *testing.T) {
	inv := build(t,
		img{repo: "a", digest: "big", ageDays: 10, tags: []string{"1"}, blobs: map[string]int64{"big": 1, "b": 999}},         // 1000
		img{repo: "a", digest: "popular", ageDays: 20, tags: []string{"2"}, blobs: map[string]int64{"popular": 1, "p": 509}}, // 510: all three in bucket 79 (480..511)
		img{repo: "a", digest: "stale", ageDays: 10, tags: []string{"3"}, blobs: map[string]int64{"stale": 1, "s": 484}},     // 485
		img{repo: "a", digest: "never", ageDays: 10, tags: []string{"4"}, blobs: map[string]int64{"never": 1, "n": 499}},     // 500
		img{repo: "a", digest: "small", ageDays: 10, tags: []string{"5"}, blobs: map[string]int64{"small": 1, "m": 99}},      // 100
	)
	u := &Usage{Images: []ImageUsage{
		{}, {LastLaunch: now.AddDate(0, -2, 0)}, {LastLaunch: now.AddDate(0, -5, 0)}, {}, {},
	}}
	pol := Policy{Cap: 1, Aggressive: true}
	p := MakePlan(inv, Request{Policy: pol, Now: now, Usage: u})
	want := []string{"big:cap", "never:cap", "stale:cap", "popular:cap", "small:cap"}
	if got := refs(inv, p); !slices.Equal(got, want) {
		t.Errorf("with usage %v, want %v", got, want)
	}
	// launches in the window come before last launch; (they are held
	// here, so test the order directly)
	h := &gainHeap{st: newPlanState(inv, ComputeSizes(inv)), items: []int{1, 3}, pos: []int{-1, 0, -1, 1, -1},
		usage: &Usage{Images: []ImageUsage{{}, {Launches: 1}, {}, {Launches: 5}, {}}}}
	if !h.Less(0, 1) {
		t.Error("the image launched once should go before the one launched 5 times")
	}
	// without usage: by gain alone
	p = MakePlan(inv, Request{Policy: pol, Now: now})
	if got := refs(inv, p); !slices.Equal(got, []string{"big:cap", "popular:cap", "never:cap", "stale:cap", "small:cap"}) {
		t.Errorf("without usage %v", got)
	}
}

func TestGainBucket(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 100000 {
		a := r.Int64N(1 << (1 + r.IntN(60)))
		b := a + r.Int64N(a/4+1)
		ba, bb := GainBucket(a), GainBucket(b)
		if ba > bb {
			t.Fatalf("bucket(%d)=%d > bucket(%d)=%d", a, ba, b, bb)
		}
		if ba == bb && a >= 8 && float64(b) >= float64(a)*1.125 {
			t.Fatalf("%d and %d share bucket %d but differ by %.1f%%", a, b, ba, (float64(b)/float64(a)-1)*100)
		}
	}
	if GainBucket(0) != -1 || GainBucket(7) != 7 || GainBucket(8) != 4<<3 {
		t.Error("small buckets")
	}
}
