package sip

import "testing"

// FuzzExtract checks that no input panics Extract and that every field it
// returns aliases the input: a slice outside it would be a memory-safety bug
// in the making, or a field invented from nothing.
func FuzzExtract(f *testing.F) {
	for _, name := range fixtures(f) {
		f.Add(MustReadFixture(f, name))
	}
	f.Add([]byte("INVITE sip:a@[::1 SIP/2.0\r\nf: \"\\\r\nv: ;branch=\"\r\ni: x\r\nc: multipart/x;boundary=\"\r\n\r\n--"))
	f.Add([]byte("SIP/2.0 200 OK\nCall-ID: c\nContent-Type: multipart/mixed;boundary=b\n\n--b\n\n--b\nc:application/sdp\n\nv"))
	f.Add([]byte("\r\n\r\n"))
	x := NewExtractor(DefaultCorrelationHeaders)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		err := x.Extract(b, &m)
		checkAliases(t, &m, b)
		if err == nil && len(m.CallID) == 0 {
			t.Errorf("nil error without a Call-ID")
		}
		if m.HasSDP != (SDPBody(&m) != nil) {
			t.Errorf("HasSDP = %v disagrees with SDPBody", m.HasSDP)
		}
		if sdp := SDPBody(&m); sdp != nil {
			_, _ = ParseSDP(sdp)
		}
	})
}

// FuzzParseSDP checks that no body panics ParseSDP and that a summary it
// accepts is consistent.
func FuzzParseSDP(f *testing.F) {
	x := NewExtractor(nil)
	for _, name := range fixtures(f) {
		var m Message
		b := MustReadFixture(f, name)
		if x.Extract(b, &m) == nil && len(m.Body) > 0 {
			f.Add(m.Body)
		}
	}
	f.Add([]byte("v=0\nm=audio 1/2 RTP/AVP 0 0 0\na=rtpmap:0\na=rtpmap: x\nc=IN IP4 /\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSDP(b)
		if err != nil {
			return
		}
		for _, md := range s.Media {
			if md.Port < 0 || md.Port > 65535 {
				t.Errorf("port %d out of range", md.Port)
			}
			switch md.Direction {
			case "sendrecv", "sendonly", "recvonly", "inactive":
			default:
				t.Errorf("direction %q", md.Direction)
			}
		}
	})
}
