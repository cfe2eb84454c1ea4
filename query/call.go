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
	"github.com/callscope/callscope/callrec"
	"github.com/callscope/callscope/query/queryapi"
)

// LegWindow is how far before the call's first and after its last message
// correlated legs are looked for: a B2BUA opens the B leg within
// milliseconds of the A leg, so a few minutes is generous and keeps an
// unrelated call that reused a correlation value days later out.
const LegWindow = 5 * time.Minute

// B2BSuffix is what Kamailio's and SEMS' B2BUA append to the A leg's
// Call-ID to name the B leg.
const B2BSuffix = "_b2b-1"

// Call returns callID of tenantID with every correlated leg (the same
// correlation value, a correlation value naming it or named by it, or
// Call-ID + "_b2b-1" either way) and its events, reading only messages
// captured in [from, to]: the admin's read. Legs are looked for within
// LegWindow of the call and still only inside [from, to].
//
// Returns NotFound if the tenant has no message of callID in [from, to],
// whether or not another tenant or another time holds one; Invalid for an
// empty call id or window.
func (s *Store) Call(ctx context.Context, tenantID int64, callID string, from, to time.Time) (*queryapi.Call, error) {
	return s.readCall(ctx, queryapi.TenantInfo{ID: tenantID}, false, true, callID, from, to)
}

// CallOf is the read a view token may make, for a tenant the caller has
// already read (the view route has it from its tenant cache). A token
// names one call; it reaches that call and the legs that point at it (their
// correlation value is its Call-ID, or their Call-ID is its Call-ID +
// "_b2b-1") and the legs a capture node joined to it (a value the node
// set in HEP's correlation chunk, shared or naming the leg). It never
// follows what the call's own SIP headers assert: a call carrying
// "X-CID: <another call's Call-ID>", a Call-ID "<another>_b2b-1" or a
// shared P-Charging-Vector icid does not open other calls to its token
// holder — unless the tenant set FollowHeaderCorrelation, saying its own
// equipment writes those headers. Internal events (queryapi.Event.Internal)
// are left out unless the tenant set ShowInternalEvents. Errors as Call.
//
// Both reads return the call's record when one overlaps [from, to].
func (s *Store) CallOf(ctx context.Context, t queryapi.TenantInfo, callID string, from, to time.Time) (*queryapi.Call, error) {
	return s.readCall(ctx, t, true, t.FollowHeaderCorrelation, callID, from, to)
}

func (s *Store) readCall(ctx context.Context, t queryapi.TenantInfo, haveTenant, followHeaders bool, callID string, from, to time.Time) (*queryapi.Call, error) {
	switch {
	case t.ID <= 0:
		return nil, callscope.FieldError("tenant_id", "required")
	case callID == "":
		return nil, callscope.FieldError("call_id", "required")
	case from.IsZero() || to.IsZero() || to.Before(from):
		return nil, callscope.FieldError("window", "needs from <= to")
	case to.Sub(from) > queryapi.MaxRange:
		return nil, callscope.FieldError("window", "may not exceed %d days", int(queryapi.MaxRange/(24*time.Hour)))
	}
	var call *queryapi.Call
	err := s.db.ReadInTenant(ctx, t.ID, callBatch(t.ID, haveTenant, followHeaders, callID, from, to), func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil { // plan_cache_mode
			return err
		}
		if !haveTenant {
			var err error
			if t, err = readTenantInfo(br); err != nil {
				return err
			}
		}
		c, err := readCallResults(br, callID, from, to)
		if err != nil {
			return err
		}
		if c.Record, err = s.readRecord(br, callID); err != nil {
			return err
		}
		if haveTenant && !t.ShowInternalEvents {
			c.Events = slices.DeleteFunc(c.Events, queryapi.Event.Internal)
		}
		c.Tenant, call = t, c
		c.Tenant.FollowHeaderCorrelation, c.Tenant.ShowInternalEvents = false, false
		return nil
	})
	if err != nil {
		if callscope.Is(err, callscope.NotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("query.Store.Call(%d): %w", t.ID, err)
	}
	return call, nil
}

// errNoCall is the one NotFound every reader of a call returns, so that a
// call of another tenant, outside the window, or that never existed are
// indistinguishable.
var errNoCall = callscope.Errorf(callscope.NotFound, "call not found")

// callSQL reads a call in one statement: the call's extent and the
// correlation values it may follow inside [$3, $4] (ext: all of them when
// $7, else only those its capture nodes set, correlation_source 'hep'),
// the window around it where legs are looked for, clipped to [$3, $4]
// (win), the correlated legs found there (legs): a correlation value
// naming this Call-ID (X-CID carries the A leg's Call-ID), the same value
// as one it follows, the Call-ID such a value names, and the Call-IDs of
// $6 (the B2BUA's suffix added, and for an admin removed); then the
// messages of the call in [$3, $4] and of its legs in the window, and the
// LOG and QoS events of any of them (by Call-ID or by a correlation value
// it follows), all in capture order. $5 is LegWindow. Every CTE is
// computed once, so the legs are worked out once for messages and events.
//
// A row is a message when kind is 0 and an event of HEP payload type kind
// otherwise; the columns a kind does not have are empty.
//
// The events are two index lookups too, by Call-ID and by correlation value
// (the second leaving out what the first found), with the keys in a
// MATERIALIZED CTE: inlined, `call_id = ANY(ARRAY[$2] || ...)` OR
// `correlation_id = ANY(...)` was a filter, and a day of 1.5 M events was
// read in parallel for every view (65 ms instead of 0.3).
//
// Every scan also says captured_at BETWEEN $3 AND $4, which the window
// already implies: the window is computed while the statement runs, the
// parameters are known when it starts, and only they let PostgreSQL prune
// the other days' partitions (a scan of every partition per lookup before).
//
// The legs are two index lookups (by correlation value, by Call-ID) with
// the key arrays computed in win, not in the condition: under row-level
// security only leakproof conditions become index conditions, and
// array_cat (||) is not leakproof, so `correlation_id = ANY(ARRAY[$2] ||
// corrs)` would be a filter over every message of the tenant in the
// window, planned as a scan of its day (and costly enough to be JIT
// compiled on every view). `= ANY(win.by_corr)` compares a column with a
// value: an index condition.
const callSQL = `/* Store.Call */ WITH ext AS (
	SELECT min(captured_at) AS first, max(captured_at) AS last,
		coalesce(array_agg(DISTINCT correlation_id) FILTER (
			WHERE correlation_id IS NOT NULL AND ($7::boolean OR correlation_source = 'hep')), '{}') AS corrs
	FROM sip_messages
	WHERE tenant_id = $1 AND call_id = $2 AND captured_at >= $3 AND captured_at <= $4
), win AS (
	SELECT greatest(first - $5::interval, $3::timestamptz) AS lo, least(last + $5::interval, $4::timestamptz) AS hi, corrs,
		ARRAY[$2::text] || corrs AS by_corr, $6::text[] || corrs AS by_id
	FROM ext WHERE first IS NOT NULL
), legs AS (
	SELECT l.call_id
	FROM win CROSS JOIN sip_messages l
	WHERE l.tenant_id = $1 AND l.correlation_id = ANY(win.by_corr)
	  AND l.captured_at >= $3 AND l.captured_at <= $4
	  AND l.captured_at >= win.lo AND l.captured_at <= win.hi AND l.call_id <> $2
	UNION
	SELECT l.call_id
	FROM win CROSS JOIN sip_messages l
	WHERE l.tenant_id = $1 AND l.call_id = ANY(win.by_id)
	  AND l.captured_at >= $3 AND l.captured_at <= $4
	  AND l.captured_at >= win.lo AND l.captured_at <= win.hi AND l.call_id <> $2
), keys AS MATERIALIZED (
	SELECT ARRAY[$2::text] || coalesce((SELECT array_agg(call_id) FROM legs), '{}') AS legs,
		ARRAY[$2::text] || coalesce((SELECT array_agg(call_id) FROM legs), '{}') || win.corrs AS corrs,
		win.lo, win.hi
	FROM win
)
SELECT 0::smallint AS kind, m.call_id, m.captured_at, m.received_at, m.src_ip, m.src_port, m.dst_ip, m.dst_port, m.transport,
	m.capture_id, coalesce(m.node_name, ''), coalesce(m.method, ''), coalesce(m.status, 0), coalesce(m.reason, ''),
	coalesce(m.cseq, 0), coalesce(m.cseq_method, ''), coalesce(m.correlation_id, ''), m.has_sdp, m.payload
FROM sip_messages m
WHERE m.tenant_id = $1 AND m.call_id = $2 AND m.captured_at >= $3 AND m.captured_at <= $4
UNION ALL
SELECT 0::smallint, m.call_id, m.captured_at, m.received_at, m.src_ip, m.src_port, m.dst_ip, m.dst_port, m.transport,
	m.capture_id, coalesce(m.node_name, ''), coalesce(m.method, ''), coalesce(m.status, 0), coalesce(m.reason, ''),
	coalesce(m.cseq, 0), coalesce(m.cseq_method, ''), coalesce(m.correlation_id, ''), m.has_sdp, m.payload
FROM win CROSS JOIN sip_messages m
WHERE m.tenant_id = $1 AND m.call_id IN (SELECT call_id FROM legs)
  AND m.captured_at >= $3 AND m.captured_at <= $4 AND m.captured_at >= win.lo AND m.captured_at <= win.hi
UNION ALL
SELECT e.payload_type, e.call_id, e.captured_at, e.received_at, e.src_ip, e.src_port, e.dst_ip, e.dst_port, '',
	e.capture_id, '', '', 0::smallint, '', 0::bigint, '', coalesce(e.correlation_id, ''), false, e.payload
FROM keys CROSS JOIN hep_events e
WHERE e.tenant_id = $1 AND e.call_id = ANY(keys.legs)
  AND e.captured_at >= $3 AND e.captured_at <= $4 AND e.captured_at >= keys.lo AND e.captured_at <= keys.hi
UNION ALL
SELECT e.payload_type, coalesce(e.call_id, ''), e.captured_at, e.received_at, e.src_ip, e.src_port, e.dst_ip, e.dst_port, '',
	e.capture_id, '', '', 0::smallint, '', 0::bigint, '', e.correlation_id, false, e.payload
FROM keys CROSS JOIN hep_events e
WHERE e.tenant_id = $1 AND e.correlation_id = ANY(keys.corrs) AND (e.call_id IS NULL OR NOT e.call_id = ANY(keys.legs))
  AND e.captured_at >= $3 AND e.captured_at <= $4 AND e.captured_at >= keys.lo AND e.captured_at <= keys.hi
ORDER BY 3, 4`

// callStatements are readCall's statements, for EXPLAIN in tests.
func callStatements() []string { return []string{callSQL} }

// callBatch is the statements of a call read: generic plans, the tenant's
// row unless the caller has it, and callSQL. With the tenant setting that
// db.ReadInTenant puts first, a view of a call is one round trip and one
// implicit transaction. followHeaders is callSQL's $7; without
// it the A leg that a "_b2b-1" Call-ID names is not followed either: the
// Call-ID is the call's own header.
func callBatch(tenantID int64, haveTenant, followHeaders bool, callID string, from, to time.Time) *pgx.Batch {
	related := []string{callID + B2BSuffix}
	if base, ok := strings.CutSuffix(callID, B2BSuffix); ok && followHeaders {
		related = append(related, base)
	}
	batch := &pgx.Batch{}
	// callSQL bounds every scan by [$3, $4] as well as by the window it
	// works out, so that a generic plan prunes the partitions outside the
	// token's window when it starts. Left to choose, PostgreSQL then found
	// custom plans (pruned while planning) cheaper and planned callSQL
	// anew for each view, ~0.8 ms; the generic plan runs in ~0.2.
	batch.Queue(`SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`)
	if !haveTenant {
		batch.Queue(`/* Store.Call */ SELECT id, slug, aliases, embed_origins FROM tenants WHERE id = $1`, tenantID)
	}
	batch.Queue(callSQL, tenantID, callID, from, to, LegWindow, related, followHeaders)
	batch.Queue(recordSQL, tenantID, callID, from, to)
	return batch
}

// recordSQL reads the call's record if it overlaps the window (as
// calls.Store.Get does), in the same round trip as the messages.
const recordSQL = `/* Store.Call */ SELECT state FROM call_records
	WHERE tenant_id = $1 AND call_id = $2 AND messages > 0 AND started_at <= $4 AND ended_at >= $3`

// readRecord reads recordSQL's answer: nil when the call has no record
// (ingest writes it with the messages, so only calls stored before
// records existed lack one).
func (s *Store) readRecord(br pgx.BatchResults, callID string) (*callrec.Record, error) {
	var state []byte
	err := br.QueryRow().Scan(&state)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st, err := callrec.UnmarshalState(state)
	if err != nil {
		return nil, fmt.Errorf("record of %q: %w", callID, err)
	}
	r := st.Record(callID, s.now())
	return &r, nil
}

// readTenantInfo reads the tenant row callBatch asked for. A tenant that
// does not exist (or is not this transaction's) holds no call.
func readTenantInfo(br pgx.BatchResults) (queryapi.TenantInfo, error) {
	var t queryapi.TenantInfo
	err := br.QueryRow().Scan(&t.ID, &t.Slug, &t.Aliases, &t.EmbedOrigins)
	if err == pgx.ErrNoRows {
		return t, errNoCall
	}
	return t, err
}

// readCallResults reads callSQL's rows into a Call (without its Tenant).
func readCallResults(br pgx.BatchResults, callID string, from, to time.Time) (*queryapi.Call, error) {
	msgs, events, err := readCallRows(br)
	if err != nil {
		return nil, err
	}
	// The call's own messages come back whenever it has any in [from, to];
	// none means no call here, whoever else holds that Call-ID.
	own := false
	var legs []string
	for _, m := range msgs {
		if m.CallID == callID {
			own = true
		} else if !slices.Contains(legs, m.CallID) {
			legs = append(legs, m.CallID)
		}
	}
	if !own {
		return nil, errNoCall
	}
	// Every leg callSQL found has a message in the window the messages were
	// read from, so the legs are exactly the other Call-IDs read.
	slices.Sort(legs)
	legs = append([]string{callID}, legs...)
	legIndex := make(map[string]int, len(legs))
	for i, l := range legs {
		legIndex[l] = i
	}
	for i := range msgs {
		msgs[i].Leg = legIndex[msgs[i].CallID]
	}

	return &queryapi.Call{CallID: callID, Legs: legs, Messages: msgs, Events: events,
		Window: [2]time.Time{from.UTC(), to.UTC()}}, nil
}

// readCallRows splits callSQL's rows into messages and events, each in
// capture order.
func readCallRows(br pgx.BatchResults) ([]queryapi.Message, []queryapi.Event, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		msgs   = make([]queryapi.Message, 0, 32)
		events []queryapi.Event
		// Scan targets escape to the heap: declared once, not per row.
		kind, status     int16
		m                queryapi.Message
		srcIP, dstIP     netip.Addr
		srcPort, dstPort int32
		captureID        int64
		targets          = []any{&kind, &m.CallID, &m.CapturedAt, &m.ReceivedAt, &srcIP, &srcPort, &dstIP, &dstPort, &m.Transport,
			&captureID, &m.NodeName, &m.Method, &status, &m.Reason, &m.CSeq, &m.CSeqMethod, &m.CorrelationID, &m.HasSDP, &m.Payload}
	)
	for rows.Next() {
		m = queryapi.Message{}
		if err := rows.Scan(targets...); err != nil {
			return nil, nil, err
		}
		src, dst := netip.AddrPortFrom(srcIP, uint16(srcPort)), netip.AddrPortFrom(dstIP, uint16(dstPort))
		captured, received := m.CapturedAt.UTC(), m.ReceivedAt.UTC()
		if kind != 0 {
			events = append(events, queryapi.Event{CapturedAt: captured, ReceivedAt: received, PayloadType: int(kind),
				CallID: m.CallID, CorrelationID: m.CorrelationID, Src: src, Dst: dst, CaptureID: uint32(captureID), Payload: m.Payload})
			continue
		}
		m.Src, m.Dst, m.CapturedAt, m.ReceivedAt = src, dst, captured, received
		m.CaptureID, m.Status = uint32(captureID), int(status)
		msgs = append(msgs, m)
	}
	return msgs, events, rows.Err()
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
