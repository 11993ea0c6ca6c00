// This file is over 500 lines: a plan is one decision in which holds, age,
// untagged, cap, usage and the safety rules interact; kept together, the
// order of the rules reads top to bottom.

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
	ReasonAge Reason = "age" // older than the policy's max age
	// untagged (ACR lists them) and pushed longer ago than untagged_max_age
	ReasonUntagged Reason = "untagged"
	ReasonCap      Reason = "cap"    // the registry is over its cap
	ReasonManual   Reason = "manual" // chosen by the operator
)

// Policy decides which images a plan may delete.
type Policy struct {
	// MaxAge: images created longer ago are deleted. Zero disables.
	MaxAge time.Duration
	// UntaggedMaxAge: untagged images created longer ago are deleted,
	// after the age step and before the cap step. Zero disables.
	UntaggedMaxAge time.Duration
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
	// KeepPulledWithin: an image the registry recorded a pull of within
	// this long before the scan (Image.LastPulled, Inventory.ScannedAt) is
	// held. An unknown pull time (zero) holds nothing and releases
	// nothing. Zero disables.
	KeepPulledWithin time.Duration
}

// Hold says why an image may not be deleted; "" means it may.
type Hold string

// Reasons an image is held. All but HoldInIndex are hard: the image is
// never planned. HoldInIndex is lifted when every index referencing the
// image is planned too: the image then goes after them.
const (
	HoldNone       Hold = ""
	HoldProtected  Hold = "protected"    // matches a protect pattern
	HoldLocked     Hold = "locked"       // the registry refuses deletes
	HoldIncomplete Hold = "incomplete"   // its repository's scan is incomplete
	HoldKeep       Hold = "keep-latest"  // among the N newest dated images of its repository
	HoldUndated    Hold = "undated"      // keep_latest is set and its created time is unknown
	HoldInIndex    Hold = "in-index"     // a platform manifest of an index in its repository
	HoldSubject    Hold = "with-subject" // refers to an image (a signature, an SBOM): goes with it
	HoldInUse      Hold = "in-use"       // a running pod uses it
	HoldLaunched   Hold = "launched"     // launched within keep_launched_within
	HoldPulled     Hold = "pulled"       // pulled within keep_pulled_within (the registry's record)
	// a usage source could not be read: whether it is used is unknown
	HoldUsageUnknown Hold = "usage-unknown"
)

// Hard reports whether the hold can never be lifted by a plan.
func (h Hold) Hard() bool { return h != HoldNone && h != HoldInIndex && h != HoldSubject }

// Holds computes, for every image, why it may not be deleted.
func Holds(inv *Inventory, pol Policy) []Hold {
	return computeHolds(inv, pol, newGraph(inv), inv.Incomplete(), nil)
}

// graph links each image to the images that are platform manifests of it
// (kids) and to the indexes that reference it (parents), and each image to
// the images that refer to it as their subject (referrers), within a
// repository.
type graph struct {
	parents, kids links
	referrers     links
	subject       []int32 // the image a referrer refers to; -1 for none
}

// standsAlone reports whether image i is neither a platform manifest of an
// index nor a referrer of an image in the inventory.
func (g graph) standsAlone(i int) bool { return len(g.parents.of(i)) == 0 && g.subject[i] < 0 }

// links are each image's links of one kind, in one array (compressed
// rows): most images have none, and a slice an image took 24 bytes of
// each kind (7 MB at 100,000 images).
type links struct {
	start []int32 // image i's links are to[start[i]:start[i+1]]; nil: none at all
	to    []int32
}

// of is image i's links.
func (l links) of(i int) []int32 {
	if l.start == nil {
		return nil
	}
	return l.to[l.start[i]:l.start[i+1]:l.start[i+1]]
}

// edge is a link from one image to another.
type edge struct{ from, to int32 }

// linksOf groups edges by their image, each image's in the order given,
// for n images.
func linksOf(n int, edges []edge) links {
	if len(edges) == 0 {
		return links{}
	}
	l := links{start: make([]int32, n+1), to: make([]int32, len(edges))}
	for _, e := range edges {
		l.start[e.from+1]++
	}
	for i := range n {
		l.start[i+1] += l.start[i]
	}
	next := slices.Clone(l.start[:n])
	for _, e := range edges {
		l.to[next[e.from]] = e.to
		next[e.from]++
	}
	return l
}

// imageRef names a manifest by repository and digest.
type imageRef struct {
	repo   string
	digest Digest
}

func newGraph(inv *Inventory) graph {
	n := len(inv.Images)
	var byDigest map[imageRef]int32 // only where an image names another
	for i := range inv.Images {
		if inv.Images[i].Subject != nil || len(inv.Images[i].Children) > 0 {
			byDigest = make(map[imageRef]int32, n)
			break
		}
	}
	if byDigest != nil {
		for i := range inv.Images {
			byDigest[imageRef{inv.Images[i].Repository, inv.Images[i].Digest}] = int32(i)
		}
	}
	g := graph{subject: make([]int32, n)}
	var kids, parents, referrers []edge
	for j := range inv.Images {
		im := &inv.Images[j]
		g.subject[j] = -1
		if im.Subject != nil {
			if k, ok := byDigest[imageRef{im.Repository, *im.Subject}]; ok && int(k) != j {
				g.subject[j] = k
				referrers = append(referrers, edge{k, int32(j)})
			}
		}
		mine := len(kids) // j's kids are kids[mine:]
		for _, c := range im.Children {
			k, ok := byDigest[imageRef{im.Repository, c}]
			if !ok || int(k) == j || slices.Contains(kids[mine:], edge{int32(j), k}) {
				continue
			}
			kids = append(kids, edge{int32(j), k})
			parents = append(parents, edge{k, int32(j)})
		}
	}
	g.kids, g.parents, g.referrers = linksOf(n, kids), linksOf(n, parents), linksOf(n, referrers)
	return g
}

func computeHolds(inv *Inventory, pol Policy, g graph, incomplete map[string]string, u *Usage) []Hold {
	holds := make([]Hold, len(inv.Images))
	byRepo := map[string][]int{}
	for i := range inv.Images {
		im := &inv.Images[i]
		_, partial := incomplete[im.Repository]
		switch {
		case im.Locked:
			holds[i] = HoldLocked
		case protected(im, pol.Protect):
			holds[i] = HoldProtected
		case partial:
			holds[i] = HoldIncomplete
		default:
			holds[i] = u.hold(i)
			if holds[i] == HoldNone && pol.pulledRecently(im, inv.ScannedAt) {
				holds[i] = HoldPulled
			}
		}
		// keep_latest ranks the dated images that stand on their own: a
		// platform manifest goes with its index, a signature with its
		// image, never in their place.
		if g.standsAlone(i) && im.CreatedProblem == CreatedOK {
			byRepo[im.Repository] = append(byRepo[im.Repository], i)
		}
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
		for i := range inv.Images {
			if holds[i] == HoldNone && inv.Images[i].CreatedProblem != CreatedOK && g.subject[i] < 0 {
				holds[i] = HoldUndated
			}
		}
	}
	for i := range inv.Images {
		switch {
		case holds[i] != HoldNone:
		case len(g.parents.of(i)) > 0:
			holds[i] = HoldInIndex
		case g.subject[i] >= 0:
			holds[i] = HoldSubject
		}
		if u.unknown() && !holds[i].Hard() {
			holds[i] = HoldUsageUnknown
		}
	}
	return holds
}

// pulledRecently reports whether the registry recorded a pull of im
// within KeepPulledWithin before at.
func (pol Policy) pulledRecently(im *Image, at time.Time) bool {
	return pol.KeepPulledWithin > 0 && !im.LastPulled.IsZero() && !im.LastPulled.Before(at.Add(-pol.KeepPulledWithin))
}

// newerFirst orders dated images newest first.
func newerFirst(a, b *Image) int {
	if c := b.Created.Compare(a.Created); c != 0 {
		return c
	}
	return CompareDigests(a.Digest, b.Digest)
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
	// repository, that are not images of their own and that no surviving
	// image references: deleted after it.
	Children []Digest
	// ChildAfter, parallel to Children when not nil, lists for each
	// platform manifest the other deletions (all earlier) of indexes that
	// share it: it is deleted only once each of them took effect.
	ChildAfter [][]int
	// After lists the deletions (indexes into Plan.Deletions, all earlier)
	// of the indexes that reference this image: it may be deleted only once
	// they are, so that no surviving index ever loses a platform manifest.
	After []int
}

// Excluded is an image asked for that the plan leaves out, and why.
type Excluded struct {
	Image int
	Hold  Hold
}

// Skipped is a repository a plan deletes nothing in, and why.
type Skipped struct {
	// Repository is "" for the catalog: the registry could not be listed
	// whole, so its total is unknown and the cap step does not run.
	Repository string
	Reason     string
}

// Plan is an ordered list of deletions with its effect on the registry.
type Plan struct {
	Deletions []Deletion
	// Excluded lists manual picks the plan refused to include.
	Excluded []Excluded
	// Skipped lists the repositories whose scan was incomplete: nothing in
	// them is planned, and their unread part counts as unknown, never free.
	Skipped []Skipped
	// Held counts the images the plan keeps, by hold.
	Held map[Hold]int
	// Notes say what the policy did that an operator may not expect.
	Notes []string
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
	// Usage, when not nil, holds launched and in-use images and orders
	// the cap step's near-ties by launches (see Usage).
	Usage *Usage
}

// MakePlan turns an inventory into an ordered plan of deletions. Held images
// (protected, locked, in an incompletely scanned repository, the newest per
// repository) are never in it, nor is an image that an index surviving the
// plan references. Without manual picks: first every image older than the
// max age, oldest first; then, if still over the cap and aggressive,
// repeatedly the image whose deletion frees the most bytes (ties: older
// first), until under the cap. A platform manifest that is an image of its
// own is planned only after every index referencing it.
func MakePlan(inv *Inventory, req Request) Plan {
	sizes := ComputeSizes(inv)
	g := newGraph(inv)
	incomplete := inv.Incomplete()
	holds := computeHolds(inv, req.Policy, g, incomplete, req.Usage)
	st := newPlanState(inv, sizes)
	p := Plan{TotalBytes: sizes.Total, CapBytes: req.Policy.Cap, Held: map[Hold]int{}}
	for i := range inv.Images {
		if inv.Images[i].CreatedProblem != CreatedOK {
			p.UnknownAge++
		}
	}
	for repo, why := range incomplete {
		p.Skipped = append(p.Skipped, Skipped{Repository: repo, Reason: why})
	}
	slices.SortFunc(p.Skipped, func(a, b Skipped) int { return cmp.Compare(a.Repository, b.Repository) })
	_, catalogPartial := incomplete[""]

	t := newTaker(inv, st, g, holds, func(i int, why Reason, reclaim int64, after []int) {
		p.Deletions = append(p.Deletions, Deletion{Image: i, Reason: why, Reclaim: reclaim, After: after})
	})

	if req.Manual != nil {
		seen := map[int]bool{}
		var asked []int
		for _, i := range req.Manual {
			if i < 0 || i >= len(inv.Images) || seen[i] {
				continue
			}
			seen[i] = true
			if holds[i].Hard() {
				p.Excluded = append(p.Excluded, Excluded{Image: i, Hold: holds[i]})
				continue
			}
			asked = append(asked, i)
			t.offer(i, ReasonManual)
		}
		for _, i := range asked {
			switch {
			case t.waiting[i] != "":
				p.Excluded = append(p.Excluded, Excluded{Image: i, Hold: HoldInIndex})
			case st.alive[i] && t.withSubject(i):
				p.Excluded = append(p.Excluded, Excluded{Image: i, Hold: HoldSubject})
			}
		}
	} else {
		pol := req.Policy
		if pol.MaxAge > 0 {
			cutoff := req.Now.Add(-pol.MaxAge)
			var old []int
			for i := range inv.Images {
				im := &inv.Images[i]
				if !holds[i].Hard() && im.CreatedProblem == CreatedOK && im.Created.Before(cutoff) {
					old = append(old, i)
				}
			}
			slices.SortFunc(old, func(a, b int) int { return olderFirst(&inv.Images[a], &inv.Images[b], a, b) })
			// Room for them at once: grown by appends, the deletions of
			// 100,000 images were half again their size.
			p.Deletions = slices.Grow(p.Deletions, len(old))
			for _, i := range old {
				t.offer(i, ReasonAge)
			}
			clear(t.waiting) // their indexes survive the age step
		}
		if pol.UntaggedMaxAge > 0 {
			cutoff := req.Now.Add(-pol.UntaggedMaxAge)
			var old []int
			for i := range inv.Images {
				im := &inv.Images[i]
				if st.alive[i] && len(im.Tags) == 0 && !holds[i].Hard() && im.CreatedProblem == CreatedOK && im.Created.Before(cutoff) {
					old = append(old, i)
				}
			}
			slices.SortFunc(old, func(a, b int) int { return olderFirst(&inv.Images[a], &inv.Images[b], a, b) })
			// Room for them at once: grown by appends, the deletions of
			// 100,000 images were half again their size.
			p.Deletions = slices.Grow(p.Deletions, len(old))
			for _, i := range old {
				t.offer(i, ReasonUntagged)
			}
			clear(t.waiting)
		}
		if pol.Cap > 0 && pol.Aggressive && st.total > pol.Cap {
			if catalogPartial {
				p.Notes = append(p.Notes, "the cap step did not run: the registry's repositories could not all be listed, so its size is unknown")
			} else {
				t.capPicks(holds, pol.Cap, req.Usage)
			}
		}
	}

	p.TotalAfterBytes = st.total
	p.ReclaimBytes = p.TotalBytes - p.TotalAfterBytes
	if p.CapBytes > 0 && p.TotalAfterBytes > p.CapBytes {
		p.Shortfall = p.TotalAfterBytes - p.CapBytes
	}
	attachChildren(inv, &p, st.alive)
	for i, h := range holds {
		if st.alive[i] && h != HoldNone && (h.Hard() || t.aliveParents[i] > 0 || h == HoldSubject) {
			p.Held[h]++
		}
	}
	if req.Policy.KeepLatest > 0 {
		p.Notes = append(p.Notes, undatedNotes(inv, g)...)
	}
	if req.Usage.unknown() {
		p.Notes = append(p.Notes, "nothing is deleted: "+req.Usage.Unknown)
	}
	if f := req.Policy.MaxDeleteFraction; f > 0 && !req.Force && len(inv.Images) > 0 {
		share := float64(len(p.Deletions)) / float64(len(inv.Images))
		if share > f {
			p.Refused = fmt.Sprintf("the plan deletes %d of %d images (%.0f%%), over max_delete_fraction %.0f%%; review it and rerun with --force to apply",
				len(p.Deletions), len(inv.Images), share*100, f*100)
		}
	}
	return p
}

// undatedNotes names the repositories whose images are all undated:
// keep_latest has nothing to rank there and keeps them all.
func undatedNotes(inv *Inventory, g graph) []string {
	dated := map[string]bool{}
	var repos []string
	for i := range inv.Images {
		im := &inv.Images[i]
		if !g.standsAlone(i) {
			continue
		}
		if _, ok := dated[im.Repository]; !ok {
			repos = append(repos, im.Repository)
			dated[im.Repository] = false
		}
		if im.CreatedProblem == CreatedOK {
			dated[im.Repository] = true
		}
	}
	var notes []string
	for _, r := range repos {
		if !dated[r] {
			notes = append(notes, fmt.Sprintf("%s: every image is undated (no trustworthy created time); keep_latest keeps them all", r))
		}
	}
	slices.Sort(notes)
	return notes
}

// olderFirst orders images oldest first, then by index for a stable order.
func olderFirst(a, b *Image, ia, ib int) int {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	return cmp.Compare(ia, ib)
}

// attachChildren lists, for each deleted index, its platform manifests that
// are not images of their own (those are planned, or kept, by themselves)
// and that no surviving image in the same repository references, once
// each. A platform manifest that several deleted indexes share goes with
// the last of them, and only once the others are gone (ChildAfter): if one
// of them stays, so does the platform manifest it needs.
func attachChildren(inv *Inventory, p *Plan, alive []bool) {
	// The deleted indexes' platform manifests, and those of them that are
	// images or that a surviving image references: only these are asked
	// about below, so neither map holds every image.
	wanted := map[imageRef]bool{}
	for _, del := range p.Deletions {
		im := &inv.Images[del.Image]
		for _, c := range im.Children {
			wanted[imageRef{im.Repository, c}] = true
		}
	}
	kept := map[imageRef]bool{}
	for i := range inv.Images {
		if len(wanted) == 0 {
			break
		}
		im := &inv.Images[i]
		if k := (imageRef{im.Repository, im.Digest}); wanted[k] {
			kept[k] = true
		}
		if !alive[i] {
			continue
		}
		for _, c := range im.Children {
			if k := (imageRef{im.Repository, c}); wanted[k] {
				kept[k] = true
			}
		}
	}
	// every deletion referencing each child, in plan order
	users := map[imageRef][]int{}
	var order []imageRef
	for d := range p.Deletions {
		im := &inv.Images[p.Deletions[d].Image]
		for _, c := range im.Children {
			k := imageRef{im.Repository, c}
			if kept[k] {
				continue
			}
			if u := users[k]; len(u) == 0 {
				order = append(order, k)
			} else if u[len(u)-1] == d {
				continue // listed twice in one index
			}
			users[k] = append(users[k], d)
		}
	}
	for _, k := range order {
		u := users[k]
		last := u[len(u)-1]
		del := &p.Deletions[last]
		del.Children = append(del.Children, k.digest)
		del.ChildAfter = append(del.ChildAfter, slices.Clone(u[:len(u)-1]))
	}
	for d := range p.Deletions {
		if !slices.ContainsFunc(p.Deletions[d].ChildAfter, func(a []int) bool { return len(a) > 0 }) {
			p.Deletions[d].ChildAfter = nil
		}
	}
}

// taker removes images from a plan state in an order that never leaves a
// surviving index without one of its platform manifests: an image that
// live indexes reference waits until the last of them is taken. A
// referrer (a signature, an SBOM) is never taken on its own while its
// subject lives, and is taken right after its subject.
type taker struct {
	st           *planState
	g            graph
	aliveParents []int32
	hard         []bool // hard holds: never taken
	// waiting[i] is the reason image i was offered for while an index
	// still referenced it; "" when it is not waiting.
	waiting []Reason
	// position of each taken image in the plan.
	pos  []int
	n    int
	emit func(i int, why Reason, reclaim int64, after []int)
	// release is called for a waiting image whose last index was taken;
	// nil takes it at once.
	release func(i int, why Reason)
}

func newTaker(inv *Inventory, st *planState, g graph, holds []Hold, emit func(int, Reason, int64, []int)) *taker {
	t := &taker{st: st, g: g, aliveParents: make([]int32, len(inv.Images)), hard: make([]bool, len(inv.Images)),
		waiting: make([]Reason, len(inv.Images)), pos: make([]int, len(inv.Images)), emit: emit}
	for i := range inv.Images {
		t.aliveParents[i] = int32(len(g.parents.of(i)))
		t.hard[i] = holds[i].Hard()
	}
	return t
}

// withSubject reports whether image i refers to an image still alive.
func (t *taker) withSubject(i int) bool {
	j := t.g.subject[i]
	return j >= 0 && t.st.alive[j]
}

// offer takes image i now, or once the indexes referencing it are taken.
func (t *taker) offer(i int, why Reason) {
	if !t.st.alive[i] || t.withSubject(i) {
		return
	}
	if t.aliveParents[i] > 0 {
		t.waiting[i] = why
		return
	}
	t.take(i, why)
}

func (t *taker) take(i int, why Reason) {
	reclaim := t.st.remove(i)
	var after []int
	for _, j := range t.g.parents.of(i) {
		after = append(after, t.pos[j])
	}
	if j := t.g.subject[i]; j >= 0 && !t.st.alive[j] {
		after = append(after, t.pos[j])
	}
	t.pos[i] = t.n
	t.n++
	t.emit(i, why, reclaim, after)
	for _, k := range t.g.referrers.of(i) {
		if t.st.alive[k] && !t.hard[k] && t.aliveParents[k] == 0 {
			t.take(int(k), why)
		}
	}
	for _, k := range t.g.kids.of(i) {
		t.aliveParents[k]--
		if t.aliveParents[k] == 0 && t.waiting[k] != "" {
			why := t.waiting[k]
			t.waiting[k] = ""
			if t.release != nil {
				t.release(int(k), why)
			} else {
				t.offer(int(k), why)
			}
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
		idsum: make([]int64, inv.Blobs.Len()),
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
			st.gain[k] += st.inv.Blobs.Size(b)
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
// still be freed (no held image references it); otherwise it is dropped. A
// platform manifest waits for its indexes and rejoins the heap after them.
func (t *taker) capPicks(holds []Hold, capBytes int64, u *Usage) {
	st := t.st
	inv := st.inv
	pinned := make([]bool, inv.Blobs.Len())
	for i := range inv.Images {
		if st.alive[i] && holds[i].Hard() {
			for _, b := range inv.Images[i].Blobs {
				pinned[b] = true
			}
		}
	}
	h := &gainHeap{st: st, pos: make([]int, len(inv.Images)), usage: u}
	for i := range inv.Images {
		h.pos[i] = -1
		if st.alive[i] && !holds[i].Hard() {
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
	t.release = func(i int, _ Reason) {
		if h.pos[i] < 0 && st.alive[i] {
			heap.Push(h, i)
		}
	}
	defer func() { st.onGain, t.release = nil, nil }()
	for st.total > capBytes && h.Len() > 0 {
		i := heap.Pop(h).(int)
		if !st.alive[i] {
			continue // taken with its subject
		}
		if t.aliveParents[i] > 0 {
			t.waiting[i] = ReasonCap
			continue
		}
		if t.withSubject(i) {
			continue // goes when its subject goes
		}
		if st.gain[i] == 0 && !st.couldHelp(i, pinned) {
			continue
		}
		t.take(i, ReasonCap)
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
// ties, with positions so gains can grow in place. With usage, gains are
// compared by GainBucket first and, within a bucket, the less used image
// (Usage.lessUsed) goes first.
type gainHeap struct {
	st    *planState
	items []int
	pos   []int
	usage *Usage
}

func (h *gainHeap) Len() int { return len(h.items) }
func (h *gainHeap) Less(a, b int) bool {
	i, j := h.items[a], h.items[b]
	gi, gj := h.st.gain[i], h.st.gain[j]
	if h.usage != nil {
		if bi, bj := GainBucket(gi), GainBucket(gj); bi != bj {
			return bi > bj
		}
		if c := h.usage.lessUsed(i, j); c != 0 {
			return c < 0
		}
	}
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
