package ingest

import (
	"encoding/binary"
	"net/netip"
)

// The writer streams rows to PostgreSQL in COPY's binary format, built by
// hand into a reused buffer: no per-row allocation, no per-value interface
// boxing, and exact control of NULLs.
//
//	header:  "PGCOPY\n\xff\r\n\x00" | int32 flags (0) | int32 extension length (0)
//	tuple:   int16 field count | per field: int32 length (-1 = NULL) | bytes
//	trailer: int16 -1
//
// Values, all big-endian: bigint int64; integer int32; smallint int16;
// boolean one byte; timestamptz int64 microseconds since 2000-01-01 UTC;
// text and bytea raw bytes; inet: family (2 = IPv4, 3 = IPv6), prefix bits,
// is_cidr (0), address length, address bytes.

const copySIP = `COPY sip_messages (tenant_id, captured_at, received_at, call_id, correlation_id,
	method, status, reason, cseq, cseq_method, from_user, from_tag, to_user, to_tag, ruri_user,
	user_agent, src_ip, src_port, dst_ip, dst_port, transport, capture_id, node_name, has_sdp,
	payload, correlation_source) FROM STDIN (FORMAT binary)`

const copyEvents = `COPY hep_events (tenant_id, captured_at, received_at, payload_type, call_id,
	correlation_id, src_ip, src_port, dst_ip, dst_port, capture_id, payload) FROM STDIN (FORMAT binary)`

var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// pgEpochMicros is 2000-01-01T00:00:00Z in unix microseconds.
const pgEpochMicros = 946684800 * 1000000

func appendCopyTrailer(b []byte) []byte { return append(b, 0xff, 0xff) }

func appendInt64(b []byte, v int64) []byte {
	b = append(b, 0, 0, 0, 8)
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

func appendInt32(b []byte, v int32) []byte {
	b = append(b, 0, 0, 0, 4)
	return binary.BigEndian.AppendUint32(b, uint32(v))
}

func appendInt16(b []byte, v int16) []byte {
	b = append(b, 0, 0, 0, 2)
	return binary.BigEndian.AppendUint16(b, uint16(v))
}

func appendNull(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0xff) }

func appendBytes(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// appendOptText writes an empty value as NULL.
func appendOptText(b, v []byte) []byte {
	if len(v) == 0 {
		return appendNull(b)
	}
	return appendBytes(b, v)
}

func appendTime(b []byte, unixMicros int64) []byte {
	return appendInt64(b, unixMicros-pgEpochMicros)
}

// appendInet writes a; a missing address (a v3 packet without address
// chunks) is written as 0.0.0.0, the columns being NOT NULL.
func appendInet(b []byte, a netip.Addr) []byte {
	a = a.Unmap()
	if a.Is6() {
		v := a.As16()
		b = append(b, 0, 0, 0, 20, 3, 128, 0, 16)
		return append(b, v[:]...)
	}
	var v [4]byte
	if a.Is4() {
		v = a.As4()
	}
	b = append(b, 0, 0, 0, 8, 2, 32, 0, 4)
	return append(b, v[:]...)
}

// appendSIPTuple appends r as one sip_messages tuple (26 fields);
// corrNames names the correlation headers (see corrSourceName).
func appendSIPTuple(b []byte, r *row, corrNames []string) []byte {
	b = binary.BigEndian.AppendUint16(b, 26)
	b = appendInt64(b, r.tenantID)
	b = appendTime(b, r.capturedAt)
	b = appendTime(b, r.receivedAt)
	b = appendBytes(b, r.field(fCallID))
	b = appendOptText(b, r.field(fCorrelation))
	b = appendOptText(b, r.field(fMethod))
	if r.hasStatus {
		b = appendInt16(b, r.status)
	} else {
		b = appendNull(b)
	}
	b = appendOptText(b, r.field(fReason))
	if r.hasCSeq {
		b = appendInt64(b, int64(r.cseq))
	} else {
		b = appendNull(b)
	}
	b = appendOptText(b, r.field(fCSeqMethod))
	b = appendOptText(b, r.field(fFromUser))
	b = appendOptText(b, r.field(fFromTag))
	b = appendOptText(b, r.field(fToUser))
	b = appendOptText(b, r.field(fToTag))
	b = appendOptText(b, r.field(fRURIUser))
	b = appendOptText(b, r.field(fUserAgent))
	b = appendInet(b, r.src.Addr())
	b = appendInt32(b, int32(r.src.Port()))
	b = appendInet(b, r.dst.Addr())
	b = appendInt32(b, int32(r.dst.Port()))
	b = appendBytes(b, []byte(transportNames[r.protocol]))
	b = appendInt64(b, int64(r.captureID))
	b = appendOptText(b, r.field(fNodeName))
	if r.hasSDP {
		b = append(b, 0, 0, 0, 1, 1)
	} else {
		b = append(b, 0, 0, 0, 1, 0)
	}
	b = appendBytes(b, r.field(fPayload))
	return appendCorrSource(b, r, corrNames)
}

// appendEventTuple appends r as one hep_events tuple (12 fields).
func appendEventTuple(b []byte, r *row) []byte {
	b = binary.BigEndian.AppendUint16(b, 12)
	b = appendInt64(b, r.tenantID)
	b = appendTime(b, r.capturedAt)
	b = appendTime(b, r.receivedAt)
	b = appendInt16(b, int16(r.payloadType))
	b = appendOptText(b, r.field(fCallID))
	b = appendOptText(b, r.field(fCorrelation))
	b = appendInet(b, r.src.Addr())
	b = appendInt32(b, int32(r.src.Port()))
	b = appendInet(b, r.dst.Addr())
	b = appendInt32(b, int32(r.dst.Port()))
	b = appendInt64(b, int64(r.captureID))
	return appendBytes(b, r.field(fPayload))
}
