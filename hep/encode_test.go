package hep_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"reflect"
	"testing"

	"github.com/callscope/callscope/hep"
)

func TestAppendV3_RoundTrip(t *testing.T) {
	full := func(src, dst netip.AddrPort) hep.Packet {
		p := samplePacket(t, src, dst)
		p.Protocol = hep.ProtoTLS
		p.AuthKey = []byte("node-secret")
		p.CorrelationID = []byte("corr-1@example")
		p.NodeName = []byte("kamailio-edge-1")
		p.KeepAlive, p.KeepAliveTimer = true, 15
		p.VLAN, p.MOS = 100, 431
		return p
	}
	tests := []struct {
		name string
		p    hep.Packet
	}{
		{"IPv4", samplePacket(t, src4, dst4)},
		{"IPv6", samplePacket(t, src6, dst6)},
		{"AllChunks4", full(src4, dst4)},
		{"AllChunks6", full(src6, dst6)},
		{"Compressed", func() hep.Packet { p := full(src4, dst4); p.Compressed = true; return p }()},
		{"NoTime", func() hep.Packet {
			p := samplePacket(t, src4, dst4)
			p.HasTime, p.TsSec, p.TsUsec = false, 0, 0
			return p
		}()},
		{"Log", func() hep.Packet {
			p := samplePacket(t, src4, dst4)
			p.PayloadType, p.Payload = hep.PayloadLog, []byte("SYSLOG: hello")
			return p
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.p.AppendV3([]byte("prefix"))
			if !bytes.HasPrefix(b, []byte("prefixHEP3")) {
				t.Fatalf("AppendV3 did not append: %q", b[:10])
			}
			got := MustDecode(t, b[len("prefix"):])
			if n, err := hep.FrameLength(b[len("prefix"):]); err != nil || n != len(b)-len("prefix") {
				t.Errorf("FrameLength = %d, %v; want %d", n, err, len(b)-len("prefix"))
			}
			assertSamePacket(t, got, tt.p)
		})
	}
}

func assertSamePacket(t *testing.T, got, want hep.Packet) {
	t.Helper()
	// Slices compare by content; the rest by value.
	for _, f := range []struct {
		name      string
		got, want []byte
	}{
		{"Payload", got.Payload, want.Payload},
		{"AuthKey", got.AuthKey, want.AuthKey},
		{"CorrelationID", got.CorrelationID, want.CorrelationID},
		{"NodeName", got.NodeName, want.NodeName},
	} {
		if !bytes.Equal(f.got, f.want) {
			t.Errorf("%s = %q, want %q", f.name, f.got, f.want)
		}
	}
	got.Payload, got.AuthKey, got.CorrelationID, got.NodeName = nil, nil, nil, nil
	want.Payload, want.AuthKey, want.CorrelationID, want.NodeName = nil, nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestAppendV12_RoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		version  uint8
		src, dst netip.AddrPort
		hdrLen   int
	}{
		{"V1IPv4", 1, src4, dst4, 16},
		{"V1IPv6", 1, src6, dst6, 40},
		{"V2IPv4", 2, src4, dst4, 28},
		{"V2IPv6", 2, src6, dst6, 52},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := samplePacket(t, tt.src, tt.dst)
			var b []byte
			if tt.version == 1 {
				b = p.AppendV1(nil)
			} else {
				b = p.AppendV2(nil)
			}
			if len(b)-len(p.Payload) != tt.hdrLen {
				t.Errorf("header of %d bytes, want %d", len(b)-len(p.Payload), tt.hdrLen)
			}
			got := MustDecode(t, b)
			p.Version = tt.version
			if tt.version == 1 {
				p.HasTime, p.TsSec, p.TsUsec, p.CaptureID = false, 0, 0, 0
			}
			assertSamePacket(t, got, p)
		})
	}
}

// TestAppendV2_LittleEndianTime pins the v2 time block byte order, which
// Kamailio writes in host order.
func TestAppendV2_LittleEndianTime(t *testing.T) {
	p := samplePacket(t, src4, dst4)
	b := p.AppendV2(nil)
	if got := binary.LittleEndian.Uint32(b[16:]); got != p.TsSec {
		t.Errorf("seconds %d, want %d", got, p.TsSec)
	}
	if got := binary.LittleEndian.Uint16(b[24:]); got != 2001 {
		t.Errorf("capture id %d, want 2001", got)
	}
}

// TestAppendV3_TooLarge: HEP cannot carry more than 64 KiB; the payload is
// cut to fit and the packet still decodes.
func TestAppendV3_TooLarge(t *testing.T) {
	p := samplePacket(t, src4, dst4)
	p.Payload = bytes.Repeat([]byte{'a'}, 70000)
	b := p.AppendV3(nil)
	if len(b) != hep.MaxV3Len {
		t.Errorf("encoded %d bytes, want %d", len(b), hep.MaxV3Len)
	}
	got := MustDecode(t, b)
	if !bytes.Equal(got.Payload, p.Payload[:len(got.Payload)]) {
		t.Error("payload prefix differs")
	}
}

// TestAppendV3_FamilyFromSrc: a packet without Family gets it from Src.
func TestAppendV3_FamilyFromSrc(t *testing.T) {
	for _, src := range []netip.AddrPort{src4, src6, netip.MustParseAddrPort("[::ffff:192.0.2.10]:5060")} {
		p := hep.Packet{Src: src, Dst: dst4, Payload: []byte("x")}
		got := MustDecode(t, p.AppendV3(nil))
		want := hep.FamilyIPv4
		if src == src6 {
			want = hep.FamilyIPv6
		}
		if got.Family != want {
			t.Errorf("src %v: family %d, want %d", src, got.Family, want)
		}
	}
}
