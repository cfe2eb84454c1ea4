package queryapi

import (
	"strconv"
	"strings"

	"github.com/callscope/callscope/ladder"
	"github.com/callscope/callscope/qos"
	"github.com/callscope/callscope/sip"
)

// Ladder converts the call into what ladder.Build lays out: messages
// numbered from 1 in capture order, with their SDP summary parsed from the
// payload, and events as notes. Viewer
// and console share it so both draw the same diagram.
func (c *Call) Ladder() ([]ladder.Message, []ladder.Event) {
	x := sip.NewExtractor(nil)
	msgs := make([]ladder.Message, len(c.Messages))
	var parsed sip.Message
	for i, m := range c.Messages {
		lm := ladder.Message{
			Seq: i + 1, Time: m.CapturedAt, Src: m.Src, Dst: m.Dst, Transport: m.Transport,
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
		events[i] = ladder.Event{Time: e.CapturedAt, Kind: e.Kind(), Text: eventText(e), CaptureID: e.CaptureID}
	}
	return msgs, events
}

// eventText is what the ladder says of an event: a LOG line as it came,
// a media report as its figures (its JSON is never the display).
func eventText(e Event) string {
	if e.Internal() {
		return string(e.Payload)
	}
	reports, err := qos.Parse(e.PayloadType, e.Payload, e.CapturedAt)
	if err != nil || len(reports) == 0 {
		return "media report (unreadable)"
	}
	parts := make([]string, 0, len(reports))
	for _, r := range reports {
		parts = append(parts, reportText(r))
	}
	return strings.Join(parts, "; ")
}

// reportText is one report's figures: "ssrc 0x1a2b3c4d: jitter 2.1 ms,
// loss 0.0 %, MOS 4.1".
func reportText(r qos.Report) string {
	var f []string
	if r.Has&qos.HasJitter != 0 {
		f = append(f, "jitter "+strconv.FormatFloat(r.Jitter, 'f', 1, 64)+" ms")
	}
	if r.Has&qos.HasLoss != 0 {
		f = append(f, "loss "+strconv.FormatFloat(r.LossPct, 'f', 1, 64)+" %")
	}
	if r.Has&qos.HasLost != 0 {
		f = append(f, strconv.FormatInt(r.Lost, 10)+" lost")
	}
	if r.Has&qos.HasMOS != 0 {
		f = append(f, "MOS "+strconv.FormatFloat(r.MOS, 'f', 1, 64))
	}
	if len(f) == 0 {
		return r.Stream + ": no figures"
	}
	return r.Stream + ": " + strings.Join(f, ", ")
}

// MediaReports parses the call's RTCP and QoS events into reports, for
// the quality charts; unreadable ones are left out.
func (c *Call) MediaReports() []qos.Report {
	var out []qos.Report
	for _, e := range c.Events {
		if e.Internal() {
			continue
		}
		if rs, err := qos.Parse(e.PayloadType, e.Payload, e.CapturedAt); err == nil {
			out = append(out, rs...)
		}
	}
	return out
}

func sdpSummary(s sip.SDP) *ladder.SDPSummary {
	out := &ladder.SDPSummary{Media: make([]ladder.SDPMedia, len(s.Media))}
	for i, m := range s.Media {
		out.Media[i] = ladder.SDPMedia{Type: m.Type, Addr: m.Addr, Port: m.Port, Codecs: m.Codecs, Direction: m.Direction}
	}
	return out
}
