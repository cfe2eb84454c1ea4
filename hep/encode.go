package hep

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"net/netip"
)

// MaxV3Len is the largest HEPv3 packet: its length field is 16 bits.
const MaxV3Len = 65535

// AppendV3 appends p encoded as HEPv3 to dst and returns the result.
//
// Chunks are written in the order Kamailio's siptrace uses: family,
// protocol, addresses, ports, time (only when HasTime), payload type,
// capture ID, then auth key, correlation ID and node name when set, then
// the payload: chunk 0x000f, or 0x0010 zlib-compressed when p.Compressed.
// Family is taken from Src when p.Family is zero. Version is ignored.
//
// HEPv3 cannot carry more than MaxV3Len bytes: a payload that would not fit
// is cut so that it does. Callers that must not lose bytes check
// len(payload) first.
func (p *Packet) AppendV3(dst []byte) []byte {
	start := len(dst)
	dst = append(dst, 'H', 'E', 'P', '3', 0, 0)

	fam := p.Family
	if fam == 0 {
		fam = FamilyIPv4
		if a := p.Src.Addr(); a.Is6() && !a.Is4In6() {
			fam = FamilyIPv6
		}
	}
	dst = appendChunk(dst, chunkFamily, fam)
	dst = appendChunk(dst, chunkProtocol, p.Protocol)
	if fam == FamilyIPv6 {
		s, d := p.Src.Addr().As16(), p.Dst.Addr().As16()
		dst = appendChunk(dst, chunkSrcIPv6, s[:]...)
		dst = appendChunk(dst, chunkDstIPv6, d[:]...)
	} else {
		s, d := as4(p.Src.Addr()), as4(p.Dst.Addr())
		dst = appendChunk(dst, chunkSrcIPv4, s[:]...)
		dst = appendChunk(dst, chunkDstIPv4, d[:]...)
	}
	dst = appendU16Chunk(dst, chunkSrcPort, p.Src.Port())
	dst = appendU16Chunk(dst, chunkDstPort, p.Dst.Port())
	if p.HasTime {
		dst = appendU32Chunk(dst, chunkTsSec, p.TsSec)
		dst = appendU32Chunk(dst, chunkTsUsec, p.TsUsec)
	}
	dst = appendChunk(dst, chunkPayloadType, p.PayloadType)
	dst = appendU32Chunk(dst, chunkCaptureID, p.CaptureID)
	if p.KeepAlive {
		dst = appendU16Chunk(dst, chunkKeepAlive, p.KeepAliveTimer)
	}
	if len(p.AuthKey) > 0 {
		dst = appendChunk(dst, chunkAuthKey, p.AuthKey...)
	}
	if len(p.CorrelationID) > 0 {
		dst = appendChunk(dst, chunkCorrelationID, p.CorrelationID...)
	}
	if p.VLAN != 0 {
		dst = appendU16Chunk(dst, chunkVLAN, p.VLAN)
	}
	if len(p.NodeName) > 0 {
		dst = appendChunk(dst, chunkNodeName, p.NodeName...)
	}
	if p.MOS != 0 {
		dst = appendU16Chunk(dst, chunkMOS, p.MOS)
	}

	typ, payload := uint16(chunkPayload), p.Payload
	if p.Compressed {
		typ, payload = chunkCompressed, deflateZlib(payload)
	}
	room := MaxV3Len - (len(dst) - start) - chunkHeaderLen
	if len(payload) > room {
		payload = payload[:max(room, 0)]
	}
	dst = appendChunk(dst, typ, payload...)
	binary.BigEndian.PutUint16(dst[start+4:], uint16(len(dst)-start))
	return dst
}

func appendChunk(dst []byte, typ uint16, v ...byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, 0)
	dst = binary.BigEndian.AppendUint16(dst, typ)
	dst = binary.BigEndian.AppendUint16(dst, uint16(chunkHeaderLen+len(v)))
	return append(dst, v...)
}

func appendU16Chunk(dst []byte, typ uint16, v uint16) []byte {
	return appendChunk(dst, typ, byte(v>>8), byte(v))
}

func appendU32Chunk(dst []byte, typ uint16, v uint32) []byte {
	return appendChunk(dst, typ, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func as4(a netip.Addr) [4]byte {
	if a.Is4() || a.Is4In6() {
		return a.Unmap().As4()
	}
	return [4]byte{}
}

func deflateZlib(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b) // writes to a bytes.Buffer cannot fail
	w.Close()
	return buf.Bytes()
}

// AppendV2 appends p encoded as HEPv2 (Kamailio's hep_version 2) to dst:
// the v1 header, then the time and a 16-bit capture ID (the low 16 bits of
// p.CaptureID) in little-endian order, then the payload. The family follows
// Src: IPv4 (or IPv4-mapped) gives the 16-byte header, anything else the
// 40-byte one. Chunks-only fields are not representable and are dropped.
func (p *Packet) AppendV2(dst []byte) []byte {
	dst = p.appendV12Header(dst, 2)
	dst = binary.LittleEndian.AppendUint32(dst, p.TsSec)
	dst = binary.LittleEndian.AppendUint32(dst, p.TsUsec)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(p.CaptureID))
	dst = append(dst, 0, 0)
	return append(dst, p.Payload...)
}

// AppendV1 appends p encoded as HEPv1 to dst: addresses, ports, protocol and
// payload only (no time, no capture ID). See AppendV2 for the family.
func (p *Packet) AppendV1(dst []byte) []byte {
	dst = p.appendV12Header(dst, 1)
	return append(dst, p.Payload...)
}

func (p *Packet) appendV12Header(dst []byte, version uint8) []byte {
	src := p.Src.Addr()
	if src.Is4() || src.Is4In6() {
		dst = append(dst, version, v12HdrLen4, FamilyIPv4, p.Protocol)
		dst = binary.BigEndian.AppendUint16(dst, p.Src.Port())
		dst = binary.BigEndian.AppendUint16(dst, p.Dst.Port())
		s, d := as4(src), as4(p.Dst.Addr())
		dst = append(dst, s[:]...)
		return append(dst, d[:]...)
	}
	dst = append(dst, version, v12HdrLen6, FamilyIPv6, p.Protocol)
	dst = binary.BigEndian.AppendUint16(dst, p.Src.Port())
	dst = binary.BigEndian.AppendUint16(dst, p.Dst.Port())
	s, d := src.As16(), p.Dst.Addr().As16()
	dst = append(dst, s[:]...)
	return append(dst, d[:]...)
}
