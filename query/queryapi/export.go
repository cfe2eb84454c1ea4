package queryapi

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/callscope/callscope/pcap"
)

// WritePCAP writes the call's messages as a classic pcap file: one packet
// per message (split when over pcap.MaxSegment) with its own addresses,
// ports and transport (UDP, or TCP framing for tcp/tls/ws/sctp), IPv4 or
// IPv6 as captured, at the capture time. Events are not SIP and are left out.
func (c *Call) WritePCAP(w io.Writer) error {
	pw, err := pcap.NewWriter(w)
	if err != nil {
		return fmt.Errorf("query.Call.WritePCAP: %w", err)
	}
	for _, m := range c.Messages {
		if err := pw.WriteMessage(m.CapturedAt, m.Src, m.Dst, m.Transport, m.Payload); err != nil {
			return fmt.Errorf("query.Call.WritePCAP: %w", err)
		}
	}
	return nil
}

// PCAP returns WritePCAP's file.
func (c *Call) PCAP() ([]byte, error) {
	var b bytes.Buffer
	err := c.WritePCAP(&b)
	return b.Bytes(), err
}

// WriteText writes a readable dump of the call: a header, then every
// message and event in capture order, each under a line
//
//	#3 2026-03-01T12:00:00.123456Z 10.0.0.1:5060 -> 10.0.0.2:5060 udp node 7 leg 1
//
// followed by the message as captured with line endings normalised to LF.
// Bytes that are not UTF-8 are replaced, so the dump is always valid text.
func (c *Call) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Call-ID: %s\nTenant: %s\nWindow: %s .. %s\nMessages: %d\n",
		oneLine(c.CallID), c.Tenant.Slug, c.Window[0].Format(time.RFC3339), c.Window[1].Format(time.RFC3339), len(c.Messages))
	if len(c.Legs) > 1 {
		for i, l := range c.Legs[1:] {
			fmt.Fprintf(&b, "Leg %d: %s\n", i+1, oneLine(l))
		}
	}
	b.WriteString("\n")
	ev := 0
	for i, m := range c.Messages {
		for ev < len(c.Events) && !c.Events[ev].CapturedAt.After(m.CapturedAt) {
			writeEvent(&b, c.Events[ev])
			ev++
		}
		fmt.Fprintf(&b, "#%d %s %s -> %s %s node %d", i+1, m.CapturedAt.Format("2006-01-02T15:04:05.000000Z07:00"),
			m.Src, m.Dst, m.Transport, m.CaptureID)
		if m.Leg > 0 {
			fmt.Fprintf(&b, " leg %d", m.Leg)
		}
		b.WriteString("\n")
		b.WriteString(textBody(m.Payload))
		b.WriteString("\n")
	}
	for ; ev < len(c.Events); ev++ {
		writeEvent(&b, c.Events[ev])
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("query.Call.WriteText: %w", err)
	}
	return nil
}

// Text returns WriteText's dump.
func (c *Call) Text() []byte {
	var b bytes.Buffer
	_ = c.WriteText(&b) // a bytes.Buffer does not fail
	return b.Bytes()
}

func writeEvent(b *strings.Builder, e Event) {
	fmt.Fprintf(b, "@ %s %s %s -> %s node %d\n%s\n\n", e.CapturedAt.Format("2006-01-02T15:04:05.000000Z07:00"),
		e.Kind(), e.Src, e.Dst, e.CaptureID, textBody(e.Payload))
}

func textBody(p []byte) string {
	s := strings.ToValidUTF8(string(p), string(utf8.RuneError))
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.TrimRight(s, "\n") + "\n"
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
