package callrec

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
)

// ErrState is wrapped by every error of UnmarshalState.
var ErrState = errors.New("callrec: malformed state")

// stateVersion is the first byte of an encoded State.
const stateVersion = 1

// maxEncodedText bounds a string in an encoded State: every text field is
// cut to maxText bytes on the way in, plus room for replacement runes.
const maxEncodedText = 4 * maxText

// AppendBinary appends the encoding of s to b. The encoding is canonical:
// equal States encode to equal bytes.
//
//	version u8 (1)
//	messages, first, last, reported                varint
//	sketch: n uvarint, n x u64 big-endian
//	initial: at varint, method, cseq uvarint, from user, from name, from tag,
//	         to user, to name, ruri user, src, dst
//	txns: n uvarint, each: from tag, cseq uvarint, method, flags u8
//	      (1 initial, 2 in dialog), req at, prov at varint, prov from,
//	      finals: n uvarint, each: status, first varint, from, last varint,
//	      reason
//	bye: at varint, from tag;  cancel varint
//	offer, answer, early answer: at varint, n uvarint, n x codec
//	user agents, nodes: n uvarint, n x string
//	corr: n uvarint, n x (value, source)
//	streams: n uvarint, each: name, reports varint, mos, jitter, loss pct
//	         (float64 bits u64), lost varint, flags u8 (1 jitter, 2 loss
//	         pct, 4 lost)
//
// A string is its length (uvarint) and bytes; an address is a byte 0, 4
// or 6 (none, IPv4, IPv6), the address and a u16 port.
func (s *State) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, stateVersion)
	b = binary.AppendVarint(b, s.Messages)
	b = binary.AppendVarint(b, s.First)
	b = binary.AppendVarint(b, s.Last)
	b = binary.AppendVarint(b, s.Reported)
	b = binary.AppendUvarint(b, uint64(len(s.Sketch)))
	for _, h := range s.Sketch {
		b = binary.BigEndian.AppendUint64(b, h)
	}
	in := &s.Initial
	b = binary.AppendVarint(b, in.At)
	b = appendString(b, in.Method)
	b = binary.AppendUvarint(b, uint64(in.CSeq))
	for _, v := range []string{in.FromUser, in.FromName, in.FromTag, in.ToUser, in.ToName, in.RURIUser} {
		b = appendString(b, v)
	}
	b = appendAddr(b, in.Src)
	b = appendAddr(b, in.Dst)
	b = binary.AppendUvarint(b, uint64(len(s.Txns)))
	for i := range s.Txns {
		t := &s.Txns[i]
		b = appendString(b, t.FromTag)
		b = binary.AppendUvarint(b, uint64(t.CSeq))
		b = appendString(b, t.Method)
		var flags byte
		if t.Initial {
			flags |= 1
		}
		if t.InDialog {
			flags |= 2
		}
		b = append(b, flags)
		b = binary.AppendVarint(b, t.ReqAt)
		b = binary.AppendVarint(b, t.Prov)
		b = appendAddr(b, t.ProvFrom)
		b = binary.AppendUvarint(b, uint64(len(t.Finals)))
		for _, f := range t.Finals {
			b = binary.AppendVarint(b, int64(f.Status))
			b = binary.AppendVarint(b, f.First)
			b = appendAddr(b, f.From)
			b = binary.AppendVarint(b, f.Last)
			b = appendString(b, f.Reason)
		}
	}
	b = binary.AppendVarint(b, s.Bye.At)
	b = appendString(b, s.Bye.FromTag)
	b = binary.AppendVarint(b, s.Cancel)
	for _, m := range []*Media{&s.Offer, &s.Answer, &s.EarlyAnswer} {
		b = binary.AppendVarint(b, m.At)
		b = appendStrings(b, m.Codecs)
	}
	b = appendStrings(b, s.UserAgents)
	b = appendStrings(b, s.Nodes)
	b = binary.AppendUvarint(b, uint64(len(s.Corr)))
	for _, c := range s.Corr {
		b = appendString(b, c.Value)
		b = appendString(b, c.Source)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Streams)))
	for i := range s.Streams {
		st := &s.Streams[i]
		b = appendString(b, st.Name)
		b = binary.AppendVarint(b, st.Reports)
		for _, f := range []float64{st.MOS, st.Jitter, st.LossPct} {
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(f))
		}
		b = binary.AppendVarint(b, st.Lost)
		var flags byte
		if st.HasJitter {
			flags |= 1
		}
		if st.HasLossPct {
			flags |= 2
		}
		if st.HasLost {
			flags |= 4
		}
		b = append(b, flags)
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, list []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, s := range list {
		b = appendString(b, s)
	}
	return b
}

func appendAddr(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr()
	switch {
	case a.Is4():
		v := a.As4()
		b = append(append(b, 4), v[:]...)
	case a.Is6():
		v := a.As16()
		b = append(append(b, 6), v[:]...)
	default:
		return append(b, 0)
	}
	return binary.BigEndian.AppendUint16(b, ap.Port())
}

// UnmarshalState decodes an encoded State. Sets come back sorted,
// distinct and within their bounds whatever the bytes said, so a State
// from storage merges like one built here.
//
// Returns an error wrapping ErrState when b is not a State of a known
// version, is cut short or has bytes left over.
func UnmarshalState(b []byte) (State, error) {
	d := decoder{b: b}
	var s State
	if v := d.byte(); v != stateVersion {
		return State{}, fmt.Errorf("callrec.UnmarshalState: version %d: %w", v, ErrState)
	}
	s.Messages, s.First, s.Last, s.Reported = d.varint(), d.varint(), d.varint(), d.varint()
	if n := d.count(sketchK); n > 0 {
		s.Sketch = make([]uint64, 0, n)
		for range n {
			s.Sketch = append(s.Sketch, d.u64())
		}
	}
	in := &s.Initial
	in.At, in.Method, in.CSeq = d.varint(), d.string(), d.u32()
	in.FromUser, in.FromName, in.FromTag = d.string(), d.string(), d.string()
	in.ToUser, in.ToName, in.RURIUser = d.string(), d.string(), d.string()
	in.Src, in.Dst = d.addr(), d.addr()
	if n := d.count(maxTxns); n > 0 {
		s.Txns = make([]Txn, 0, n)
		for range n {
			t := Txn{FromTag: d.string(), CSeq: d.u32(), Method: d.string()}
			flags := d.byte()
			t.Initial, t.InDialog = flags&1 != 0, flags&2 != 0
			t.ReqAt, t.Prov, t.ProvFrom = d.varint(), d.varint(), d.addr()
			for range d.count(maxFinals) {
				t.Finals = append(t.Finals, Final{Status: int(d.varint()), First: d.varint(), From: d.addr(),
					Last: d.varint(), Reason: d.string()})
			}
			s.Txns = append(s.Txns, t)
		}
	}
	s.Bye.At, s.Bye.FromTag = d.varint(), d.string()
	s.Cancel = d.varint()
	for _, m := range []*Media{&s.Offer, &s.Answer, &s.EarlyAnswer} {
		m.At, m.Codecs = d.varint(), d.strings(maxCodecs)
	}
	s.UserAgents, s.Nodes = d.strings(maxSet), d.strings(maxSet)
	if n := d.count(maxCorr); n > 0 {
		for range n {
			s.Corr = append(s.Corr, Corr{Value: d.string(), Source: d.string()})
		}
	}
	if n := d.count(maxSet); n > 0 {
		for range n {
			st := Stream{Name: d.string(), Reports: d.varint()}
			st.MOS, st.Jitter, st.LossPct = d.float(), d.float(), d.float()
			st.Lost = d.varint()
			flags := d.byte()
			st.HasJitter, st.HasLossPct, st.HasLost = flags&1 != 0, flags&2 != 0, flags&4 != 0
			s.Streams = append(s.Streams, st)
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes left over", len(d.b))
	}
	if d.err != nil {
		return State{}, fmt.Errorf("callrec.UnmarshalState: %v: %w", d.err, ErrState)
	}
	s.normalize()
	return s, nil
}

// normalize restores the invariants Merge relies on: sorted, distinct
// sets. Only a State decoded from foreign bytes can need it.
func (s *State) normalize() {
	slices.Sort(s.Sketch)
	s.Sketch = slices.Compact(s.Sketch)
	for i := range s.Txns {
		t := &s.Txns[i]
		slices.SortFunc(t.Finals, func(a, b Final) int { return cmp.Compare(a.Status, b.Status) })
		t.Finals = slices.CompactFunc(t.Finals, func(a, b Final) bool { return a.Status == b.Status })
	}
	slices.SortFunc(s.Txns, func(a, b Txn) int { return txnCompare(a.FromTag, a.CSeq, a.Method, &b) })
	s.Txns = slices.CompactFunc(s.Txns, func(a, b Txn) bool { return txnCompare(a.FromTag, a.CSeq, a.Method, &b) == 0 })
	for _, set := range []*[]string{&s.UserAgents, &s.Nodes} {
		slices.Sort(*set)
		*set = slices.Compact(*set)
	}
	slices.SortFunc(s.Corr, compareCorr)
	s.Corr = slices.Compact(s.Corr)
	slices.SortFunc(s.Streams, func(a, b Stream) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.Reports, b.Reports))
	})
	s.Streams = slices.CompactFunc(s.Streams, func(a, b Stream) bool { return a.Name == b.Name })
}

// decoder reads an encoded State; the first error sticks and every read
// after it returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = errors.New(what)
	}
	d.b = nil
}

// take returns the next n bytes, or nil (and the error) when fewer are
// left.
func (d *decoder) take(n int) []byte {
	if len(d.b) < n {
		d.fail("cut short")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32() uint32 {
	v := d.uvarint()
	if v > math.MaxUint32 {
		d.fail("CSeq out of range")
		return 0
	}
	return uint32(v)
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) float() float64 {
	f := math.Float64frombits(d.u64())
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// count reads a list length of at most limit.
func (d *decoder) count(limit int) int {
	n := d.uvarint()
	if n > uint64(limit) {
		d.fail("list too long")
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > maxEncodedText {
		d.fail("bad string length")
		return ""
	}
	return string(d.take(int(n)))
}

func (d *decoder) strings(limit int) []string {
	n := d.count(limit)
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		out = append(out, d.string())
	}
	return out
}

func (d *decoder) addr() netip.AddrPort {
	var a netip.Addr
	switch d.byte() {
	case 4:
		if v := d.take(4); v != nil {
			a = netip.AddrFrom4([4]byte(v))
		}
	case 6:
		if v := d.take(16); v != nil {
			a = netip.AddrFrom16([16]byte(v))
		}
	case 0:
		return netip.AddrPort{}
	default:
		d.fail("bad address")
	}
	p := d.take(2)
	if d.err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a, binary.BigEndian.Uint16(p))
}
