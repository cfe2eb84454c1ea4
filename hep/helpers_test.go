package hep_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callscope/callscope/hep"
)

// MustInvite returns the ~1 KB INVITE with SDP in testdata/invite.sip.
func MustInvite(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "invite.sip"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// MustDecode decodes b with a fresh Decoder and fails the test on error.
func MustDecode(tb testing.TB, b []byte) hep.Packet {
	tb.Helper()
	var d hep.Decoder
	var p hep.Packet
	if err := d.Decode(b, &p); err != nil {
		tb.Fatalf("Decode(%x): %v", b[:min(len(b), 64)], err)
	}
	return p
}

var (
	src4 = netip.MustParseAddrPort("192.0.2.10:5060")
	dst4 = netip.MustParseAddrPort("198.51.100.20:5080")
	src6 = netip.MustParseAddrPort("[2001:db8::10]:5060")
	dst6 = netip.MustParseAddrPort("[2001:db8::20]:5080")
	ts   = time.Date(2025, 11, 26, 3, 6, 7, 890123000, time.UTC)
)

// samplePacket returns a fully populated packet, as Kamailio would send it.
func samplePacket(tb testing.TB, src, dst netip.AddrPort) hep.Packet {
	p := hep.Packet{
		Version:     3,
		Protocol:    hep.ProtoUDP,
		Src:         src,
		Dst:         dst,
		PayloadType: hep.PayloadSIP,
		CaptureID:   2001,
		Payload:     MustInvite(tb),
	}
	p.Family = hep.FamilyIPv4
	if src.Addr().Is6() {
		p.Family = hep.FamilyIPv6
	}
	p.SetTime(ts)
	return p
}

// v3 assembles a HEPv3 packet from raw chunks, with the right total length.
func v3(chunks ...[]byte) []byte {
	b := []byte("HEP3\x00\x00")
	for _, c := range chunks {
		b = append(b, c...)
	}
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)))
	return b
}

// chunk returns one vendor-0 chunk.
func chunk(typ uint16, v ...byte) []byte { return vchunk(0, typ, v...) }

func vchunk(vendor, typ uint16, v ...byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, vendor)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(6+len(v)))
	return append(b, v...)
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func gzipped(tb testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func zlibbed(tb testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func deflated(tb testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(b)
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// sharedHEP is where the third-party captures live, outside the repository.
var sharedHEP = filepath.Join("..", "..", "shared", "testdata", "hep")
