package scenario

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// edit returns a copy of msgs with every payload passed through f.
func edit(msgs []Message, f func([]byte) []byte) []Message {
	out := make([]Message, len(msgs))
	for i, m := range msgs {
		m.Payload = f(bytes.Clone(m.Payload))
		out[i] = m
	}
	return out
}

func TestRefused(t *testing.T) {
	reinvite := loadCall(t, "reinvite.txt")
	var midDialog []Message
	for i, m := range reinvite {
		if bytes.Contains(m.Payload, []byte("CSeq: 2 INVITE")) {
			midDialog = reinvite[i:]
			break
		}
	}
	options := loadCall(t, "options.txt")
	v6 := edit(options, func(b []byte) []byte { return b })
	for i := range v6 {
		v6[i].Src = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::10"), v6[i].Src.Port())
		v6[i].Dst = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::20"), v6[i].Dst.Port())
	}
	ws := edit(options, func(b []byte) []byte { return b })
	for i := range ws {
		ws[i].Transport = "ws"
	}
	huge := edit(loadCall(t, "message.txt"), func(b []byte) []byte {
		if !bytes.HasPrefix(b, []byte("MESSAGE")) {
			return b
		}
		return append(b, bytes.Repeat([]byte("0123456789abcdef\r\n"), 4000)...)
	})
	tests := []struct {
		name   string
		msgs   []Message
		side   Side
		reason string
	}{
		{"ForkAnsweredTwice", loadCall(t, "forked.txt"), UAC, "answered 2xx by two callees"},
		{"ForkNoOneCallee", loadCall(t, "forked.txt"), UAS, "forked by 10.0.0.1:5060 to 2 destinations"},
		{"StartsInsideADialog", midDialog, UAC, "starts inside a dialog"},
		{"ReliableProvisional", edit(loadCall(t, "cancelled.txt"), func(b []byte) []byte {
			return bytes.Replace(b, []byte("SIP/2.0 180 Ringing\r\n"), []byte("SIP/2.0 180 Ringing\r\nRequire: 100rel\r\nRSeq: 1\r\n"), 1)
		}), UAC, "100rel"},
		{"Subscribe", edit(options, func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("OPTIONS"), []byte("SUBSCRIBE")) }), UAC, "starts with SUBSCRIBE"},
		{"OddMethod", edit(options, func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("OPTIONS"), []byte("OPT~IONS")) }), UAC, "not one SIPp"},
		{"IPv6", v6, UAC, "IPv4 only"},
		{"WebSocket", ws, UAC, "ws transport"},
		{"TooLarge", huge, UAC, "more than the 65535 SIPp reads"},
		{"Empty", nil, UAC, "no SIP message"},
		{"OnlyAnswers", options[1:], UAS, "no request"},
		{"NotSIP", []Message{{Payload: []byte("GET / HTTP/1.1\r\n\r\n")}}, UAC, "not a SIP message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Generate(tt.msgs, tt.side, Options{})
			var ue *UnsupportedError
			if !errors.As(err, &ue) {
				t.Fatalf("Generate = %v, %v; want an *UnsupportedError", s, err)
			}
			if !strings.Contains(ue.Reason, tt.reason) {
				t.Errorf("reason %q, want it to say %q", ue.Reason, tt.reason)
			}
		})
	}
}
