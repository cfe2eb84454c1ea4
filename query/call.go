package query

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope"
)

// LegWindow is how far before the call's first and after its last message
// correlated legs are looked for: a B2BUA opens the B leg within
// milliseconds of the A leg, so a few minutes is generous and keeps an
// unrelated call that reused a correlation value days later out.
const LegWindow = 5 * time.Minute

// B2BSuffix is what Kamailio's and SEMS' B2BUA append to the A leg's
// Call-ID to name the B leg.
const B2BSuffix = "_b2b-1"

// TenantInfo is the part of a tenant a call's reader needs.
type TenantInfo struct {
	ID           int64             `json:"id"`
	Slug         string            `json:"slug"`
	Aliases      map[string]string `json:"aliases,omitempty"`
	EmbedOrigins []string          `json:"embed_origins,omitempty"`
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

// Call is one call with its correlated legs and events, in capture order.
type Call struct {
	Tenant   TenantInfo   `json:"tenant"`
	CallID   string       `json:"call_id"`
	Legs     []string     `json:"legs"` // Legs[0] is CallID; Message.Leg indexes it
	Messages []Message    `json:"messages"`
	Events   []Event      `json:"events"`
	Window   [2]time.Time `json:"window"` // the [from, to] that was read
}

// Call returns callID of tenantID with its correlated legs (same
// correlation id, an X-CID naming it, or Call-ID + "_b2b-1") and its
// events, reading only messages captured in [from, to]. Legs are looked
// for within LegWindow of the call and still only inside [from, to].
//
// Returns NotFound if the tenant has no message of callID in [from, to],
// whether or not another tenant or another time holds one; Invalid for an
// empty call id or window.
func (s *Store) Call(ctx context.Context, tenantID int64, callID string, from, to time.Time) (*Call, error) {
	switch {
	case tenantID <= 0:
		return nil, callscope.FieldError("tenant_id", "required")
	case callID == "":
		return nil, callscope.FieldError("call_id", "required")
	case from.IsZero() || to.IsZero() || to.Before(from):
		return nil, callscope.FieldError("window", "needs from <= to")
	case to.Sub(from) > MaxRange:
		return nil, callscope.FieldError("window", "may not exceed %d days", int(MaxRange/(24*time.Hour)))
	}
	var call *Call
	err := s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		var err error
		call, err = readCall(ctx, tx, tenantID, callID, from, to)
		return err
	})
	if err != nil {
		if callscope.Is(err, callscope.NotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("query.Store.Call(%d): %w", tenantID, err)
	}
	return call, nil
}

// errNoCall is the one NotFound every reader of a call returns, so that a
// call of another tenant, outside the window, or that never existed are
// indistinguishable.
var errNoCall = callscope.Errorf(callscope.NotFound, "call not found")

func readCall(ctx context.Context, tx pgx.Tx, tenantID int64, callID string, from, to time.Time) (*Call, error) {
	var (
		t       TenantInfo
		aliases map[string]string
	)
	err := tx.QueryRow(ctx, `/* Store.Call */ SELECT id, slug, aliases, embed_origins FROM tenants WHERE id = $1`, tenantID).
		Scan(&t.ID, &t.Slug, &aliases, &t.EmbedOrigins)
	if err == pgx.ErrNoRows {
		return nil, errNoCall
	}
	if err != nil {
		return nil, err
	}
	t.Aliases = aliases

	// The call's own extent and correlation values.
	var (
		first, last *time.Time
		corrs       []string
	)
	err = tx.QueryRow(ctx, `/* Store.Call */
		SELECT min(captured_at), max(captured_at),
			coalesce(array_agg(DISTINCT correlation_id) FILTER (WHERE correlation_id IS NOT NULL), '{}')
		FROM sip_messages
		WHERE tenant_id = $1 AND call_id = $2 AND captured_at >= $3 AND captured_at <= $4`,
		tenantID, callID, from, to).Scan(&first, &last, &corrs)
	if err != nil {
		return nil, err
	}
	if first == nil {
		return nil, errNoCall
	}
	lo, hi := maxTime(first.Add(-LegWindow), from), minTime(last.Add(LegWindow), to)

	// Correlated legs: the same correlation value, a correlation value
	// naming this Call-ID (X-CID carries the A leg's Call-ID), the Call-ID a
	// correlation value names, and the B2BUA's suffix either way.
	keys := append([]string{callID}, corrs...)
	related := []string{callID + B2BSuffix}
	if base, ok := strings.CutSuffix(callID, B2BSuffix); ok {
		related = append(related, base)
	}
	related = append(related, corrs...)
	rows, err := tx.Query(ctx, `/* Store.Call */
		SELECT DISTINCT call_id FROM sip_messages
		WHERE tenant_id = $1 AND captured_at >= $2 AND captured_at <= $3 AND call_id <> $4
		  AND (correlation_id = ANY($5) OR call_id = ANY($6))
		ORDER BY call_id`, tenantID, lo, hi, callID, keys, related)
	if err != nil {
		return nil, err
	}
	legs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	legs = append([]string{callID}, legs...)
	legIndex := make(map[string]int, len(legs))
	for i, l := range legs {
		legIndex[l] = i
	}

	rows, err = tx.Query(ctx, `/* Store.Call */
		SELECT call_id, captured_at, received_at, src_ip, src_port, dst_ip, dst_port, transport,
			capture_id, coalesce(node_name, ''), coalesce(method, ''), coalesce(status, 0), coalesce(reason, ''),
			coalesce(cseq, 0), coalesce(cseq_method, ''), coalesce(correlation_id, ''), has_sdp, payload
		FROM sip_messages
		WHERE tenant_id = $1 AND call_id = ANY($2)
		  AND captured_at >= (CASE WHEN call_id = $3 THEN $4::timestamptz ELSE $5::timestamptz END)
		  AND captured_at <= (CASE WHEN call_id = $3 THEN $6::timestamptz ELSE $7::timestamptz END)
		ORDER BY captured_at, received_at`, tenantID, legs, callID, from, lo, to, hi)
	if err != nil {
		return nil, err
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Message, error) {
		var (
			m                Message
			srcIP, dstIP     netip.Addr
			srcPort, dstPort int32
			captureID        int64
			status           int16
		)
		err := r.Scan(&m.CallID, &m.CapturedAt, &m.ReceivedAt, &srcIP, &srcPort, &dstIP, &dstPort, &m.Transport,
			&captureID, &m.NodeName, &m.Method, &status, &m.Reason, &m.CSeq, &m.CSeqMethod, &m.CorrelationID, &m.HasSDP, &m.Payload)
		m.Src, m.Dst = netip.AddrPortFrom(srcIP, uint16(srcPort)), netip.AddrPortFrom(dstIP, uint16(dstPort))
		m.CaptureID, m.Status = uint32(captureID), int(status)
		m.CapturedAt, m.ReceivedAt = m.CapturedAt.UTC(), m.ReceivedAt.UTC()
		m.Leg = legIndex[m.CallID]
		return m, err
	})
	if err != nil {
		return nil, err
	}

	// Events by any leg's Call-ID or any correlation value of the call.
	evKeys := append(slices.Clone(legs), corrs...)
	rows, err = tx.Query(ctx, `/* Store.Call */
		SELECT captured_at, received_at, payload_type, coalesce(call_id, ''), coalesce(correlation_id, ''),
			src_ip, src_port, dst_ip, dst_port, capture_id, payload
		FROM hep_events
		WHERE tenant_id = $1 AND captured_at >= $2 AND captured_at <= $3
		  AND (call_id = ANY($4) OR correlation_id = ANY($5))
		ORDER BY captured_at, received_at`, tenantID, lo, hi, legs, evKeys)
	if err != nil {
		return nil, err
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var (
			e                Event
			srcIP, dstIP     netip.Addr
			srcPort, dstPort int32
			captureID        int64
			pt               int16
		)
		err := r.Scan(&e.CapturedAt, &e.ReceivedAt, &pt, &e.CallID, &e.CorrelationID,
			&srcIP, &srcPort, &dstIP, &dstPort, &captureID, &e.Payload)
		e.Src, e.Dst = netip.AddrPortFrom(srcIP, uint16(srcPort)), netip.AddrPortFrom(dstIP, uint16(dstPort))
		e.CaptureID, e.PayloadType = uint32(captureID), int(pt)
		e.CapturedAt, e.ReceivedAt = e.CapturedAt.UTC(), e.ReceivedAt.UTC()
		return e, err
	})
	if err != nil {
		return nil, err
	}
	return &Call{Tenant: t, CallID: callID, Legs: legs, Messages: msgs, Events: events,
		Window: [2]time.Time{from.UTC(), to.UTC()}}, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
