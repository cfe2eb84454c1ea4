package pcap

import (
	"encoding/binary"
	"net/netip"
)

const (
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86dd
	etherTypeVLAN = 0x8100
	etherTypeQinQ = 0x88a8

	ipProtoTCP = 6
	ipProtoUDP = 17
)

// UDPPayload returns the UDP payload of f and its endpoints. It understands
// Ethernet (with 802.1Q/802.1ad tags), Linux cooked captures v1 and v2, raw
// IP and BSD/OpenBSD loopback frames, carrying IPv4 or IPv6 (hop-by-hop,
// routing and destination-options extension headers are skipped). ok is
// false for anything else: other protocols, IP fragments, and frames cut
// short by the snap length. The payload aliases f.Data.
func UDPPayload(f Frame) (payload []byte, src, dst netip.AddrPort, ok bool) {
	seg, proto, sa, da, ok := ipPayload(f)
	if !ok || proto != ipProtoUDP || len(seg) < 8 {
		return nil, src, dst, false
	}
	// UDP: src port u16 | dst port u16 | length u16 (header included) | checksum u16
	n := int(binary.BigEndian.Uint16(seg[4:]))
	if n < 8 || n > len(seg) {
		return nil, src, dst, false
	}
	src = netip.AddrPortFrom(sa, binary.BigEndian.Uint16(seg))
	dst = netip.AddrPortFrom(da, binary.BigEndian.Uint16(seg[2:]))
	return seg[8:n:n], src, dst, true
}

// TCPPayload is UDPPayload for TCP segments: it returns the segment's data
// (possibly empty) and endpoints, without any stream reassembly.
func TCPPayload(f Frame) (payload []byte, src, dst netip.AddrPort, ok bool) {
	seg, proto, sa, da, ok := ipPayload(f)
	if !ok || proto != ipProtoTCP || len(seg) < 20 {
		return nil, src, dst, false
	}
	// TCP: ports, seq, ack, then data offset in 32-bit words in the high nibble of byte 12.
	hl := int(seg[12]>>4) * 4
	if hl < 20 || hl > len(seg) {
		return nil, src, dst, false
	}
	src = netip.AddrPortFrom(sa, binary.BigEndian.Uint16(seg))
	dst = netip.AddrPortFrom(da, binary.BigEndian.Uint16(seg[2:]))
	return seg[hl:len(seg):len(seg)], src, dst, true
}

// ipPayload strips the link layer and the IP header, returning the
// transport segment bounded by the IP length.
func ipPayload(f Frame) (seg []byte, proto uint8, src, dst netip.Addr, ok bool) {
	b := f.Data
	var etherType uint16
	switch f.LinkType {
	case LinkTypeEthernet:
		// dst MAC (6) | src MAC (6) | ethertype (2), with optional 4-byte tags before the type
		if len(b) < 14 {
			return
		}
		etherType, b = binary.BigEndian.Uint16(b[12:]), b[14:]
		for etherType == etherTypeVLAN || etherType == etherTypeQinQ {
			if len(b) < 4 {
				return
			}
			etherType, b = binary.BigEndian.Uint16(b[2:]), b[4:]
		}
	case LinkTypeLinuxSLL:
		// packet type (2) | ARPHRD (2) | addr len (2) | addr (8) | protocol (2)
		if len(b) < 16 {
			return
		}
		etherType, b = binary.BigEndian.Uint16(b[14:]), b[16:]
	case LinkTypeSLL2:
		// protocol (2) | reserved (2) | ifindex (4) | ARPHRD (2) | type (1) | addr len (1) | addr (8)
		if len(b) < 20 {
			return
		}
		etherType, b = binary.BigEndian.Uint16(b), b[20:]
	case LinkTypeNull, LinkTypeLoop:
		// 4-byte address family in the capturing host's order (Null) or
		// network order (Loop). AF_INET is 2 everywhere; AF_INET6 is 24, 28
		// or 30 depending on the BSD. Its value fits in one byte, so look at
		// whichever end is non-zero.
		if len(b) < 4 {
			return
		}
		fam := uint32(b[0]) | uint32(b[3])
		switch fam {
		case 2:
			etherType = etherTypeIPv4
		case 24, 28, 30:
			etherType = etherTypeIPv6
		default:
			return
		}
		b = b[4:]
	case LinkTypeRaw, 12, 14, LinkTypeIPv4, LinkTypeIPv6: // 12 and 14 are DLT_RAW on some BSDs
		if len(b) < 1 {
			return
		}
		switch b[0] >> 4 {
		case 4:
			etherType = etherTypeIPv4
		case 6:
			etherType = etherTypeIPv6
		default:
			return
		}
	default:
		return
	}
	switch etherType {
	case etherTypeIPv4:
		return ipv4Payload(b)
	case etherTypeIPv6:
		return ipv6Payload(b)
	}
	return
}

// IPv4: ver/IHL | TOS | total length | id | flags/fragment offset | TTL |
// protocol | checksum | src (4) | dst (4) | options
func ipv4Payload(b []byte) (seg []byte, proto uint8, src, dst netip.Addr, ok bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return
	}
	hl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if hl < 20 || total < hl || total > len(b) {
		return
	}
	// More-fragments set or a non-zero offset: not a whole datagram.
	if binary.BigEndian.Uint16(b[6:])&0x3fff != 0 {
		return
	}
	return b[hl:total:total], b[9], netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20])), true
}

// IPv6: ver/class/flow (4) | payload length | next header | hop limit |
// src (16) | dst (16) | extension headers | payload
func ipv6Payload(b []byte) (seg []byte, proto uint8, src, dst netip.Addr, ok bool) {
	if len(b) < 40 || b[0]>>4 != 6 {
		return
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	if n > len(b)-40 {
		return
	}
	next := b[6]
	src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
	b = b[40 : 40+n : 40+n]
	for {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(b) < 8 {
				return
			}
			l := 8 + int(b[1])*8
			if l > len(b) {
				return
			}
			next, b = b[0], b[l:]
		case 44: // fragment
			return
		default:
			return b, next, src, dst, true
		}
	}
}
