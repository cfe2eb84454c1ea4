package sip

import "testing"

func TestDisplayNames(t *testing.T) {
	tests := []struct {
		name, from, to   string
		fromName, toName string
	}{
		{"Quoted", `"Alice Liddell" <sip:alice@a.example>;tag=1`, `"Bob" <sip:bob@b.example>`, "Alice Liddell", "Bob"},
		{"QuotedEscapesKept", `"Al \"A\" <x>" <sip:alice@a.example>;tag=1`, `<sip:bob@b.example>`, `Al \"A\" <x>`, ""},
		{"Token", `Alice Liddell <sip:alice@a.example>;tag=1`, `Bob<sip:bob@b.example>`, "Alice Liddell", "Bob"},
		{"AddrSpec", `sip:alice@a.example;tag=1`, `sip:bob@b.example`, "", ""},
		{"EmptyQuoted", `"" <sip:alice@a.example>;tag=1`, `<sip:bob@b.example>`, "", ""},
		{"Unclosed", `"Alice <sip:alice@a.example>;tag=1`, `"Bob\"`, "", ""},
	}
	x := NewExtractor(nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := []byte("INVITE sip:bob@b.example SIP/2.0\r\nCall-ID: c1\r\nFrom: " + tc.from + "\r\nTo: " + tc.to + "\r\n\r\n")
			var m Message
			if err := x.Extract(msg, &m); err != nil {
				t.Fatal(err)
			}
			if string(m.FromName) != tc.fromName || string(m.ToName) != tc.toName {
				t.Errorf("names %q, %q; want %q, %q", m.FromName, m.ToName, tc.fromName, tc.toName)
			}
		})
	}
}

func TestCorrelationHeaderNamed(t *testing.T) {
	x := NewExtractor([]string{"X-CID", "P-Charging-Vector"})
	for _, tc := range []struct{ name, headers, value, header string }{
		{"XCID", "X-CID: abc\r\n", "abc", "x-cid"},
		{"ICID", "P-Charging-Vector: icid-value=1234;orig-ioi=x\r\n", "1234", "p-charging-vector"},
		{"PreferredWins", "P-Charging-Vector: icid-value=1234\r\nx-cid: abc\r\n", "abc", "x-cid"},
		{"None", "X-Other: abc\r\n", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			if err := x.Extract([]byte("BYE sip:b@h SIP/2.0\r\nCall-ID: c1\r\n"+tc.headers+"\r\n"), &m); err != nil {
				t.Fatal(err)
			}
			if string(m.Correlation) != tc.value || m.CorrelationHeader != tc.header {
				t.Errorf("correlation %q from %q, want %q from %q", m.Correlation, m.CorrelationHeader, tc.value, tc.header)
			}
		})
	}
}
