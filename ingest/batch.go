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
//	kind u8 | payload type u8 | protocol u8 | flags u8 (1 sdp, 2 status, 4 cseq)
//	status i16 | cseq u32 | capture id u32 | tenant id i64
//	captured at i64 | received at i64 (unix µs)
//	src: addr [16] | addr kind u8 (0 none, 4, 6) | port u16 ; dst the same
//	field ends [13]u32 | buf (last field end bytes)
const rowFixed = 4 + 2 + 4 + 4 + 8 + 8 + 8 + 2*(16+1+2) + 4*nFields

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

// decodeBatch parses the spool form of a batch. The record's checksum was
// verified, so an error here means a bug or a format change: the caller
// counts it as corruption.
func decodeBatch(p []byte) (*batch, error) {
	if len(p) < 20 {
		return nil, fmt.Errorf("%w: %d bytes", errBadBatch, len(p))
	}
	b := &batch{}
	copy(b.id[:], p)
	n := binary.BigEndian.Uint32(p[16:])
	p = p[20:]
	if uint64(n)*rowFixed > uint64(len(p)) {
		return nil, fmt.Errorf("%w: %d rows in %d bytes", errBadBatch, n, len(p))
	}
	b.rows = make([]*row, 0, n)
	for i := uint32(0); i < n; i++ {
		if len(p) < rowFixed {
			return nil, fmt.Errorf("%w: row %d truncated", errBadBatch, i)
		}
		r := &row{kind: p[0], payloadType: p[1], protocol: p[2]}
		flags := p[3]
		r.hasSDP, r.hasStatus, r.hasCSeq = flags&1 != 0, flags&2 != 0, flags&4 != 0
		r.status = int16(binary.BigEndian.Uint16(p[4:]))
		r.cseq = binary.BigEndian.Uint32(p[6:])
		r.captureID = binary.BigEndian.Uint32(p[10:])
		r.tenantID = int64(binary.BigEndian.Uint64(p[14:]))
		r.capturedAt = int64(binary.BigEndian.Uint64(p[22:]))
		r.receivedAt = int64(binary.BigEndian.Uint64(p[30:]))
		r.src = readAddrPort(p[38:])
		r.dst = readAddrPort(p[57:])
		off := 76
		prev := uint32(0)
		for j := range r.end {
			r.end[j] = binary.BigEndian.Uint32(p[off:])
			if r.end[j] < prev {
				return nil, fmt.Errorf("%w: row %d field offsets", errBadBatch, i)
			}
			prev = r.end[j]
			off += 4
		}
		p = p[rowFixed:]
		if uint64(prev) > uint64(len(p)) || (r.kind != kindSIP && r.kind != kindEvent) {
			return nil, fmt.Errorf("%w: row %d body", errBadBatch, i)
		}
		r.buf = append([]byte(nil), p[:prev]...)
		p = p[prev:]
		b.rows = append(b.rows, r)
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadBatch, len(p))
	}
	return b, nil
}
