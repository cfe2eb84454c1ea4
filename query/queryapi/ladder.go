package queryapi

import (
	"strconv"
	"strings"

	"github.com/callscope/callscope/ladder"
	"github.com/callscope/callscope/sip"
)

// Ladder converts the call into what ladder.Build lays out: messages with
// their SDP summary parsed from the payload, and events as notes. Viewer
// and console share it so both draw the same diagram.
func (c *Call) Ladder() ([]ladder.Message, []ladder.Event) {
	x := sip.NewExtractor(nil)
	msgs := make([]ladder.Message, len(c.Messages))
	var parsed sip.Message
	for i, m := range c.Messages {
		lm := ladder.Message{
			Seq: i, Time: m.CapturedAt, Src: m.Src, Dst: m.Dst, Transport: m.Transport,
			CaptureID: m.CaptureID, NodeName: m.NodeName,
			Request: m.Method != "", Method: m.Method, StatusCode: m.Status, Reason: m.Reason,
			CallID: m.CallID, Leg: m.Leg, Raw: string(m.Payload),
		}
		if m.CSeq != 0 || m.CSeqMethod != "" {
			lm.CSeq = strings.TrimSpace(strconv.FormatInt(m.CSeq, 10) + " " + m.CSeqMethod)
		}
		if m.HasSDP && x.Extract(m.Payload, &parsed) == nil {
			if body := sip.SDPBody(&parsed); body != nil {
				if s, err := sip.ParseSDP(body); err == nil {
					lm.SDP = sdpSummary(s)
				}
			}
		}
		msgs[i] = lm
	}
	events := make([]ladder.Event, len(c.Events))
	for i, e := range c.Events {
		events[i] = ladder.Event{Time: e.CapturedAt, Kind: e.Kind(), Text: string(e.Payload), CaptureID: e.CaptureID}
	}
	return msgs, events
}

func sdpSummary(s sip.SDP) *ladder.SDPSummary {
	out := &ladder.SDPSummary{Media: make([]ladder.SDPMedia, len(s.Media))}
	for i, m := range s.Media {
		out.Media[i] = ladder.SDPMedia{Type: m.Type, Addr: m.Addr, Port: m.Port, Codecs: m.Codecs, Direction: m.Direction}
	}
	return out
}
