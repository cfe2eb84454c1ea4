package loadgen_test

import (
	"testing"
	"time"

	"github.com/callscope/callscope/hep"
	"github.com/callscope/callscope/ingest/loadgen"
	"github.com/callscope/callscope/sip"
)

func TestMessagesExtract(t *testing.T) {
	x := sip.NewExtractor(sip.DefaultCorrelationHeaders)
	want := []struct {
		method string
		status int
		cseq   uint32
		sdp    bool
	}{{"INVITE", 0, 1, true}, {"", 100, 1, false}, {"", 180, 1, false}, {"", 200, 1, true},
		{"ACK", 0, 1, false}, {"BYE", 0, 2, false}, {"", 200, 2, false}}
	for i, w := range want {
		b, _ := loadgen.Message(nil, "call-1@x", i)
		var m sip.Message
		if err := x.Extract(b, &m); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if string(m.Method) != w.method || m.StatusCode != w.status || m.CSeqNum != w.cseq || m.HasSDP != w.sdp || string(m.CallID) != "call-1@x" {
			t.Errorf("message %d: got %s %d cseq %d sdp %v call %q", i, m.Method, m.StatusCode, m.CSeqNum, m.HasSDP, m.CallID)
		}
	}
	for i := range loadgen.RegisterMessages {
		b, _ := loadgen.RegisterMessage(nil, "reg-1", i)
		var m sip.Message
		if err := x.Extract(b, &m); err != nil {
			t.Fatalf("register %d: %v", i, err)
		}
	}
}

func TestAppendHEPDecodes(t *testing.T) {
	msg, _ := loadgen.Message(nil, "c@x", 0)
	b := loadgen.AppendHEP(nil, loadgen.Packet{CaptureID: 7, AuthKey: []byte("k"), Time: time.Unix(1700000000, 0)}, msg)
	var d hep.Decoder
	var p hep.Packet
	if err := d.Decode(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.CaptureID != 7 || string(p.AuthKey) != "k" || string(p.Payload) != string(msg) {
		t.Fatalf("decoded %+v", p)
	}
}
