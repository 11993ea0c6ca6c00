package digestcache

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// The index file is idxMagic, then
//
//	u32 number of segments, u32 0, u64 number of entries
//	per segment: u64 id, u64 bytes covered
//	per entry (idxEntry bytes): the digest's first 32 bytes, u32 offset,
//	    u32 length, u32 last use (Unix seconds), u16 segment (its
//	    position above), u8 algorithm, u8 0
//	u32 CRC-32C of everything before it
//
// little-endian. It is written to a temporary file and renamed into place.
const (
	idxMagic = "digestcache-idx1"
	idxName  = "index"
	idxEntry = 48
	idxSeg   = 16
)

// fileSeg is a segment as the index file lists it.
type fileSeg struct {
	id      uint64
	covered int64
}

// fileEntry is an entry as the index file holds it.
type fileEntry struct {
	key [32]byte
	loc loc // seg: the position in the file's segment list
}

func putEntry(b []byte, e fileEntry) {
	copy(b, e.key[:])
	binary.LittleEndian.PutUint32(b[32:], e.loc.off)
	binary.LittleEndian.PutUint32(b[36:], e.loc.n)
	binary.LittleEndian.PutUint32(b[40:], e.loc.used)
	binary.LittleEndian.PutUint16(b[44:], e.loc.seg)
	b[46], b[47] = e.loc.algo, 0
}

func getEntry(b []byte) fileEntry {
	var e fileEntry
	copy(e.key[:], b)
	e.loc = loc{off: binary.LittleEndian.Uint32(b[32:]), n: binary.LittleEndian.Uint32(b[36:]),
		used: binary.LittleEndian.Uint32(b[40:]), seg: binary.LittleEndian.Uint16(b[44:]), algo: b[46]}
	return e
}

// errNoIndex: there is no index file.
var errNoIndex = errors.New("no index")

// readIndex reads the index file at path once the whole file is known to
// be sound (it is read twice, streaming, rather than held whole): its
// segments and number of entries to segs, then each entry to entry.
// errNoIndex when there is none.
func readIndex(path string, segs func([]fileSeg, int), entry func(fileEntry)) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return errNoIndex
	}
	if err != nil {
		return err
	}
	defer f.Close()
	ss, n, err := checkIndex(f)
	if err != nil {
		return fmt.Errorf("index %s: damaged: %w", path, err)
	}
	if _, err := f.Seek(int64(len(idxMagic)+16+len(ss)*idxSeg), io.SeekStart); err != nil {
		return fmt.Errorf("index %s: %w", path, err)
	}
	segs(ss, int(n))
	br := bufio.NewReaderSize(f, 1<<16)
	var b [idxEntry]byte
	for range n {
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return fmt.Errorf("index %s: %w", path, err)
		}
		entry(getEntry(b[:]))
	}
	return nil
}

// checkIndex reads an index file through, checking its length and
// checksum, and returns its segments and number of entries.
func checkIndex(f *os.File) ([]fileSeg, uint64, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	crc := crc32.New(castagnoli)
	br := bufio.NewReaderSize(io.TeeReader(io.LimitReader(f, max(info.Size()-4, 0)), crc), 1<<16)
	head := make([]byte, len(idxMagic)+16)
	if _, err := io.ReadFull(br, head); err != nil {
		return nil, 0, errors.New("cut short")
	}
	if string(head[:len(idxMagic)]) != idxMagic {
		return nil, 0, errors.New("not an index")
	}
	nsegs := binary.LittleEndian.Uint32(head[len(idxMagic):])
	n := binary.LittleEndian.Uint64(head[len(idxMagic)+8:])
	if want := int64(len(head)) + int64(nsegs)*idxSeg + int64(n)*idxEntry + 4; n > 1<<40 || info.Size() != want {
		return nil, 0, fmt.Errorf("%d bytes where its counts make %d", info.Size(), want)
	}
	segs := make([]fileSeg, nsegs)
	var b [idxEntry]byte
	for i := range segs {
		if _, err := io.ReadFull(br, b[:idxSeg]); err != nil {
			return nil, 0, err
		}
		segs[i] = fileSeg{id: binary.LittleEndian.Uint64(b[:]), covered: int64(binary.LittleEndian.Uint64(b[8:]))}
	}
	for range n {
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, 0, err
		}
		if int(binary.LittleEndian.Uint16(b[44:])) >= len(segs) || digestLen(b[46]) == 0 {
			return nil, 0, errors.New("an entry of no segment")
		}
	}
	if _, err := io.ReadFull(f, b[:4]); err != nil {
		return nil, 0, err
	}
	if binary.LittleEndian.Uint32(b[:]) != crc.Sum32() {
		return nil, 0, errors.New("checksum mismatch")
	}
	return segs, n, nil
}

// indexWriter writes an index file: header, segments, entries, checksum.
type indexWriter struct {
	f   *os.File
	w   *bufio.Writer
	crc hash.Hash32
	b   [idxEntry]byte
}

// createIndex starts a new index file in dir, under a temporary name.
func createIndex(dir string, segs []fileSeg, n int) (*indexWriter, error) {
	f, err := os.CreateTemp(dir, tempPrefix+"index-*")
	if err != nil {
		return nil, err
	}
	crc := crc32.New(castagnoli)
	iw := &indexWriter{f: f, crc: crc, w: bufio.NewWriterSize(io.MultiWriter(f, crc), 1<<16)}
	head := append([]byte(idxMagic), make([]byte, 16)...)
	binary.LittleEndian.PutUint32(head[len(idxMagic):], uint32(len(segs)))
	binary.LittleEndian.PutUint64(head[len(idxMagic)+8:], uint64(n))
	iw.w.Write(head)
	for _, s := range segs {
		binary.LittleEndian.PutUint64(iw.b[:], s.id)
		binary.LittleEndian.PutUint64(iw.b[8:], uint64(s.covered))
		iw.w.Write(iw.b[:idxSeg])
	}
	return iw, nil
}

func (iw *indexWriter) entry(e fileEntry) {
	putEntry(iw.b[:], e)
	iw.w.Write(iw.b[:]) // a write error sticks in w, for commit
}

// commit ends the file and renames it to path (with sync, made durable
// first); on failure the temporary file is removed and the index at path
// is left as it was.
func (iw *indexWriter) commit(path string, sync bool) (err error) {
	defer func() {
		if err != nil {
			iw.f.Close()
			os.Remove(iw.f.Name())
		}
	}()
	if err := iw.w.Flush(); err != nil {
		return err
	}
	if _, err := iw.f.Write(binary.LittleEndian.AppendUint32(nil, iw.crc.Sum32())); err != nil {
		return err
	}
	if sync {
		if err := iw.f.Sync(); err != nil {
			return err
		}
	}
	if err := iw.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(iw.f.Name(), path); err != nil {
		return err
	}
	if sync {
		return syncDir(filepath.Dir(path))
	}
	return nil
}

func (iw *indexWriter) abort() {
	iw.f.Close()
	os.Remove(iw.f.Name())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
