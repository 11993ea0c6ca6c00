package registry

import (
	"slices"
	"sync"
	"weak"

	"github.com/helmupgradebot/helmupgradebot/model"
)

// previous holds the inventory of a client's last scan (or one it was
// seeded with), whose images stand for their manifests in the next scan:
// what a manifest says, and its config, is fixed by its digest, so a
// digest the listing still shows needs no read, not even from the digest
// cache. Tags, locks and push times always come from the fresh listing.
//
// The last scan's inventory is held weakly: while the console shows it,
// it seeds the next scan; a headless run, which drops it once its report
// is made, does not keep it alive for that.
type previous struct {
	mu   sync.Mutex
	inv  *model.Inventory              // given by Seed, until a scan takes it
	last weak.Pointer[model.Inventory] // the last scan's
}

func (p *previous) seed(inv *model.Inventory) {
	p.mu.Lock()
	p.inv = inv
	p.mu.Unlock()
}

func (p *previous) set(inv *model.Inventory) {
	p.mu.Lock()
	p.inv, p.last = nil, weak.Make(inv)
	p.mu.Unlock()
}

// repositories are the repositories of the previous inventory, nil
// without one.
func (p *previous) repositories() []string {
	p.mu.Lock()
	inv := p.inv
	if inv == nil {
		inv = p.last.Value()
	}
	p.mu.Unlock()
	if inv == nil {
		return nil
	}
	var out []string
	for i := range inv.Images {
		if r := inv.Images[i].Repository; len(out) == 0 || out[len(out)-1] != r {
			out = append(out, r)
		}
	}
	return out
}

// configRead reports whether an ACR image's created time came from its
// config (age_from: built), not from the listing's push time: when it
// is the push time the config was not read. The two may coincide by
// chance; the config is then read again, which costs a request and
// changes nothing.
func configRead(im *model.Image) bool {
	pushed := im.CreatedProblem == model.CreatedOK && im.Created.Equal(im.Pushed)
	undated := im.CreatedProblem == model.CreatedMissing && im.Created.IsZero() && im.Pushed.IsZero()
	return !pushed && !undated
}

// take is what the previous inventory says of each digest it read whole
// (images of repositories it holds no error or warning about, described
// as a read of the manifest would; with configs, only those whose config
// it read). It lets go of an inventory given by Seed, which the scan that
// asks replaces: a scan takes it before it lists, so that the images are
// not held beside the listing (at 100,000 manifests, 45 MB of a warm
// run's peak). The last scan's, held weakly, stays for a scan after this
// one fails.
func (p *previous) take(configs bool) map[model.Digest]*manifestInfo {
	p.mu.Lock()
	inv := p.inv
	if inv == nil {
		inv = p.last.Value()
	}
	p.inv = nil
	p.mu.Unlock()
	if inv == nil {
		return nil
	}
	doubt := map[string]bool{}
	for _, e := range inv.Errors {
		doubt[e.Repository] = true
	}
	if doubt[""] {
		return nil // the catalog itself failed: trust none of it
	}
	out := make(map[model.Digest]*manifestInfo, len(inv.Images))
	// The table alone, not the inventory: its images can go once read.
	table := new(model.BlobTable)
	*table = inv.Blobs
	valid := func(bs []int32) bool {
		for _, b := range bs {
			if b < 0 || int(b) >= table.Len() {
				return false
			}
		}
		return true
	}
	for i := range inv.Images {
		im := &inv.Images[i]
		if doubt[im.Repository] || out[im.Digest] != nil || (configs && !configRead(im)) {
			continue
		}
		if !valid(im.Blobs) || len(im.Blobs) == 0 || im.MediaType == "" {
			continue
		}
		var childBlobs [][]int32
		if len(im.ChildBlobs) == len(im.Children) {
			if !slices.ContainsFunc(im.ChildBlobs, func(cb []int32) bool { return !valid(cb) }) {
				childBlobs = im.ChildBlobs
			} else {
				continue
			}
		}
		info := &manifestInfo{
			table:     table,
			blobs:     im.Blobs,
			mediaType: im.MediaType,
			created:   im.Created,
			problem:   im.CreatedProblem,
			platform:  im.Platform,
		}
		if len(im.Children) > 0 || len(im.Platforms) > 0 || childBlobs != nil || im.Subject != nil {
			info.more = &manifestMore{
				childBlobs: childBlobs,
				platforms:  slices.Clone(im.Platforms),
				children:   model.DigestStrings(im.Children),
			}
			if im.Subject != nil {
				info.more.subject = im.Subject.String()
			}
		}
		out[im.Digest] = info
	}
	return out
}
