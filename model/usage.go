package model

import (
	"math/bits"
	"time"
)

// ImageUsage is what people did with one image, as the backend read it from
// the usage sources (BinderHub's launch events, the cluster's pods).
type ImageUsage struct {
	// Launches counts the successful launches of the image within the
	// usage window (keep_launched_within).
	Launches int
	// LastLaunch is the newest launch of the image the sources hold,
	// within the window or before it; zero when none.
	LastLaunch time.Time
	// InUse: a running pod uses the image.
	InUse bool
}

// Usage is a plan request's usage input: per image, how often it was
// launched and whether a pod runs it. The backend reads and matches the
// sources; the model only decides with the numbers.
type Usage struct {
	// Images is indexed like Inventory.Images; images past its end have
	// no usage.
	Images []ImageUsage
	// Unknown, when not "", says why the usage could not be read whole (a
	// configured source failed). Whether any image is in use is then
	// unknown, so every image not otherwise held is held usage-unknown:
	// the plan deletes nothing.
	Unknown string
}

// Of returns image i's usage; the zero value when there is none.
func (u *Usage) Of(i int) ImageUsage {
	if u == nil || i < 0 || i >= len(u.Images) {
		return ImageUsage{}
	}
	return u.Images[i]
}

// hold is the hold usage alone gives image i: in-use before launched.
func (u *Usage) hold(i int) Hold {
	switch iu := u.Of(i); {
	case iu.InUse:
		return HoldInUse
	case iu.Launches > 0:
		return HoldLaunched
	}
	return HoldNone
}

// unknown reports whether the usage could not be read whole.
func (u *Usage) unknown() bool { return u != nil && u.Unknown != "" }

// HoldsWithUsage is Holds with a usage input: launched and in-use images
// are held too, and every image is held when the usage is unknown.
func HoldsWithUsage(inv *Inventory, pol Policy, u *Usage) []Hold {
	return computeHolds(inv, pol, newGraph(inv), inv.Incomplete(), u)
}

// GainBucket puts the bytes a deletion frees into buckets of "about the
// same" size for the cap step: eight per doubling (from 8 bytes up), so two
// gains in one bucket differ by less than 12.5%. Small gains (under 8
// bytes) are buckets of their own; nothing freed is -1. Larger gains are in
// larger buckets.
func GainBucket(g int64) int64 {
	if g <= 0 {
		return -1
	}
	n := bits.Len64(uint64(g)) // g is in [2^(n-1), 2^n)
	if n < 4 {
		return g
	}
	return int64(n)<<3 | int64(uint64(g)>>(n-4)&7)
}

// lessUsed orders two deletable images of about the same gain for the cap
// step: fewer launches in the window first, then the one launched longer
// ago (never launched first). It returns 0 when usage does not tell them
// apart.
func (u *Usage) lessUsed(i, j int) int {
	a, b := u.Of(i), u.Of(j)
	if a.Launches != b.Launches {
		if a.Launches < b.Launches {
			return -1
		}
		return 1
	}
	return a.LastLaunch.Compare(b.LastLaunch)
}

// UsageHeldBytes is what deleting every image held launched or in use
// would free: the bytes usage holds back.
func (s *Sizes) UsageHeldBytes(inv *Inventory, holds []Hold) int64 {
	var set []int
	for i, h := range holds {
		if h == HoldLaunched || h == HoldInUse {
			set = append(set, i)
		}
	}
	if len(set) == 0 {
		return 0
	}
	return s.Freed(inv, set)
}
