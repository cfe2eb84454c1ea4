package ladder

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// benchCall is a long call: n messages bouncing between four endpoints,
// every tenth one a retransmission, with SDP on some and an event per ten.
func benchCall(n int) ([]Message, []Event) {
	eps := []netip.AddrPort{
		netip.MustParseAddrPort("10.0.0.10:5060"), netip.MustParseAddrPort("10.0.0.1:5060"),
		netip.MustParseAddrPort("10.0.0.2:5060"), netip.MustParseAddrPort("10.0.0.20:5060"),
	}
	msgs := make([]Message, n)
	var events []Event
	for i := range msgs {
		m := Message{
			Seq: i, Time: t0.Add(time.Duration(i) * 7 * time.Millisecond),
			Src: eps[i%4], Dst: eps[(i+1)%4], CaptureID: uint32(1 + i%2), NodeName: "node",
			Request: i%2 == 0, Method: "INFO", StatusCode: 200, Reason: "OK", CallID: "bench",
			Raw: fmt.Sprintf("INFO sip:x SIP/2.0\r\nCSeq: %d INFO\r\nContent-Length: 0\r\n\r\n", i),
		}
		if i%10 == 9 {
			m.Raw, m.Src, m.Dst = msgs[i-1].Raw, msgs[i-1].Src, msgs[i-1].Dst
		}
		if i%5 == 0 {
			m.SDP = &SDPSummary{Media: []SDPMedia{{Type: "audio", Addr: "10.0.0.5", Port: 40000, Codecs: []string{"PCMU/8000"}, Direction: "sendrecv"}}}
		}
		msgs[i] = m
		if i%10 == 0 {
			events = append(events, Event{Time: m.Time.Add(time.Millisecond), Kind: "rtcp", Text: "jitter 2 ms", CaptureID: 1})
		}
	}
	return msgs, events
}

func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{10, 500, 5000} {
		msgs, events := benchCall(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Build(msgs, events, Options{Page: 2})
			}
		})
	}
}
