package query

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// CallMediaType is the binary encoding of a Call between query and its
// clients (viewer, console), asked for with Accept. JSON stays the default
// answer: decoding a 20-message call's JSON (base64 payloads, RFC 3339
// times, text addresses) was ~11% of the CPU of a first view, this ~1%.
const CallMediaType = "application/vnd.callscope.call.v1"

// Layout (every integer a varint, "str" and "bytes" a uvarint length then
// the bytes, "time" and "addr" their MarshalBinary form as bytes, "n ×" a
// uvarint count):
//
//	"CSC1"
//	tenant:   id, slug str, n × (alias key str, alias value str), n × origin str
//	call_id str, n × leg str, window time time
//	n × message: call_id str, leg, captured_at time, received_at time,
//	             src addr, dst addr, transport str, capture_id, node_name str,
//	             method str, status, reason str, cseq, cseq_method str,
//	             correlation_id str, has_sdp (0|1), payload bytes
//	n × event:   captured_at time, received_at time, payload_type, call_id str,
//	             correlation_id str, src addr, dst addr, capture_id, payload bytes
//
// Empty slices, maps and payloads decode as nil.
var callMagic = []byte("CSC1")

// AppendBinary appends c's binary encoding to b.
func (c *Call) AppendBinary(b []byte) ([]byte, error) {
	w := wireWriter{b: append(b, callMagic...)}
	w.int(c.Tenant.ID)
	w.str(c.Tenant.Slug)
	w.uint(uint64(len(c.Tenant.Aliases)))
	for k, v := range c.Tenant.Aliases {
		w.str(k)
		w.str(v)
	}
	w.strs(c.Tenant.EmbedOrigins)
	w.str(c.CallID)
	w.strs(c.Legs)
	w.time(c.Window[0])
	w.time(c.Window[1])
	w.uint(uint64(len(c.Messages)))
	for i := range c.Messages {
		m := &c.Messages[i]
		w.str(m.CallID)
		w.int(int64(m.Leg))
		w.time(m.CapturedAt)
		w.time(m.ReceivedAt)
		w.addr(m.Src)
		w.addr(m.Dst)
		w.str(m.Transport)
		w.uint(uint64(m.CaptureID))
		w.str(m.NodeName)
		w.str(m.Method)
		w.int(int64(m.Status))
		w.str(m.Reason)
		w.int(m.CSeq)
		w.str(m.CSeqMethod)
		w.str(m.CorrelationID)
		w.bool(m.HasSDP)
		w.bytes(m.Payload)
	}
	w.uint(uint64(len(c.Events)))
	for i := range c.Events {
		e := &c.Events[i]
		w.time(e.CapturedAt)
		w.time(e.ReceivedAt)
		w.int(int64(e.PayloadType))
		w.str(e.CallID)
		w.str(e.CorrelationID)
		w.addr(e.Src)
		w.addr(e.Dst)
		w.uint(uint64(e.CaptureID))
		w.bytes(e.Payload)
	}
	return w.b, w.err
}

// MarshalBinary is AppendBinary to a new slice sized for c.
func (c *Call) MarshalBinary() ([]byte, error) {
	n := 256
	for i := range c.Messages {
		n += len(c.Messages[i].Payload) + 160
	}
	for i := range c.Events {
		n += len(c.Events[i].Payload) + 96
	}
	return c.AppendBinary(make([]byte, 0, n))
}

// UnmarshalBinary decodes what AppendBinary wrote. Malformed or truncated
// input is an error, never a panic or an allocation larger than the input.
func (c *Call) UnmarshalBinary(data []byte) error {
	if len(data) < len(callMagic) || string(data[:len(callMagic)]) != string(callMagic) {
		return errors.New("query: not a binary call")
	}
	r := wireReader{b: data[len(callMagic):]}
	var out Call
	out.Tenant.ID = r.int()
	out.Tenant.Slug = r.str()
	if n := r.count(2); n > 0 {
		out.Tenant.Aliases = make(map[string]string, n)
		for range n {
			k := r.str()
			out.Tenant.Aliases[k] = r.str()
		}
	}
	out.Tenant.EmbedOrigins = r.strs()
	out.CallID = r.str()
	out.Legs = r.strs()
	out.Window[0] = r.time()
	out.Window[1] = r.time()
	if n := r.count(17); n > 0 { // 17 fields of at least a byte
		out.Messages = make([]Message, n)
		for i := range out.Messages {
			m := &out.Messages[i]
			m.CallID = r.str()
			m.Leg = int(r.int())
			m.CapturedAt = r.time()
			m.ReceivedAt = r.time()
			m.Src = r.addr()
			m.Dst = r.addr()
			m.Transport = r.str()
			m.CaptureID = uint32(r.uint())
			m.NodeName = r.str()
			m.Method = r.str()
			m.Status = int(r.int())
			m.Reason = r.str()
			m.CSeq = r.int()
			m.CSeqMethod = r.str()
			m.CorrelationID = r.str()
			m.HasSDP = r.bool()
			m.Payload = r.bytes()
		}
	}
	if n := r.count(9); n > 0 {
		out.Events = make([]Event, n)
		for i := range out.Events {
			e := &out.Events[i]
			e.CapturedAt = r.time()
			e.ReceivedAt = r.time()
			e.PayloadType = int(r.int())
			e.CallID = r.str()
			e.CorrelationID = r.str()
			e.Src = r.addr()
			e.Dst = r.addr()
			e.CaptureID = uint32(r.uint())
			e.Payload = r.bytes()
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("query: malformed binary call: %w", r.err)
	}
	*c = out
	return nil
}

type wireWriter struct {
	b   []byte
	err error
}

func (w *wireWriter) uint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *wireWriter) int(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *wireWriter) str(s string) {
	w.uint(uint64(len(s)))
	w.b = append(w.b, s...)
}
func (w *wireWriter) bytes(p []byte) {
	w.uint(uint64(len(p)))
	w.b = append(w.b, p...)
}
func (w *wireWriter) strs(ss []string) {
	w.uint(uint64(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}
func (w *wireWriter) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}
func (w *wireWriter) time(t time.Time) {
	p, err := t.MarshalBinary()
	if err != nil && w.err == nil {
		w.err = err
	}
	w.bytes(p)
}
func (w *wireWriter) addr(a netip.AddrPort) {
	p, err := a.MarshalBinary()
	if err != nil && w.err == nil {
		w.err = err
	}
	w.bytes(p)
}

// wireReader reads until the first error, then returns zero values.
type wireReader struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (r *wireReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *wireReader) uint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wireReader) int() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads an element count; each element takes at least minBytes,
// so a count the rest of the input cannot hold is refused before any
// allocation.
func (r *wireReader) count(minBytes int) int {
	n := r.uint()
	if n > uint64(len(r.b)/minBytes) {
		r.fail(errors.New("count exceeds the input"))
		return 0
	}
	return int(n)
}

func (r *wireReader) raw() []byte {
	n := r.uint()
	if n > uint64(len(r.b)) {
		r.fail(errShort)
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *wireReader) str() string { return string(r.raw()) }

func (r *wireReader) bytes() []byte {
	p := r.raw()
	if len(p) == 0 {
		return nil
	}
	return append([]byte(nil), p...)
}

func (r *wireReader) strs() []string {
	n := r.count(1)
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = r.str()
	}
	return ss
}

func (r *wireReader) bool() bool {
	if len(r.b) == 0 {
		r.fail(errShort)
		return false
	}
	v := r.b[0]
	r.b = r.b[1:]
	if v > 1 {
		r.fail(errors.New("bad bool"))
	}
	return v == 1
}

func (r *wireReader) time() time.Time {
	var t time.Time
	if p := r.raw(); r.err == nil {
		if err := t.UnmarshalBinary(p); err != nil {
			r.fail(err)
		}
	}
	return t
}

func (r *wireReader) addr() netip.AddrPort {
	var a netip.AddrPort
	if p := r.raw(); r.err == nil {
		if err := a.UnmarshalBinary(p); err != nil {
			r.fail(err)
		}
	}
	return a
}
