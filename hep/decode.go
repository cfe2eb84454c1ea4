package hep

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Generic (vendor 0) chunk types this package reads or writes.
const (
	chunkFamily        = 0x0001
	chunkProtocol      = 0x0002
	chunkSrcIPv4       = 0x0003
	chunkDstIPv4       = 0x0004
	chunkSrcIPv6       = 0x0005
	chunkDstIPv6       = 0x0006
	chunkSrcPort       = 0x0007
	chunkDstPort       = 0x0008
	chunkTsSec         = 0x0009
	chunkTsUsec        = 0x000a
	chunkPayloadType   = 0x000b
	chunkCaptureID     = 0x000c
	chunkKeepAlive     = 0x000d
	chunkAuthKey       = 0x000e
	chunkPayload       = 0x000f
	chunkCompressed    = 0x0010
	chunkCorrelationID = 0x0011
	chunkVLAN          = 0x0012
	chunkNodeName      = 0x0013
	chunkMOS           = 0x0020
)

const (
	v3HeaderLen    = 6 // "HEP3" + u16 total length
	chunkHeaderLen = 6 // u16 vendor + u16 type + u16 length
)

// DefaultMaxInflated is the inflated-payload cap used when
// Decoder.MaxInflated is zero. A SIP message over UDP fits in 64 KiB.
const DefaultMaxInflated = 64 << 10

// Decoder decodes HEP packets, keeping the buffers and decompressors it
// needs for compressed payloads between calls. The zero value is ready to
// use. A Decoder is not safe for concurrent use: give each goroutine its own.
type Decoder struct {
	// MaxInflated caps the size of an inflated 0x0010 payload; 0 means
	// DefaultMaxInflated.
	MaxInflated int

	inflater
}

// Decode decodes the HEP packet at the start of b into p, which it resets
// first. It detects the version from the first bytes: "HEP3" or "EEP3" for
// v3, a version byte of 1 or 2 for v1/v2.
//
// For v3 it decodes exactly the total length the header declares (trailing
// bytes are ignored; FrameLength tells a stream reader where the next packet
// starts). Chunks of unknown type or non-zero vendor are skipped. The IPv4
// address chunks are used when the family is 2 and the IPv6 ones when it is
// 10; without a family chunk the family follows the address chunks present.
//
// Errors wrap ErrShort, ErrMagic, ErrLength, ErrChunk, ErrFamily,
// ErrInflate, ErrTooLarge or ErrNoPayload. On ErrNoPayload the rest of p is
// filled in; on any other error p's content is unspecified.
//
// p's slices alias b, or d's inflate buffer for a compressed payload (valid
// until the next Decode on d). Decoding an uncompressed v3 packet does not
// allocate.
func (d *Decoder) Decode(b []byte, p *Packet) error {
	*p = Packet{}
	if len(b) < 4 {
		return fmt.Errorf("hep: %d bytes: %w", len(b), ErrShort)
	}
	if isV3Magic(b) {
		return d.decodeV3(b, p)
	}
	if b[0] == 1 || b[0] == 2 {
		return decodeV12(b, p)
	}
	return fmt.Errorf("hep: first bytes %#x: %w", b[:4], ErrMagic)
}

func isV3Magic(b []byte) bool {
	return (b[0] == 'H' || b[0] == 'E') && b[1] == 'E' && b[2] == 'P' && b[3] == '3'
}

// FrameLength returns the total length of the HEPv3 packet whose header
// starts b, so that a TCP or TLS reader knows how many bytes to wait for:
// HEP adds no framing of its own on streams. b must hold at least the 6
// header bytes (ErrShort otherwise); a bad magic returns ErrMagic and a
// length below 6 ErrLength, after which the stream cannot be resynchronised.
func FrameLength(b []byte) (n int, err error) {
	if len(b) < v3HeaderLen {
		return 0, fmt.Errorf("hep: frame header: %d bytes: %w", len(b), ErrShort)
	}
	if !isV3Magic(b) {
		return 0, fmt.Errorf("hep: frame header %#x: %w", b[:4], ErrMagic)
	}
	n = int(binary.BigEndian.Uint16(b[4:6]))
	if n < v3HeaderLen {
		return 0, fmt.Errorf("hep: frame length %d: %w", n, ErrLength)
	}
	return n, nil
}

func (d *Decoder) decodeV3(b []byte, p *Packet) error {
	n, err := FrameLength(b)
	if err != nil {
		return err
	}
	if n > len(b) {
		return fmt.Errorf("hep: declared length %d, have %d bytes: %w", n, len(b), ErrShort)
	}
	b = b[:n]
	p.Version = 3

	// Addresses and ports may come in any order relative to the family
	// chunk, so collect them and assemble at the end.
	var (
		src4, dst4         [4]byte
		src6, dst6         [16]byte
		has4, has6         bool
		srcPort, dstPort   uint16
		hasSec, hasUsec    bool
		compressed         []byte
		hasPlain, hasCompr bool
	)
	for off := v3HeaderLen; off < len(b); {
		if len(b)-off < chunkHeaderLen {
			return fmt.Errorf("hep: %d stray bytes at offset %d: %w", len(b)-off, off, ErrChunk)
		}
		vendor := binary.BigEndian.Uint16(b[off:])
		typ := binary.BigEndian.Uint16(b[off+2:])
		clen := int(binary.BigEndian.Uint16(b[off+4:]))
		if clen < chunkHeaderLen || clen > len(b)-off {
			return fmt.Errorf("hep: chunk %#04x at offset %d: length %d of %d left: %w", typ, off, clen, len(b)-off, ErrChunk)
		}
		v := b[off+chunkHeaderLen : off+clen : off+clen]
		off += clen
		if vendor != 0 {
			continue
		}
		want := fixedSize(typ)
		if want != 0 && len(v) != want {
			return fmt.Errorf("hep: chunk %#04x at offset %d: %d bytes, want %d: %w", typ, off-clen, len(v), want, ErrChunk)
		}
		switch typ {
		case chunkFamily:
			p.Family = v[0]
		case chunkProtocol:
			p.Protocol = v[0]
		case chunkSrcIPv4:
			copy(src4[:], v)
			has4 = true
		case chunkDstIPv4:
			copy(dst4[:], v)
			has4 = true
		case chunkSrcIPv6:
			copy(src6[:], v)
			has6 = true
		case chunkDstIPv6:
			copy(dst6[:], v)
			has6 = true
		case chunkSrcPort:
			srcPort = binary.BigEndian.Uint16(v)
		case chunkDstPort:
			dstPort = binary.BigEndian.Uint16(v)
		case chunkTsSec:
			p.TsSec = binary.BigEndian.Uint32(v)
			hasSec = true
		case chunkTsUsec:
			p.TsUsec = binary.BigEndian.Uint32(v)
			hasUsec = true
		case chunkPayloadType:
			p.PayloadType = v[0]
		case chunkCaptureID:
			p.CaptureID = binary.BigEndian.Uint32(v)
		case chunkKeepAlive:
			p.KeepAlive = true
			p.KeepAliveTimer = binary.BigEndian.Uint16(v)
		case chunkAuthKey:
			p.AuthKey = v
		case chunkPayload:
			p.Payload = v
			hasPlain = true
		case chunkCompressed:
			compressed = v
			hasCompr = true
		case chunkCorrelationID:
			p.CorrelationID = v
		case chunkVLAN:
			p.VLAN = binary.BigEndian.Uint16(v)
		case chunkNodeName:
			p.NodeName = v
		case chunkMOS:
			p.MOS = binary.BigEndian.Uint16(v)
		}
	}
	p.HasTime = hasSec || hasUsec

	switch p.Family {
	case 0: // no family chunk: trust the address chunks
		if has4 {
			p.Family = FamilyIPv4
		} else if has6 {
			p.Family = FamilyIPv6
		}
	case FamilyIPv4, FamilyIPv6:
	default:
		return fmt.Errorf("hep: family %d: %w", p.Family, ErrFamily)
	}
	switch p.Family {
	case FamilyIPv4:
		if has4 {
			p.Src = netip.AddrPortFrom(netip.AddrFrom4(src4), srcPort)
			p.Dst = netip.AddrPortFrom(netip.AddrFrom4(dst4), dstPort)
		}
	case FamilyIPv6:
		if has6 {
			p.Src = netip.AddrPortFrom(netip.AddrFrom16(src6), srcPort)
			p.Dst = netip.AddrPortFrom(netip.AddrFrom16(dst6), dstPort)
		}
	}

	// A sender that puts both payload chunks in one packet is confused;
	// prefer the plain one, which costs nothing to read.
	if !hasPlain && hasCompr {
		out, err := d.inflate(compressed, d.maxInflated())
		if err != nil {
			return err
		}
		p.Payload = out
		p.Compressed = true
	}
	if len(p.Payload) == 0 {
		return ErrNoPayload
	}
	return nil
}

// fixedSize returns the payload size of a fixed-size generic chunk type, or
// 0 for variable-length and unknown types.
func fixedSize(typ uint16) int {
	switch typ {
	case chunkFamily, chunkProtocol, chunkPayloadType:
		return 1
	case chunkSrcPort, chunkDstPort, chunkKeepAlive, chunkVLAN, chunkMOS:
		return 2
	case chunkSrcIPv4, chunkDstIPv4, chunkTsSec, chunkTsUsec, chunkCaptureID:
		return 4
	case chunkSrcIPv6, chunkDstIPv6:
		return 16
	}
	return 0
}

func (d *Decoder) maxInflated() int {
	if d.MaxInflated > 0 {
		return d.MaxInflated
	}
	return DefaultMaxInflated
}

// v1/v2 header sizes: the fixed part, then the addresses, then (v2) the
// 12-byte time block.
const (
	v12FixedLen  = 8
	v12HdrLen4   = v12FixedLen + 4 + 4   // 16
	v12HdrLen6   = v12FixedLen + 16 + 16 // 40
	v2TimeLen    = 12
	v2CaptureOff = 8 // within the time block
)

func decodeV12(b []byte, p *Packet) error {
	if len(b) < v12FixedLen {
		return fmt.Errorf("hep: v%d header: %d bytes: %w", b[0], len(b), ErrShort)
	}
	p.Version = b[0]
	hl, fam := int(b[1]), b[2]
	switch {
	case fam == FamilyIPv4 && hl == v12HdrLen4, fam == FamilyIPv6 && hl == v12HdrLen6:
	case fam == FamilyIPv4 || fam == FamilyIPv6:
		return fmt.Errorf("hep: v%d header length %d for family %d: %w", p.Version, hl, fam, ErrLength)
	default:
		return fmt.Errorf("hep: v%d family %d: %w", p.Version, fam, ErrFamily)
	}
	end := hl
	if p.Version == 2 {
		end += v2TimeLen
	}
	if len(b) < end {
		return fmt.Errorf("hep: v%d header of %d bytes, have %d: %w", p.Version, end, len(b), ErrShort)
	}
	p.Family = fam
	p.Protocol = b[3]
	srcPort := binary.BigEndian.Uint16(b[4:])
	dstPort := binary.BigEndian.Uint16(b[6:])
	if fam == FamilyIPv4 {
		p.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[8:12])), srcPort)
		p.Dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[12:16])), dstPort)
	} else {
		p.Src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), srcPort)
		p.Dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[24:40])), dstPort)
	}
	if p.Version == 2 {
		// Kamailio writes the time block in host order; every sender that
		// matters runs little-endian. The 16-bit capture id is opaque.
		t := b[hl:end]
		p.TsSec = binary.LittleEndian.Uint32(t)
		p.TsUsec = binary.LittleEndian.Uint32(t[4:])
		p.CaptureID = uint32(binary.LittleEndian.Uint16(t[v2CaptureOff:]))
		p.HasTime = true
	}
	p.PayloadType = payloadTypeOfV12
	p.Payload = b[end:len(b):len(b)]
	if len(p.Payload) == 0 {
		p.Payload = nil
		return ErrNoPayload
	}
	return nil
}
