package query

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func wireFixture() *Call {
	t0 := time.Date(2026, 2, 1, 12, 0, 0, 123456000, time.UTC)
	return &Call{
		Tenant: TenantInfo{ID: 7, Slug: "acme", Aliases: map[string]string{"10.0.0.1:5060": "SBC <edge>"},
			EmbedOrigins: []string{"https://app.acme.example"}},
		CallID: "c1@acme", Legs: []string{"c1@acme", "c1@acme_b2b-1"},
		Window: [2]time.Time{t0.Add(-time.Minute), t0.Add(time.Hour)},
		Messages: []Message{
			{CallID: "c1@acme", CapturedAt: t0, ReceivedAt: t0.Add(time.Millisecond),
				Src: netip.MustParseAddrPort("10.0.0.1:5060"), Dst: netip.MustParseAddrPort("[2001:db8::1]:5061"),
				Transport: "tls", CaptureID: 4294967295, NodeName: "node-a", Method: "INVITE", CSeq: 1, CSeqMethod: "INVITE",
				CorrelationID: "corr", HasSDP: true, Payload: []byte("INVITE sip:b@x SIP/2.0\r\nX: \"><svg onload=alert(1)>\r\n\r\nv=0\r\n")},
			{CallID: "c1@acme_b2b-1", Leg: 1, CapturedAt: t0.Add(time.Second), ReceivedAt: t0.Add(time.Second),
				Src: netip.MustParseAddrPort("10.0.0.2:5060"), Dst: netip.MustParseAddrPort("10.0.0.3:5060"),
				Transport: "udp", Status: 486, Reason: "Busy Here ☎", CSeq: -1, Payload: []byte{0, 0xff, '\n'}},
		},
		Events: []Event{{CapturedAt: t0, ReceivedAt: t0, PayloadType: 100, CallID: "c1@acme",
			Src: netip.MustParseAddrPort("10.0.0.1:0"), Dst: netip.MustParseAddrPort("10.0.0.1:0"), Payload: []byte("log line")}},
	}
}

// TestCallBinaryMatchesJSON: the viewer sees the same Call through the
// binary encoding as through the JSON one it replaces.
func TestCallBinaryMatchesJSON(t *testing.T) {
	for name, c := range map[string]*Call{"fixture": wireFixture(), "empty": {CallID: "x"}} {
		b, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var viaBinary, viaJSON Call
		if err := viaBinary.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		j, _ := json.Marshal(c)
		if err := json.Unmarshal(j, &viaJSON); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(viaBinary, viaJSON) {
			t.Errorf("%s:\nbinary %+v\njson   %+v", name, viaBinary, viaJSON)
		}
	}
}

func TestCallBinaryRefusesDamage(t *testing.T) {
	b, _ := wireFixture().MarshalBinary()
	for cut := range len(b) {
		var c Call
		if err := c.UnmarshalBinary(b[:cut]); err == nil {
			t.Fatalf("truncated at %d of %d: accepted", cut, len(b))
		}
	}
	var c Call
	if err := c.UnmarshalBinary(append(bytes.Clone(b), 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	// A count far beyond the input allocates nothing and fails.
	huge := append([]byte("CSC1"), 0x02, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f)
	if err := c.UnmarshalBinary(huge); err == nil {
		t.Error("huge alias count accepted")
	}
}

// FuzzCallUnmarshalBinary: any input decodes or fails without panicking,
// and what decodes encodes back to a Call that decodes the same.
func FuzzCallUnmarshalBinary(f *testing.F) {
	b, _ := wireFixture().MarshalBinary()
	f.Add(b)
	f.Add([]byte("CSC1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Call
		if err := c.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var d Call
		if err := d.UnmarshalBinary(again); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c, d) {
			t.Fatalf("re-encoding changed the call")
		}
	})
}

func BenchmarkCallDecode(b *testing.B) {
	c := wireFixture()
	for len(c.Messages) < 20 {
		c.Messages = append(c.Messages, c.Messages[:2]...)
	}
	bin, _ := c.MarshalBinary()
	js, _ := json.Marshal(c)
	b.Run("JSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var d Call
			if err := json.Unmarshal(js, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var d Call
			if err := d.UnmarshalBinary(bin); err != nil {
				b.Fatal(err)
			}
		}
	})
}
