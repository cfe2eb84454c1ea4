package ingest

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// batch is the one unit the writer handles: rows written in one
// transaction together with their ingest_batches row, or spooled whole.
// Its id is fixed when the batch is formed, so a batch whose commit was
// ambiguous and that was spooled anyway is recognised on replay.
type batch struct {
	id   [16]byte
	rows []*row

	// oldest is the earliest receive time (unix µs) of its rows: how far
	// behind PostgreSQL ingest is while this batch waits.
	oldest int64
	// seg is the spool segment the batch was read from (0: formed in
	// memory); order is its place in the write order, fixed when it is
	// first handed to a copier (0: not yet).
	seg   uint64
	order uint64
}

// add appends r.
func (b *batch) add(r *row) {
	if len(b.rows) == 0 || r.receivedAt < b.oldest {
		b.oldest = r.receivedAt
	}
	b.rows = append(b.rows, r)
}

// reset empties b for reuse.
func (b *batch) reset() {
	b.rows = b.rows[:0]
	b.oldest, b.seg, b.order = 0, 0, 0
}

// newBatchID returns a random (version 4) UUID.
func newBatchID() [16]byte {
	var id [16]byte
	rand.Read(id[:])
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// Spool encoding of a batch:
//
//	id [16] | row count u32 | rows
//
// and of each row (big-endian):
//
//	kind u8 | payload type u8 | protocol u8 | flags u8 (1 sdp, 2 status, 4 cseq,
//	  bits 3-7 the correlation source: 0 unknown, 1 HEP chunk, 2+k header k)
//	status i16 | cseq u32 | capture id u32 | tenant id i64
//	captured at i64 | received at i64 (unix µs)
//	src: addr [16] | addr kind u8 (0 none, 4, 6) | port u16 ; dst the same
//	field ends [13]u32 | buf (last field end bytes)
const (
	batchHeader = 16 + 4
	rowFixed    = 4 + 2 + 4 + 4 + 8 + 8 + 8 + 2*(16+1+2) + 4*nFields
	// rowReceivedAt is where a row's receive time sits in its fixed part.
	rowReceivedAt = 30
)

// batchOldest reads the receive time of the first row of the spool form p,
// which may be cut after that row's fixed part. Rows of a batch are in
// arrival order, so the first is the oldest (within the readers' jitter).
func batchOldest(p []byte) (int64, bool) {
	if len(p) < batchHeader+rowReceivedAt+8 || binary.BigEndian.Uint32(p[16:]) == 0 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(p[batchHeader+rowReceivedAt:])), true
}

func appendAddrPort(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr()
	v := a.As16()
	if !a.IsValid() {
		v = [16]byte{}
	}
	b = append(b, v[:]...)
	switch {
	case !a.IsValid():
		b = append(b, 0)
	case a.Is4():
		b = append(b, 4)
	default:
		b = append(b, 6)
	}
	return binary.BigEndian.AppendUint16(b, ap.Port())
}

func readAddrPort(b []byte) netip.AddrPort {
	var v [16]byte
	copy(v[:], b[:16])
	port := binary.BigEndian.Uint16(b[17:])
	switch b[16] {
	case 4:
		return netip.AddrPortFrom(netip.AddrFrom16(v).Unmap(), port)
	case 6:
		return netip.AddrPortFrom(netip.AddrFrom16(v), port)
	}
	return netip.AddrPortFrom(netip.Addr{}, port)
}

// encode appends the spool form of b to dst.
func (b *batch) encode(dst []byte) []byte {
	dst = append(dst, b.id[:]...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b.rows)))
	for _, r := range b.rows {
		var flags byte
		if r.hasSDP {
			flags |= 1
		}
		if r.hasStatus {
			flags |= 2
		}
		if r.hasCSeq {
			flags |= 4
		}
		flags |= r.corrSrc << 3
		dst = append(dst, r.kind, r.payloadType, r.protocol, flags)
		dst = binary.BigEndian.AppendUint16(dst, uint16(r.status))
		dst = binary.BigEndian.AppendUint32(dst, r.cseq)
		dst = binary.BigEndian.AppendUint32(dst, r.captureID)
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.tenantID))
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.capturedAt))
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.receivedAt))
		dst = appendAddrPort(dst, r.src)
		dst = appendAddrPort(dst, r.dst)
		for _, e := range r.end {
			dst = binary.BigEndian.AppendUint32(dst, e)
		}
		dst = append(dst, r.buf[:r.end[nFields-1]]...)
	}
	return dst
}

var errBadBatch = errors.New("ingest: malformed spooled batch")

// decodeBatch parses the spool form of a batch into b, its rows taken
// from the pool (on error, b's rows are returned to it). The record's
// checksum was verified, so an error here means a bug or a format change:
// the caller counts it as corruption.
func decodeBatch(p []byte, b *batch) (err error) {
	if len(p) < batchHeader {
		return fmt.Errorf("%w: %d bytes", errBadBatch, len(p))
	}
	copy(b.id[:], p)
	n := binary.BigEndian.Uint32(p[16:])
	p = p[batchHeader:]
	if uint64(n)*rowFixed > uint64(len(p)) {
		return fmt.Errorf("%w: %d rows in %d bytes", errBadBatch, n, len(p))
	}
	defer func() {
		if err != nil {
			for _, r := range b.rows {
				putRow(r)
			}
			b.reset()
		}
	}()
	for i := uint32(0); i < n; i++ {
		if len(p) < rowFixed {
			return fmt.Errorf("%w: row %d truncated", errBadBatch, i)
		}
		r := getRow()
		b.rows = append(b.rows, r) // on error, returned to the pool with the others
		r.kind, r.payloadType, r.protocol = p[0], p[1], p[2]
		flags := p[3]
		r.hasSDP, r.hasStatus, r.hasCSeq = flags&1 != 0, flags&2 != 0, flags&4 != 0
		r.corrSrc = flags >> 3
		r.status = int16(binary.BigEndian.Uint16(p[4:]))
		r.cseq = binary.BigEndian.Uint32(p[6:])
		r.captureID = binary.BigEndian.Uint32(p[10:])
		r.tenantID = int64(binary.BigEndian.Uint64(p[14:]))
		r.capturedAt = int64(binary.BigEndian.Uint64(p[22:]))
		r.receivedAt = int64(binary.BigEndian.Uint64(p[rowReceivedAt:]))
		if i == 0 || r.receivedAt < b.oldest {
			b.oldest = r.receivedAt
		}
		r.src = readAddrPort(p[38:])
		r.dst = readAddrPort(p[57:])
		off := 76
		prev := uint32(0)
		for j := range r.end {
			r.end[j] = binary.BigEndian.Uint32(p[off:])
			if r.end[j] < prev {
				return fmt.Errorf("%w: row %d field offsets", errBadBatch, i)
			}
			prev = r.end[j]
			off += 4
		}
		p = p[rowFixed:]
		if uint64(prev) > uint64(len(p)) || (r.kind != kindSIP && r.kind != kindEvent) {
			return fmt.Errorf("%w: row %d body", errBadBatch, i)
		}
		r.fit(int(prev))
		r.buf = append(r.buf[:0], p[:prev]...)
		p = p[prev:]
	}
	if len(p) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errBadBatch, len(p))
	}
	return nil
}
