package model

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
		Refs:      make([]int32, len(inv.Blobs)),
	}
	for i := range inv.Images {
		for _, b := range inv.Images[i].Blobs {
			s.Refs[b]++
		}
	}
	for b, n := range s.Refs {
		if n > 0 {
			s.Total += inv.Blobs[b].Size
		}
	}
	for i := range inv.Images {
		for _, b := range inv.Images[i].Blobs {
			if s.Refs[b] == 1 {
				s.Exclusive[i] += inv.Blobs[b].Size
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
			n += inv.Blobs[b].Size
		}
	}
	return n
}
