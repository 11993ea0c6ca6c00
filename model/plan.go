package model

import (
	"cmp"
	"container/heap"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Reason says why a deletion is in a plan.
type Reason string

// Deletion reasons.
const (
	ReasonAge    Reason = "age"    // older than the policy's max age
	ReasonCap    Reason = "cap"    // the registry is over its cap
	ReasonManual Reason = "manual" // chosen by the operator
)

// Policy decides which images a plan may delete.
type Policy struct {
	// MaxAge: images created longer ago are deleted. Zero disables.
	MaxAge time.Duration
	// KeepLatest: per repository, the N newest images are never deleted.
	KeepLatest int
	// Protect: an image is protected when a pattern matches its repository
	// or "repository:tag" for any of its tags.
	Protect []*regexp.Regexp
	// Cap is the registry's size budget in bytes. Zero disables.
	Cap int64
	// Aggressive: when over the cap after age deletions, delete the images
	// that free the most until under it.
	Aggressive bool
	// MaxDeleteFraction: a plan deleting a larger share of the images is
	// refused unless forced. Zero disables the guard.
	MaxDeleteFraction float64
}

// Hold says why an image may not be deleted; "" means it may.
type Hold string

// Reasons an image is held.
const (
	HoldNone      Hold = ""
	HoldProtected Hold = "protected"   // matches a protect pattern
	HoldLocked    Hold = "locked"      // the registry refuses deletes
	HoldKeep      Hold = "keep-latest" // among the N newest of its repository
)

// Holds computes, for every image, why it may not be deleted.
func Holds(inv *Inventory, pol Policy) []Hold {
	holds := make([]Hold, len(inv.Images))
	byRepo := map[string][]int{}
	for i := range inv.Images {
		im := &inv.Images[i]
		switch {
		case im.Locked:
			holds[i] = HoldLocked
		case protected(im, pol.Protect):
			holds[i] = HoldProtected
		}
		byRepo[im.Repository] = append(byRepo[im.Repository], i)
	}
	if pol.KeepLatest > 0 {
		for _, idx := range byRepo {
			slices.SortFunc(idx, func(a, b int) int { return newerFirst(&inv.Images[a], &inv.Images[b]) })
			for _, i := range idx[:min(pol.KeepLatest, len(idx))] {
				if holds[i] == HoldNone {
					holds[i] = HoldKeep
				}
			}
		}
	}
	return holds
}

// newerFirst orders images newest first; an unknown created time counts as
// newest, so doubt keeps an image.
func newerFirst(a, b *Image) int {
	ua, ub := a.CreatedProblem != CreatedOK, b.CreatedProblem != CreatedOK
	switch {
	case ua && !ub:
		return -1
	case ub && !ua:
		return 1
	}
	if c := b.Created.Compare(a.Created); c != 0 {
		return c
	}
	return cmp.Compare(a.Digest, b.Digest)
}

func protected(im *Image, pats []*regexp.Regexp) bool {
	for _, p := range pats {
		if p.MatchString(im.Repository) {
			return true
		}
		for _, t := range im.Tags {
			if p.MatchString(im.Repository + ":" + t) {
				return true
			}
		}
	}
	return false
}

// Deletion is one step of a plan.
type Deletion struct {
	// Image indexes Inventory.Images.
	Image  int
	Reason Reason
	// Reclaim is the bytes this deletion frees, given the deletions before it.
	Reclaim int64
	// Children are platform manifests of a deleted index, in the same
	// repository, that no surviving image references: deleted after it.
	Children []string
}

// Excluded is an image asked for that the plan leaves out, and why.
type Excluded struct {
	Image int
	Hold  Hold
}

// Plan is an ordered list of deletions with its effect on the registry.
type Plan struct {
	Deletions []Deletion
	// Excluded lists manual picks the plan refused to include.
	Excluded []Excluded
	// TotalBytes is the registry's deduplicated size now; TotalAfterBytes
	// after the plan; ReclaimBytes the difference.
	TotalBytes      int64
	TotalAfterBytes int64
	ReclaimBytes    int64
	CapBytes        int64
	// Shortfall > 0: the plan cannot bring the registry under the cap
	// without deleting held images; this many bytes remain over it.
	Shortfall int64
	// UnknownAge counts images whose created time is missing or bogus:
	// never deleted for age.
	UnknownAge int
	// Refused is set when the plan exceeds the policy's max delete fraction
	// and was not forced. It must not be applied.
	Refused string
}

// Request asks for a plan.
type Request struct {
	Policy Policy
	Now    time.Time
	// Manual, when not nil, replaces the policy's choice: these images
	// (indexes into Inventory.Images), in this order, minus held ones.
	Manual []int
	// Force accepts a plan over the max delete fraction.
	Force bool
}

// MakePlan turns an inventory into an ordered plan of deletions. Held images
// (protected, locked, the newest per repository) are never in it. Without
// manual picks: first every image older than the max age, oldest first;
// then, if still over the cap and aggressive, repeatedly the image whose
// deletion frees the most bytes (ties: older first), until under the cap.
func MakePlan(inv *Inventory, req Request) Plan {
	sizes := ComputeSizes(inv)
	holds := Holds(inv, req.Policy)
	st := newPlanState(inv, sizes)
	p := Plan{TotalBytes: sizes.Total, CapBytes: req.Policy.Cap}
	for i := range inv.Images {
		if inv.Images[i].CreatedProblem != CreatedOK {
			p.UnknownAge++
		}
	}

	take := func(i int, why Reason) {
		p.Deletions = append(p.Deletions, Deletion{Image: i, Reason: why, Reclaim: st.remove(i)})
	}

	if req.Manual != nil {
		seen := map[int]bool{}
		for _, i := range req.Manual {
			if i < 0 || i >= len(inv.Images) || seen[i] {
				continue
			}
			seen[i] = true
			if holds[i] != HoldNone {
				p.Excluded = append(p.Excluded, Excluded{Image: i, Hold: holds[i]})
				continue
			}
			take(i, ReasonManual)
		}
	} else {
		pol := req.Policy
		if pol.MaxAge > 0 {
			cutoff := req.Now.Add(-pol.MaxAge)
			var old []int
			for i := range inv.Images {
				im := &inv.Images[i]
				if holds[i] == HoldNone && im.CreatedProblem == CreatedOK && im.Created.Before(cutoff) {
					old = append(old, i)
				}
			}
			slices.SortFunc(old, func(a, b int) int { return olderFirst(&inv.Images[a], &inv.Images[b], a, b) })
			for _, i := range old {
				take(i, ReasonAge)
			}
		}
		if pol.Cap > 0 && pol.Aggressive && st.total > pol.Cap {
			st.capPicks(holds, pol.Cap, func(i int, reclaim int64) {
				p.Deletions = append(p.Deletions, Deletion{Image: i, Reason: ReasonCap, Reclaim: reclaim})
			})
		}
	}

	p.TotalAfterBytes = st.total
	p.ReclaimBytes = p.TotalBytes - p.TotalAfterBytes
	if p.CapBytes > 0 && p.TotalAfterBytes > p.CapBytes {
		p.Shortfall = p.TotalAfterBytes - p.CapBytes
	}
	attachChildren(inv, &p, st.alive)
	if f := req.Policy.MaxDeleteFraction; f > 0 && !req.Force && len(inv.Images) > 0 {
		share := float64(len(p.Deletions)) / float64(len(inv.Images))
		if share > f {
			p.Refused = fmt.Sprintf("the plan deletes %d of %d images (%.0f%%), over max_delete_fraction %.0f%%; review it and rerun with --force to apply",
				len(p.Deletions), len(inv.Images), share*100, f*100)
		}
	}
	return p
}

// olderFirst orders images oldest first, then by index for a stable order.
func olderFirst(a, b *Image, ia, ib int) int {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	return cmp.Compare(ia, ib)
}

// attachChildren lists, for each deleted index, its platform manifests that
// no surviving image in the same repository references, once each.
func attachChildren(inv *Inventory, p *Plan, alive []bool) {
	type key struct{ repo, digest string }
	kept := map[key]bool{}
	for i := range inv.Images {
		if !alive[i] {
			continue
		}
		im := &inv.Images[i]
		kept[key{im.Repository, im.Digest}] = true
		for _, c := range im.Children {
			kept[key{im.Repository, c}] = true
		}
	}
	for d := range p.Deletions {
		im := &inv.Images[p.Deletions[d].Image]
		for _, c := range im.Children {
			k := key{im.Repository, c}
			if kept[k] {
				continue
			}
			kept[k] = true // once
			p.Deletions[d].Children = append(p.Deletions[d].Children, c)
		}
	}
}

// planState tracks the surviving images and what deleting each would free.
type planState struct {
	inv   *Inventory
	refs  []int32 // surviving images referencing each blob
	idsum []int64 // sum of their indexes: the survivor itself when refs == 1
	gain  []int64 // bytes that deleting image i now frees
	alive []bool
	total int64
	// onGain is called when an image's gain grows (the cap heap re-sorts it).
	onGain func(i int)
}

func newPlanState(inv *Inventory, s *Sizes) *planState {
	st := &planState{
		inv:   inv,
		refs:  slices.Clone(s.Refs),
		idsum: make([]int64, len(inv.Blobs)),
		gain:  slices.Clone(s.Exclusive),
		alive: make([]bool, len(inv.Images)),
		total: s.Total,
	}
	for i := range inv.Images {
		st.alive[i] = true
		for _, b := range inv.Images[i].Blobs {
			st.idsum[b] += int64(i)
		}
	}
	return st
}

// remove deletes image i and returns the bytes that frees.
func (st *planState) remove(i int) int64 {
	if !st.alive[i] {
		return 0
	}
	st.alive[i] = false
	freed := st.gain[i]
	st.gain[i] = 0
	for _, b := range st.inv.Images[i].Blobs {
		st.refs[b]--
		st.idsum[b] -= int64(i)
		if st.refs[b] == 1 {
			k := int(st.idsum[b])
			st.gain[k] += st.inv.Blobs[b].Size
			if st.onGain != nil {
				st.onGain(k)
			}
		}
	}
	st.total -= freed
	return freed
}

// capPicks deletes, greedily, the unheld image that frees the most (ties:
// older first) until the total is at most capBytes or nothing helps. An
// image that frees nothing now is taken only if it shares a blob that could
// still be freed (no held image references it); otherwise it is dropped.
func (st *planState) capPicks(holds []Hold, capBytes int64, emit func(i int, reclaim int64)) {
	inv := st.inv
	pinned := make([]bool, len(inv.Blobs))
	for i := range inv.Images {
		if st.alive[i] && holds[i] != HoldNone {
			for _, b := range inv.Images[i].Blobs {
				pinned[b] = true
			}
		}
	}
	h := &gainHeap{st: st, pos: make([]int, len(inv.Images))}
	for i := range inv.Images {
		h.pos[i] = -1
		if st.alive[i] && holds[i] == HoldNone {
			h.pos[i] = len(h.items)
			h.items = append(h.items, i)
		}
	}
	heap.Init(h)
	st.onGain = func(k int) {
		if p := h.pos[k]; p >= 0 {
			heap.Fix(h, p)
		}
	}
	defer func() { st.onGain = nil }()
	for st.total > capBytes && h.Len() > 0 {
		i := heap.Pop(h).(int)
		if st.gain[i] == 0 && !st.couldHelp(i, pinned) {
			continue
		}
		emit(i, st.remove(i))
	}
}

// couldHelp reports whether image i references a blob that deleting more
// unheld images could still free.
func (st *planState) couldHelp(i int, pinned []bool) bool {
	for _, b := range st.inv.Images[i].Blobs {
		if !pinned[b] && st.refs[b] > 1 {
			return true
		}
	}
	return false
}

// gainHeap is a max-heap of image indexes by current gain, older first on
// ties, with positions so gains can grow in place.
type gainHeap struct {
	st    *planState
	items []int
	pos   []int
}

func (h *gainHeap) Len() int { return len(h.items) }
func (h *gainHeap) Less(a, b int) bool {
	i, j := h.items[a], h.items[b]
	gi, gj := h.st.gain[i], h.st.gain[j]
	if gi != gj {
		return gi > gj
	}
	ii, ij := &h.st.inv.Images[i], &h.st.inv.Images[j]
	ui, uj := ii.CreatedProblem != CreatedOK, ij.CreatedProblem != CreatedOK
	if ui != uj {
		return uj // a known (older-than-unknown) time goes first
	}
	if c := ii.Created.Compare(ij.Created); c != 0 {
		return c < 0
	}
	return i < j
}
func (h *gainHeap) Swap(a, b int) {
	h.items[a], h.items[b] = h.items[b], h.items[a]
	h.pos[h.items[a]] = a
	h.pos[h.items[b]] = b
}
func (h *gainHeap) Push(x any) {
	i := x.(int)
	h.pos[i] = len(h.items)
	h.items = append(h.items, i)
}
func (h *gainHeap) Pop() any {
	n := len(h.items) - 1
	i := h.items[n]
	h.items = h.items[:n]
	h.pos[i] = -1
	return i
}
