package model

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestKeepLatestIgnoresUndated: keep_latest keeps the N newest dated
// images; an undated one (1970 from ko, bazel or nix; or no created time)
// is held besides them, never instead of them, and never planned for age.
func TestKeepLatestIgnoresUndated(t *testing.T) {
	inv := build(t,
		img{repo: "a", digest: "nix", ageDays: 20000, problem: CreatedBogus, blobs: map[string]int64{"nix": 1, "x": 500}},
		img{repo: "a", digest: "yesterday", ageDays: 1, blobs: map[string]int64{"yesterday": 1, "y": 400}},
		img{repo: "a", digest: "old", ageDays: 200, blobs: map[string]int64{"old": 1, "z": 300}},
		img{repo: "b", digest: "u1", problem: CreatedMissing, blobs: map[string]int64{"u1": 1, "w": 100}},
		img{repo: "b", digest: "u2", problem: CreatedBogus, ageDays: 20000, blobs: map[string]int64{"u2": 1, "v": 100}},
	)
	pol := Policy{KeepLatest: 1, MaxAge: 90 * 24 * time.Hour, Cap: 1, Aggressive: true}
	holds := Holds(inv, pol)
	want := []Hold{HoldUndated, HoldKeep, HoldNone, HoldUndated, HoldUndated}
	if !slices.Equal(holds, want) {
		t.Fatalf("holds = %v, want %v", holds, want)
	}
	p := MakePlan(inv, Request{Policy: pol, Now: now})
	if got := refs(inv, p); !slices.Equal(got, []string{"old:age"}) {
		t.Errorf("plan = %v, want only the dated old image", got)
	}
	if p.Held[HoldKeep] != 1 || p.Held[HoldUndated] != 3 {
		t.Errorf("held = %v", p.Held)
	}
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "b: every image is undated") {
		t.Errorf("notes = %q, want one saying b's images are all undated and kept", p.Notes)
	}
}

// TestManualChildNeedsItsIndex: a manual pick of a tagged platform
// manifest is refused while its index stays, and allowed with it.
func TestManualChildNeedsItsIndex(t *testing.T) {
	inv := build(t,
		img{repo: "a", digest: "idx", children: []string{"c1", "c2"}, blobs: map[string]int64{"idx": 1, "c1": 2, "c2": 2, "l1": 10, "l2": 10}},
		img{repo: "a", digest: "c1", tags: []string{"amd64"}, blobs: map[string]int64{"c1": 2, "l1": 10}},
	)
	p := MakePlan(inv, Request{Now: now, Manual: []int{1}})
	if len(p.Deletions) != 0 || len(p.Excluded) != 1 || p.Excluded[0].Hold != HoldInIndex {
		t.Errorf("child alone: deletions %v, excluded %+v", refs(inv, p), p.Excluded)
	}
	p = MakePlan(inv, Request{Now: now, Manual: []int{1, 0}})
	if got := refs(inv, p); !slices.Equal(got, []string{"idx:manual", "c1:manual"}) || !slices.Equal(p.Deletions[1].After, []int{0}) {
		t.Errorf("child with its index: %v, after %v", got, p.Deletions[1].After)
	}
	if !slices.Equal(p.Deletions[0].Children, ParseDigests([]string{"c2"})) {
		t.Errorf("index deletes children %v, want c2 only (c1 goes on its own)", p.Deletions[0].Children)
	}
	if p.ReclaimBytes != 1+2+2+10+10 {
		t.Errorf("reclaim %d", p.ReclaimBytes)
	}
}

// safetyInventory makes a random inventory with what production has:
// indexes sharing platform manifests, tags on platform manifests, undated
// images, locked images and repositories whose scan failed.
func safetyInventory(r *rand.Rand) *Inventory {
	b := NewInventoryBuilder("r", now)
	nRepos := r.IntN(4) + 1
	layers := make([]Blob, 30)
	for i := range layers {
		layers[i] = Blob{Digest: fmt.Sprintf("l%d", i), Size: r.Int64N(1000) + 1}
	}
	created := func() (time.Time, CreatedProblem) {
		switch r.IntN(8) {
		case 0:
			return time.Time{}, CreatedMissing
		case 1:
			return time.Unix(0, 0), CreatedBogus
		}
		return now.Add(-time.Duration(r.IntN(400*24)) * time.Hour), CreatedOK
	}
	for ri := range nRepos {
		repo := fmt.Sprintf("r%d", ri)
		// platform manifests: some tagged (images of their own), some not
		type plat struct {
			digest  string
			blobs   []Blob
			created time.Time
			problem CreatedProblem
		}
		plats := make([]plat, r.IntN(6))
		for k := range plats {
			d := fmt.Sprintf("%s-p%d", repo, k)
			bl := []Blob{{Digest: d, Size: r.Int64N(5) + 1}}
			for range r.IntN(3) + 1 {
				bl = append(bl, layers[int(r.ExpFloat64()*5)%len(layers)])
			}
			c, pr := created()
			plats[k] = plat{d, bl, c, pr}
			if r.IntN(2) == 0 {
				_ = b.AddImage(Image{Repository: repo, Digest: ParseDigest(d), Tags: []string{fmt.Sprintf("p%d", k)},
					Created: c, CreatedProblem: pr, Locked: r.IntN(10) == 0}, bl)
			}
		}
		for k := range r.IntN(4) {
			if len(plats) == 0 {
				break
			}
			d := fmt.Sprintf("%s-i%d", repo, k)
			bl := []Blob{{Digest: d, Size: r.Int64N(5) + 1}}
			var kids []string
			im := Image{Repository: repo, Digest: ParseDigest(d), Tags: []string{fmt.Sprintf("i%d", k)}, CreatedProblem: CreatedMissing}
			for range r.IntN(3) + 1 {
				p := plats[r.IntN(len(plats))]
				if slices.Contains(kids, p.digest) {
					continue
				}
				kids = append(kids, p.digest)
				bl = append(bl, p.blobs...)
				if p.problem == CreatedOK && (im.CreatedProblem != CreatedOK || p.created.After(im.Created)) {
					im.Created, im.CreatedProblem = p.created, CreatedOK
				}
			}
			im.Children = ParseDigests(kids)
			im.Locked = r.IntN(10) == 0
			_ = b.AddImage(im, bl)
		}
		for k := range r.IntN(6) {
			d := fmt.Sprintf("%s-s%d", repo, k)
			bl := []Blob{{Digest: d, Size: r.Int64N(5) + 1}}
			for range r.IntN(3) + 1 {
				bl = append(bl, layers[int(r.ExpFloat64()*5)%len(layers)])
			}
			c, pr := created()
			_ = b.AddImage(Image{Repository: repo, Digest: ParseDigest(d), Tags: []string{fmt.Sprintf("s%d", k)},
				Created: c, CreatedProblem: pr, Locked: r.IntN(10) == 0}, bl)
		}
		// untagged images (as ACR lists them), some referring to another
		// image of the repository (a signature, an SBOM)
		for k := range r.IntN(4) {
			d := fmt.Sprintf("%s-u%d", repo, k)
			bl := []Blob{{Digest: d, Size: r.Int64N(50) + 1}}
			c, pr := created()
			im := Image{Repository: repo, Digest: ParseDigest(d), Created: c, CreatedProblem: pr, Locked: r.IntN(10) == 0}
			if r.IntN(2) == 0 {
				im.Subject = DigestRef(fmt.Sprintf("%s-s%d", repo, r.IntN(6)))
			}
			_ = b.AddImage(im, bl)
		}
		if r.IntN(4) == 0 {
			b.AddError(ScanError{Repository: repo, Reference: repo + ":x", Error: "get manifest: 500"})
		}
		if r.IntN(6) == 0 {
			b.AddError(ScanError{Repository: repo, Reference: repo + "@cfg", Error: "config unreadable", Warning: true})
		}
	}
	if r.IntN(10) == 0 {
		b.AddError(ScanError{Error: "list repositories after 100: 503"})
	}
	return b.Inventory()
}

// TestPlanSafetyProperties checks, over thousands of random inventories,
// policies and manual picks, what no plan may ever do.
func TestPlanSafetyProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 3000 {
		inv := safetyInventory(r)
		if len(inv.Images) == 0 {
			continue
		}
		sizes := ComputeSizes(inv)
		pol := Policy{
			MaxAge:     time.Duration(r.IntN(300)) * 24 * time.Hour,
			KeepLatest: r.IntN(3),
			Cap:        r.Int64N(sizes.Total + 1),
			Aggressive: r.IntN(2) == 0,
		}
		if r.IntN(2) == 0 {
			pol.UntaggedMaxAge = time.Duration(r.IntN(30)) * 24 * time.Hour
		}
		if r.IntN(3) == 0 {
			pol.Protect = []*regexp.Regexp{regexp.MustCompile(`:i0$`)}
		}
		req := Request{Policy: pol, Now: now}
		if r.IntN(4) == 0 {
			req.Manual = r.Perm(len(inv.Images))[:r.IntN(len(inv.Images)+1)]
		}
		// usage from its own stream, so the inventories stay those of the
		// cases before usage existed
		req.Usage = randomUsage(rand.New(rand.NewPCG(3, uint64(n))), len(inv.Images))
		p := MakePlan(inv, req)
		if err := checkPlan(inv, req, p); err != nil {
			t.Fatalf("case %d: %v\npolicy %+v manual %v usage %+v\nimages %+v\nerrors %+v\nplan %+v", n, err, pol, req.Manual, req.Usage, inv.Images, inv.Errors, p.Deletions)
		}
	}
}

// checkPlan recomputes, independently of MakePlan, what a plan must obey.
func checkPlan(inv *Inventory, req Request, p Plan) error {
	type key struct{ repo, digest string }
	deleted := map[key]int{} // position of each deleted manifest's deletion
	imgDeleted := map[int]bool{}
	var set []int
	for pos, d := range p.Deletions {
		im := &inv.Images[d.Image]
		if imgDeleted[d.Image] {
			return fmt.Errorf("%s planned twice", im.Ref())
		}
		imgDeleted[d.Image] = true
		set = append(set, d.Image)
		deleted[key{im.Repository, im.Digest.String()}] = pos
		for _, c := range d.Children {
			deleted[key{im.Repository, c.String()}] = pos
		}
	}
	incomplete := inv.Incomplete()
	subjectOf := func(im *Image) (int, bool) {
		for j := range inv.Images {
			if im.Subject != nil && inv.Images[j].Repository == im.Repository && inv.Images[j].Digest == *im.Subject {
				return j, true
			}
		}
		return -1, false
	}
	if req.Usage != nil && req.Usage.Unknown != "" && len(p.Deletions) > 0 {
		return fmt.Errorf("usage is unknown (%s) but %d images are planned", req.Usage.Unknown, len(p.Deletions))
	}
	for pos, d := range p.Deletions {
		im := &inv.Images[d.Image]
		if j, ok := subjectOf(im); ok {
			if u := req.Usage.Of(d.Image); u.Launches > 0 || u.InUse {
				return fmt.Errorf("referrer %s planned with its subject although launched or in use", im.Ref())
			}
			pj, gone := deleted[key{im.Repository, inv.Images[j].Digest.String()}]
			if !gone || pj >= pos || !slices.Contains(d.After, pj) {
				return fmt.Errorf("referrer %s planned while its subject survives or goes later", im.Ref())
			}
			continue // it goes with its subject, for the subject's reason
		}
		if d.Reason == ReasonUntagged && (len(im.Tags) > 0 || im.CreatedProblem != CreatedOK ||
			!im.Created.Before(req.Now.Add(-req.Policy.UntaggedMaxAge))) {
			return fmt.Errorf("%s planned as untagged", im.Ref())
		}
		if _, ok := incomplete[im.Repository]; ok {
			return fmt.Errorf("%s planned in an incomplete repository", im.Ref())
		}
		if im.Locked || protected(im, req.Policy.Protect) {
			return fmt.Errorf("%s planned although locked or protected", im.Ref())
		}
		if u := req.Usage.Of(d.Image); u.Launches > 0 || u.InUse {
			return fmt.Errorf("%s planned although launched %d times in the window (in use: %v)", im.Ref(), u.Launches, u.InUse)
		}
		if d.Reason == ReasonAge && im.CreatedProblem != CreatedOK {
			return fmt.Errorf("undated %s planned for age", im.Ref())
		}
		if req.Policy.KeepLatest > 0 && im.CreatedProblem != CreatedOK {
			return fmt.Errorf("undated %s planned although keep_latest holds undated images", im.Ref())
		}
		// every index referencing it goes first, and is named in After
		for j := range inv.Images {
			ix := &inv.Images[j]
			if ix.Repository != im.Repository || !slices.Contains(ix.Children, im.Digest) {
				continue
			}
			pj, ok := deleted[key{ix.Repository, ix.Digest.String()}]
			if !ok || pj >= pos || !slices.Contains(d.After, pj) {
				return fmt.Errorf("%s planned while its index %s survives or goes later", im.Ref(), ix.Ref())
			}
		}
	}
	// no surviving image references a deleted manifest; a referrer goes
	// with its subject unless a hard hold keeps it
	for j := range inv.Images {
		ix := &inv.Images[j]
		if imgDeleted[j] {
			continue
		}
		used := req.Usage.Of(j).Launches > 0 || req.Usage.Of(j).InUse
		if s, ok := subjectOf(ix); ok && imgDeleted[s] && !ix.Locked && !protected(ix, req.Policy.Protect) && !used && req.Manual == nil {
			if _, partial := incomplete[ix.Repository]; !partial && len(ix.Children) == 0 {
				isChild := false
				for k := range inv.Images {
					if inv.Images[k].Repository == ix.Repository && slices.Contains(inv.Images[k].Children, ix.Digest) {
						isChild = true
					}
				}
				if !isChild {
					return fmt.Errorf("referrer %s survives its deleted subject", ix.Ref())
				}
			}
		}
		if _, ok := deleted[key{ix.Repository, ix.Digest.String()}]; ok {
			return fmt.Errorf("surviving %s is deleted as someone's platform manifest", ix.Ref())
		}
		for _, c := range ix.Children {
			if _, ok := deleted[key{ix.Repository, c.String()}]; ok {
				return fmt.Errorf("surviving index %s loses its platform manifest %s", ix.Ref(), c)
			}
		}
	}
	// keep_latest: the N newest dated images that stand on their own stay
	if n := req.Policy.KeepLatest; n > 0 {
		byRepo := map[string][]int{}
		for i := range inv.Images {
			im := &inv.Images[i]
			child := false
			for j := range inv.Images {
				if inv.Images[j].Repository == im.Repository && slices.Contains(inv.Images[j].Children, im.Digest) {
					child = true
				}
			}
			if _, ref := subjectOf(im); !child && !ref && im.CreatedProblem == CreatedOK {
				byRepo[im.Repository] = append(byRepo[im.Repository], i)
			}
		}
		for _, idx := range byRepo {
			slices.SortFunc(idx, func(a, b int) int { return newerFirst(&inv.Images[a], &inv.Images[b]) })
			for _, i := range idx[:min(n, len(idx))] {
				if imgDeleted[i] {
					return fmt.Errorf("%s is among the %d newest dated images of its repository but planned", inv.Images[i].Ref(), n)
				}
			}
		}
	}
	if got, want := p.ReclaimBytes, ComputeSizes(inv).Freed(inv, set); got != want {
		return fmt.Errorf("reclaim %d, recomputed %d", got, want)
	}
	var sum int64
	for _, d := range p.Deletions {
		sum += d.Reclaim
	}
	if sum != p.ReclaimBytes {
		return fmt.Errorf("deletions reclaim %d in all, plan says %d", sum, p.ReclaimBytes)
	}
	return nil
}

// TestUntaggedAndReferrers: untagged manifests older than untagged_max_age
// are planned after the age step, before the cap step; a signature goes
// with its image and is never planned alone.
func TestUntaggedAndReferrers(t *testing.T) {
	inv := build(t,
		img{repo: "a", digest: "old", ageDays: 200, tags: []string{"v1"}, blobs: map[string]int64{"old": 1, "x": 100}},
		img{repo: "a", digest: "sig-old", ageDays: 200, subject: "old", blobs: map[string]int64{"sig-old": 1}},
		img{repo: "a", digest: "u-old", ageDays: 10, blobs: map[string]int64{"u-old": 1, "y": 50}},
		img{repo: "a", digest: "u-new", ageDays: 2, blobs: map[string]int64{"u-new": 1, "z": 40}},
		img{repo: "a", digest: "cur", ageDays: 1, tags: []string{"v2"}, blobs: map[string]int64{"cur": 1, "w": 500}},
		img{repo: "a", digest: "sig-cur", ageDays: 30, subject: "cur", blobs: map[string]int64{"sig-cur": 1}},
	)
	pol := Policy{MaxAge: 90 * 24 * time.Hour, UntaggedMaxAge: 7 * 24 * time.Hour}
	p := MakePlan(inv, Request{Policy: pol, Now: now})
	if got, want := refs(inv, p), []string{"old:age", "sig-old:age", "u-old:untagged"}; !slices.Equal(got, want) {
		t.Fatalf("plan = %v, want %v", got, want)
	}
	if !slices.Equal(p.Deletions[1].After, []int{0}) {
		t.Errorf("the signature goes after its image: after %v", p.Deletions[1].After)
	}
	if h := Holds(inv, pol); h[5] != HoldSubject || h[1] != HoldSubject {
		t.Errorf("holds = %v, want with-subject for both signatures", h)
	}
	if p.Held[HoldSubject] != 1 {
		t.Errorf("held %v, want the surviving signature counted", p.Held)
	}
	// the cap never takes a signature alone, only with its image
	p = MakePlan(inv, Request{Policy: Policy{Cap: 1, Aggressive: true}, Now: now, Manual: nil})
	for k, d := range p.Deletions {
		if im := inv.Images[d.Image]; im.Subject != nil {
			if s := inv.Images[p.Deletions[d.After[0]].Image]; s.Digest != *im.Subject || d.After[0] >= k {
				t.Errorf("signature %s deleted after %s", im.Digest, s.Digest)
			}
		}
	}
	// a manual pick of a signature alone is refused
	p = MakePlan(inv, Request{Now: now, Manual: []int{5}})
	if len(p.Deletions) != 0 || len(p.Excluded) != 1 || p.Excluded[0].Hold != HoldSubject {
		t.Errorf("signature alone: %v, excluded %+v", refs(inv, p), p.Excluded)
	}
}

// randomUsage gives about a third of the cases usage: some images launched
// in the window, some launched only before it, a few in use, and now and
// then a source that failed.
func randomUsage(r *rand.Rand, n int) *Usage {
	if r.IntN(3) != 0 {
		return nil
	}
	u := &Usage{Images: make([]ImageUsage, n-r.IntN(2))} // sometimes shorter than the inventory
	for i := range u.Images {
		switch r.IntN(6) {
		case 0:
			u.Images[i].Launches = 1 + int(r.ExpFloat64()*20)
			u.Images[i].LastLaunch = now.Add(-time.Duration(r.IntN(30*24)) * time.Hour)
		case 1:
			u.Images[i].LastLaunch = now.Add(-time.Duration(30*24+r.IntN(300*24)) * time.Hour)
		case 2:
			u.Images[i].InUse = r.IntN(3) == 0
		}
	}
	if r.IntN(8) == 0 {
		u.Unknown = "usage source events: /nowhere/*.jsonl: no file matches"
	}
	return u
}

// TestSharedChildrenGoWithTheLastIndex: platform manifests that several
// planned indexes share go with the last of them, and only once the
// others are gone (ChildAfter); one an index of its own goes with it
// alone; one a kept index references never goes.
func TestSharedChildrenGoWithTheLastIndex(t *testing.T) {
	inv := build(t,
		img{repo: "a", digest: "i1", ageDays: 300, children: []string{"s", "o1"}, blobs: map[string]int64{"i1": 1, "s": 2, "o1": 2}},
		img{repo: "a", digest: "i2", ageDays: 200, children: []string{"s", "o2", "k"}, blobs: map[string]int64{"i2": 1, "s": 2, "o2": 2, "k": 2}},
		img{repo: "a", digest: "i3", ageDays: 1, children: []string{"k"}, blobs: map[string]int64{"i3": 1, "k": 2}},
	)
	p := MakePlan(inv, Request{Now: now, Policy: Policy{MaxAge: 90 * 24 * time.Hour}})
	if got := refs(inv, p); !slices.Equal(got, []string{"i1:age", "i2:age"}) {
		t.Fatalf("plan = %v", got)
	}
	tests := []struct {
		d          int
		children   []string
		childAfter [][]int
	}{
		{0, []string{"o1"}, nil},
		{1, []string{"s", "o2"}, [][]int{{0}, {}}},
	}
	for _, tt := range tests {
		del := p.Deletions[tt.d]
		if !slices.Equal(del.Children, ParseDigests(tt.children)) || fmt.Sprint(del.ChildAfter) != fmt.Sprint(tt.childAfter) {
			t.Errorf("deletion %d: children %v after %v, want %v after %v", tt.d, del.Children, del.ChildAfter, tt.children, tt.childAfter)
		}
	}
}
