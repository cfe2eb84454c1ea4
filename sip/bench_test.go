package sip

import "testing"

// BenchmarkExtract measures the ingest hot path on a realistic ~900-byte
// INVITE with SDP. Run: go test -run '^$' -bench Extract -benchmem ./sip/
func BenchmarkExtract(b *testing.B) {
	msg := MustReadFixture(b, "invite_sdp.sip")
	x := NewExtractor(DefaultCorrelationHeaders)
	var m Message
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := x.Extract(msg, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExtractFixtures(b *testing.B) {
	x := NewExtractor(DefaultCorrelationHeaders)
	for _, name := range fixtures(b) {
		msg := MustReadFixture(b, name)
		b.Run(name, func(b *testing.B) {
			var m Message
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				_ = x.Extract(msg, &m)
			}
		})
	}
}

func BenchmarkParseSDP(b *testing.B) {
	sdp := sdpOf(b, "invite_sdp.sip")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSDP(sdp); err != nil {
			b.Fatal(err)
		}
	}
}
