package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// MaxSegment is the most payload WriteMessage puts in one packet; larger
// messages are split, so that every packet fits IP's 16-bit length.
const MaxSegment = 65000

const (
	snapLen   = 262144
	ipv4HdrLn = 20
	ipv6HdrLn = 40
	udpHdrLen = 8
	tcpHdrLen = 20
	ttl       = 64
	tcpPSHACK = 0x18
	tcpWindow = 65535
	// The first sequence number of every synthesized flow. Any value works:
	// there is no handshake and dissectors show relative numbers.
	tcpFirstSeq = 1
)

// ErrAddress is returned by WriteMessage for an invalid endpoint.
var ErrAddress = errors.New("pcap: invalid address")

// Writer writes a classic pcap file (little-endian, microsecond timestamps,
// LINKTYPE_RAW) of synthesized IP packets. It is not safe for concurrent use.
type Writer struct {
	w   io.Writer
	buf []byte
	id  uint16             // IPv4 identification, incremented per packet
	seq map[flowKey]uint32 // next sequence number of each TCP direction
}

type flowKey struct{ src, dst netip.AddrPort }

// NewWriter writes the pcap file header to w and returns a Writer for the
// packets. It returns the error of that write.
func NewWriter(w io.Writer) (*Writer, error) {
	var h [fileHdrLen]byte
	binary.LittleEndian.PutUint32(h[0:], magicMicro)
	binary.LittleEndian.PutUint16(h[4:], 2) // version 2.4
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], snapLen)
	binary.LittleEndian.PutUint32(h[20:], LinkTypeRaw)
	if _, err := w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("pcap.NewWriter: %w", err)
	}
	return &Writer{w: w, seq: make(map[flowKey]uint32)}, nil
}

// WriteMessage writes payload as sent from src to dst at ts: as one UDP
// datagram when transport is "udp", otherwise ("tcp", "tls", "sctp", ...)
// as a TCP segment with PSH|ACK whose sequence number continues the flow's
// previous segment and whose acknowledgment matches the reverse flow, so
// dissectors can follow the stream. (TLS is written in clear: capture agents
// hand over the decrypted SIP.) Payloads over MaxSegment bytes are split
// into several packets. IPv4 is used when both addresses are IPv4 (or
// IPv4-mapped), IPv6 otherwise. Checksums are computed.
//
// It returns ErrAddress for an invalid src or dst, or the write error.
func (w *Writer) WriteMessage(ts time.Time, src, dst netip.AddrPort, transport string, payload []byte) error {
	if !src.Addr().IsValid() || !dst.Addr().IsValid() {
		return fmt.Errorf("pcap.Writer.WriteMessage(%v -> %v): %w", src, dst, ErrAddress)
	}
	sa, da := src.Addr().Unmap(), dst.Addr().Unmap()
	if sa.Is4() != da.Is4() {
		// Mixed families: carry both as IPv6, the IPv4 one mapped.
		sa, da = netip.AddrFrom16(sa.As16()), netip.AddrFrom16(da.As16())
	}
	src, dst = netip.AddrPortFrom(sa, src.Port()), netip.AddrPortFrom(da, dst.Port())
	for first := true; first || len(payload) > 0; first = false {
		seg := payload[:min(len(payload), MaxSegment)]
		payload = payload[len(seg):]
		if err := w.writePacket(ts, src, dst, transport == "udp", seg); err != nil {
			return fmt.Errorf("pcap.Writer.WriteMessage: %w", err)
		}
	}
	return nil
}

func (w *Writer) writePacket(ts time.Time, src, dst netip.AddrPort, udp bool, payload []byte) error {
	v4 := src.Addr().Is4()
	ipLen, l4Len := ipv6HdrLn, tcpHdrLen
	if v4 {
		ipLen = ipv4HdrLn
	}
	proto := uint8(ipProtoTCP)
	if udp {
		proto, l4Len = ipProtoUDP, udpHdrLen
	}
	segLen := l4Len + len(payload)
	pktLen := ipLen + segLen

	b := w.buf[:0]
	// Record header: seconds, microseconds, captured and original length.
	b = binary.LittleEndian.AppendUint32(b, uint32(ts.Unix()))
	b = binary.LittleEndian.AppendUint32(b, uint32(ts.Nanosecond()/1000))
	b = binary.LittleEndian.AppendUint32(b, uint32(pktLen))
	b = binary.LittleEndian.AppendUint32(b, uint32(pktLen))

	ip := len(b)
	if v4 {
		w.id++
		s, d := src.Addr().As4(), dst.Addr().As4()
		b = append(b, 0x45, 0) // version 4, 5 words; TOS 0
		b = binary.BigEndian.AppendUint16(b, uint16(pktLen))
		b = binary.BigEndian.AppendUint16(b, w.id)
		b = append(b, 0x40, 0, ttl, proto, 0, 0) // don't fragment; checksum below
		b = append(b, s[:]...)
		b = append(b, d[:]...)
		binary.BigEndian.PutUint16(b[ip+10:], ^onesSum(0, b[ip:ip+ipv4HdrLn]))
	} else {
		s, d := src.Addr().As16(), dst.Addr().As16()
		b = append(b, 0x60, 0, 0, 0) // version 6, no class, no flow label
		b = binary.BigEndian.AppendUint16(b, uint16(segLen))
		b = append(b, proto, ttl)
		b = append(b, s[:]...)
		b = append(b, d[:]...)
	}

	l4 := len(b)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	b = binary.BigEndian.AppendUint16(b, dst.Port())
	csum := l4 + 6
	if udp {
		b = binary.BigEndian.AppendUint16(b, uint16(segLen))
		b = append(b, 0, 0)
	} else {
		fwd, rev := flowKey{src, dst}, flowKey{dst, src}
		seq, ok := w.seq[fwd]
		if !ok {
			seq = tcpFirstSeq
		}
		ack, ok := w.seq[rev]
		if !ok {
			ack = tcpFirstSeq
		}
		w.seq[fwd] = seq + uint32(len(payload))
		b = binary.BigEndian.AppendUint32(b, seq)
		b = binary.BigEndian.AppendUint32(b, ack)
		b = append(b, tcpHdrLen/4<<4, tcpPSHACK)
		b = binary.BigEndian.AppendUint16(b, tcpWindow)
		b = append(b, 0, 0, 0, 0) // checksum below, urgent pointer
		csum = l4 + 16
	}
	b = append(b, payload...)

	// Transport checksum over the pseudo-header (addresses, protocol,
	// length) and the segment.
	var sum uint32
	if v4 {
		sum = uint32(onesSum(0, b[ip+12:ip+20]))
	} else {
		sum = uint32(onesSum(0, b[ip+8:ip+40]))
	}
	sum += uint32(proto) + uint32(segLen)
	c := ^onesSum(sum, b[l4:])
	if udp && c == 0 {
		c = 0xffff // zero means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(b[csum:], c)

	w.buf = b
	_, err := w.w.Write(b)
	return err
}

// onesSum adds b as big-endian 16-bit words to sum and folds the carries:
// the Internet checksum (RFC 1071) before its final complement.
func onesSum(sum uint32, b []byte) uint16 {
	s := uint64(sum)
	for len(b) >= 2 {
		s += uint64(b[0])<<8 | uint64(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}
