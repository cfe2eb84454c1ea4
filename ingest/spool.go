package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
)

// The spool keeps accepted batches on disk while PostgreSQL cannot take
// them, in order, so that they are replayed exactly as they would have
// been written. It is a directory of segment files, oldest first:
//
//	spool-00000000000000000001.seg, spool-00000000000000000002.seg, ...
//
// each a sequence of records:
//
//	+------------------+------------------+------------------+-----------------+
//	| magic "CSP1" u32 | length u32 (BE)  | CRC-32C u32 (BE) | payload (length)|
//	+------------------+------------------+------------------+-----------------+
//
// A record is written and fsync'd before the batch counts as spooled. On
// replay a record whose checksum does not match, or whose header is not a
// record header, is skipped and counted; the reader resynchronises on the
// next magic. A record cut short by a crash (a torn tail) ends its segment.
// Segments are deleted once every record in them has been replayed; a
// crash in between replays the segment again, which the writer makes
// harmless by skipping batch IDs already in ingest_batches.

const (
	spoolMagic      = 0x43535031 // "CSP1"
	spoolRecHeader  = 12
	spoolSegmentMax = 16 << 20 // rotate after this many bytes
	spoolRecordMax  = 1 << 30  // a length beyond this is corruption
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errSpoolFull is returned by append when the record would take the spool
// past its size limit.
var errSpoolFull = errors.New("ingest: spool full")

// spool is owned by the writer goroutine; only its byte count and
// corruption counters are read concurrently (metrics).
type spool struct {
	dir string
	max int64

	size    atomic.Int64 // bytes on disk in every segment
	corrupt atomic.Int64 // records skipped for a bad checksum or header
	torn    atomic.Int64 // segments that ended in a partial record

	segs    []uint64 // sequence numbers of existing segments, ascending
	cur     *os.File // segment being appended to, nil when none is open
	curSeq  uint64
	curSize int64

	// Replay position: the oldest segment, loaded whole, and the offset of
	// the next record in it.
	readSeq  uint64
	readBuf  []byte
	readOff  int
	readDone bool // readBuf fully consumed (delete the segment on advance)
}

// openSpool opens (creating) dir and indexes the segments left there by an
// earlier process, whose records are pending replay.
func openSpool(dir string, max int64) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("ingest: spool dir %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("ingest: spool dir %s: %w", dir, err)
	}
	s := &spool{dir: dir, max: max}
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
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i] < s.segs[j] })
	if n := len(s.segs); n > 0 {
		s.curSeq = s.segs[n-1]
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

// pending reports whether any record waits for replay.
func (s *spool) pending() bool { return len(s.segs) > 0 }

// append writes payload as one record and fsyncs it. Returns errSpoolFull
// when the spool would exceed its limit, or the I/O error.
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
	var h [spoolRecHeader]byte
	binary.BigEndian.PutUint32(h[0:], spoolMagic)
	binary.BigEndian.PutUint32(h[4:], uint32(len(payload)))
	binary.BigEndian.PutUint32(h[8:], crc32.Checksum(payload, crcTable))
	if _, err := s.cur.Write(h[:]); err != nil {
		return fmt.Errorf("ingest: spool write: %w", err)
	}
	if _, err := s.cur.Write(payload); err != nil {
		return fmt.Errorf("ingest: spool write: %w", err)
	}
	if err := s.cur.Sync(); err != nil {
		return fmt.Errorf("ingest: spool fsync: %w", err)
	}
	s.curSize += n
	s.size.Add(n)
	return nil
}

// rotate closes the segment being written and starts a new one.
func (s *spool) rotate() error {
	if err := s.seal(); err != nil {
		return err
	}
	seq := s.curSeq + 1
	f, err := os.OpenFile(filepath.Join(s.dir, segName(seq)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("ingest: spool segment: %w", err)
	}
	// The new name must survive a crash too.
	if d, err := os.Open(s.dir); err == nil {
		d.Sync()
		d.Close()
	}
	s.cur, s.curSeq, s.curSize = f, seq, 0
	s.segs = append(s.segs, seq)
	return nil
}

// seal closes the segment being written, so that replay may read it and
// new records go to a fresh one.
func (s *spool) seal() error {
	if s.cur == nil {
		return nil
	}
	err := s.cur.Close()
	s.cur = nil
	if err != nil {
		return fmt.Errorf("ingest: spool close: %w", err)
	}
	return nil
}

// next returns the oldest record not yet replayed, or ok false when none
// is left. The record stays current until advance is called, so a failed
// replay retries the same record. The returned slice is valid until advance.
func (s *spool) next() (rec []byte, ok bool, err error) {
	for {
		if s.readBuf == nil {
			if len(s.segs) == 0 {
				return nil, false, nil
			}
			seq := s.segs[0]
			if s.cur != nil && seq == s.curSeq {
				if err := s.seal(); err != nil {
					return nil, false, err
				}
			}
			b, err := os.ReadFile(filepath.Join(s.dir, segName(seq)))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, false, fmt.Errorf("ingest: spool read: %w", err)
			}
			s.readSeq, s.readBuf, s.readOff, s.readDone = seq, b, 0, false
			if b == nil {
				s.readBuf = []byte{}
			}
		}
		if rec, ok := s.scan(); ok {
			return rec, true, nil
		}
		if err := s.dropSegment(); err != nil {
			return nil, false, err
		}
	}
}

// scan finds the next valid record at or after readOff, counting and
// skipping damage, without moving past it.
func (s *spool) scan() ([]byte, bool) {
	b := s.readBuf
	for s.readOff < len(b) {
		rest := b[s.readOff:]
		if len(rest) < spoolRecHeader {
			s.torn.Add(1)
			s.readOff = len(b)
			return nil, false
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
				return nil, false
			}
			s.corrupt.Add(1)
			s.resync()
			continue
		}
		payload := rest[spoolRecHeader : spoolRecHeader+n]
		if crc32.Checksum(payload, crcTable) != sum {
			s.corrupt.Add(1)
			s.readOff += spoolRecHeader + n
			continue
		}
		return payload, true
	}
	return nil, false
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

// advance marks the record returned by next as replayed.
func (s *spool) advance() {
	if s.readBuf == nil || s.readOff >= len(s.readBuf) {
		return
	}
	n := int(binary.BigEndian.Uint32(s.readBuf[s.readOff+4:]))
	s.readOff += spoolRecHeader + n
}

// dropSegment deletes the fully replayed oldest segment.
func (s *spool) dropSegment() error {
	seq := s.readSeq
	name := filepath.Join(s.dir, segName(seq))
	if info, err := os.Stat(name); err == nil {
		s.size.Add(-info.Size())
	}
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ingest: spool remove: %w", err)
	}
	s.segs = s.segs[1:]
	s.readBuf = nil
	return nil
}

// close seals the segment being written. Unreplayed segments stay on disk
// for the next process.
func (s *spool) close() error { return s.seal() }
