package pcap_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callscope/callscope/pcap"
)

// sharedHEP is where the third-party captures live, outside the repository.
var sharedHEP = filepath.Join("..", "..", "shared", "testdata", "hep")

func MustShared(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(sharedHEP, name)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("third-party capture %s absent (it lives in /work/shared/testdata, outside the repo): %v", p, err)
	}
	return p
}

func TestReadFile_ThirdParty(t *testing.T) {
	tests := []struct {
		file     string
		link     uint32
		frames   int
		dstPort  uint16
		firstDst string
	}{
		{"hep-wireshark-hep.pcap", pcap.LinkTypeEthernet, 8, 9060, ""},
		{"hep-wireshark-hep3-compressed.pcapng", pcap.LinkTypeLinuxSLL, 21, 9060, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			frames, err := pcap.ReadFile(MustShared(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(frames) != tt.frames {
				t.Fatalf("%d frames, want %d", len(frames), tt.frames)
			}
			for i, f := range frames {
				if f.LinkType != tt.link {
					t.Errorf("frame %d: link type %d, want %d", i, f.LinkType, tt.link)
				}
				if f.Time.Year() < 2016 {
					t.Errorf("frame %d: time %v", i, f.Time)
				}
				p, _, dst, ok := pcap.UDPPayload(f)
				if !ok {
					t.Fatalf("frame %d: no UDP payload", i)
				}
				if dst.Port() != tt.dstPort || !bytes.HasPrefix(p, []byte("HEP3")) {
					t.Errorf("frame %d: to %v, payload %q...", i, dst, p[:min(len(p), 8)])
				}
			}
		})
	}
}

func TestReadFile_Missing(t *testing.T) {
	_, err := pcap.ReadFile(filepath.Join(t.TempDir(), "nope.pcap"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want ErrNotExist", err)
	}
}

// classic builds a classic pcap file in the given byte order.
func classic(order byteOrder, magic uint32, link uint32, recs ...[]byte) []byte {
	var b []byte
	b = order.AppendUint32(b, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = order.AppendUint32(b, 65535)
	b = order.AppendUint32(b, link)
	for i, r := range recs {
		b = order.AppendUint32(b, 1700000000+uint32(i))
		b = order.AppendUint32(b, 500)
		b = order.AppendUint32(b, uint32(len(r)))
		b = order.AppendUint32(b, uint32(len(r)))
		b = append(b, r...)
	}
	return b
}

func TestParse_Classic(t *testing.T) {
	rec := []byte{0x45, 1, 2, 3}
	tests := []struct {
		name     string
		file     []byte
		wantTime time.Time
	}{
		{"LittleMicro", classic(binary.LittleEndian, 0xa1b2c3d4, 101, rec, rec), time.Unix(1700000000, 500_000)},
		{"BigMicro", classic(binary.BigEndian, 0xa1b2c3d4, 101, rec, rec), time.Unix(1700000000, 500_000)},
		{"LittleNano", classic(binary.LittleEndian, 0xa1b23c4d, 101, rec, rec), time.Unix(1700000000, 500)},
		{"BigNano", classic(binary.BigEndian, 0xa1b23c4d, 101, rec, rec), time.Unix(1700000000, 500)},
		{"FCSBitsInLinkType", classic(binary.LittleEndian, 0xa1b2c3d4, 101|0x10000000, rec, rec), time.Unix(1700000000, 500_000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames := MustParse(t, tt.file)
			if len(frames) != 2 {
				t.Fatalf("%d frames, want 2", len(frames))
			}
			if !frames[0].Time.Equal(tt.wantTime) || frames[0].LinkType != 101 || !bytes.Equal(frames[0].Data, rec) {
				t.Errorf("got %+v", frames[0])
			}
			if !frames[1].Time.Equal(tt.wantTime.Add(time.Second)) {
				t.Errorf("second frame time %v", frames[1].Time)
			}
		})
	}
}

// ng builds pcapng blocks.
// byteOrder is what the builders need of binary.LittleEndian and BigEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

type ng struct {
	order byteOrder
	b     []byte
}

func (n *ng) block(typ uint32, body []byte) *ng {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n.b = n.order.AppendUint32(n.b, typ)
	n.b = n.order.AppendUint32(n.b, uint32(12+len(body)))
	n.b = append(n.b, body...)
	n.b = n.order.AppendUint32(n.b, uint32(12+len(body)))
	return n
}

func (n *ng) shb() *ng {
	var body []byte
	body = n.order.AppendUint32(body, 0x1a2b3c4d)
	body = n.order.AppendUint16(body, 1)
	body = n.order.AppendUint16(body, 0)
	body = n.order.AppendUint64(body, ^uint64(0))
	return n.block(0x0a0d0d0a, body)
}

func (n *ng) idb(link uint16, snap uint32, tsresol int) *ng {
	var body []byte
	body = n.order.AppendUint16(body, link)
	body = n.order.AppendUint16(body, 0)
	body = n.order.AppendUint32(body, snap)
	if tsresol >= 0 {
		body = n.order.AppendUint16(body, 9)
		body = n.order.AppendUint16(body, 1)
		body = append(body, byte(tsresol), 0, 0, 0)
		body = n.order.AppendUint32(body, 0) // opt_endofopt
	}
	return n.block(1, body)
}

func (n *ng) epb(ifc uint32, ts uint64, data []byte) *ng {
	var body []byte
	body = n.order.AppendUint32(body, ifc)
	body = n.order.AppendUint32(body, uint32(ts>>32))
	body = n.order.AppendUint32(body, uint32(ts))
	body = n.order.AppendUint32(body, uint32(len(data)))
	body = n.order.AppendUint32(body, uint32(len(data)))
	return n.block(6, append(body, data...))
}

func (n *ng) spb(data []byte) *ng {
	body := n.order.AppendUint32(nil, uint32(len(data)))
	return n.block(3, append(body, data...))
}

func TestParse_NG(t *testing.T) {
	data := []byte{0x45, 0, 0, 20, 9, 9}
	for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		t.Run(order.String(), func(t *testing.T) {
			n := &ng{order: order}
			n.shb().
				idb(101, 0, -1).           // interface 0: microseconds
				idb(1, 0, 9).              // interface 1: nanoseconds
				idb(113, 0, 0x80|10).      // interface 2: 2^-10 s
				block(5, []byte("stats")). // skipped
				epb(0, 1700000000_000123, data).
				epb(1, 1700000000_000000123, data).
				epb(2, 1700000000<<10|512, data).
				spb(data)
			frames := MustParse(t, n.b)
			want := []pcap.Frame{
				{Time: time.Unix(1700000000, 123_000).UTC(), LinkType: 101, Data: data},
				{Time: time.Unix(1700000000, 123).UTC(), LinkType: 1, Data: data},
				{Time: time.Unix(1700000000, 500_000_000).UTC(), LinkType: 113, Data: data},
				{LinkType: 101, Data: data},
			}
			if len(frames) != len(want) {
				t.Fatalf("%d frames, want %d", len(frames), len(want))
			}
			for i := range want {
				if !frames[i].Time.Equal(want[i].Time) || frames[i].LinkType != want[i].LinkType || !bytes.Equal(frames[i].Data, want[i].Data) {
					t.Errorf("frame %d: got %+v, want %+v", i, frames[i], want[i])
				}
			}
		})
	}
	t.Run("NewSectionResetsInterfaces", func(t *testing.T) {
		n := &ng{order: binary.LittleEndian}
		n.shb().idb(101, 0, -1).epb(0, 1, data)
		n.order = binary.BigEndian
		n.shb().epb(0, 1, data)
		if _, err := pcap.Parse(n.b); !errors.Is(err, pcap.ErrFormat) {
			t.Errorf("got %v, want ErrFormat for interface of an earlier section", err)
		}
	})
}

func TestParse_Errors(t *testing.T) {
	rec := []byte{1, 2, 3, 4}
	good := classic(binary.LittleEndian, 0xa1b2c3d4, 101, rec)
	ngGood := (&ng{order: binary.LittleEndian}).shb().idb(101, 0, -1).epb(0, 1, rec).b
	tests := []struct {
		name string
		file []byte
	}{
		{"Empty", nil},
		{"BadMagic", []byte("not a capture at all, really")},
		{"ShortFileHeader", good[:20]},
		{"ShortRecordHeader", good[:30]},
		{"ShortRecord", good[:len(good)-1]},
		{"NGShortBlock", ngGood[:len(ngGood)-3]},
		{"NGBadBOM", func() []byte { b := bytes.Clone(ngGood); b[8] = 0; return b }()},
		{"NGBlockLengthNotAligned", func() []byte { b := bytes.Clone(ngGood); b[4]++; return b }()},
		{"NGPacketBeforeInterface", (&ng{order: binary.LittleEndian}).shb().epb(0, 1, rec).b},
		{"NGSimpleBeforeInterface", (&ng{order: binary.LittleEndian}).shb().spb(rec).b},
		{"NGCapturedTooLong", func() []byte {
			n := &ng{order: binary.LittleEndian}
			n.shb().idb(101, 0, -1)
			body := binary.LittleEndian.AppendUint32(nil, 0)
			body = append(body, make([]byte, 8)...)
			body = binary.LittleEndian.AppendUint32(body, 1000)
			body = binary.LittleEndian.AppendUint32(body, 1000)
			return n.block(6, append(body, rec...)).b
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := pcap.Parse(tt.file); !errors.Is(err, pcap.ErrFormat) {
				t.Errorf("got %v, want ErrFormat", err)
			}
		})
	}
}

// rawUDP returns one raw IP packet made by the Writer.
func rawPacket(t *testing.T, src, dst string, transport string, payload []byte) []byte {
	t.Helper()
	frames := MustParse(t, MustWrite(t, message{t0, ap(src), ap(dst), transport, payload}))
	return frames[0].Data
}

func TestUDPPayload_LinkTypes(t *testing.T) {
	payload := []byte("OPTIONS sip:x SIP/2.0\r\n\r\n")
	v4 := rawPacket(t, "192.0.2.1:5060", "192.0.2.2:9060", "udp", payload)
	v6 := rawPacket(t, "[2001:db8::1]:5060", "[2001:db8::2]:9060", "udp", payload)
	eth := func(typ uint16, tags ...uint16) []byte {
		b := make([]byte, 12)
		for _, tag := range tags {
			b = binary.BigEndian.AppendUint16(b, tag)
			b = append(b, 0, 7)
		}
		return binary.BigEndian.AppendUint16(b, typ)
	}
	sll := func(typ uint16) []byte { return binary.BigEndian.AppendUint16(make([]byte, 14), typ) }
	sll2 := func(typ uint16) []byte { return append(binary.BigEndian.AppendUint16(nil, typ), make([]byte, 18)...) }
	cat := func(a, b []byte) []byte { return append(bytes.Clone(a), b...) }
	// IPv6 with a hop-by-hop header (8 bytes, next header UDP) in front of the UDP header.
	v6hbh := func() []byte {
		b := bytes.Clone(v6[:40])
		b[6] = 0
		binary.BigEndian.PutUint16(b[4:], binary.BigEndian.Uint16(v6[4:])+8)
		b = append(b, 17, 0, 1, 4, 0, 0, 0, 0)
		return append(b, v6[40:]...)
	}()
	tests := []struct {
		name string
		f    pcap.Frame
		ok   bool
		v6   bool
	}{
		{"Raw4", pcap.Frame{LinkType: pcap.LinkTypeRaw, Data: v4}, true, false},
		{"Raw6", pcap.Frame{LinkType: pcap.LinkTypeRaw, Data: v6}, true, true},
		{"IPv4LinkType", pcap.Frame{LinkType: pcap.LinkTypeIPv4, Data: v4}, true, false},
		{"Ethernet4", pcap.Frame{LinkType: pcap.LinkTypeEthernet, Data: cat(eth(0x0800), v4)}, true, false},
		{"EthernetPadded", pcap.Frame{LinkType: pcap.LinkTypeEthernet, Data: cat(cat(eth(0x0800), v4), make([]byte, 10))}, true, false},
		{"EthernetQinQ6", pcap.Frame{LinkType: pcap.LinkTypeEthernet, Data: cat(eth(0x86dd, 0x88a8, 0x8100), v6)}, true, true},
		{"SLL4", pcap.Frame{LinkType: pcap.LinkTypeLinuxSLL, Data: cat(sll(0x0800), v4)}, true, false},
		{"SLL2v6", pcap.Frame{LinkType: pcap.LinkTypeSLL2, Data: cat(sll2(0x86dd), v6)}, true, true},
		{"NullLittle4", pcap.Frame{LinkType: pcap.LinkTypeNull, Data: cat([]byte{2, 0, 0, 0}, v4)}, true, false},
		{"NullBig6", pcap.Frame{LinkType: pcap.LinkTypeNull, Data: cat([]byte{0, 0, 0, 30}, v6)}, true, true},
		{"Loop6", pcap.Frame{LinkType: pcap.LinkTypeLoop, Data: cat([]byte{0, 0, 0, 24}, v6)}, true, true},
		{"IPv6HopByHop", pcap.Frame{LinkType: pcap.LinkTypeRaw, Data: v6hbh}, true, true},

		{"UnknownLinkType", pcap.Frame{LinkType: 147, Data: v4}, false, false},
		{"NullUnknownFamily", pcap.Frame{LinkType: pcap.LinkTypeNull, Data: cat([]byte{7, 0, 0, 0}, v4)}, false, false},
		{"EthernetARP", pcap.Frame{LinkType: pcap.LinkTypeEthernet, Data: cat(eth(0x0806), v4)}, false, false},
		{"Truncated4", pcap.Frame{LinkType: pcap.LinkTypeRaw, Data: v4[:len(v4)-1]}, false, false},
		{"Truncated6", pcap.Frame{LinkType: pcap.LinkTypeRaw, Data: v6[:len(v6)-1]}, false, false},
		{"ShortEthernet", pcap.Frame{LinkType: pcap.LinkTypeEthernet, Data: make([]byte, 13)}, false, false},
		{"Fragment4", pcap.Frame{LinkType: pcap.LinkTypeRaw, Data: func() []byte { b := bytes.Clone(v4); b[6] = 0x20; return b }()}, false, false},
		{"Fragment6", pcap.Frame{LinkType: pcap.LinkTypeRaw, Data: func() []byte { b := bytes.Clone(v6); b[6] = 44; return b }()}, false, false},
		{"TCPIsNotUDP", pcap.Frame{LinkType: pcap.LinkTypeRaw, Data: rawPacket(t, "192.0.2.1:5060", "192.0.2.2:9060", "tcp", payload)}, false, false},
		{"Empty", pcap.Frame{LinkType: pcap.LinkTypeRaw}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, src, dst, ok := pcap.UDPPayload(tt.f)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			wantSrc, wantDst := ap("192.0.2.1:5060"), ap("192.0.2.2:9060")
			if tt.v6 {
				wantSrc, wantDst = ap("[2001:db8::1]:5060"), ap("[2001:db8::2]:9060")
			}
			if src != wantSrc || dst != wantDst || !bytes.Equal(p, payload) {
				t.Errorf("got %v -> %v %q", src, dst, p)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(classic(binary.LittleEndian, 0xa1b2c3d4, 1, []byte{1, 2, 3}))
	f.Add((&ng{order: binary.BigEndian}).shb().idb(1, 0, 9).epb(0, 1, []byte{1, 2, 3}).spb([]byte{4}).b)
	for _, name := range []string{"hep-wireshark-hep.pcap", "hep-wireshark-hep3-compressed.pcapng"} {
		if b, err := os.ReadFile(filepath.Join(sharedHEP, name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		frames, err := pcap.Parse(b)
		if err != nil {
			return
		}
		for _, fr := range frames {
			pcap.UDPPayload(fr)
			pcap.TCPPayload(fr)
		}
	})
}
