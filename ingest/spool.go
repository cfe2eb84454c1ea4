package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The spool is the write queue's continuation on disk: batches that
// PostgreSQL cannot take yet (it is slow, or away) are appended to it, and
// read back oldest first, so that they are written in the order they were
// formed. It is a directory of segment files, oldest first:
//
//	spool-00000000004294967296.seg, spool-00000000004294967297.seg, ...
//
// each a sequence of records:
//
//	+------------------+------------------+------------------+-----------------+
//	| magic "CSP1" u32 | length u32 (BE)  | CRC-32C u32 (BE) | payload (length)|
//	+------------------+------------------+------------------+-----------------+
//
// A fresh spool numbers its first segment 2^32, leaving room below for the
// batches a stopping process still held in memory, which are older than
// anything spooled (prepend).
//
// Durability. A record counts as spooled once write(2) returned: from then
// on a crash of the process (kill -9, a panic, the OOM killer) loses
// nothing, the kernel holds it. The files are fsync'd in the background at
// least every spoolSyncEvery, when a segment is sealed and at shutdown: a
// power cut or kernel crash can lose the last second of spooled batches.
// fsync per record would make every spill wait for the disk while
// PostgreSQL, on the same disk, writes its own WAL.
//
// On replay a record whose checksum does not match, or whose header is not
// a record header, is skipped and counted; the reader resynchronises on
// the next magic. A record cut short by a crash (a torn tail) ends its
// segment. A segment is deleted once every record in it was read and every
// batch read from it written; a crash in between replays the segment
// again, which the writer makes harmless by skipping batch IDs already in
// ingest_batches.

const (
	spoolMagic      = 0x43535031 // "CSP1"
	spoolRecHeader  = 12
	spoolSegmentMax = 16 << 20 // rotate after this many bytes
	spoolRecordMax  = 1 << 30  // a length beyond this is corruption
	spoolFirstSeq   = 1 << 32
	spoolSyncEvery  = time.Second
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errSpoolFull is returned by append when the record would take the spool
// past its size limit.
var errSpoolFull = errors.New("ingest: spool full")

// spool is owned by the writer goroutine; its counters are read
// concurrently (metrics), and the background syncer shares the files being
// written under mu.
type spool struct {
	dir string
	max int64

	size    atomic.Int64 // bytes on disk in every segment
	corrupt atomic.Int64 // records skipped for a bad checksum or header
	torn    atomic.Int64 // segments that ended in a partial record

	// segs are the segments with records not read yet, ascending; the last
	// one is being written when cur is set, the first is loaded in readBuf
	// when that is set.
	segs    []uint64
	cur     *os.File
	curSeq  uint64 // highest segment number used
	curSize int64

	// Read position: the first segment of segs, loaded whole, and the
	// offset of its next record.
	readBuf []byte
	readOff int
	spare   []byte // the last segment's buffer, for the next one

	// exhausted segments were read to the end; each is deleted once the
	// batches read from it are written (outstanding drops to zero).
	exhausted   []uint64
	outstanding map[uint64]int

	// What the background syncer must fsync: the file being written
	// (syncCur, the syncer's copy of cur) when curDirty, and sealed files
	// (then closed).
	mu       sync.Mutex
	syncCur  *os.File
	curDirty bool
	sealed   []*os.File
}

// openSpool opens (creating) dir and indexes the segments left there by an
// earlier process, whose records are pending replay.
func openSpool(dir string, maxBytes int64) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("ingest: spool dir %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("ingest: spool dir %s: %w", dir, err)
	}
	s := &spool{dir: dir, max: maxBytes, outstanding: map[uint64]int{}, curSeq: spoolFirstSeq - 1}
	var total int64
	for _, e := range entries {
		seq, ok := segSeq(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("ingest: spool %s: %w", e.Name(), err)
		}
		total += info.Size()
		s.segs = append(s.segs, seq)
	}
	slices.Sort(s.segs)
	if n := len(s.segs); n > 0 {
		s.curSeq = max(s.curSeq, s.segs[n-1])
	}
	s.size.Store(total)
	return s, nil
}

func segName(seq uint64) string { return fmt.Sprintf("spool-%020d.seg", seq) }

func segSeq(name string) (uint64, bool) {
	if !strings.HasPrefix(name, "spool-") || !strings.HasSuffix(name, ".seg") {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, "spool-"), ".seg"), 10, 64)
	return n, err == nil
}

// pending reports whether any record waits to be read.
func (s *spool) pending() bool { return len(s.segs) > 0 }

// append writes payload as one record. Returns errSpoolFull when the
// spool would exceed its limit, or the I/O error.
func (s *spool) append(payload []byte) error {
	n := int64(spoolRecHeader + len(payload))
	if s.size.Load()+n > s.max {
		return errSpoolFull
	}
	if s.cur == nil || s.curSize >= spoolSegmentMax {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	if err := writeRecord(s.cur, payload); err != nil {
		// A partial record is skipped as torn on replay; start afresh.
		s.seal()
		return err
	}
	s.curSize += n
	s.size.Add(n)
	s.mu.Lock()
	s.curDirty = true
	s.mu.Unlock()
	return nil
}

func writeRecord(f *os.File, payload []byte) error {
	var h [spoolRecHeader]byte
	binary.BigEndian.PutUint32(h[0:], spoolMagic)
	binary.BigEndian.PutUint32(h[4:], uint32(len(payload)))
	binary.BigEndian.PutUint32(h[8:], crc32.Checksum(payload, crcTable))
	if _, err := f.Write(h[:]); err != nil {
		return fmt.Errorf("ingest: spool write: %w", err)
	}
	if _, err := f.Write(payload); err != nil {
		return fmt.Errorf("ingest: spool write: %w", err)
	}
	return nil
}

// rotate seals the segment being written and starts a new one.
func (s *spool) rotate() error {
	s.seal()
	seq := s.curSeq + 1
	f, err := s.create(seq)
	if err != nil {
		return err
	}
	s.cur, s.curSeq, s.curSize = f, seq, 0
	s.segs = append(s.segs, seq)
	s.mu.Lock()
	s.syncCur = f
	s.mu.Unlock()
	return nil
}

// create makes segment seq, its name made durable.
func (s *spool) create(seq uint64) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(s.dir, segName(seq)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("ingest: spool segment: %w", err)
	}
	if d, err := os.Open(s.dir); err == nil {
		d.Sync()
		d.Close()
	}
	return f, nil
}

// seal ends the segment being written, so that replay may read it and new
// records go to a fresh one. The syncer fsyncs and closes it.
func (s *spool) seal() {
	if s.cur == nil {
		return
	}
	s.mu.Lock()
	s.sealed = append(s.sealed, s.cur)
	s.syncCur, s.curDirty = nil, false
	s.mu.Unlock()
	s.cur = nil
}

// sync fsyncs what was written since the last call: sealed segments (then
// closed) and the one being written.
func (s *spool) sync() error {
	s.mu.Lock()
	sealed := s.sealed
	s.sealed = nil
	cur := s.syncCur
	if !s.curDirty {
		cur = nil
	}
	s.curDirty = false
	s.mu.Unlock()
	var errs []error
	for _, f := range sealed {
		errs = append(errs, f.Sync(), f.Close())
	}
	if cur != nil {
		if err := cur.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ingest: spool fsync: %w", err)
	}
	return nil
}

// syncLoop fsyncs every spoolSyncEvery until ctx ends.
func (s *spool) syncLoop(ctx context.Context, onErr func(error)) {
	t := time.NewTicker(spoolSyncEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.sync(); err != nil {
				onErr(err)
			}
		}
	}
}

// next returns the oldest record not read yet and the segment it is in, or
// ok false when none is left. The record stays current until advance is
// called. The returned slice is valid until advance.
func (s *spool) next() (rec []byte, seg uint64, ok bool, err error) {
	for len(s.segs) > 0 {
		if s.readBuf == nil {
			if err := s.load(); err != nil {
				return nil, 0, false, err
			}
			if !s.scan() {
				s.exhaust()
				continue
			}
		}
		n := int(binary.BigEndian.Uint32(s.readBuf[s.readOff+4:]))
		return s.readBuf[s.readOff+spoolRecHeader : s.readOff+spoolRecHeader+n], s.segs[0], true, nil
	}
	return nil, 0, false, nil
}

// load reads the oldest unread segment whole, sealing it first when it is
// the one being written.
func (s *spool) load() error {
	seq := s.segs[0]
	if s.cur != nil && seq == s.curSeq {
		s.seal()
	}
	b, err := readInto(s.spare[:0], filepath.Join(s.dir, segName(seq)))
	if err != nil {
		return fmt.Errorf("ingest: spool read: %w", err)
	}
	s.readBuf, s.readOff, s.spare = b, 0, nil
	return nil
}

// readInto reads the file at name into buf's storage (grown as needed);
// a missing file reads as empty.
func readInto(buf []byte, name string) ([]byte, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return buf[:0], nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	buf = slices.Grow(buf[:0], int(info.Size()))[:info.Size()]
	n, err := io.ReadFull(f, buf)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil // shorter than it was a moment ago: read what is there
	}
	return buf[:n], err
}

// scan moves readOff to the next valid record at or after it, counting and
// skipping damage; false when the segment holds no further record.
func (s *spool) scan() bool {
	b := s.readBuf
	for s.readOff < len(b) {
		rest := b[s.readOff:]
		if len(rest) < spoolRecHeader {
			s.torn.Add(1)
			s.readOff = len(b)
			return false
		}
		if binary.BigEndian.Uint32(rest) != spoolMagic {
			s.corrupt.Add(1)
			s.resync()
			continue
		}
		n := int(binary.BigEndian.Uint32(rest[4:]))
		sum := binary.BigEndian.Uint32(rest[8:])
		if n > len(rest)-spoolRecHeader || n > spoolRecordMax {
			// Either a torn tail or a corrupted length: if another record
			// follows, it was the length.
			if bytes.Index(rest[4:], magicBytes) < 0 {
				s.torn.Add(1)
				s.readOff = len(b)
				return false
			}
			s.corrupt.Add(1)
			s.resync()
			continue
		}
		if crc32.Checksum(rest[spoolRecHeader:spoolRecHeader+n], crcTable) != sum {
			s.corrupt.Add(1)
			s.readOff += spoolRecHeader + n
			continue
		}
		return true
	}
	return false
}

var magicBytes = binary.BigEndian.AppendUint32(nil, spoolMagic)

// resync moves readOff to the next record magic after the current offset.
func (s *spool) resync() {
	i := bytes.Index(s.readBuf[s.readOff+1:], magicBytes)
	if i < 0 {
		s.readOff = len(s.readBuf)
		return
	}
	s.readOff += 1 + i
}

// advance moves past the record returned by next. When the segment holds
// no further record it is exhausted at once, so that pending tells the
// truth.
func (s *spool) advance() {
	if s.readBuf == nil {
		return
	}
	n := int(binary.BigEndian.Uint32(s.readBuf[s.readOff+4:]))
	s.readOff += spoolRecHeader + n
	if !s.scan() {
		s.exhaust()
	}
}

// exhaust retires the loaded segment: read to the end, deleted once
// nothing read from it is outstanding.
func (s *spool) exhaust() {
	s.exhausted = append(s.exhausted, s.segs[0])
	s.segs = s.segs[1:]
	s.spare, s.readBuf = s.readBuf, nil
	s.collect()
}

// taken records that a batch read from seg is on its way to PostgreSQL;
// done that it was written (or was already), so seg may go.
func (s *spool) taken(seg uint64) { s.outstanding[seg]++ }

func (s *spool) done(seg uint64) {
	if s.outstanding[seg]--; s.outstanding[seg] <= 0 {
		delete(s.outstanding, seg)
	}
	s.collect()
}

// collect deletes the exhausted segments nothing is outstanding from.
// A failed delete leaves the segment to the next process, which replays
// it harmlessly (every batch in it is in ingest_batches).
func (s *spool) collect() {
	keep := s.exhausted[:0]
	for _, seq := range s.exhausted {
		if s.outstanding[seq] > 0 || s.remove(seq) != nil {
			keep = append(keep, seq)
		}
	}
	s.exhausted = keep
}

func (s *spool) remove(seq uint64) error {
	name := filepath.Join(s.dir, segName(seq))
	info, err := os.Stat(name)
	if err == nil {
		s.size.Add(-info.Size())
	}
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ingest: spool remove: %w", err)
	}
	return nil
}

// prepend writes records in a new segment placed before every other, for
// batches older than anything spooled (what a stopping process held in
// memory), fsync'd at once. It resets the read position: call it only when
// nothing more is read in this process.
func (s *spool) prepend(records [][]byte) error {
	if len(records) == 0 {
		return nil
	}
	var n int64
	for _, r := range records {
		n += int64(spoolRecHeader + len(r))
	}
	if s.size.Load()+n > s.max {
		return errSpoolFull
	}
	first := s.curSeq + 1
	for _, seq := range slices.Concat(s.exhausted, s.segs) {
		first = min(first, seq)
	}
	if first == 0 {
		// A spool from before segments were numbered from 2^32, with a
		// segment 0: nothing can go before it.
		return errors.New("ingest: spool: no segment number left before the oldest")
	}
	seq := first - 1
	f, err := s.create(seq)
	if err != nil {
		return err
	}
	for _, r := range records {
		if err = writeRecord(f, r); err != nil {
			break
		}
	}
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("ingest: spool prepend: %w", err)
	}
	s.size.Add(n)
	s.readBuf = nil
	s.segs = append([]uint64{seq}, s.segs...)
	return nil
}

// headOldest returns the receive time (unix µs) of the oldest message in
// the next record to be read, without decoding it; ok false when nothing
// is pending or it cannot be told.
func (s *spool) headOldest() (int64, bool) {
	if len(s.segs) == 0 {
		return 0, false
	}
	var p []byte
	if s.readBuf != nil {
		n := int(binary.BigEndian.Uint32(s.readBuf[s.readOff+4:]))
		p = s.readBuf[s.readOff+spoolRecHeader : s.readOff+spoolRecHeader+n]
	} else {
		f, err := os.Open(filepath.Join(s.dir, segName(s.segs[0])))
		if err != nil {
			return 0, false
		}
		defer f.Close()
		var b [spoolRecHeader + batchHeader + rowFixed]byte
		k, _ := f.ReadAt(b[:], 0)
		if k < spoolRecHeader || binary.BigEndian.Uint32(b[:]) != spoolMagic {
			return 0, false
		}
		p = b[spoolRecHeader:k]
	}
	return batchOldest(p)
}

// close seals the segment being written and fsyncs everything. Unread
// segments stay on disk for the next process.
func (s *spool) close() error {
	s.seal()
	return s.sync()
}
