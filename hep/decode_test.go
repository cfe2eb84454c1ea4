package hep_test

import (
	"bytes"
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/callscope/callscope/hep"
)

// TestDecode_Chunks decodes one packet per chunk type on top of a minimal
// valid packet and checks the field it fills.
func TestDecode_Chunks(t *testing.T) {
	payload := chunk(0x000f, []byte("SIP/2.0 200 OK\r\n\r\n")...)
	tests := []struct {
		name  string
		chunk []byte
		check func(p hep.Packet) bool
	}{
		{"Family", chunk(0x0001, 10), func(p hep.Packet) bool { return p.Family == 10 }},
		{"Protocol", chunk(0x0002, 22), func(p hep.Packet) bool { return p.Protocol == hep.ProtoTLS }},
		{"SrcIPv4", chunk(0x0003, 192, 0, 2, 1), func(p hep.Packet) bool {
			return p.Family == 2 && p.Src.Addr() == netip.MustParseAddr("192.0.2.1")
		}},
		{"DstIPv4", chunk(0x0004, 192, 0, 2, 2), func(p hep.Packet) bool {
			return p.Dst.Addr() == netip.MustParseAddr("192.0.2.2")
		}},
		{"SrcIPv6", chunk(0x0005, netip.MustParseAddr("2001:db8::1").AsSlice()...), func(p hep.Packet) bool {
			return p.Family == 10 && p.Src.Addr() == netip.MustParseAddr("2001:db8::1")
		}},
		{"DstIPv6", chunk(0x0006, netip.MustParseAddr("2001:db8::2").AsSlice()...), func(p hep.Packet) bool {
			return p.Dst.Addr() == netip.MustParseAddr("2001:db8::2")
		}},
		{"TsSec", chunk(0x0009, u32(1700000000)...), func(p hep.Packet) bool {
			return p.HasTime && p.TsSec == 1700000000 && p.Time().Unix() == 1700000000
		}},
		{"TsUsec", chunk(0x000a, u32(250000)...), func(p hep.Packet) bool { return p.HasTime && p.TsUsec == 250000 }},
		{"PayloadType", chunk(0x000b, 100), func(p hep.Packet) bool { return p.PayloadType == hep.PayloadLog }},
		{"PayloadTypeUnknownKept", chunk(0x000b, 39), func(p hep.Packet) bool { return p.PayloadType == 39 }},
		{"CaptureID", chunk(0x000c, u32(2001)...), func(p hep.Packet) bool { return p.CaptureID == 2001 }},
		{"CaptureIDSngrepSwapped", chunk(0x000c, u32(0x07d20000)...), func(p hep.Packet) bool { return p.CaptureID == 131203072 }},
		{"KeepAlive", chunk(0x000d, u16(30)...), func(p hep.Packet) bool { return p.KeepAlive && p.KeepAliveTimer == 30 }},
		{"AuthKey", chunk(0x000e, []byte("s3cret")...), func(p hep.Packet) bool { return string(p.AuthKey) == "s3cret" }},
		{"CorrelationID", chunk(0x0011, []byte("abc@host")...), func(p hep.Packet) bool { return string(p.CorrelationID) == "abc@host" }},
		{"VLAN", chunk(0x0012, u16(42)...), func(p hep.Packet) bool { return p.VLAN == 42 }},
		{"NodeName", chunk(0x0013, []byte("edge-1")...), func(p hep.Packet) bool { return string(p.NodeName) == "edge-1" }},
		{"MOS", chunk(0x0020, u16(432)...), func(p hep.Packet) bool { return p.MOS == 432 }},
		{"UnknownTypeSkipped", chunk(0x0099, []byte("whatever")...), func(p hep.Packet) bool { return true }},
		{"VendorChunkSkipped", vchunk(2, 0x000c, u32(7)...), func(p hep.Packet) bool { return p.CaptureID == 0 }},
		{"VendorChunkWrongSizeSkipped", vchunk(2, 0x0001, 1, 2, 3), func(p hep.Packet) bool { return p.Family == 0 }},
		{"EmptyVariableChunk", chunk(0x0013), func(p hep.Packet) bool { return len(p.NodeName) == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := MustDecode(t, v3(tt.chunk, payload))
			if !tt.check(p) {
				t.Errorf("unexpected packet %+v", p)
			}
			if p.Version != 3 || string(p.Payload) != "SIP/2.0 200 OK\r\n\r\n" {
				t.Errorf("version %d payload %q", p.Version, p.Payload)
			}
		})
	}
}

func TestDecode_Ports(t *testing.T) {
	b := v3(chunk(0x0007, u16(5060)...), chunk(0x0001, 2), chunk(0x0003, 10, 0, 0, 1),
		chunk(0x0008, u16(5080)...), chunk(0x0004, 10, 0, 0, 2), chunk(0x000f, 'x'))
	p := MustDecode(t, b)
	if p.Src != netip.MustParseAddrPort("10.0.0.1:5060") || p.Dst != netip.MustParseAddrPort("10.0.0.2:5080") {
		t.Errorf("got %v -> %v", p.Src, p.Dst)
	}
}

// TestDecode_FamilyPicksAddresses: a sender may send both address kinds;
// the family chunk decides, wherever it sits.
func TestDecode_FamilyPicksAddresses(t *testing.T) {
	a4 := chunk(0x0003, 10, 0, 0, 1)
	a6 := chunk(0x0005, netip.MustParseAddr("2001:db8::1").AsSlice()...)
	pl := chunk(0x000f, 'x')
	tests := []struct {
		name string
		b    []byte
		want netip.Addr
		fam  uint8
	}{
		{"Family2Both", v3(a6, a4, chunk(0x0001, 2), pl), netip.MustParseAddr("10.0.0.1"), 2},
		{"Family10Both", v3(a4, a6, chunk(0x0001, 10), pl), netip.MustParseAddr("2001:db8::1"), 10},
		{"Family2Only6", v3(chunk(0x0001, 2), a6, pl), netip.Addr{}, 2},
		{"NoFamilyOnly6", v3(a6, pl), netip.MustParseAddr("2001:db8::1"), 10},
		{"NoAddresses", v3(pl), netip.Addr{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := MustDecode(t, tt.b)
			if p.Src.Addr() != tt.want || p.Family != tt.fam {
				t.Errorf("family %d src %v, want %d %v", p.Family, p.Src, tt.fam, tt.want)
			}
		})
	}
}

func TestDecode_Versions(t *testing.T) {
	invite := MustInvite(t)
	v2tail := func(sec, usec uint32, capID uint16) []byte {
		b := []byte{byte(sec), byte(sec >> 8), byte(sec >> 16), byte(sec >> 24),
			byte(usec), byte(usec >> 8), byte(usec >> 16), byte(usec >> 24),
			byte(capID), byte(capID >> 8), 0, 0}
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	a4 := []byte{192, 0, 2, 10, 198, 51, 100, 20}
	a6 := cat(src6.Addr().AsSlice(), dst6.Addr().AsSlice())
	ports := []byte{0x13, 0xc4, 0x13, 0xd8} // 5060, 5080
	tests := []struct {
		name     string
		b        []byte
		version  uint8
		src, dst netip.AddrPort
		hasTime  bool
		capID    uint32
	}{
		{"V1IPv4", cat([]byte{1, 16, 2, 17}, ports, a4, invite), 1, src4, dst4, false, 0},
		{"V1IPv6", cat([]byte{1, 40, 10, 6}, ports, a6, invite), 1, src6, dst6, false, 0},
		{"V2IPv4", cat([]byte{2, 16, 2, 17}, ports, a4, v2tail(1764126367, 890123, 2001), invite), 2, src4, dst4, true, 2001},
		{"V2IPv6", cat([]byte{2, 40, 10, 17}, ports, a6, v2tail(1764126367, 890123, 2001), invite), 2, src6, dst6, true, 2001},
		{"V3IPv4", func() []byte { p := samplePacket(t, src4, dst4); return p.AppendV3(nil) }(), 3, src4, dst4, true, 2001},
		{"V3IPv6", func() []byte { p := samplePacket(t, src6, dst6); return p.AppendV3(nil) }(), 3, src6, dst6, true, 2001},
		{"EEP3", func() []byte { p := samplePacket(t, src4, dst4); b := p.AppendV3(nil); b[0] = 'E'; return b }(), 3, src4, dst4, true, 2001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := MustDecode(t, tt.b)
			if p.Version != tt.version || p.Src != tt.src || p.Dst != tt.dst || p.CaptureID != tt.capID || p.HasTime != tt.hasTime {
				t.Errorf("got v%d %v -> %v capture %d hasTime %v", p.Version, p.Src, p.Dst, p.CaptureID, p.HasTime)
			}
			if tt.hasTime && !p.Time().Equal(ts) {
				t.Errorf("time %v, want %v", p.Time(), ts)
			}
			if !tt.hasTime && !p.Time().IsZero() {
				t.Errorf("time %v, want zero", p.Time())
			}
			if !bytes.Equal(p.Payload, invite) || p.PayloadType != hep.PayloadSIP {
				t.Errorf("payload type %d, payload %d bytes", p.PayloadType, len(p.Payload))
			}
		})
	}
}

func TestDecode_Compressed(t *testing.T) {
	invite := MustInvite(t)
	tests := []struct {
		name string
		data []byte
	}{
		{"Gzip", gzipped(t, invite)},
		{"Zlib", zlibbed(t, invite)},
		{"RawDeflate", deflated(t, invite)},
	}
	var d hep.Decoder // reused across cases: the buffers must not leak between them
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p hep.Packet
			if err := d.Decode(v3(chunk(0x000e, []byte("key")...), chunk(0x0010, tt.data...)), &p); err != nil {
				t.Fatal(err)
			}
			if !p.Compressed || !bytes.Equal(p.Payload, invite) || string(p.AuthKey) != "key" {
				t.Errorf("compressed %v, payload %q", p.Compressed, p.Payload)
			}
		})
	}
	t.Run("PlainChunkWins", func(t *testing.T) {
		p := MustDecode(t, v3(chunk(0x0010, zlibbed(t, []byte("zipped"))...), chunk(0x000f, []byte("plain")...)))
		if p.Compressed || string(p.Payload) != "plain" {
			t.Errorf("got %q compressed=%v", p.Payload, p.Compressed)
		}
	})
	t.Run("AtTheLimit", func(t *testing.T) {
		d := hep.Decoder{MaxInflated: len(invite)}
		var p hep.Packet
		if err := d.Decode(v3(chunk(0x0010, gzipped(t, invite)...)), &p); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.Payload, invite) {
			t.Error("payload differs")
		}
	})
	t.Run("OneOverTheLimit", func(t *testing.T) {
		d := hep.Decoder{MaxInflated: len(invite) - 1}
		var p hep.Packet
		err := d.Decode(v3(chunk(0x0010, gzipped(t, invite)...)), &p)
		if !errors.Is(err, hep.ErrTooLarge) {
			t.Errorf("got %v, want ErrTooLarge", err)
		}
	})
}

// TestDecode_ZipBomb: a few KB of zlib that inflate to 16 MB must be
// refused at the default cap, without allocating anywhere near that much.
func TestDecode_ZipBomb(t *testing.T) {
	bomb := v3(chunk(0x0010, zlibbed(t, make([]byte, 16<<20))...))
	var d hep.Decoder
	var p hep.Packet
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := d.Decode(bomb, &p)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, hep.ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if hep.Reason(err) != "hep_too_large" {
		t.Errorf("reason %q", hep.Reason(err))
	}
	// The output buffer grows to the 64 KiB cap; the inflater has its own
	// 32 KiB window and tables. Anything near 16 MB means no cap.
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("Decode allocated %d bytes for a refused bomb", n)
	}
}

func TestDecode_TrailingBytesIgnored(t *testing.T) {
	p := samplePacket(t, src4, dst4)
	b := p.AppendV3(nil)
	b = append(b, "HEP3 next packet"...)
	got := MustDecode(t, b)
	if !bytes.Equal(got.Payload, p.Payload) {
		t.Errorf("payload %q", got.Payload)
	}
}

// TestDecode_Reset: Decode clears fields a previous packet set.
func TestDecode_Reset(t *testing.T) {
	var d hep.Decoder
	p := samplePacket(t, src4, dst4)
	p.AuthKey = []byte("k")
	if err := d.Decode(p.AppendV3(nil), &p); err != nil {
		t.Fatal(err)
	}
	if err := d.Decode(v3(chunk(0x000f, 'x')), &p); err != nil {
		t.Fatal(err)
	}
	if p.AuthKey != nil || p.CaptureID != 0 || p.HasTime || p.Src.IsValid() {
		t.Errorf("stale fields: %+v", p)
	}
}

func TestDecode_Errors(t *testing.T) {
	good := func() []byte { p := samplePacket(t, src4, dst4); return p.AppendV3(nil) }()
	v1 := func() []byte { p := samplePacket(t, src4, dst4); return p.AppendV1(nil) }()
	v2 := func() []byte { p := samplePacket(t, src6, dst6); return p.AppendV2(nil) }()
	set := func(b []byte, i int, v ...byte) []byte { b = bytes.Clone(b); copy(b[i:], v); return b }
	pl := chunk(0x000f, 'x')
	tests := []struct {
		name   string
		b      []byte
		want   error
		reason string
	}{
		{"Empty", nil, hep.ErrShort, "hep_truncated"},
		{"ThreeBytes", []byte("HEP"), hep.ErrShort, "hep_truncated"},
		{"V3HeaderOnlyMagic", []byte("HEP3\x00"), hep.ErrShort, "hep_truncated"},
		{"V3DeclaredPastEnd", good[:len(good)-1], hep.ErrShort, "hep_truncated"},
		{"BadMagic", set(good, 0, 'X'), hep.ErrMagic, "hep_bad_magic"},
		{"Version0", []byte{0, 16, 2, 17, 0, 0, 0, 0}, hep.ErrMagic, "hep_bad_magic"},
		{"HEP2Magic", set(good, 3, '2'), hep.ErrMagic, "hep_bad_magic"},
		{"V3LengthBelowHeader", []byte("HEP3\x00\x05"), hep.ErrLength, "hep_bad_length"},
		{"ChunkLengthBelowHeader", v3(set(chunk(0x0013, []byte("abc")...), 4, 0, 5)), hep.ErrChunk, "hep_bad_chunk"},
		{"ChunkLengthZero", v3(set(chunk(0x0013, []byte("abc")...), 4, 0, 0)), hep.ErrChunk, "hep_bad_chunk"},
		{"ChunkPastPacket", v3(pl, set(chunk(0x0013, []byte("abc")...), 4, 0, 10)), hep.ErrChunk, "hep_bad_chunk"},
		{"ChunkPastDeclaredLength", func() []byte { b := v3(pl, chunk(0x0013, []byte("abc")...)); b[5]--; return append(b, 0) }(), hep.ErrChunk, "hep_bad_chunk"},
		{"StrayBytes", v3(pl, []byte{0, 0, 0}), hep.ErrChunk, "hep_bad_chunk"},
		{"FamilyTooLong", v3(chunk(0x0001, 2, 0), pl), hep.ErrChunk, "hep_bad_chunk"},
		{"IPv4Short", v3(chunk(0x0003, 10, 0, 0), pl), hep.ErrChunk, "hep_bad_chunk"},
		{"IPv6Short", v3(chunk(0x0005, 1, 2, 3, 4), pl), hep.ErrChunk, "hep_bad_chunk"},
		{"PortLong", v3(chunk(0x0007, 0, 0, 1), pl), hep.ErrChunk, "hep_bad_chunk"},
		{"CaptureIDShort", v3(chunk(0x000c, 0, 1), pl), hep.ErrChunk, "hep_bad_chunk"},
		{"TimeShort", v3(chunk(0x0009, 0, 1), pl), hep.ErrChunk, "hep_bad_chunk"},
		{"V3BadFamily", v3(chunk(0x0001, 7), pl), hep.ErrFamily, "hep_bad_family"},
		{"NoPayload", v3(chunk(0x000c, u32(1)...)), hep.ErrNoPayload, "hep_no_payload"},
		{"EmptyPayload", v3(chunk(0x000f)), hep.ErrNoPayload, "hep_no_payload"},
		{"Inflate", v3(chunk(0x0010, []byte("this is not compressed at all")...)), hep.ErrInflate, "hep_inflate_failed"},
		{"InflateTruncatedZlib", v3(chunk(0x0010, zlibbed(t, MustInvite(t))[:40]...)), hep.ErrInflate, "hep_inflate_failed"},
		{"InflateTruncatedGzip", v3(chunk(0x0010, gzipped(t, MustInvite(t))[:40]...)), hep.ErrInflate, "hep_inflate_failed"},
		{"V1Short", v1[:7], hep.ErrShort, "hep_truncated"},
		{"V1ShortAddresses", v1[:12], hep.ErrShort, "hep_truncated"},
		{"V2ShortTime", v2[:45], hep.ErrShort, "hep_truncated"},
		{"V1NoPayload", v1[:16], hep.ErrNoPayload, "hep_no_payload"},
		{"V1HeaderLengthFamilyMismatch", set(v1, 1, 40), hep.ErrLength, "hep_bad_length"},
		{"V1BadFamily", set(v1, 2, 3), hep.ErrFamily, "hep_bad_family"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d hep.Decoder
			var p hep.Packet
			err := d.Decode(tt.b, &p)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if got := hep.Reason(err); got != tt.reason {
				t.Errorf("Reason = %q, want %q", got, tt.reason)
			}
		})
	}
}

// TestDecode_NoPayloadKeepsHeader: a payload-less packet still says who sent it.
func TestDecode_NoPayloadKeepsHeader(t *testing.T) {
	var d hep.Decoder
	var p hep.Packet
	err := d.Decode(v3(chunk(0x000c, u32(77)...), chunk(0x000d, u16(5)...)), &p)
	if !errors.Is(err, hep.ErrNoPayload) || p.CaptureID != 77 || !p.KeepAlive {
		t.Errorf("err %v, packet %+v", err, p)
	}
}

func TestReason(t *testing.T) {
	if got := hep.Reason(nil); got != "" {
		t.Errorf("Reason(nil) = %q", got)
	}
	if got := hep.Reason(errors.New("other")); got != "hep_other" {
		t.Errorf("Reason(other) = %q", got)
	}
	for _, err := range []error{hep.ErrShort, hep.ErrMagic, hep.ErrLength, hep.ErrChunk, hep.ErrFamily, hep.ErrInflate, hep.ErrTooLarge, hep.ErrNoPayload} {
		r := hep.Reason(err)
		if !strings.HasPrefix(r, "hep_") || strings.ToLower(r) != r || strings.ContainsAny(r, " -") {
			t.Errorf("Reason(%v) = %q, not a snake_case hep_ label", err, r)
		}
	}
}

func TestFrameLength(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		n    int
		err  error
	}{
		{"OK", []byte("HEP3\x01\x00"), 256, nil},
		{"EEP3", []byte("EEP3\x00\x06rest"), 6, nil},
		{"Short", []byte("HEP3\x01"), 0, hep.ErrShort},
		{"BadMagic", []byte("HEP2\x01\x00"), 0, hep.ErrMagic},
		{"BelowHeader", []byte("HEP3\x00\x05"), 0, hep.ErrLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := hep.FrameLength(tt.b)
			if n != tt.n || !errors.Is(err, tt.err) {
				t.Errorf("got %d, %v; want %d, %v", n, err, tt.n, tt.err)
			}
		})
	}
}
