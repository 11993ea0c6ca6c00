package model

import "slices"

// Sizes are an inventory's deduplicated sizes: each blob counts once, however
// many images reference it.
type Sizes struct {
	// Total is the registry's real size: every distinct blob once.
	Total int64
	// Exclusive[i] is the bytes only image i references: what deleting it
	// alone would free.
	Exclusive []int64
	// Refs[b] is how many images reference blob b.
	Refs []int32
}

// ComputeSizes counts blob references and sizes over an inventory.
func ComputeSizes(inv *Inventory) *Sizes {
	s := &Sizes{
		Exclusive: make([]int64, len(inv.Images)),
		Refs:      make([]int32, inv.Blobs.Len()),
	}
	for i := range inv.Images {
		for _, b := range inv.Images[i].Blobs {
			s.Refs[b]++
		}
	}
	for b, n := range s.Refs {
		if n > 0 {
			s.Total += inv.Blobs.Size(int32(b))
		}
	}
	for i := range inv.Images {
		for _, b := range inv.Images[i].Blobs {
			if s.Refs[b] == 1 {
				s.Exclusive[i] += inv.Blobs.Size(b)
			}
		}
	}
	return s
}

// Freed returns the bytes that deleting all the given images (indexes into
// inv.Images) frees: the blobs that no image outside the set references.
func (s *Sizes) Freed(inv *Inventory, set []int) int64 {
	inSet := map[int32]int32{}
	seen := make(map[int]bool, len(set))
	for _, i := range set {
		if seen[i] {
			continue
		}
		seen[i] = true
		for _, b := range inv.Images[i].Blobs {
			inSet[b]++
		}
	}
	var n int64
	for b, c := range inSet {
		if c == s.Refs[b] {
			n += inv.Blobs.Size(b)
		}
	}
	return n
}

// Gone is what an apply removed from a registry: whole images, and the
// platform manifests a deleted index left behind.
type Gone struct {
	// Images are indexes into Inventory.Images of the manifests deleted
	// (or found already gone).
	Images []int
	// LeftChildren maps a deleted index (an index into Inventory.Images)
	// to those of its platform manifests that are still stored.
	LeftChildren map[int][]Digest
}

// FreedBytes is what the registry no longer stores once g is gone: the
// blobs that nothing still stored references. A platform manifest left
// behind keeps its own blobs (Image.ChildBlobs); where those are not
// known, it keeps every blob of its index.
func FreedBytes(inv *Inventory, g Gone) int64 {
	gone := make([]bool, len(inv.Images))
	for _, i := range g.Images {
		if i >= 0 && i < len(inv.Images) {
			gone[i] = true
		}
	}
	stored := make([]bool, inv.Blobs.Len())
	keep := func(bs []int32) {
		for _, b := range bs {
			stored[b] = true
		}
	}
	for i := range inv.Images {
		if !gone[i] {
			keep(inv.Images[i].Blobs)
		}
	}
	for i, left := range g.LeftChildren {
		if i < 0 || i >= len(inv.Images) || !gone[i] || len(left) == 0 {
			continue
		}
		im := &inv.Images[i]
		if len(im.ChildBlobs) != len(im.Children) {
			keep(im.Blobs)
			continue
		}
		for k, c := range im.Children {
			if slices.Contains(left, c) {
				keep(im.ChildBlobs[k])
			}
		}
	}
	var n int64
	for i := range inv.Images {
		if gone[i] {
			for _, b := range inv.Images[i].Blobs {
				if !stored[b] {
					stored[b] = true // count once
					n += inv.Blobs.Size(b)
				}
			}
		}
	}
	return n
}
