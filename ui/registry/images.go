package registry

import (
	"bytes"
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/backend/usage"
	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
)

// sortKey is the registry table's sort column.
type sortKey int

const (
	sortAge sortKey = iota
	sortSize
	sortReclaim
	sortName
	sortLaunches   // with usage sources only (nextKey)
	sortLastLaunch // with usage sources only
	numSortKeys
)

func (k sortKey) String() string {
	return [...]string{"age", "size", "reclaimable", "name", "launches", "last launch"}[k]
}

// defaultOrder describes a key's natural direction (reversed with S).
func (k sortKey) defaultOrder() string {
	return [...]string{"oldest first", "largest first", "most reclaimable first", "A→Z", "most launched first", "latest first"}[k]
}

// imageIndex is an inventory with the per-image numbers the table shows and
// sorts by, and the table's order and filter as indexes into inv.Images:
// images are never copied.
type imageIndex struct {
	inv   *model.Inventory
	sizes *model.Sizes
	holds []model.Hold
	// use is what the usage sources said (nil without them); usageHeld
	// the bytes its holds keep.
	use       *usage.Result
	usageHeld int64
	// size is each image's full size (every blob counted); created its
	// created time in Unix nanoseconds, MaxInt64 when unknown (sorts as
	// newest, as the planner treats it).
	size    []int64
	created []int64

	nameRank []int32 // each image's place in name order

	key     sortKey
	reverse bool
	buf     []sortEntry
	hit     []bool
	spelt   []byte // a digest spelt, while matching
	order   []int  // every image, sorted
	filter  string
	// hideUntagged leaves manifests without tags out of the view.
	hideUntagged bool
	view         []int // order filtered; aliases order when there is no filter
	// vw is what the columns need for the view, when widthsOK.
	vw       viewWidths
	widthsOK bool
}

// newImageIndex computes sizes and holds for an inventory and sorts it by
// age. It does the heavy work for a fresh scan, so it runs in a command.
func newImageIndex(inv *model.Inventory, pol model.Policy) *imageIndex {
	return indexImages(inv, pol, nil)
}

// indexImages is newImageIndex with what the usage sources said (nil:
// none): usage holds, and the launch columns and sorts.
func indexImages(inv *model.Inventory, pol model.Policy, use *usage.Result) *imageIndex {
	n := len(inv.Images)
	x := &imageIndex{
		inv:     inv,
		sizes:   model.ComputeSizes(inv),
		holds:   holdsWith(inv, pol, use),
		use:     use,
		size:    make([]int64, n),
		created: make([]int64, n),
		order:   make([]int, n),
	}
	for i := range inv.Images {
		x.size[i] = inv.ImageSize(i)
		im := &inv.Images[i]
		if im.CreatedProblem != model.CreatedOK || im.Created.IsZero() {
			x.created[i] = math.MaxInt64
		} else {
			x.created[i] = im.Created.UnixNano()
		}
		x.order[i] = i
	}
	x.rankNames()
	x.usageHeld = usageHeldBytes(x)
	x.sort()
	return x
}

// setSort changes the sort and re-sorts.
func (x *imageIndex) setSort(k sortKey, reverse bool) {
	x.key, x.reverse = k, reverse
	x.sort()
}

// sortEntry is an image with its sort key, so sorting compares values in
// one array instead of chasing indexes into several.
type sortEntry struct {
	key int64
	i   int32
}

func compareEntries(a, b sortEntry) int {
	if a.key != b.key {
		return cmp.Compare(a.key, b.key)
	}
	return cmp.Compare(a.i, b.i)
}

// sort orders every image by the current key, ties by index so the order
// is stable across re-sorts, then re-applies the filter.
func (x *imageIndex) sort() {
	n := len(x.inv.Images)
	if cap(x.buf) < n {
		x.buf = make([]sortEntry, n)
	}
	buf := x.buf[:n]
	sign := int64(1)
	if x.reverse {
		sign = -1
	}
	switch x.key {
	case sortAge: // oldest first
		for i := range buf {
			buf[i] = sortEntry{sign * x.created[i], int32(i)}
		}
	case sortSize: // largest first
		for i := range buf {
			buf[i] = sortEntry{-sign * x.size[i], int32(i)}
		}
	case sortReclaim: // most reclaimable first
		ex := x.sizes.Exclusive
		for i := range buf {
			buf[i] = sortEntry{-sign * ex[i], int32(i)}
		}
	case sortName:
		for i := range buf {
			buf[i] = sortEntry{sign * int64(x.nameRank[i]), int32(i)}
		}
	case sortLaunches, sortLastLaunch:
		x.usageKeys(buf, sign)
	}
	slices.SortFunc(buf, compareEntries)
	for p := range buf {
		x.order[p] = int(buf[p].i)
	}
	x.applyFilter()
}

// rankNames gives every image its place in name order (repository, then
// first tag), so sorting by name compares integers.
func (x *imageIndex) rankNames() {
	ims := x.inv.Images
	idx := make([]int32, len(ims))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		ia, ib := &ims[a], &ims[b]
		if c := strings.Compare(ia.Repository, ib.Repository); c != 0 {
			return c
		}
		if c := strings.Compare(firstTag(ia), firstTag(ib)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	x.nameRank = make([]int32, len(ims))
	for r, i := range idx {
		x.nameRank[i] = int32(r)
	}
}

// setFilter filters by a case-insensitive substring of the repository, of
// a tag, of "repository:tag" or of the digest.
func (x *imageIndex) setFilter(f string) {
	x.filter = strings.ToLower(strings.TrimSpace(f))
	x.applyFilter()
}

// setHideUntagged shows or hides untagged manifests.
func (x *imageIndex) setHideUntagged(hide bool) {
	x.hideUntagged = hide
	x.applyFilter()
}

// untagged counts the images without tags.
func (x *imageIndex) untagged() int {
	n := 0
	for i := range x.inv.Images {
		if len(x.inv.Images[i].Tags) == 0 {
			n++
		}
	}
	return n
}

func (x *imageIndex) applyFilter() {
	x.widthsOK = false
	if x.filter == "" && !x.hideUntagged {
		x.view = x.order
		return
	}
	q := x.filter
	repoTag := strings.Contains(q, ":")
	digest := isDigestish(q)
	// Match in inventory order (memory order), then keep the sort.
	if cap(x.hit) < len(x.inv.Images) {
		x.hit = make([]bool, len(x.inv.Images))
	}
	hit := x.hit[:len(x.inv.Images)]
	n := 0
	for i := range hit {
		hit[i] = (q == "" || x.matches(i, q, repoTag, digest)) && (!x.hideUntagged || len(x.inv.Images[i].Tags) > 0)
		if hit[i] {
			n++
		}
	}
	view := make([]int, 0, n)
	for _, i := range x.order {
		if hit[i] {
			view = append(view, i)
		}
	}
	x.view = view
}

// matches reports whether image i matches the lower-case query q.
// Repositories and digests are lower case by the OCI spec; tags may not be.
func (x *imageIndex) matches(i int, q string, repoTag, digest bool) bool {
	im := &x.inv.Images[i]
	if strings.Contains(im.Repository, q) {
		return true
	}
	if len(im.Tags) == 0 && (q == "<untagged>" || q == "untagged") {
		return true
	}
	for _, t := range im.Tags {
		if strings.Contains(t, q) || (hasUpper(t) && common.ContainsFold(t, q)) {
			return true
		}
		if repoTag && common.ContainsFold(im.Repository+":"+t, q) {
			return true
		}
	}
	if !digest {
		return false
	}
	x.spelt, _ = im.Digest.AppendText(x.spelt[:0])
	return bytes.Contains(x.spelt, []byte(q))
}

// isDigestish reports whether q could be part of a digest.
func isDigestish(q string) bool {
	if len(q) < 4 {
		return false
	}
	for i := 0; i < len(q); i++ {
		c := q[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && c != ':' && !strings.ContainsRune("sh", rune(c)) {
			return false
		}
	}
	return true
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// age is how old image i is at now, or -1 when unknown.
func (x *imageIndex) age(i int, now time.Time) time.Duration {
	if x.created[i] == math.MaxInt64 {
		return -1
	}
	return now.Sub(x.inv.Images[i].Created)
}

// position returns where image i sits in the view, or -1.
func (x *imageIndex) position(i int) int {
	return slices.Index(x.view, i)
}

func firstTag(im *model.Image) string {
	if len(im.Tags) == 0 {
		return ""
	}
	return im.Tags[0]
}

// imageName names an image for people: "repo:tag" (its first tag), or
// "repo@sha256:abcdef123456" when it has none.
func imageName(im *model.Image) string {
	if len(im.Tags) > 0 {
		return im.Repository + ":" + im.Tags[0]
	}
	d := im.Digest.String()
	if alg, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		d = alg + ":" + hex[:12]
	}
	return im.Repository + "@" + d
}
