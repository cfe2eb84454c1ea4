package scenario

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

// FuzzGenerate feeds arbitrary messages to the generator: a request from
// 10.0.0.10, an answer to it, and a third message from the caller. Each
// side must either be refused with an *UnsupportedError or come out as
// well-formed XML SIPp can read: under 64 KiB, sends of printable ASCII
// holding only the generator's own keywords, receptions of plain methods.
func FuzzGenerate(f *testing.F) {
	for _, file := range []string{"options.txt", "message.txt", "register.txt", "busy.txt", "cancelled.txt"} {
		msgs := loadCall(f, file)
		for i := 0; i+2 < len(msgs); i++ {
			f.Add(msgs[i].Payload, msgs[i+1].Payload, msgs[i+2].Payload)
		}
	}
	f.Add(hostileCall(f)[0].Payload, hostileCall(f)[1].Payload, []byte(nil))
	caller, callee := netip.MustParseAddrPort("10.0.0.10:5060"), netip.MustParseAddrPort("10.0.0.20:5060")
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		msgs := []Message{
			{Payload: a, Time: t0, Src: caller, Dst: callee, Transport: "udp", CaptureID: 1},
			{Payload: b, Time: t0.Add(time.Millisecond), Src: callee, Dst: caller, Transport: "udp", CaptureID: 1},
			{Payload: c, Time: t0.Add(20 * time.Millisecond), Src: caller, Dst: callee, Transport: "udp", CaptureID: 1},
		}
		for _, side := range []Side{UAC, UAS} {
			s, err := Generate(msgs, side, Options{})
			if err != nil {
				var ue *UnsupportedError
				if !errors.As(err, &ue) {
					t.Fatalf("%s: %v is not an *UnsupportedError", side, err)
				}
				continue
			}
			checkScenario(t, s.XML)
		}
	})
}

// checkScenario fails t unless doc is a scenario SIPp can read.
func checkScenario(t *testing.T, doc []byte) {
	t.Helper()
	if len(doc) > maxXML {
		t.Fatalf("%d bytes", len(doc))
	}
	for _, st := range decode(t, doc) {
		switch st.XMLName.Local {
		case "send":
			checkText(t, st.Text)
		case "recv":
			if st.Request != "" && !methodOK(st.Request) {
				t.Fatalf("recv request=%q", st.Request)
			}
		case "pause":
		default:
			t.Fatalf("element <%s>", st.XMLName.Local)
		}
	}
}
