// Package ladder turns the SIP messages of one call into the geometry of a
// ladder (sequence) diagram: columns for endpoints, one arrow per message,
// notes for events, and pagination for long calls.
//
// It is pure layout: it knows nothing of HTML or SVG syntax beyond the
// numbers and path strings a renderer draws, and nothing of the rest of
// callscope. Every string that comes from SIP is attacker-controlled; this
// package cleans control characters out of display labels but escaping is
// still the renderer's job.
package ladder

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Message is one captured SIP message as the query service returns it.
type Message struct {
	Seq       int       // stable index in capture order, unique in the call; rows follow it and anchors use it
	Time      time.Time // capture time, µs precision
	Src, Dst  netip.AddrPort
	Transport string // udp tcp tls sctp ws
	CaptureID uint32
	NodeName  string

	Request    bool
	Method     string
	StatusCode int
	Reason     string
	CSeq       string // "1 INVITE"

	CallID string
	Leg    int // 0 = the call itself, 1.. = correlated legs

	Raw string      // whole SIP message
	SDP *SDPSummary // nil if none
}

// SDPSummary is the part of an SDP body worth showing under an arrow.
type SDPSummary struct {
	Media []SDPMedia
}

// SDPMedia is one m= line with its connection address and attributes.
type SDPMedia struct {
	Type      string // audio, video, ...
	Addr      string // connection address
	Port      int
	Codecs    []string // "PCMU/8000"
	Direction string   // sendrecv, sendonly, recvonly, inactive
}

// String renders the media line the way the ladder shows it:
// "audio 10.0.0.5:40000 PCMU/8000 PCMA/8000 sendrecv".
func (m SDPMedia) String() string {
	var b strings.Builder
	b.WriteString(m.Type)
	if m.Addr != "" || m.Port != 0 {
		b.WriteByte(' ')
		addr := m.Addr
		if strings.Contains(addr, ":") { // IPv6 needs brackets before the port
			addr = "[" + addr + "]"
		}
		b.WriteString(addr)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(m.Port))
	}
	for _, c := range m.Codecs {
		b.WriteByte(' ')
		b.WriteString(c)
	}
	if m.Direction != "" {
		b.WriteByte(' ')
		b.WriteString(m.Direction)
	}
	return b.String()
}

// Event is something that happened during the call that is not a SIP
// message: a log line, an RTCP report, a QoS summary.
type Event struct {
	Time      time.Time
	Kind      string // "log", "rtcp", "qos"
	Text      string
	CaptureID uint32
}

// Options change how a diagram is laid out.
type Options struct {
	// GroupByIP draws one column per IP instead of per IP:port. TCP and TLS
	// peers use ephemeral source ports, which otherwise split one box into
	// several columns.
	GroupByIP bool
	// Aliases names endpoints: "10.0.0.1" or "10.0.0.1:5060" (IPv6 as
	// "2001:db8::1" or "[2001:db8::1]:5060") -> "SBC". An IP:port alias
	// wins over an IP alias.
	Aliases map[string]string
	// Page is 1-based; out of range values are clamped.
	Page int
	// PageSize is the number of messages per page; 0 means DefaultPageSize.
	PageSize int
	// Location for the clock times shown; nil means UTC.
	Location *time.Location
	// Compact lays rows out CompactRowHeight apart with one line in the
	// gutter (the delta, the time on the first row) and no lines under
	// the arrows, so a 20-message call fits a small iframe; the message's
	// detail says the rest.
	Compact bool
}

// DefaultPageSize is the page size when Options.PageSize is zero.
const DefaultPageSize = 100

// MaxPageSize bounds Options.PageSize so that one request cannot ask for a
// diagram tens of thousands of rows tall.
const MaxPageSize = 1000
