package digestcache

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// load reads the index (and what the segments hold past it) at the first
// use. c.mu is held.
func (c *Cache) load() {
	if c.loaded {
		return
	}
	c.loaded = true
	c.idx = map[[32]byte]loc{}
	c.byID = map[uint64]uint16{}
	c.bad = map[[32]byte]loc{}
	c.sync()
}

// sync brings the in-memory index up to date with the directory: segments
// removed by another process are let go with their entries, the index
// file's entries are merged in (an entry held already keeps its place and
// takes the later use), and records appended past what the index covers
// are read from the segments. c.mu is held.
func (c *Cache) sync() {
	ents, _ := os.ReadDir(c.dir)
	present := map[uint64]bool{}
	for _, e := range ents {
		if id, ok := parseSegName(e.Name()); ok && e.Type().IsRegular() {
			present[id] = true
			if _, held := c.byID[id]; !held && len(c.segs) < 1<<16 {
				c.addSegment(id, filepath.Join(c.dir, e.Name()))
			}
		}
	}
	gone := false
	for slot, s := range c.segs {
		if s != nil && !present[s.id] && (c.w == nil || int(c.w.slot) != slot) {
			c.dropSegment(uint16(slot))
			gone = true
		}
	}
	if gone {
		for k, l := range c.idx {
			if c.segs[l.seg] == nil {
				delete(c.idx, k)
			}
		}
	}

	var slots []int // the index file's segment positions as slots; -1: none
	var covered []int64
	err := readIndex(filepath.Join(c.dir, idxName), func(segs []fileSeg, n int) {
		if len(c.idx) == 0 {
			c.idx = make(map[[32]byte]loc, n)
		}
		for _, fs := range segs {
			slot, ok := c.byID[fs.id]
			if !ok {
				slots, covered = append(slots, -1), append(covered, 0)
				continue
			}
			slots, covered = append(slots, int(slot)), append(covered, fs.covered)
			if s := c.segs[slot]; fs.covered > s.covered {
				s.covered = fs.covered
			}
		}
	}, func(e fileEntry) {
		slot := slots[e.loc.seg]
		if slot < 0 || int64(e.loc.off)+int64(e.loc.n) > covered[e.loc.seg] {
			return
		}
		e.loc.seg = uint16(slot)
		if b, ok := c.bad[e.key]; ok && b.seg == e.loc.seg && b.off == e.loc.off {
			return
		}
		if cur, ok := c.idx[e.key]; ok {
			if e.loc.used > cur.used {
				cur.used = e.loc.used
				c.idx[e.key] = cur
			}
			return
		}
		c.idx[e.key] = e.loc
	})
	rebuild := false
	switch {
	case errors.Is(err, errNoIndex):
		rebuild = len(present) > 0
		if rebuild {
			c.log.Warn("digest cache: no index: indexing the segments", "dir", c.dir, "segments", len(present))
		}
	case err != nil:
		rebuild = true
		c.log.Warn("digest cache: index unreadable: rebuilding it from the segments", "dir", c.dir, "err", err)
	}
	if rebuild {
		c.dirty = true
	}
	for slot, s := range c.segs {
		if s != nil && (c.w == nil || int(c.w.slot) != slot) {
			c.scanSegment(uint16(slot), rebuild)
		}
	}
}

// scanSegment reads segment slot's records past what is indexed into the
// index: stamped as used now when the index is being rebuilt (their last
// use is unknown), else as used when written. A record already held
// elsewhere is left out (it is dead in this segment). c.mu is held.
func (c *Cache) scanSegment(slot uint16, usedNow bool) {
	s := c.segs[slot]
	if s.bad {
		return
	}
	now := c.unixNow()
	err := s.scan(func(off int64, n int, r record) {
		var key [32]byte
		copy(key[:], r.raw)
		if cur, ok := c.idx[key]; ok && cur.algo == r.algo {
			return
		}
		used := r.written
		if usedNow {
			used = now
		}
		c.idx[key] = loc{off: uint32(off), n: uint32(n), used: used, seg: slot, algo: r.algo}
		c.dirty = true
	})
	switch {
	case s.bad:
		c.log.Warn("digest cache: damaged segment ignored", "segment", s.path, "err", err)
	case err != nil && s.torn:
		// Cut short below what the index covers: entries past its end go.
		info, serr := os.Stat(s.path)
		if serr != nil {
			return
		}
		dropped := 0
		for k, l := range c.idx {
			if l.seg == slot && int64(l.off)+int64(l.n) > info.Size() {
				delete(c.idx, k)
				dropped++
			}
		}
		s.covered, s.cut = info.Size(), true
		c.dirty = true
		c.log.Warn("digest cache: segment cut short: its entries past the end dropped", "segment", s.path, "size", info.Size(), "dropped", dropped)
	}
}

// dropSegment lets go of segment slot (its file is gone). c.mu is held.
func (c *Cache) dropSegment(slot uint16) {
	s := c.segs[slot]
	s.close()
	delete(c.byID, s.id)
	c.segs[slot] = nil
}

// Scan is one scan's use of the cache, from BeginScan to End.
type Scan struct {
	c     *Cache
	start time.Time
	name  string // the record's name without its suffix
	warm  bool
	once  sync.Once
	res   Collected
	err   error
}

// BeginScan records that a scan is running: until it ends, collection by
// other scans keeps every entry used since it began. On a nil Cache it
// returns nil, whose End does nothing.
func (c *Cache) BeginScan() *Scan {
	if c == nil {
		return nil
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	s := &Scan{c: c, start: c.now()}
	s.name = fmt.Sprintf("%d-%d-%s", s.start.UnixNano(), os.Getpid(), hex.EncodeToString(rnd[:]))
	done, _ := filepath.Glob(filepath.Join(c.dir, "scans", "*.done"))
	s.warm = len(done) > 0
	// Best effort: without the record, a collection running meanwhile may
	// drop entries this scan used, which costs re-reads, not results.
	_ = os.WriteFile(filepath.Join(c.dir, "scans", s.name+".active"), nil, 0o600)
	return s
}

// Warm reports whether a complete scan had ended in the cache when this one
// began: whether the cache is likely to hold most of what the scan needs
// (false on a nil Scan).
func (s *Scan) Warm() bool { return s != nil && s.warm }

// Collected is what a scan's end found and removed.
type Collected struct {
	Entries      int   // entries kept
	Bytes        int64 // their records' total size
	Removed      int   // entries dropped
	RemovedBytes int64
	// Segments: segment files kept, DiskBytes their total size;
	// Compacted: segments removed, their live records copied first.
	Segments  int
	DiskBytes int64
	Compacted int
}

// End ends the scan: it writes the index with what this process stored
// and used. A complete scan (one that saw the whole registry, so that what
// it did not use is unused) counts as a generation and collects. Later
// calls return the first call's result.
func (s *Scan) End(complete bool) (Collected, error) {
	if s == nil {
		return Collected{}, nil
	}
	s.once.Do(func() {
		c := s.c
		scans := filepath.Join(c.dir, "scans")
		_ = os.Remove(filepath.Join(scans, s.name+".active"))
		if complete {
			if err := os.WriteFile(filepath.Join(scans, s.name+".done"), nil, 0o600); err != nil {
				s.err = fmt.Errorf("digest cache %s: record the scan: %w", c.dir, err)
				complete = false
			}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if complete || c.dirty {
			res, err := c.persist(complete)
			s.res, s.err = res, errors.Join(s.err, err)
		}
		c.releaseWriter(false)
		c.removeOldLayout()
		c.unload()
	})
	return s.res, s.err
}

// unload lets go of the in-memory index once the index file holds all of
// it (nothing dirty): the next Get or Put reads it again. Between scans
// nothing uses it, and at 100,000 entries it is 7 MB of a headless run's
// peak, held through the plan and the report. c.mu is held.
func (c *Cache) unload() {
	if !c.loaded || c.dirty || c.w != nil {
		return
	}
	for _, s := range c.segs {
		if s != nil {
			s.close()
		}
	}
	c.loaded = false
	c.idx, c.segs, c.byID, c.bad, c.buf = nil, nil, nil, nil, nil
}

// persist writes the index, merged with what other processes wrote, under
// the directory's lock; with collect it first drops unused entries and
// compacts. c.mu is held.
func (c *Cache) persist(collect bool) (Collected, error) {
	var res Collected
	lf, err := os.OpenFile(filepath.Join(c.dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err == nil {
		defer lf.Close() // and with it the lock
		err = lockFile(lf, false)
	}
	if err != nil {
		return res, fmt.Errorf("digest cache %s: lock: %w", c.dir, err)
	}
	if c.loaded {
		c.sync()
	} else {
		c.load()
	}
	var victims []victim
	var compactErr error
	if collect {
		before, err := c.threshold()
		if err != nil {
			return res, fmt.Errorf("digest cache %s: %w", c.dir, err)
		}
		c.drop(before, &res)
		// This process's own segment may be compacted too.
		if err := c.releaseWriter(false); err != nil {
			return res, fmt.Errorf("digest cache %s: %w", c.dir, err)
		}
		victims, compactErr = c.compact()
	}
	// Victims whose records were not all copied stay.
	removing := map[uint16]bool{}
	if compactErr == nil {
		for _, v := range victims {
			removing[v.slot] = true
		}
	}
	if err := c.writeIndex(removing, len(removing) > 0); err != nil {
		for _, v := range victims {
			v.f.Close()
		}
		return res, errors.Join(compactErr, fmt.Errorf("digest cache %s: write the index: %w", c.dir, err))
	}
	for _, v := range victims {
		if removing[v.slot] {
			if err := os.Remove(c.segs[v.slot].path); err == nil || errors.Is(err, fs.ErrNotExist) {
				res.Compacted++
			}
			c.dropSegment(v.slot)
		}
		v.f.Close()
	}
	res.Entries = len(c.idx)
	for _, l := range c.idx {
		res.Bytes += int64(l.n)
	}
	for _, s := range c.segs {
		if s != nil {
			if info, err := os.Stat(s.path); err == nil {
				res.Segments++
				res.DiskBytes += info.Size()
			}
		}
	}
	c.removeStaleTemps()
	if compactErr != nil {
		return res, fmt.Errorf("digest cache %s: compact: %w", c.dir, compactErr)
	}
	return res, nil
}

// drop removes the entries last used before before, then, least recently
// used first, those past MaxBytes.
func (c *Cache) drop(before time.Time, res *Collected) {
	var total int64
	for k, l := range c.idx {
		if !before.IsZero() && int64(l.used) < before.Unix() {
			delete(c.idx, k)
			res.Removed++
			res.RemovedBytes += int64(l.n)
			continue
		}
		total += int64(l.n)
	}
	if total <= c.maxBytes {
		return
	}
	type use struct {
		key  [32]byte
		used uint32
	}
	uses := make([]use, 0, len(c.idx))
	for k, l := range c.idx {
		uses = append(uses, use{k, l.used})
	}
	slices.SortFunc(uses, func(a, b use) int { return cmp.Compare(a.used, b.used) })
	for _, u := range uses {
		if total <= c.maxBytes {
			break
		}
		n := int64(c.idx[u.key].n)
		delete(c.idx, u.key)
		total -= n
		res.Removed++
		res.RemovedBytes += n
	}
}

// victim is a segment being compacted, locked through f.
type victim struct {
	slot uint16
	f    *os.File
}

// compact picks the segments no process writes whose live records take
// less than half of them, and more, most dead bytes first, while the
// segments would still take over 5/4 of MaxBytes; it copies their live
// records to the end of this process's segment. On an error, the records
// not copied stay where they are. c.mu is held.
func (c *Cache) compact() ([]victim, error) {
	live := make([]int64, len(c.segs))
	for _, l := range c.idx {
		live[l.seg] += int64(l.n)
	}
	type candidate struct {
		slot       uint16
		dead, size int64
	}
	var cands []candidate
	var disk int64
	for slot, s := range c.segs {
		if s == nil {
			continue
		}
		info, err := os.Stat(s.path)
		if err != nil {
			continue
		}
		disk += info.Size()
		dead := info.Size() - int64(len(segMagic)) - live[slot]
		if s.bad || live[slot] == 0 {
			dead = info.Size() // all of it goes
		}
		if dead > 0 && (c.w == nil || int(c.w.slot) != slot) {
			cands = append(cands, candidate{uint16(slot), dead, info.Size()})
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int { return cmp.Compare(b.dead, a.dead) })
	var victims []victim
	isVictim := map[uint16]*os.File{}
	for _, cd := range cands {
		if 2*cd.dead <= cd.size && disk <= c.maxBytes+c.maxBytes/4 {
			continue
		}
		f, err := adopt(c.segs[cd.slot]) // fails while another process writes it
		if err != nil {
			continue
		}
		victims = append(victims, victim{cd.slot, f})
		isVictim[cd.slot] = f
		disk -= cd.dead
	}
	type move struct {
		key [32]byte
		l   loc
	}
	var moves []move
	for k, l := range c.idx {
		if isVictim[l.seg] != nil {
			moves = append(moves, move{k, l})
		}
	}
	slices.SortFunc(moves, func(a, b move) int {
		return cmp.Or(cmp.Compare(a.l.seg, b.l.seg), cmp.Compare(a.l.off, b.l.off))
	})
	c.compacting = true
	defer func() { c.compacting = false }()
	var buf []byte
	for _, m := range moves {
		if cap(buf) < int(m.l.n) {
			buf = make([]byte, m.l.n)
		}
		buf = buf[:m.l.n]
		_, err := isVictim[m.l.seg].ReadAt(buf, int64(m.l.off))
		var r record
		if err == nil {
			r, err = parseRecord(buf)
		}
		if err == nil && !(digestKey{algo: r.algo, raw: r.raw}).matches(r.body) {
			err = errors.New("the bytes do not hash to the digest")
		}
		if err != nil {
			delete(c.idx, m.key)
			c.corrupt.Add(1)
			c.log.Warn("digest cache: damaged entry dropped", "digest", keyString(m.l.algo, m.key),
				"segment", c.segs[m.l.seg].path, "offset", m.l.off, "err", err)
			continue
		}
		nl, err := c.append(buf)
		if err != nil {
			return victims, err
		}
		nl.used, nl.algo = m.l.used, m.l.algo
		c.idx[m.key] = nl
	}
	if c.w != nil && len(moves) > 0 {
		if err := c.w.f.Sync(); err != nil {
			return victims, err
		}
	}
	return victims, nil
}

// keyString names an entry by its key: the digest, or for sha512 its
// first half.
func keyString(algo uint8, key [32]byte) string {
	if algo == algoSHA512 {
		return "sha512:" + hex.EncodeToString(key[:]) + "…"
	}
	return "sha256:" + hex.EncodeToString(key[:])
}

// writeIndex writes the index file of every segment but those in skip,
// durably with sync. c.mu is held.
func (c *Cache) writeIndex(skip map[uint16]bool, sync bool) error {
	pos := make([]uint16, len(c.segs))
	var segs []fileSeg
	for slot, s := range c.segs {
		if s != nil && !skip[uint16(slot)] {
			pos[slot] = uint16(len(segs))
			segs = append(segs, fileSeg{id: s.id, covered: s.covered})
		}
	}
	iw, err := createIndex(c.dir, segs, len(c.idx))
	if err != nil {
		return err
	}
	for k, l := range c.idx {
		if c.segs[l.seg] == nil || skip[l.seg] {
			iw.abort()
			return fmt.Errorf("an entry in segment slot %d, which is being removed", l.seg)
		}
		l.seg = pos[l.seg]
		iw.entry(fileEntry{key: k, loc: l})
	}
	if err := iw.commit(filepath.Join(c.dir, idxName), sync); err != nil {
		return err
	}
	c.dirty = false
	clear(c.bad)
	return nil
}

type scanRecord struct {
	file  string
	start time.Time
}

// threshold reads the scan records and returns the time before which an
// entry is unused (zero: keep everything), pruning records no longer
// needed.
func (c *Cache) threshold() (time.Time, error) {
	dir := filepath.Join(c.dir, "scans")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return time.Time{}, err
	}
	now := c.now()
	var done []scanRecord
	var oldestActive time.Time
	for _, e := range ents {
		stem, kind, _ := strings.Cut(e.Name(), ".")
		ns, _, _ := strings.Cut(stem, "-")
		n, err := strconv.ParseInt(ns, 10, 64)
		if err != nil {
			continue // not a record
		}
		r := scanRecord{file: filepath.Join(dir, e.Name()), start: time.Unix(0, n)}
		switch kind {
		case "done":
			done = append(done, r)
		case "active":
			if now.Sub(r.start) > staleActive {
				_ = os.Remove(r.file) // its scan crashed
			} else if oldestActive.IsZero() || r.start.Before(oldestActive) {
				oldestActive = r.start
			}
		}
	}
	slices.SortFunc(done, func(a, b scanRecord) int { return b.start.Compare(a.start) }) // newest first
	if len(done) < c.keep {
		return time.Time{}, nil
	}
	for _, r := range done[c.keep:] {
		_ = os.Remove(r.file)
	}
	t := done[c.keep-1].start
	if !oldestActive.IsZero() && oldestActive.Before(t) {
		t = oldestActive
	}
	return t.Add(-slack), nil
}

// removeStaleTemps removes temporary files a crash left.
func (c *Cache) removeStaleTemps() {
	ents, _ := os.ReadDir(c.dir)
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		if info, err := e.Info(); err == nil && c.now().Sub(info.ModTime()) > staleTemp {
			_ = os.Remove(filepath.Join(c.dir, e.Name()))
		}
	}
}

// removeOldLayout removes the file-per-digest cache of earlier versions.
func (c *Cache) removeOldLayout() {
	for _, algo := range []string{"sha256", "sha512"} {
		p := filepath.Join(c.dir, algo)
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			c.log.Warn("digest cache: the per-file cache of an earlier version not removed", "dir", p, "err", err)
			continue
		}
		c.log.Info("digest cache: removed the per-file cache of an earlier version", "dir", p)
	}
}
