package hep_test

import (
	"testing"

	"github.com/callscope/callscope/hep"
)

// BenchmarkDecode decodes the ~1 KB INVITE of testdata/invite.sip in HEPv3
// with every chunk Kamailio sends plus an auth key: the ingest hot path.
func BenchmarkDecode(b *testing.B) {
	p := samplePacket(b, src4, dst4)
	p.AuthKey = []byte("node-secret")
	pkt := p.AppendV3(nil)
	var d hep.Decoder
	var out hep.Packet
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(pkt, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeCompressed is the same INVITE in chunk 0x0010 (zlib), as
// OpenSIPS can send it; the Decoder's buffers are reused across packets.
func BenchmarkDecodeCompressed(b *testing.B) {
	p := samplePacket(b, src4, dst4)
	p.Compressed = true
	pkt := p.AppendV3(nil)
	var d hep.Decoder
	var out hep.Packet
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(pkt, &out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendV3(b *testing.B) {
	p := samplePacket(b, src4, dst4)
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = p.AppendV3(buf[:0])
	}
}

// TestDecode_ZeroAllocs holds the hot path to its promise. Allocation
// counts, unlike timings, are deterministic; the race detector adds its
// own, so the check only runs without it.
func TestDecode_ZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	p := samplePacket(t, src6, dst6)
	p.AuthKey, p.CorrelationID, p.NodeName = []byte("k"), []byte("c"), []byte("n")
	pkt := p.AppendV3(nil)
	var d hep.Decoder
	var out hep.Packet
	if n := testing.AllocsPerRun(100, func() {
		if err := d.Decode(pkt, &out); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Decode allocates %v times per packet, want 0", n)
	}
}
