package ingest

import (
	"net/netip"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// Table a row goes to.
const (
	kindSIP   uint8 = 1 // sip_messages
	kindEvent uint8 = 2 // hep_events
)

// Variable-length fields of a row, in the order they sit in row.buf.
const (
	fCallID = iota
	fCorrelation
	fMethod
	fReason
	fCSeqMethod
	fFromUser
	fFromTag
	fToUser
	fToTag
	fRURIUser
	fUserAgent
	fNodeName
	fPayload
	nFields
)

// row is one accepted packet, owned: nothing in it aliases a read buffer.
// Every variable field is appended to buf and delimited by end offsets, so
// a pooled row is rebuilt without allocating once buf has grown to size.
// Text fields in buf are already valid UTF-8 without NUL (see appendText);
// the payload keeps the exact bytes that arrived.
type row struct {
	kind        uint8
	payloadType uint8
	protocol    uint8 // IP protocol of the captured SIP: names the transport column
	hasSDP      bool
	hasStatus   bool
	hasCSeq     bool
	corrSrc     uint8 // where the correlation value came from (correlation.go)
	status      int16
	cseq        uint32
	captureID   uint32
	tenantID    int64
	capturedAt  int64 // unix microseconds
	receivedAt  int64 // unix microseconds
	src, dst    netip.AddrPort

	end [nFields]uint32 // end offset of each field in buf
	buf []byte
}

func (r *row) field(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = r.end[i-1]
	}
	return r.buf[start:r.end[i]]
}

// reset empties r for reuse, keeping buf's capacity.
func (r *row) reset() {
	buf := r.buf[:0]
	*r = row{buf: buf}
}

// setText appends field i (which must be the next field in order) as
// sanitised text.
func (r *row) setText(i int, v []byte) {
	r.buf = appendText(r.buf, v)
	r.end[i] = uint32(len(r.buf))
}

// setRaw appends field i as exact bytes.
func (r *row) setRaw(i int, v []byte) {
	r.buf = append(r.buf, v...)
	r.end[i] = uint32(len(r.buf))
}

// rowHeader is what a row costs besides its buffer.
const rowHeader = int64(unsafe.Sizeof(row{}))

// footprint is the memory r holds, as the queue's byte budget counts it.
func (r *row) footprint() int64 { return rowHeader + int64(cap(r.buf)) }

// fit sizes buf for a packet needing about need bytes, before its fields
// are appended. A pooled buffer is kept when it is big enough and not more
// than about twice too big; otherwise the row gets one of the packet's
// size (rounded up to 256 bytes), so that a queue of small packets does
// not hold buffers sized for large ones. Text that grows when sanitised
// (invalid UTF-8) still appends correctly, past the estimate.
func (r *row) fit(need int) {
	if c := cap(r.buf); c >= need && c <= 2*need+512 {
		return
	}
	r.buf = make([]byte, 0, (need+255)&^255)
}

var rowPool = sync.Pool{New: func() any { return new(row) }}

func getRow() *row { return rowPool.Get().(*row) }

// putRow returns r to the pool; rows with an outsized buffer (a 64 KiB
// packet) are left to the collector so the pool does not pin memory.
func putRow(r *row) {
	if cap(r.buf) > 16<<10 {
		return
	}
	r.reset()
	rowPool.Put(r)
}

// appendText appends v to dst as valid UTF-8 without NUL bytes. A text
// column refuses both, and one bad value would fail the whole COPY batch it
// sits in, so a hostile header must be neutralised here: invalid sequences
// become U+FFFD and NULs are dropped. The common case (clean ASCII) is a
// plain append.
func appendText(dst, v []byte) []byte {
	clean := true
	for _, c := range v {
		if c == 0 || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean {
		return append(dst, v...)
	}
	for len(v) > 0 {
		c := v[0]
		if c == 0 {
			v = v[1:]
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			v = v[1:]
			continue
		}
		r, n := utf8.DecodeRune(v)
		if r == utf8.RuneError && n <= 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
			v = v[1:]
			continue
		}
		dst = append(dst, v[:n]...)
		v = v[n:]
	}
	return dst
}

// transportNames name the transport column from the IP protocol chunk.
var transportNames = func() [256]string {
	var t [256]string
	for i := range t {
		t[i] = "proto-" + itoa(i)
	}
	t[6], t[17], t[22], t[132] = "tcp", "udp", "tls", "sctp"
	return t
}()

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [4]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}
