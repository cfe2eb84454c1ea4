package hep

import (
	"net/netip"
	"time"
)

// IP families carried in chunk 0x0001 and in the v1/v2 header.
const (
	FamilyIPv4 uint8 = 2
	FamilyIPv6 uint8 = 10
)

// IP protocols carried in chunk 0x0002. ProtoTLS is not an IP protocol: it is
// how Kamailio marks SIP it received over TLS, WS or WSS (in clear text).
const (
	ProtoTCP  uint8 = 6
	ProtoUDP  uint8 = 17
	ProtoTLS  uint8 = 22
	ProtoSCTP uint8 = 132
)

// Payload types carried in chunk 0x000b. Numbers not listed here are kept
// as they arrive: tools disagree about some of them.
const (
	PayloadSIP       uint8 = 1
	PayloadRTCP      uint8 = 5 // RTCP report as JSON
	PayloadQoSFull   uint8 = 34
	PayloadQoSShort  uint8 = 35
	PayloadSIPJSON   uint8 = 50
	PayloadDNSJSON   uint8 = 53
	PayloadLog       uint8 = 100 // Kamailio hlog(), heplify-server, Homer
	payloadTypeOfV12 uint8 = PayloadSIP
)

// Packet is one decoded HEP packet. Byte slices alias the buffer given to
// Decoder.Decode, or the Decoder's inflate buffer when Compressed is set, so
// they are only valid until that buffer is reused or Decode is called again
// on the same Decoder. Copy what must outlive the packet.
type Packet struct {
	Version  uint8 // 1, 2 or 3
	Family   uint8 // FamilyIPv4 or FamilyIPv6
	Protocol uint8 // IP protocol: 17 UDP, 6 TCP, 132 SCTP, 22 TLS (Kamailio)
	Src, Dst netip.AddrPort

	TsSec, TsUsec uint32
	HasTime       bool // false for v1 and for v3 without chunks 0x0009/0x000a: use the arrival time

	PayloadType uint8  // PayloadSIP, PayloadLog, ...; v1/v2 carry SIP only
	CaptureID   uint32 // chunk 0x000c; an opaque number (sngrep byte-swaps it)

	AuthKey       []byte // chunk 0x000e
	Payload       []byte // chunk 0x000f, or 0x0010 inflated
	CorrelationID []byte // chunk 0x0011
	NodeName      []byte // chunk 0x0013

	Compressed bool // Payload came from chunk 0x0010

	KeepAlive      bool   // chunk 0x000d present
	KeepAliveTimer uint16 // its value, in seconds
	VLAN           uint16 // chunk 0x0012, 0 when absent
	MOS            uint16 // chunk 0x0020, 0 when absent
}

// Time returns the capture time carried in the packet, in UTC, or the zero
// time when the packet has none (HasTime is false).
func (p *Packet) Time() time.Time {
	if !p.HasTime {
		return time.Time{}
	}
	return time.Unix(int64(p.TsSec), int64(p.TsUsec)*1000).UTC()
}

// SetTime sets TsSec, TsUsec and HasTime from t (truncated to microseconds).
func (p *Packet) SetTime(t time.Time) {
	p.TsSec = uint32(t.Unix())
	p.TsUsec = uint32(t.Nanosecond() / 1000)
	p.HasTime = true
}
