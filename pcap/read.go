package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// Link types (LINKTYPE_*, tcpdump.org/linktypes.html) that UDPPayload knows.
const (
	LinkTypeNull     uint32 = 0   // BSD loopback: 4-byte host-order family
	LinkTypeEthernet uint32 = 1   // Ethernet II, optionally 802.1Q tagged
	LinkTypeRaw      uint32 = 101 // bare IPv4 or IPv6 packet
	LinkTypeLoop     uint32 = 108 // OpenBSD loopback: 4-byte network-order family
	LinkTypeLinuxSLL uint32 = 113 // Linux "any" cooked capture v1
	LinkTypeIPv4     uint32 = 228
	LinkTypeIPv6     uint32 = 229
	LinkTypeSLL2     uint32 = 276 // Linux cooked capture v2
)

// Frame is one captured frame. Data is what was captured (possibly cut at
// the snap length), starting at the link-layer header named by LinkType.
type Frame struct {
	Time     time.Time
	LinkType uint32
	Data     []byte
}

// ErrFormat is wrapped by every error about the content of a capture.
var ErrFormat = errors.New("pcap: malformed capture")

// ReadFile reads every frame of the classic pcap (either byte order,
// microsecond or nanosecond timestamps) or pcapng (section header,
// interface description, enhanced, simple and obsolete packet blocks; other
// blocks are skipped) file at path. Errors wrap ErrFormat when the content
// is malformed, or the os error when the file cannot be read.
func ReadFile(path string) ([]Frame, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pcap.ReadFile: %w", err)
	}
	frames, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("pcap.ReadFile(%s): %w", path, err)
	}
	return frames, nil
}

// Read is ReadFile for an io.Reader.
func Read(r io.Reader) ([]Frame, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("pcap.Read: %w", err)
	}
	return Parse(b)
}

// Parse decodes a whole capture held in b. Frame data aliases b.
func Parse(b []byte) ([]Frame, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%d bytes: %w", len(b), ErrFormat)
	}
	if binary.LittleEndian.Uint32(b) == blockSHB {
		return parseNG(b)
	}
	return parseClassic(b)
}

// Classic pcap: a 24-byte file header, then records.
//
//	file header: magic u32 | major u16 | minor u16 | thiszone i32 |
//	             sigfigs u32 | snaplen u32 | linktype u32
//	record:      ts_sec u32 | ts_frac u32 | incl_len u32 | orig_len u32 | data
//
// The magic, written in the writer's byte order, gives that order and the
// unit of ts_frac: 0xa1b2c3d4 microseconds, 0xa1b23c4d nanoseconds.
const (
	magicMicro = 0xa1b2c3d4
	magicNano  = 0xa1b23c4d
	fileHdrLen = 24
	recHdrLen  = 16
)

func parseClassic(b []byte) ([]Frame, error) {
	var order binary.ByteOrder
	var fracUnit time.Duration
	switch m := binary.LittleEndian.Uint32(b); {
	case m == magicMicro:
		order, fracUnit = binary.LittleEndian, time.Microsecond
	case m == magicNano:
		order, fracUnit = binary.LittleEndian, time.Nanosecond
	case binary.BigEndian.Uint32(b) == magicMicro:
		order, fracUnit = binary.BigEndian, time.Microsecond
	case binary.BigEndian.Uint32(b) == magicNano:
		order, fracUnit = binary.BigEndian, time.Nanosecond
	default:
		return nil, fmt.Errorf("magic %#x: %w", b[:4], ErrFormat)
	}
	if len(b) < fileHdrLen {
		return nil, fmt.Errorf("file header: %d bytes: %w", len(b), ErrFormat)
	}
	// The top bits of the link-type field may carry FCS information.
	link := order.Uint32(b[20:]) & 0x0fffffff
	var frames []Frame
	for off := fileHdrLen; off < len(b); {
		if len(b)-off < recHdrLen {
			return nil, fmt.Errorf("record header at %d: %d bytes: %w", off, len(b)-off, ErrFormat)
		}
		sec, frac := order.Uint32(b[off:]), order.Uint32(b[off+4:])
		n := int(order.Uint32(b[off+8:]))
		off += recHdrLen
		if n > len(b)-off {
			return nil, fmt.Errorf("record at %d: %d bytes of %d left: %w", off, n, len(b)-off, ErrFormat)
		}
		frames = append(frames, Frame{
			Time:     time.Unix(int64(sec), int64(frac)*int64(fracUnit)).UTC(),
			LinkType: link,
			Data:     b[off : off+n : off+n],
		})
		off += n
	}
	return frames, nil
}

// pcapng: a sequence of blocks, each
//
//	type u32 | total length u32 | body ... (padded to 4) | total length u32
//
// in the byte order of the section, which the section header block gives
// by its byte-order magic 0x1a2b3c4d. Interfaces are numbered per section
// in the order of their description blocks.
const (
	blockSHB     = 0x0a0d0d0a
	blockIDB     = 0x00000001
	blockOldPkt  = 0x00000002
	blockSPB     = 0x00000003
	blockEPB     = 0x00000006
	byteOrderBOM = 0x1a2b3c4d
	optEnd       = 0
	optTsResol   = 9
	optTsOffset  = 14
	blockMinLen  = 12
)

type iface struct {
	link    uint32
	snaplen uint32
	// units per second of the timestamps, and a whole-second offset
	unitsPerSec uint64
	offset      int64
}

func parseNG(b []byte) ([]Frame, error) {
	var (
		order  binary.ByteOrder = binary.LittleEndian
		ifaces []iface
		frames []Frame
	)
	for off := 0; off < len(b); {
		if len(b)-off < blockMinLen {
			return nil, fmt.Errorf("block at %d: %d bytes: %w", off, len(b)-off, ErrFormat)
		}
		typ := order.Uint32(b[off:])
		if binary.LittleEndian.Uint32(b[off:]) == blockSHB { // palindromic
			typ = blockSHB
			switch {
			case binary.LittleEndian.Uint32(b[off+8:]) == byteOrderBOM:
				order = binary.LittleEndian
			case binary.BigEndian.Uint32(b[off+8:]) == byteOrderBOM:
				order = binary.BigEndian
			default:
				return nil, fmt.Errorf("section header at %d: byte-order magic %#x: %w", off, b[off+8:off+12], ErrFormat)
			}
			ifaces = ifaces[:0]
		}
		n := int(order.Uint32(b[off+4:]))
		if n < blockMinLen || n%4 != 0 || n > len(b)-off {
			return nil, fmt.Errorf("block %#x at %d: length %d of %d left: %w", typ, off, n, len(b)-off, ErrFormat)
		}
		body := b[off+8 : off+n-4]
		switch typ {
		case blockIDB:
			ifc, err := parseIDB(body, order)
			if err != nil {
				return nil, fmt.Errorf("interface block at %d: %w", off, err)
			}
			ifaces = append(ifaces, ifc)
		case blockEPB, blockOldPkt:
			f, err := parsePacketBlock(typ, body, order, ifaces)
			if err != nil {
				return nil, fmt.Errorf("packet block at %d: %w", off, err)
			}
			frames = append(frames, f)
		case blockSPB:
			if len(ifaces) == 0 || len(body) < 4 {
				return nil, fmt.Errorf("simple packet block at %d: %w", off, ErrFormat)
			}
			ifc := ifaces[0]
			n := min(uint64(order.Uint32(body)), uint64(len(body)-4))
			if ifc.snaplen != 0 {
				n = min(n, uint64(ifc.snaplen))
			}
			frames = append(frames, Frame{LinkType: ifc.link, Data: body[4 : 4+n : 4+n]})
		}
		off += n
	}
	return frames, nil
}

func parseIDB(body []byte, order binary.ByteOrder) (iface, error) {
	if len(body) < 8 {
		return iface{}, fmt.Errorf("%d bytes: %w", len(body), ErrFormat)
	}
	ifc := iface{
		link:        uint32(order.Uint16(body)),
		snaplen:     order.Uint32(body[4:]),
		unitsPerSec: 1_000_000, // default resolution: microseconds
	}
	for opts := body[8:]; len(opts) >= 4; {
		code, n := order.Uint16(opts), int(order.Uint16(opts[2:]))
		if code == optEnd {
			break
		}
		if 4+n > len(opts) {
			return iface{}, fmt.Errorf("option %d: %w", code, ErrFormat)
		}
		v := opts[4 : 4+n]
		switch {
		case code == optTsResol && n == 1:
			// High bit clear: 10^-v seconds; set: 2^-v.
			exp, base := uint64(v[0]&0x7f), uint64(10)
			if v[0]&0x80 != 0 {
				base = 2
			}
			units := uint64(1)
			for range exp {
				if units > math.MaxUint64/base {
					return iface{}, fmt.Errorf("timestamp resolution %#x: %w", v[0], ErrFormat)
				}
				units *= base
			}
			ifc.unitsPerSec = units
		case code == optTsOffset && n == 8:
			ifc.offset = int64(order.Uint64(v))
		}
		padded := 4 + (n+3)&^3
		if padded > len(opts) {
			break // the last option may lack its padding
		}
		opts = opts[padded:]
	}
	return ifc, nil
}

// parsePacketBlock reads an enhanced packet block:
//
//	interface id u32 | ts high u32 | ts low u32 | captured len u32 |
//	original len u32 | data (padded to 4) | options
//
// or the obsolete packet block, whose first word is interface id u16 |
// drops count u16.
func parsePacketBlock(typ uint32, body []byte, order binary.ByteOrder, ifaces []iface) (Frame, error) {
	if len(body) < 20 {
		return Frame{}, fmt.Errorf("%d bytes: %w", len(body), ErrFormat)
	}
	id := order.Uint32(body)
	if typ == blockOldPkt {
		id = uint32(order.Uint16(body))
	}
	if int(id) >= len(ifaces) || id > math.MaxInt32 {
		return Frame{}, fmt.Errorf("interface %d of %d: %w", id, len(ifaces), ErrFormat)
	}
	ifc := ifaces[id]
	ts := uint64(order.Uint32(body[4:]))<<32 | uint64(order.Uint32(body[8:]))
	n := order.Uint32(body[12:])
	if uint64(n) > uint64(len(body)-20) {
		return Frame{}, fmt.Errorf("captured length %d of %d: %w", n, len(body)-20, ErrFormat)
	}
	sec := ts / ifc.unitsPerSec
	frac := ts % ifc.unitsPerSec
	nsec := frac * 1e9 / ifc.unitsPerSec
	if ifc.unitsPerSec > 1e9 { // avoid overflow of frac*1e9 at fine resolutions
		nsec = frac / (ifc.unitsPerSec / 1e9)
	}
	return Frame{
		Time:     time.Unix(int64(sec)+ifc.offset, int64(nsec)).UTC(),
		LinkType: ifc.link,
		Data:     body[20 : 20+n : 20+n],
	}, nil
}
