package queryapi

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/callscope/callscope/callrec"
)

// TenantInfo is the part of a tenant a call's reader needs.
type TenantInfo struct {
	ID           int64             `json:"id"`
	Slug         string            `json:"slug"`
	Aliases      map[string]string `json:"aliases,omitempty"`
	EmbedOrigins []string          `json:"embed_origins,omitempty"`
	// FollowHeaderCorrelation lets a view token follow the correlation
	// headers the call's own messages carry (see query.Store.CallOf).
	// Never sent out.
	FollowHeaderCorrelation bool `json:"-"`
	// ShowInternalEvents lets a view token read the call's internal
	// events (see Event.Internal). Never sent out.
	ShowInternalEvents bool `json:"-"`
}

// Message is one stored SIP message.
type Message struct {
	CallID        string         `json:"call_id"`
	Leg           int            `json:"leg"` // 0 = the call asked for, 1.. = correlated legs
	CapturedAt    time.Time      `json:"captured_at"`
	ReceivedAt    time.Time      `json:"received_at"`
	Src           netip.AddrPort `json:"src"`
	Dst           netip.AddrPort `json:"dst"`
	Transport     string         `json:"transport"`
	CaptureID     uint32         `json:"capture_id"`
	NodeName      string         `json:"node_name,omitempty"`
	Method        string         `json:"method,omitempty"`
	Status        int            `json:"status,omitempty"`
	Reason        string         `json:"reason,omitempty"`
	CSeq          int64          `json:"cseq,omitempty"`
	CSeqMethod    string         `json:"cseq_method,omitempty"`
	CorrelationID string         `json:"correlation_id,omitempty"`
	HasSDP        bool           `json:"has_sdp,omitempty"`
	Payload       []byte         `json:"payload"`
}

// Event is a non-SIP HEP payload of the call: a LOG line (100), RTCP
// (5) or a QoS report (34, 35).
type Event struct {
	CapturedAt    time.Time      `json:"captured_at"`
	ReceivedAt    time.Time      `json:"received_at"`
	PayloadType   int            `json:"payload_type"`
	CallID        string         `json:"call_id,omitempty"`
	CorrelationID string         `json:"correlation_id,omitempty"`
	Src           netip.AddrPort `json:"src"`
	Dst           netip.AddrPort `json:"dst"`
	CaptureID     uint32         `json:"capture_id"`
	Payload       []byte         `json:"payload"`
}

// Kind names the event for display: "log", "rtcp", "qos" or "hep-N".
func (e Event) Kind() string {
	switch e.PayloadType {
	case 100:
		return "log"
	case 5:
		return "rtcp"
	case 34, 35:
		return "qos"
	}
	return fmt.Sprintf("hep-%d", e.PayloadType)
}

// Internal reports whether the event speaks of the operator's equipment
// rather than of the call as its parties know it: a LOG line, or any
// payload that is not a media report. A view link shows them only when
// the tenant turned them on.
func (e Event) Internal() bool {
	switch e.PayloadType {
	case 5, 34, 35:
		return false
	}
	return true
}

// Call is one call with its correlated legs and events, in capture order.
type Call struct {
	Tenant   TenantInfo   `json:"tenant"`
	CallID   string       `json:"call_id"`
	Legs     []string     `json:"legs"` // Legs[0] is CallID; Message.Leg indexes it
	Messages []Message    `json:"messages"`
	Events   []Event      `json:"events"`
	Window   [2]time.Time `json:"window"` // the [from, to] that was read
	// Record is the call's record (its parties, outcome, timings, QoS
	// summary) when it has one overlapping the window. It describes the
	// whole call, also what lies outside the window: Record.Messages
	// against the messages read tells whether the window cut the call.
	Record *callrec.Record `json:"record,omitempty"`
}

// OwnMessages is the number of messages of the call itself (not of its
// legs) that were read.
func (c *Call) OwnMessages() int {
	n := 0
	for _, m := range c.Messages {
		if m.Leg == 0 {
			n++
		}
	}
	return n
}
