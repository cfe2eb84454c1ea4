package callrec

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/callscope/callscope/sip"
)

// FuzzUnmarshalState: any bytes decode or fail cleanly, and what decodes
// encodes to bytes that decode to the same State.
func FuzzUnmarshalState(f *testing.F) {
	for _, name := range []string{"answered", "serial_fork", "register"} {
		s := stateOf(f, loadScenario(f, name, t0).messages)
		f.Add(encode(f, s))
	}
	f.Add([]byte{stateVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := UnmarshalState(b)
		if err != nil {
			return
		}
		again, err := UnmarshalState(encode(t, &s))
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		if !sameState(encode(t, &again), encode(t, &s)) {
			t.Fatal("decode(encode(s)) != s")
		}
		_ = s.Record("x", t0) // never panics on a decoded state
		s.Merge(&again)
	})
}

// FuzzMergeAnyOrder adds one hostile message to a real call and checks
// that nothing panics and that the record still does not depend on the
// order or split of the messages.
func FuzzMergeAnyOrder(f *testing.F) {
	sc := loadScenario(f, "answered", t0)
	for _, m := range sc.messages[:4] {
		f.Add(m.Payload, uint64(1), int64(500))
	}
	f.Add([]byte("SIP/2.0 200 OK\r\nCall-ID: answered-1@192.0.2.10\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@h>;tag=alice1\r\n\r\n"), uint64(7), int64(-3))
	f.Add([]byte("INVITE sip:x SIP/2.0\r\nCall-ID: answered-1@192.0.2.10\r\nCSeq: 4294967295 INVITE\r\nFrom: \"\\\"\" <sip:\xff@h>;tag=\x00\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=audio 1 RTP/AVP 0\r\n"), uint64(3), int64(0))
	f.Fuzz(func(t *testing.T, payload []byte, seed uint64, offsetMs int64) {
		var m sip.Message
		if sip.NewExtractor(nil).Extract(payload, &m) != nil || string(m.CallID) != sc.callID {
			return
		}
		msgs := append(append([]Message(nil), sc.messages...), Message{
			At: t0.Add(time.Duration(offsetMs%100000) * time.Millisecond), Src: netip.MustParseAddrPort("192.0.2.66:5060"),
			Dst: netip.MustParseAddrPort("192.0.2.20:5060"), Node: "proxy-a", Payload: payload})
		whole := stateOf(t, msgs)
		rec := whole.Record(sc.callID, t0.Add(time.Hour))
		if rec.Messages != int64(len(msgs)) {
			t.Fatalf("%d messages, want %d", rec.Messages, len(msgs))
		}
		want := encode(t, whole)
		rng := rand.New(rand.NewPCG(seed, seed>>7))
		for range 5 {
			if got := encode(t, shuffledMerge(t, msgs, rng)); !sameState(got, want) {
				t.Fatal("order or split changed the state")
			}
		}
	})
}
