// Package model holds helmupgradebot's domain types and decisions: images,
// deduplicated sizes, deletion plans, chart versions. It does no I/O.
package model

import (
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"time"
)

// Blob is one content-addressed object in a registry: a layer, a config or a
// manifest. A registry stores each digest once, whichever images use it.
type Blob struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// CreatedProblem says why an image's created time cannot be trusted.
type CreatedProblem string

// Created-time problems.
const (
	CreatedOK      CreatedProblem = ""
	CreatedMissing CreatedProblem = "missing"     // no config, or no created field
	CreatedBogus   CreatedProblem = "before-2000" // 1970 and friends, written by reproducible builders
)

// Image is one manifest (or index) in one repository, with all its tags.
type Image struct {
	Repository string
	Digest     Digest
	Tags       []string
	MediaType  string
	// Created is the image's age reference. On a registry that records
	// push times (ACR's createdTime) it is the push time, unless the
	// configuration makes it the build time (registry.age_from: built);
	// elsewhere, and then, the image config's created time, for an index
	// the newest among its platform manifests. Zero when unknown.
	Created        time.Time
	CreatedProblem CreatedProblem
	// Pushed is the registry's push time where it records one (ACR's
	// createdTime), whatever Created is; else zero.
	Pushed time.Time
	// ConfigCreated is the config's created time when Created is a push
	// time and the two differ (a reproducible build's 1970); else zero.
	// Scans since Pushed read no config beside a push time and leave it
	// zero (registry.age_from: built makes the config's time Created).
	ConfigCreated time.Time
	// LastPulled is when the registry last recorded a pull of the image
	// (ECR's lastRecordedPullTime, Harbor's pull_time); zero when the
	// registry does not record pulls or never saw one. An unknown pull
	// time never releases an image from a hold.
	LastPulled time.Time
	// VendorSize is the registry's own size of the image (ECR's
	// imageSizeInBytes, Artifact Registry's imageSizeBytes): not
	// deduplicated, counted as the vendor counts it; 0 when the registry
	// gives none. Reclaim estimates never use it: they come from the blobs.
	VendorSize int64
	// Subject is the digest of the image this one refers to (an OCI
	// referrer: a signature, an SBOM), in the same repository; nil if
	// none (a pointer: few images have one).
	Subject *Digest
	// Platform is an image's own "os/arch[/variant]", from its config; ""
	// for an index or when unknown.
	Platform string
	// Platforms lists "os/arch[/variant]" for an index's platform manifests.
	Platforms []string
	// Children are the digests of an index's platform manifests.
	Children []Digest
	// ChildBlobs, parallel to Children when not nil, are each platform
	// manifest's own blobs (indexes into Inventory.Blobs): what stays
	// stored when the index goes but that platform manifest does not.
	ChildBlobs [][]int32
	// Locked images (a registry's write/delete lock) are never deleted.
	Locked bool
	// Lock says which lock holds a Locked image when it is not the
	// image's own: "repository", "tag hub:stable", "platform linux/arm64".
	// "" for the manifest's own lock.
	Lock string
	// Blobs are indexes into Inventory.Blobs: the manifest itself, its
	// config and layers and, for an index, the same for every child. Each
	// blob appears once.
	Blobs []int32
}

// Ref returns "repository@digest".
func (im *Image) Ref() string { return im.Repository + "@" + im.Digest.String() }

// Levels of the lock that holds a Locked image (LockLevel).
const (
	LockManifest   = "manifest"   // the manifest's own (Lock "")
	LockTag        = "tag"        // a tag's: the image's, or a platform manifest's of an index
	LockPlatform   = "platform"   // a platform manifest's own, holding its index
	LockRepository = "repository" // the repository's write lock
)

// LockLevel is the level of the lock that holds a Locked image: one of
// LockManifest, LockTag, LockPlatform, LockRepository; "" when it is not
// Locked.
func (im *Image) LockLevel() string {
	switch {
	case !im.Locked:
		return ""
	case im.Lock == "":
		return LockManifest
	}
	level, _, _ := strings.Cut(im.Lock, " ")
	return level
}

// LockText says how a lock holds an image: "locked" for the manifest's
// own, else "locked (repository)", "locked (tag hub:stable)",
// "locked (platform linux/arm64)"; "" when it is not Locked.
func (im *Image) LockText() string {
	switch {
	case !im.Locked:
		return ""
	case im.Lock == "":
		return "locked"
	}
	return "locked (" + im.Lock + ")"
}

// RepositoryLock is a repository whose own attributes (ACR's
// changeableAttributes of the repository) refuse deletes or writes.
type RepositoryLock struct {
	Repository string
	// DeleteDisabled: the repository itself cannot be deleted. Its images
	// still can be, one by one: it holds none of them.
	DeleteDisabled bool
	// WriteDisabled: nothing in the repository can be written or deleted:
	// every image in it is Locked, with Lock "repository".
	WriteDisabled bool
}

// ScanError is a problem met while scanning; the rest of the scan is used.
// An error names its repository (none: the catalog itself) and makes that
// repository incomplete, so that no plan deletes anything in it; a Warning
// does not (an image config that could not be read: the image is known, its
// created time is not).
type ScanError struct {
	Repository string `json:"repository,omitempty"`
	Reference  string `json:"reference,omitempty"`
	Error      string `json:"error"`
	Warning    bool   `json:"warning,omitempty"`
}

// Inventory is everything a scan found in a registry.
type Inventory struct {
	Registry     string
	ScannedAt    time.Time
	Repositories int
	Images       []Image
	// Blobs are every blob the images reference, once each, in columns
	// (Image.Blobs and ChildBlobs index it).
	Blobs  BlobTable
	Errors []ScanError
	// RepositoryLocks are the repositories whose own attributes disable
	// deletes or writes, sorted by name (ACR; none elsewhere).
	RepositoryLocks []RepositoryLock
	// LocksUnread are the repositories, sorted, whose own attributes and
	// tags' locks the scan left unread (ACR's headless runs read them
	// only where a plan deletes): their images' own locks are known, a
	// repository's or a tag's are not. Nil when every lock was read.
	LocksUnread []string
	// RegistryRules are the registry's own retention rules (ECR lifecycle
	// policies), sorted by repository: the registry may expire images by
	// them whatever the plan says.
	RegistryRules []RegistryRule
	// VendorSizeName names Image.VendorSize as the registry does ("ECR
	// size"); "" when the registry gives no size of its own.
	VendorSizeName string
}

// RegistryRule is a retention rule the registry applies itself.
type RegistryRule struct {
	// Repository is the repository it applies to.
	Repository string
	// Kind names the rule, e.g. "ECR lifecycle policy".
	Kind string
	// Summary says in a line what it expires; Text is the rule as the
	// registry gives it.
	Summary, Text string
}

// LockLevels counts the Locked images by the level of the lock that holds
// them (Image.LockLevel).
func (inv *Inventory) LockLevels() map[string]int {
	out := map[string]int{}
	for i := range inv.Images {
		if l := inv.Images[i].LockLevel(); l != "" {
			out[l]++
		}
	}
	return out
}

// LockLevelsText says how many images each level of lock holds
// (LockLevels' counts), manifest first: "1 by its own lock, 2 by a tag,
// 1 by a platform manifest, 3 by the repository"; "" for none.
func LockLevelsText(levels map[string]int) string {
	var by []string
	for _, l := range []struct{ level, what string }{{LockManifest, "its own lock"}, {LockTag, "a tag"},
		{LockPlatform, "a platform manifest"}, {LockRepository, "the repository"}} {
		if n := levels[l.level]; n > 0 {
			by = append(by, fmt.Sprintf("%d by %s", n, l.what))
		}
	}
	return strings.Join(by, ", ")
}

// RepositoryLock is repository's lock, if its own attributes disable
// deletes or writes.
func (inv *Inventory) RepositoryLock(repository string) (RepositoryLock, bool) {
	i, ok := slices.BinarySearchFunc(inv.RepositoryLocks, repository, func(l RepositoryLock, r string) int { return strings.Compare(l.Repository, r) })
	if !ok {
		return RepositoryLock{}, false
	}
	return inv.RepositoryLocks[i], true
}

// Incomplete returns, for every repository whose scan is incomplete (a tag
// list, a manifest or a platform manifest could not be read), the first
// error met there. The key "" stands for the catalog: some repositories may
// not have been listed at all.
func (inv *Inventory) Incomplete() map[string]string {
	out := map[string]string{}
	for _, e := range inv.Errors {
		if e.Warning {
			continue
		}
		if _, ok := out[e.Repository]; !ok {
			out[e.Repository] = e.Error
		}
	}
	return out
}

// Tags counts the tags over all images.
func (inv *Inventory) Tags() int {
	n := 0
	for i := range inv.Images {
		n += len(inv.Images[i].Tags)
	}
	return n
}

// ImageSize is the sum of an image's blobs, counting shared ones in full
// (what `docker pull` would download), as opposed to its exclusive bytes.
func (inv *Inventory) ImageSize(i int) int64 {
	var n int64
	for _, b := range inv.Images[i].Blobs {
		n += inv.Blobs.Size(b)
	}
	return n
}

// InventoryBuilder assembles an Inventory, interning blobs by digest.
// It is not safe for concurrent use.
type InventoryBuilder struct {
	inv   Inventory
	blobs blobIndex
	seen  seenImages
	grown *BlobTable // the table AddImageFrom last sized this one by
	// adopted is the table the inventory took whole (AdoptBlobs), nil
	// if none: its first adoptedLen rows are the inventory's own.
	adopted    *BlobTable
	adoptedLen int
	// group maps each adopted row whose digest another adopted row has,
	// and that other row, to the first row of the digest; chosen maps a
	// group's first row to the row its images use (the first met).
	group, chosen map[int32]int32
}

// seenImages finds an added image by repository and digest in about 24
// bytes an image, where a map keyed by the two took about 75: last maps a
// hash of the two to the last image added with that hash, and prior
// chains each image to the one before it with that hash (-1 for none).
type seenImages struct {
	seed  maphash.Seed
	last  map[uint64]int32
	prior []int32
}

// hash is repository and digest's hash: a sha256's own (Sum.hash) mixed
// with the repository's.
func (s *seenImages) hash(repository string, d Digest) uint64 {
	h := maphash.String(s.seed, repository)
	if sum, ok := d.Sum(); ok {
		return h ^ sum.hash()
	}
	return h ^ maphash.String(s.seed, d.String())
}

// has reports whether images holds one of repository and digest d.
func (s *seenImages) has(images []Image, repository string, d Digest) bool {
	if s.last == nil {
		return false
	}
	i, ok := s.last[s.hash(repository, d)]
	for ok && i >= 0 {
		if images[i].Digest == d && images[i].Repository == repository {
			return true
		}
		i = s.prior[i]
	}
	return false
}

// add records images[i].
func (s *seenImages) add(images []Image, i int32) {
	if s.last == nil {
		s.seed, s.last = maphash.MakeSeed(), map[uint64]int32{}
	}
	h := s.hash(images[i].Repository, images[i].Digest)
	p, ok := s.last[h]
	if !ok {
		p = -1
	}
	s.prior = append(s.prior, p)
	s.last[h] = i
}

// NewInventoryBuilder starts an inventory of the named registry.
func NewInventoryBuilder(registry string, scannedAt time.Time) *InventoryBuilder {
	return &InventoryBuilder{
		inv: Inventory{Registry: registry, ScannedAt: scannedAt},
	}
}

// Grow makes room for n more images, so that a scan that knows how many
// it found does not copy them as the inventory grows.
func (b *InventoryBuilder) Grow(n int) { b.inv.Images = slices.Grow(b.inv.Images, n) }

// GrowBlobs makes room for n more blobs in the builder's index (a warm
// scan knows about how many the last one found), so that it is not copied
// as it grows.
func (b *InventoryBuilder) GrowBlobs(n int) { b.blobs.grow(&b.inv.Blobs, b.inv.Blobs.Len()+n) }

// AddImage adds an image with the blobs it references (duplicates are
// ignored) and, for an index, each platform manifest's own blobs, parallel
// to im.Children (none: not known). Blob sizes must agree wherever a
// digest is seen again. Adding the same repository@digest twice is an
// error.
func (b *InventoryBuilder) AddImage(im Image, blobs []Blob, childBlobs ...[]Blob) error {
	return b.add(im, len(childBlobs), nil, func(k int) ([]int32, error) {
		bs := pick(blobs, childBlobs, k)
		return b.internAll(&im, len(bs), func(j int) (Sum, bool, string, int64) {
			s, ok := ParseSum(bs[j].Digest)
			return s, ok, bs[j].Digest, bs[j].Size
		})
	})
}

// AddImageFrom is AddImage with the blobs given as indexes into another
// table (the last scan's inventory's): no digest is spelt out as a string.
// The first image from a table makes room for as many blobs as it holds: a
// warm scan finds about what the last one did.
func (b *InventoryBuilder) AddImageFrom(im Image, from *BlobTable, blobs []int32, childBlobs ...[]int32) error {
	if from != nil && from == b.adopted {
		return b.add(im, len(childBlobs), childBlobs, func(k int) ([]int32, error) { return b.own(&im, pick(blobs, childBlobs, k)) })
	}
	if from == nil {
		from = &BlobTable{} // no blobs: an index past its bounds below
	}
	if b.grown != from {
		b.grown = from
		b.GrowBlobs(from.Len() - b.inv.Blobs.Len())
	}
	return b.add(im, len(childBlobs), nil, func(k int) ([]int32, error) {
		bs := pick(blobs, childBlobs, k)
		if i := slices.IndexFunc(bs, func(i int32) bool { return i < 0 || int(i) >= from.Len() }); i >= 0 {
			return nil, fmt.Errorf("image %s: blob %d of a table of %d", im.Ref(), bs[i], from.Len())
		}
		return b.internAll(&im, len(bs), func(j int) (Sum, bool, string, int64) {
			s, ok := from.Sum(bs[j])
			if !ok {
				return s, false, from.Digest(bs[j]), from.Size(bs[j])
			}
			return s, true, "", from.Size(bs[j])
		})
	})
}

// AdoptBlobs makes set's table the inventory's, whole, where AddImageFrom
// would copy it row by row: blobs given as rows of set.Table() are taken
// as they are, and the slices holding them kept rather than copied (the
// caller must not change them afterwards). Call it before adding any
// image, once every Intern has returned; the set is empty afterwards.
// The inventory is the one AddImageFrom would make: its rows are
// renumbered, in place, in the order the images name them, and rows no
// image references are dropped.
func (b *InventoryBuilder) AdoptBlobs(set *BlobSet) {
	if b.adopted != nil || b.inv.Blobs.Len() > 0 {
		return // too late: AddImageFrom copies
	}
	set.mu.Lock()
	defer set.mu.Unlock()
	b.inv.Blobs, b.blobs = set.t, set.idx
	b.adopted, b.adoptedLen = &set.t, set.t.Len()
	for i, first := range set.first {
		b.link(i, first)
	}
	set.t, set.idx, set.mismatch, set.first = BlobTable{}, blobIndex{}, nil, nil
}

// link records that adopted row i has the digest of the earlier row first.
func (b *InventoryBuilder) link(i, first int32) {
	if b.group == nil {
		b.group, b.chosen = map[int32]int32{}, map[int32]int32{}
	}
	b.group[i], b.group[first] = first, first
}

// choose is the row images use for adopted row r: r, unless another row
// of its digest was met first; then that row when the sizes agree, else
// an error.
func (b *InventoryBuilder) choose(r int32) (int32, error) {
	first, ok := b.group[r]
	if !ok {
		return r, nil
	}
	c, ok := b.chosen[first]
	if !ok {
		b.chosen[first] = r
		return r, nil
	}
	t := &b.inv.Blobs
	if c == r || t.Size(c) == t.Size(r) {
		return c, nil
	}
	return 0, fmt.Errorf("blob %s has size %d here and %d elsewhere", t.Digest(r), t.Size(r), t.Size(c))
}

// own is an image's blobs given as adopted rows: bs itself when no row
// repeats or stands for another, else a slice of its own.
func (b *InventoryBuilder) own(im *Image, bs []int32) ([]int32, error) {
	var out []int32 // nil while bs[:j] need no change
	for j, r := range bs {
		if r < 0 || int(r) >= b.adoptedLen {
			return nil, fmt.Errorf("image %s: blob %d of a table of %d", im.Ref(), r, b.adoptedLen)
		}
		c, err := b.choose(r)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", im.Ref(), err)
		}
		if out == nil && c == r && !slices.Contains(bs[:j], r) {
			continue
		}
		if out == nil {
			out = append(make([]int32, 0, len(bs)), bs[:j]...)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	if out == nil {
		return slices.Clip(bs), nil // an append to it must not write into the caller's array
	}
	return out, nil
}

// sameSlice: a and b are the same elements of the same array.
func sameSlice[E any](a, b []E) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// compact puts the table's rows in the order the images name them first
// (an adopted table holds them in the order a scan read them), in place,
// and drops those no image references (a manifest no image is made of,
// an image that could not be added): an inventory is the same however
// its table was made. When a row moves, the images' rows are
// renumbered, into slices of their own (those they had may be shared).
func (b *InventoryBuilder) compact() {
	t := &b.inv.Blobs
	to := make([]int32, t.Len())
	for i := range to {
		to[i] = -1
	}
	n, refs := int32(0), 0
	name := func(bs []int32) {
		for _, r := range bs {
			if to[r] < 0 {
				to[r] = n
				n++
			}
		}
		refs += len(bs)
	}
	for i := range b.inv.Images {
		name(b.inv.Images[i].Blobs)
		for _, cb := range b.inv.Images[i].ChildBlobs {
			name(cb)
		}
	}
	used, moved := n, false
	for i, r := range to {
		if r < 0 { // after the rows kept
			to[i] = n
			n++
		}
		moved = moved || to[i] != int32(i)
	}
	if !moved && int(used) == t.Len() {
		return
	}
	t.permute(to, int(used))
	rows := make([]int32, 0, refs) // every image's, in one array
	renumber := func(bs []int32) []int32 {
		start := len(rows)
		for _, r := range bs {
			rows = append(rows, to[r])
		}
		return rows[start:len(rows):len(rows)]
	}
	for i := range b.inv.Images {
		im := &b.inv.Images[i]
		im.Blobs = renumber(im.Blobs)
		if im.ChildBlobs != nil {
			cbs := make([][]int32, len(im.ChildBlobs))
			for k, cb := range im.ChildBlobs {
				cbs[k] = renumber(cb)
			}
			im.ChildBlobs = cbs
		}
	}
}

// pick is own for k < 0, else child[k].
func pick[E any](own []E, child [][]E, k int) []E {
	if k < 0 {
		return own
	}
	return child[k]
}

// internAll interns n blobs, blob(j) giving each one's sum (ok) or other
// spelling, and size; it returns their indexes, each once.
func (b *InventoryBuilder) internAll(im *Image, n int, blob func(j int) (Sum, bool, string, int64)) ([]int32, error) {
	out := make([]int32, 0, n)
	for j := range n {
		s, ok, other, size := blob(j)
		idx, err := b.blobs.intern(&b.inv.Blobs, s, ok, other, size)
		if err == nil {
			idx, err = b.choose(idx)
		}
		if out, err = appendBlob(out, idx, err, im); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// appendBlob adds an interned blob's index to an image's, once.
func appendBlob(out []int32, idx int32, err error, im *Image) ([]int32, error) {
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", im.Ref(), err)
	}
	if !slices.Contains(out, idx) { // an image has tens of blobs at most
		out = append(out, idx)
	}
	return out, nil
}

// add adds im, its blobs interned by blobsOf(-1) and its nChild platform
// manifests' by blobsOf(k). given, when not nil, are the platform
// manifests' blobs as the caller gave them: the image keeps them, and
// each of them that blobsOf returns unchanged, rather than copies.
func (b *InventoryBuilder) add(im Image, nChild int, given [][]int32, blobsOf func(k int) ([]int32, error)) error {
	if b.seen.has(b.inv.Images, im.Repository, im.Digest) {
		return fmt.Errorf("image %s added twice", im.Ref())
	}
	if nChild > 0 && nChild != len(im.Children) {
		return fmt.Errorf("image %s: %d platform manifests but blobs for %d", im.Ref(), len(im.Children), nChild)
	}
	var err error
	if im.Blobs, err = blobsOf(-1); err != nil {
		return err
	}
	im.ChildBlobs = nil
	if nChild > 0 {
		im.ChildBlobs = given
		if given == nil {
			im.ChildBlobs = make([][]int32, nChild)
		}
		for k := range nChild {
			cb, err := blobsOf(k)
			if err != nil {
				return err
			}
			if given == nil || !sameSlice(cb, given[k]) {
				if given != nil && sameSlice(im.ChildBlobs, given) {
					im.ChildBlobs = slices.Clone(given) // not the caller's
				}
				im.ChildBlobs[k] = cb
			}
		}
	}
	b.inv.Images = append(b.inv.Images, im)
	b.seen.add(b.inv.Images, int32(len(b.inv.Images)-1))
	return nil
}

// AddError records a scan problem.
func (b *InventoryBuilder) AddError(e ScanError) { b.inv.Errors = append(b.inv.Errors, e) }

// AddRepositoryLock records a repository's lock (again: replaces it); the
// inventory keeps them sorted by repository.
func (b *InventoryBuilder) AddRepositoryLock(l RepositoryLock) {
	i, found := slices.BinarySearchFunc(b.inv.RepositoryLocks, l.Repository, func(x RepositoryLock, r string) int { return strings.Compare(x.Repository, r) })
	if found {
		b.inv.RepositoryLocks[i] = l
		return
	}
	b.inv.RepositoryLocks = slices.Insert(b.inv.RepositoryLocks, i, l)
}

// AddRegistryRule records a registry's own retention rule; the inventory
// keeps them sorted by repository.
func (b *InventoryBuilder) AddRegistryRule(r RegistryRule) {
	i, _ := slices.BinarySearchFunc(b.inv.RegistryRules, r.Repository, func(x RegistryRule, s string) int { return strings.Compare(x.Repository, s) })
	b.inv.RegistryRules = slices.Insert(b.inv.RegistryRules, i, r)
}

// SetVendorSizeName names the registry's own image sizes.
func (b *InventoryBuilder) SetVendorSizeName(name string) { b.inv.VendorSizeName = name }

// SetRepositories records how many repositories the registry listed.
func (b *InventoryBuilder) SetRepositories(n int) { b.inv.Repositories = n }

// Inventory returns the assembled inventory. The builder must not be used
// afterwards.
func (b *InventoryBuilder) Inventory() *Inventory {
	b.compact()
	inv := b.inv
	return &inv
}
