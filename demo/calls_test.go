package demo_test

import (
	"testing"
	"time"

	"github.com/callscope/callscope/demo"
	"github.com/callscope/callscope/hep"
	"github.com/callscope/callscope/sip"
)

// Every demo message must survive the real decoders: HEP, then SIP
// extraction with the fields search and the ladder need.
func TestCallsDecode(t *testing.T) {
	calls := demo.Calls(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), "t1")
	pkts := demo.Packets(demo.Node{CaptureID: 4242, AuthKey: "k", Name: "demo-proxy"}, calls)
	x := sip.NewExtractor(sip.DefaultCorrelationHeaders)
	var dec hep.Decoder
	var p hep.Packet
	var m sip.Message
	sipCount, logs := 0, 0
	callIDs := map[string]int{}
	for _, b := range pkts {
		if err := dec.Decode(b, &p); err != nil {
			t.Fatal(err)
		}
		if p.CaptureID != 4242 || string(p.AuthKey) != "k" || !p.HasTime {
			t.Fatalf("packet header wrong: %+v", p)
		}
		if p.PayloadType == hep.PayloadLog {
			logs++
			continue
		}
		if err := x.Extract(p.Payload, &m); err != nil {
			t.Fatalf("extract: %v\n%s", err, p.Payload)
		}
		sipCount++
		callIDs[string(m.CallID)]++
		if m.CSeqNum == 0 || len(m.FromTag) == 0 {
			t.Errorf("missing fields in %s", p.Payload)
		}
	}
	if logs != 1 || len(callIDs) != 4 {
		t.Fatalf("logs=%d callIDs=%v", logs, callIDs)
	}
	if callIDs["demo-answered-t1_b2b-1"] != 3 || callIDs["demo-register-t1"] != 4 {
		t.Fatalf("unexpected message counts %v", callIDs)
	}
	_ = sipCount
}
