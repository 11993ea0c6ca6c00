package model

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// img describes a test image: repository, digest, age in days, tags and
// blobs as "digest=size".
type img struct {
	repo, digest string
	ageDays      int
	tags         []string
	blobs        map[string]int64
	problem      CreatedProblem
	children     []string
	locked       bool
	subject      string
}

func build(t testing.TB, imgs ...img) *Inventory {
	t.Helper()
	b := NewInventoryBuilder("r.example", now)
	for _, m := range imgs {
		var bl []Blob
		keys := make([]string, 0, len(m.blobs))
		for k := range m.blobs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			bl = append(bl, Blob{Digest: k, Size: m.blobs[k]})
		}
		err := b.AddImage(Image{
			Repository: m.repo, Digest: ParseDigest(m.digest), Tags: m.tags,
			Created:        now.AddDate(0, 0, -m.ageDays),
			CreatedProblem: m.problem, Children: ParseDigests(m.children), Locked: m.locked, Subject: DigestRef(m.subject),
		}, bl)
		if err != nil {
			t.Fatal(err)
		}
	}
	return b.Inventory()
}

func TestSizes(t *testing.T) {
	inv := build(t,
		img{repo: "a", digest: "m1", blobs: map[string]int64{"m1": 1, "base": 100, "x": 10}},
		img{repo: "a", digest: "m2", blobs: map[string]int64{"m2": 1, "base": 100, "y": 20}},
		img{repo: "b", digest: "m3", blobs: map[string]int64{"m3": 1, "z": 30, "y": 20}},
	)
	s := ComputeSizes(inv)
	if want := int64(1 + 1 + 1 + 100 + 10 + 20 + 30); s.Total != want {
		t.Errorf("Total = %d, want %d", s.Total, want)
	}
	if got, want := s.Exclusive, []int64{11, 1, 31}; !slices.Equal(got, want) {
		t.Errorf("Exclusive = %v, want %v", got, want)
	}
	tests := []struct {
		set  []int
		want int64
	}{
		{nil, 0},
		{[]int{0}, 11},
		{[]int{0, 1}, 11 + 1 + 100},
		{[]int{1, 2}, 1 + 31 + 20},
		{[]int{0, 1, 2}, s.Total},
		{[]int{2, 2}, 31},
	}
	for _, tt := range tests {
		if got := s.Freed(inv, tt.set); got != tt.want {
			t.Errorf("Freed(%v) = %d, want %d", tt.set, got, tt.want)
		}
	}
}

func TestAddImageRejectsConflicts(t *testing.T) {
	b := NewInventoryBuilder("r", now)
	if err := b.AddImage(Image{Repository: "a", Digest: ParseDigest("d")}, []Blob{{"x", 1}}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddImage(Image{Repository: "a", Digest: ParseDigest("d")}, nil); err == nil {
		t.Error("same image twice: no error")
	}
	if err := b.AddImage(Image{Repository: "b", Digest: ParseDigest("d")}, []Blob{{"x", 2}}); err == nil {
		t.Error("blob size disagreement: no error")
	}
}

func refs(inv *Inventory, p Plan) []string {
	var out []string
	for _, d := range p.Deletions {
		out = append(out, fmt.Sprintf("%s:%s", inv.Images[d.Image].Digest, d.Reason))
	}
	return out
}

func TestMakePlan(t *testing.T) {
	pats := []*regexp.Regexp{regexp.MustCompile(`^jupyterhub/`), regexp.MustCompile(`^base:latest$`)}
	tests := []struct {
		name      string
		imgs      []img
		pol       Policy
		manual    []int
		force     bool
		want      []string
		reclaim   []int64
		shortfall int64
		refused   bool
		excluded  int
	}{
		{
			name: "age deletes old images oldest first",
			imgs: []img{
				{repo: "a", digest: "new", ageDays: 10, blobs: map[string]int64{"new": 5}},
				{repo: "a", digest: "old", ageDays: 100, blobs: map[string]int64{"old": 6}},
				{repo: "b", digest: "older", ageDays: 200, blobs: map[string]int64{"older": 7}},
			},
			pol:     Policy{MaxAge: 90 * 24 * time.Hour},
			want:    []string{"older:age", "old:age"},
			reclaim: []int64{7, 6},
		},
		{
			name: "unknown created times are never deleted for age",
			imgs: []img{
				{repo: "a", digest: "epoch", ageDays: 20000, problem: CreatedBogus, blobs: map[string]int64{"e": 5}},
				{repo: "a", digest: "none", ageDays: 20000, problem: CreatedMissing, blobs: map[string]int64{"n": 5}},
			},
			pol:  Policy{MaxAge: 24 * time.Hour},
			want: nil,
		},
		{
			name: "protected by repository and by repo:tag, locked, keep latest",
			imgs: []img{
				{repo: "jupyterhub/k8s-hub", digest: "hub", ageDays: 400, blobs: map[string]int64{"h": 5}},
				{repo: "base", digest: "b1", ageDays: 400, tags: []string{"latest"}, blobs: map[string]int64{"b1": 5}},
				{repo: "base", digest: "b2", ageDays: 300, tags: []string{"old"}, blobs: map[string]int64{"b2": 5}},
				{repo: "lk", digest: "locked", ageDays: 400, locked: true, blobs: map[string]int64{"l": 5}},
				{repo: "k", digest: "k-new", ageDays: 200, blobs: map[string]int64{"k1": 5}},
				{repo: "k", digest: "k-old", ageDays: 300, blobs: map[string]int64{"k2": 5}},
			},
			pol:  Policy{MaxAge: 90 * 24 * time.Hour, Protect: pats, KeepLatest: 1},
			want: []string{"k-old:age"},
		},
		{
			name: "reclaim counts shared blobs once, on the last deletion",
			imgs: []img{
				{repo: "a", digest: "x", ageDays: 300, blobs: map[string]int64{"x": 1, "base": 100}},
				{repo: "a", digest: "y", ageDays: 200, blobs: map[string]int64{"y": 2, "base": 100}},
			},
			pol:     Policy{MaxAge: 90 * 24 * time.Hour},
			want:    []string{"x:age", "y:age"},
			reclaim: []int64{1, 102},
		},
		{
			name: "cap takes the biggest freer, recomputing",
			imgs: []img{
				{repo: "a", digest: "s1", ageDays: 5, blobs: map[string]int64{"s1": 10, "shared": 100}},
				{repo: "a", digest: "s2", ageDays: 6, blobs: map[string]int64{"s2": 10, "shared": 100}},
				{repo: "b", digest: "big", ageDays: 1, blobs: map[string]int64{"big": 50}},
				{repo: "c", digest: "small", ageDays: 1, blobs: map[string]int64{"small": 5}},
			},
			// total 175; cap 60: big (50) -> 125; s2 (10, older) -> 115,
			// then s1 frees 110 -> 5.
			pol:     Policy{Cap: 60, Aggressive: true},
			want:    []string{"big:cap", "s2:cap", "s1:cap"},
			reclaim: []int64{50, 10, 110},
		},
		{
			name: "cap off when not aggressive",
			imgs: []img{{repo: "b", digest: "big", blobs: map[string]int64{"big": 50}}},
			pol:  Policy{Cap: 10},
			want: nil, shortfall: 40,
		},
		{
			name: "cap unreachable without protected images: shortfall, and no useless deletions",
			imgs: []img{
				{repo: "jupyterhub/hub", digest: "p", blobs: map[string]int64{"p": 1, "base": 100}},
				{repo: "a", digest: "u", blobs: map[string]int64{"u": 0, "base": 100}},
				{repo: "a", digest: "v", blobs: map[string]int64{"v": 10}},
			},
			pol:       Policy{Cap: 50, Aggressive: true, Protect: pats},
			want:      []string{"v:cap"},
			shortfall: 101 - 50,
		},
		{
			name: "age first, then cap",
			imgs: []img{
				{repo: "a", digest: "old", ageDays: 100, blobs: map[string]int64{"old": 10}},
				{repo: "a", digest: "mid", ageDays: 30, blobs: map[string]int64{"mid": 40}},
				{repo: "a", digest: "new", ageDays: 1, blobs: map[string]int64{"new": 20}},
			},
			pol:     Policy{MaxAge: 90 * 24 * time.Hour, Cap: 30, Aggressive: true},
			want:    []string{"old:age", "mid:cap"},
			reclaim: []int64{10, 40},
		},
		{
			name: "manual picks go through the same holds",
			imgs: []img{
				{repo: "jupyterhub/hub", digest: "p", blobs: map[string]int64{"p": 1}},
				{repo: "a", digest: "m", blobs: map[string]int64{"m": 3}},
			},
			pol:      Policy{Protect: pats, MaxAge: time.Hour},
			manual:   []int{0, 1, 1, 7},
			want:     []string{"m:manual"},
			excluded: 1,
		},
		{
			name: "max delete fraction refuses, force accepts",
			imgs: []img{
				{repo: "a", digest: "x", ageDays: 100, blobs: map[string]int64{"x": 1}},
				{repo: "a", digest: "y", ageDays: 100, blobs: map[string]int64{"y": 1}},
				{repo: "a", digest: "z", ageDays: 1, blobs: map[string]int64{"z": 1}},
			},
			pol:     Policy{MaxAge: 90 * 24 * time.Hour, MaxDeleteFraction: 0.5},
			want:    []string{"x:age", "y:age"},
			refused: true,
		},
		{
			name: "forced",
			imgs: []img{
				{repo: "a", digest: "x", ageDays: 100, blobs: map[string]int64{"x": 1}},
				{repo: "a", digest: "y", ageDays: 1, blobs: map[string]int64{"y": 1}},
			},
			pol:   Policy{MaxAge: 90 * 24 * time.Hour, MaxDeleteFraction: 0.1},
			force: true,
			want:  []string{"x:age"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := build(t, tt.imgs...)
			p := MakePlan(inv, Request{Policy: tt.pol, Now: now, Manual: tt.manual, Force: tt.force})
			if got := refs(inv, p); !slices.Equal(got, tt.want) {
				t.Fatalf("plan = %v, want %v", got, tt.want)
			}
			if tt.reclaim != nil {
				var got []int64
				for _, d := range p.Deletions {
					got = append(got, d.Reclaim)
				}
				if !slices.Equal(got, tt.reclaim) {
					t.Errorf("reclaims = %v, want %v", got, tt.reclaim)
				}
			}
			var sum int64
			var set []int
			for _, d := range p.Deletions {
				sum += d.Reclaim
				set = append(set, d.Image)
			}
			if sum != p.ReclaimBytes || p.TotalBytes-p.TotalAfterBytes != sum {
				t.Errorf("reclaims sum to %d, plan says %d (total %d -> %d)", sum, p.ReclaimBytes, p.TotalBytes, p.TotalAfterBytes)
			}
			if f := ComputeSizes(inv).Freed(inv, set); f != p.ReclaimBytes {
				t.Errorf("Freed(plan) = %d, plan says %d", f, p.ReclaimBytes)
			}
			if p.Shortfall != tt.shortfall {
				t.Errorf("shortfall = %d, want %d", p.Shortfall, tt.shortfall)
			}
			if (p.Refused != "") != tt.refused {
				t.Errorf("refused = %q, want refused=%v", p.Refused, tt.refused)
			}
			if len(p.Excluded) != tt.excluded {
				t.Errorf("excluded = %v, want %d", p.Excluded, tt.excluded)
			}
		})
	}
}

func TestPlanIndexChildren(t *testing.T) {
	inv := build(t,
		img{repo: "a", digest: "idx", ageDays: 200, children: []string{"c1", "c2"},
			blobs: map[string]int64{"idx": 1, "c1": 1, "c2": 1, "l1": 10, "l2": 10}},
		// c2 is also tagged on its own in a: it survives, so the index's
		// deletion must leave it.
		img{repo: "a", digest: "c2", ageDays: 1, blobs: map[string]int64{"c2": 1, "l2": 10}},
		// the same child digest in another repository does not count.
		img{repo: "b", digest: "c1", ageDays: 1, blobs: map[string]int64{"c1": 1, "l1": 10}},
	)
	p := MakePlan(inv, Request{Policy: Policy{MaxAge: 90 * 24 * time.Hour}, Now: now})
	if len(p.Deletions) != 1 {
		t.Fatalf("plan = %v", refs(inv, p))
	}
	if got := p.Deletions[0].Children; !slices.Equal(got, ParseDigests([]string{"c1"})) {
		t.Errorf("children = %v, want [c1]", got)
	}
	if p.ReclaimBytes != 1 {
		t.Errorf("reclaim = %d, want 1 (only the index manifest is exclusive)", p.ReclaimBytes)
	}
}

// TestCapGreedyMatchesNaive checks the heap-driven cap mode against a
// straightforward recomputation on random inventories.
func TestCapGreedyMatchesNaive(t *testing.T) {
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 1))
		inv := randomInventory(r, 60, 30)
		pol := Policy{Cap: ComputeSizes(inv).Total / 3, Aggressive: true}
		if seed%3 == 0 {
			pol.Protect = []*regexp.Regexp{regexp.MustCompile(`^r1$`)}
		}
		p := MakePlan(inv, Request{Policy: pol, Now: now})
		want := naiveCap(inv, pol)
		got := make([]int, len(p.Deletions))
		for i, d := range p.Deletions {
			got[i] = d.Image
		}
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: heap picks %v, naive picks %v", seed, got, want)
		}
	}
}

func naiveCap(inv *Inventory, pol Policy) []int {
	holds := Holds(inv, pol)
	s := ComputeSizes(inv)
	var picked []int
	dead := map[int]bool{}
	total := s.Total
	for total > pol.Cap {
		best, bestGain := -1, int64(-1)
		for i := range inv.Images {
			if dead[i] || holds[i] != HoldNone {
				continue
			}
			g := s.Freed(inv, append(slices.Clone(picked), i)) - (s.Total - total)
			useful := g > 0
			if !useful {
				// shares a blob that unheld deletions could still free
				for _, b := range inv.Images[i].Blobs {
					free := true
					alive := 0
					for j := range inv.Images {
						if dead[j] || !slices.Contains(inv.Images[j].Blobs, b) {
							continue
						}
						alive++
						if holds[j] != HoldNone {
							free = false
						}
					}
					if free && alive > 1 {
						useful = true
					}
				}
			}
			if !useful {
				continue
			}
			better := g > bestGain
			if g == bestGain {
				better = inv.Images[i].Created.Before(inv.Images[best].Created) ||
					(inv.Images[i].Created.Equal(inv.Images[best].Created) && i < best)
			}
			if better {
				best, bestGain = i, g
			}
		}
		if best < 0 {
			break
		}
		picked = append(picked, best)
		dead[best] = true
		total -= bestGain
	}
	return picked
}

// randomInventory makes n images over a few repositories sharing a pool of
// blobs: a realistic skew of a few popular base layers.
func randomInventory(r *rand.Rand, n, pool int) *Inventory {
	b := NewInventoryBuilder("r", now)
	sizes := make([]int64, pool)
	for i := range sizes {
		sizes[i] = r.Int64N(1000) + 1
	}
	for i := range n {
		blobs := []Blob{{Digest: fmt.Sprintf("m%d", i), Size: r.Int64N(5) + 1}}
		for range r.IntN(4) + 1 {
			k := int(r.ExpFloat64()*float64(pool)/4) % pool
			blobs = append(blobs, Blob{Digest: fmt.Sprintf("b%d", k), Size: sizes[k]})
		}
		if r.IntN(3) == 0 {
			blobs = append(blobs, Blob{Digest: fmt.Sprintf("own%d", i), Size: r.Int64N(3000)})
		}
		_ = b.AddImage(Image{
			Repository: fmt.Sprintf("r%d", r.IntN(8)),
			Digest:     ParseDigest(fmt.Sprintf("m%d", i)),
			Created:    now.Add(-time.Duration(r.IntN(400*24)) * time.Hour),
		}, blobs)
	}
	return b.Inventory()
}

// BenchmarkPlan100k plans age + cap over 100,000 images sharing base layers.
func BenchmarkPlan100k(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 7))
	inv := randomInventory(r, 100_000, 20_000)
	pol := Policy{
		MaxAge: 300 * 24 * time.Hour, Cap: ComputeSizes(inv).Total / 4, Aggressive: true,
		KeepLatest: 1, Protect: []*regexp.Regexp{regexp.MustCompile(`^r0:`)},
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p := MakePlan(inv, Request{Policy: pol, Now: now})
		if len(p.Deletions) == 0 {
			b.Fatal("empty plan")
		}
	}
}

func TestLocksUnreadIn(t *testing.T) {
	inv := &Inventory{LocksUnread: []string{"a", "c", "e"}}
	for _, r := range []string{"a", "b", "c", "d", "e"} {
		inv.Images = append(inv.Images, Image{Repository: r, Digest: ParseDigest("sha256:" + r)})
	}
	for _, tc := range []struct {
		deleted []int
		want    []string
	}{
		{nil, nil},
		{[]int{1, 3}, nil},
		{[]int{1, 2, 2, 0}, []string{"a", "c"}},
		{[]int{4, 0, 2, 4}, []string{"a", "c", "e"}},
	} {
		var p Plan
		for _, i := range tc.deleted {
			p.Deletions = append(p.Deletions, Deletion{Image: i})
		}
		if got := inv.LocksUnreadIn(p); !slices.Equal(got, tc.want) {
			t.Errorf("deleting %v: %q, want %q", tc.deleted, got, tc.want)
		}
	}
}
