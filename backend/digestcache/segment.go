package digestcache

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// A segment file is segMagic, then records, each:
//
//	u32 CRC-32C of the rest of the record
//	u32 body length
//	u32 written: Unix seconds
//	u8  algorithm (algoSHA256, algoSHA512)
//	u8  media type length
//	    the digest's bytes (32 or 64), the media type, the body
//
// little-endian. A record is whole when its CRC matches; a reader of a
// segment stops at the first record that is not whole (torn by a crash,
// or being written by another process).
const (
	segMagic  = "digestcache-seg1"
	segSuffix = ".seg"
	recHeader = 14
	// rollBytes: a writer starts a new segment past this size.
	rollBytes = 128 << 20
)

// Digest algorithms as recorded.
const (
	algoSHA256 = 1
	algoSHA512 = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends the record of a digest (algo, raw bytes) to buf.
func appendRecord(buf []byte, algo uint8, raw []byte, mediaType string, body []byte, written uint32) []byte {
	start := len(buf)
	buf = binary.LittleEndian.AppendUint32(buf, 0) // CRC, below
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(body)))
	buf = binary.LittleEndian.AppendUint32(buf, written)
	buf = append(buf, algo, byte(len(mediaType)))
	buf = append(buf, raw...)
	buf = append(buf, mediaType...)
	buf = append(buf, body...)
	binary.LittleEndian.PutUint32(buf[start:], crc32.Checksum(buf[start+4:], castagnoli))
	return buf
}

// digestLen is the length of an algorithm's digest; 0 for none.
func digestLen(algo uint8) int {
	switch algo {
	case algoSHA256:
		return 32
	case algoSHA512:
		return 64
	}
	return 0
}

// record is a parsed record; its slices point into the bytes read.
type record struct {
	algo      uint8
	raw       []byte // the digest's bytes
	mediaType string
	body      []byte
	written   uint32
}

// recordLen reads a record's length from its header; 0 when the header
// cannot start a record.
func recordLen(h []byte) int {
	n := int(binary.LittleEndian.Uint32(h[4:]))
	dl := digestLen(h[12])
	if dl == 0 || n > MaxEntryBytes || int(h[13]) > maxMediaType {
		return 0
	}
	return recHeader + dl + int(h[13]) + n
}

// parseRecord checks and splits one whole record (exactly its bytes).
func parseRecord(b []byte) (record, error) {
	if len(b) < recHeader {
		return record{}, errors.New("short record")
	}
	if n := recordLen(b); n != len(b) {
		return record{}, fmt.Errorf("record of %d bytes where %d were expected", n, len(b))
	}
	if crc32.Checksum(b[4:], castagnoli) != binary.LittleEndian.Uint32(b) {
		return record{}, errors.New("checksum mismatch")
	}
	dl, ml := digestLen(b[12]), int(b[13])
	return record{
		algo:      b[12],
		raw:       b[recHeader : recHeader+dl],
		mediaType: string(b[recHeader+dl : recHeader+dl+ml]),
		body:      b[recHeader+dl+ml:],
		written:   binary.LittleEndian.Uint32(b[8:]),
	}, nil
}

// segment is one segment file, by its slot in Cache.segs.
type segment struct {
	id   uint64
	path string
	// covered: the bytes [0, covered) are whole records the index holds
	// (0: not even the header read yet).
	covered int64
	// torn: reading stopped before the end of the file, at a record that
	// is not whole; no writer adopts the segment.
	torn bool
	// cut: the file was found shorter than indexed, or a failed write
	// could not be cut off; no writer adopts it.
	cut bool
	// bad: the file is not a segment (its header is damaged).
	bad bool
	r   *os.File // for reading, opened at the first read
}

// segName is the file name of segment id.
func segName(id uint64) string { return fmt.Sprintf("%016x%s", id, segSuffix) }

// parseSegName returns the id of a segment's file name.
func parseSegName(name string) (uint64, bool) {
	h, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(h) != 16 {
		return 0, false
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

// reader returns the segment's read handle, opening it once.
func (s *segment) reader() (*os.File, error) {
	if s.r == nil {
		f, err := os.Open(s.path)
		if err != nil {
			return nil, err
		}
		s.r = f
	}
	return s.r, nil
}

// close lets go of the read handle (a removed segment's space is freed
// only when no process holds it open).
func (s *segment) close() {
	if s.r != nil {
		s.r.Close()
		s.r = nil
	}
}

// scan reads the records from s.covered to the end of the file, calling
// add for each whole one with its offset and length, and advances
// covered. It stops at the end or at the first record that is not whole;
// the second sets torn when the segment is not being written (a
// writer's record may be half-written as it is read).
func (s *segment) scan(add func(off int64, n int, r record)) error {
	f, err := os.Open(s.path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := info.Size()
	if s.covered == 0 {
		var h [len(segMagic)]byte
		if _, err := io.ReadFull(f, h[:]); err != nil {
			return nil // just created: its header is still being written
		}
		if string(h[:]) != segMagic {
			s.bad = true
			return fmt.Errorf("segment %s: damaged: not a segment", s.path)
		}
		s.covered = int64(len(segMagic))
	}
	if size < s.covered {
		s.torn = true
		return fmt.Errorf("segment %s: truncated to %d bytes, %d were indexed", s.path, size, s.covered)
	}
	if s.torn = false; size == s.covered {
		return nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, s.covered, size-s.covered), 1<<16)
	var buf []byte
	for {
		h, err := br.Peek(recHeader)
		if err != nil {
			break // the end, or a record cut short
		}
		n := recordLen(h)
		if n == 0 || s.covered+int64(n) > math.MaxUint32 { // offsets are 32 bits
			break
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			break
		}
		r, err := parseRecord(buf)
		if err != nil {
			break
		}
		add(s.covered, n, r)
		s.covered += int64(n)
	}
	s.torn = s.covered < size
	return nil
}

// newSegment creates a segment file in dir, locked for writing: it is
// written under a temporary name and renamed into place once locked, so
// that no other process sees it unlocked.
func newSegment(dir string) (id uint64, path string, f *os.File, err error) {
	tmp, err := os.CreateTemp(dir, tempPrefix+"seg-*")
	if err != nil {
		return 0, "", nil, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = lockFile(tmp, false); err != nil {
		return 0, "", nil, err
	}
	if _, err = tmp.WriteString(segMagic); err != nil {
		return 0, "", nil, err
	}
	for range 8 {
		var b [8]byte
		if _, err = rand.Read(b[:]); err != nil {
			return 0, "", nil, err
		}
		id = binary.BigEndian.Uint64(b[:])
		path = filepath.Join(dir, segName(id))
		if _, serr := os.Lstat(path); errors.Is(serr, os.ErrNotExist) {
			if err = os.Rename(tmp.Name(), path); err != nil {
				return 0, "", nil, err
			}
			return id, path, tmp, nil
		}
	}
	return 0, "", nil, errors.New("no free segment name")
}

// adopt opens segment s for appending when no other process writes it:
// nil when it is taken or gone.
func adopt(s *segment) (*os.File, error) {
	f, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f, true); err != nil {
		f.Close()
		return nil, err
	}
	// Still the file of that name? A collection may have removed it
	// between the open and the lock.
	fi, err1 := f.Stat()
	pi, err2 := os.Stat(s.path)
	if err1 != nil || err2 != nil || !os.SameFile(fi, pi) {
		f.Close()
		return nil, errors.Join(err1, err2, errors.New("removed meanwhile"))
	}
	return f, nil
}

// errLocked: another open file holds the lock.
var errLocked = errors.New("locked by another writer")

// lockFile takes an exclusive flock on f; with try, it does not wait and
// returns errLocked when the lock is held elsewhere.
func lockFile(f *os.File, try bool) error {
	how := syscall.LOCK_EX
	if try {
		how |= syscall.LOCK_NB
	}
	for {
		err := syscall.Flock(int(f.Fd()), how)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return errLocked
		}
		return err
	}
}
