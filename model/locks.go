package model

import (
	"slices"
	"strings"
)

// RepositoryLocks is what a repository's own attributes and its tags'
// locks hold, read after the scan (Inventory.SetLocks).
type RepositoryLocks struct {
	// Lock is the repository's own lock.
	Lock RepositoryLock
	// Held maps each digest a lock holds to Image.Lock's reason ("" for
	// the manifest's own, "tag repo:tag", "platform os/arch",
	// "repository").
	Held map[Digest]string
}

// SetLocksUnread records the repositories whose repository and tag locks
// the scan did not read.
func (b *InventoryBuilder) SetLocksUnread(repos []string) {
	b.inv.LocksUnread = slices.Compact(slices.Sorted(slices.Values(repos)))
}

// LocksRead reports whether every lock of repository was read.
func (inv *Inventory) LocksRead(repository string) bool {
	_, unread := slices.BinarySearch(inv.LocksUnread, repository)
	return !unread
}

// LocksUnreadIn lists, sorted, the repositories p deletes in whose locks
// are unread.
func (inv *Inventory) LocksUnreadIn(p Plan) []string {
	in := make([]bool, len(inv.LocksUnread)) // in[k]: a deletion is in LocksUnread[k]
	for _, d := range p.Deletions {
		if k, unread := slices.BinarySearch(inv.LocksUnread, inv.Images[d.Image].Repository); unread {
			in[k] = true
		}
	}
	var out []string
	for k, r := range inv.LocksUnread {
		if in[k] {
			out = append(out, r)
		}
	}
	return out
}

// SetLocks records the locks read of repositories the scan left unread:
// each image a lock holds becomes Locked (an image already Locked keeps
// its reason unless the new one ranks before it: its own lock, a tag's, a
// platform manifest's, the repository's), a repository whose own
// attributes disable deletes or writes joins RepositoryLocks, and the
// repository leaves LocksUnread.
func (inv *Inventory) SetLocks(read map[string]RepositoryLocks) {
	if len(read) == 0 {
		return
	}
	for i := range inv.Images {
		im := &inv.Images[i]
		rl, ok := read[im.Repository]
		if !ok {
			continue
		}
		why, held := rl.Held[im.Digest]
		if !held {
			continue
		}
		if !im.Locked || lockRank(why) < lockRank(im.Lock) {
			im.Locked, im.Lock = true, why
		}
	}
	for repo, rl := range read {
		if l := rl.Lock; l.DeleteDisabled || l.WriteDisabled {
			l.Repository = repo
			i, found := slices.BinarySearchFunc(inv.RepositoryLocks, repo, func(x RepositoryLock, r string) int { return strings.Compare(x.Repository, r) })
			if found {
				inv.RepositoryLocks[i] = l
			} else {
				inv.RepositoryLocks = slices.Insert(inv.RepositoryLocks, i, l)
			}
		}
	}
	inv.LocksUnread = slices.DeleteFunc(inv.LocksUnread, func(r string) bool { _, ok := read[r]; return ok })
	if len(inv.LocksUnread) == 0 {
		inv.LocksUnread = nil
	}
}

// lockRank orders Image.Lock's reasons as a lock is named when several
// hold an image: its own (""), a tag's, a platform manifest's, the
// repository's.
func lockRank(why string) int {
	level, _, _ := strings.Cut(why, " ")
	switch {
	case why == "":
		return 0
	case level == LockTag:
		return 1
	case level == LockPlatform:
		return 2
	default:
		return 3
	}
}
