// Package querytest writes realistic calls into a test database: SIP
// messages are rendered as text, run through sip.Extract exactly as ingest
// does, and inserted with COPY through the owner pool, their call records
// merged in the same transaction.
package querytest

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callscope/callscope/callrec"
	"github.com/callscope/callscope/calls"
	"github.com/callscope/callscope/sip"
)

// Row is one sip_messages row.
type Row struct {
	TenantID   int64
	CapturedAt time.Time
	ReceivedAt time.Time
	Src, Dst   netip.AddrPort
	Transport  string
	CaptureID  uint32
	NodeName   string
	Payload    []byte
}

// Event is one hep_events row.
type Event struct {
	TenantID      int64
	CapturedAt    time.Time
	PayloadType   int
	CallID        string
	CorrelationID string
	Src, Dst      netip.AddrPort
	CaptureID     uint32
	Payload       []byte
}

var extractor = sip.NewExtractor(sip.DefaultCorrelationHeaders)

var columns = []string{"tenant_id", "captured_at", "received_at", "call_id", "correlation_id", "method", "status",
	"reason", "cseq", "cseq_method", "from_user", "from_tag", "to_user", "to_tag", "ruri_user", "user_agent",
	"src_ip", "src_port", "dst_ip", "dst_port", "transport", "capture_id", "node_name", "has_sdp", "payload",
	"correlation_source"}

func nullable(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// Values returns r as the values of a sip_messages row, in the column order
// of Copy, extracted the way ingest does. It fails for a payload that is not
// SIP with a Call-ID.
func (r Row) Values() ([]any, error) {
	var m sip.Message
	if err := extractor.Extract(r.Payload, &m); err != nil {
		return nil, fmt.Errorf("querytest: %w", err)
	}
	var method, status, reason any
	if m.Request {
		method = string(m.Method)
	} else {
		status, reason = int16(m.StatusCode), nullable(m.Reason)
	}
	var cseq any
	if m.CSeqNum != 0 {
		cseq = int64(m.CSeqNum)
	}
	received := r.ReceivedAt
	if received.IsZero() {
		received = r.CapturedAt.Add(300 * time.Microsecond)
	}
	var node any
	if r.NodeName != "" {
		node = r.NodeName
	}
	return []any{r.TenantID, r.CapturedAt, received, string(m.CallID), nullable(m.Correlation), method, status,
		reason, cseq, nullable(m.CSeqMethod), nullable(m.FromUser), nullable(m.FromTag), nullable(m.ToUser),
		nullable(m.ToTag), nullable(m.RURIUser), nullable(m.UserAgent),
		r.Src.Addr(), int32(r.Src.Port()), r.Dst.Addr(), int32(r.Dst.Port()), r.Transport, int64(r.CaptureID),
		node, m.HasSDP, r.Payload, nullable([]byte(m.CorrelationHeader))}, nil
}

// Copy writes rows to sip_messages with COPY on pool (the owner pool: COPY
// refuses tables under row-level security for other roles) and merges them
// into their calls' records in the same transaction, as ingest does.
func Copy(ctx context.Context, pool *pgxpool.Pool, rows []Row) error {
	return copyRows(ctx, pool, rows, true)
}

// CopyMessages writes rows like Copy but leaves call records alone, as a
// version of callscope before records did.
func CopyMessages(ctx context.Context, pool *pgxpool.Pool, rows []Row) error {
	return copyRows(ctx, pool, rows, false)
}

func copyRows(ctx context.Context, pool *pgxpool.Pool, rows []Row, records bool) error {
	vals := make([][]any, 0, len(rows))
	batch := callrec.NewBatch()
	for _, r := range rows {
		v, err := r.Values()
		if err != nil {
			return err
		}
		vals = append(vals, v)
		if records {
			m := callrec.Message{At: r.CapturedAt, Src: r.Src, Dst: r.Dst, Node: r.NodeName, Payload: r.Payload}
			if m.Node == "" {
				m.Node = strconv.FormatUint(uint64(r.CaptureID), 10)
			}
			if corr, ok := v[4].(string); ok {
				m.Correlation, m.CorrelationSource = corr, v[len(v)-1].(string)
			}
			batch.AddSIP(r.TenantID, []byte(v[3].(string)), &m)
		}
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"sip_messages"}, columns, pgx.CopyFromRows(vals)); err != nil {
			return err
		}
		return calls.Apply(ctx, tx, batch.States())
	})
	if err != nil {
		return fmt.Errorf("querytest.Copy: %w", err)
	}
	return nil
}

// MustInsert writes rows or fails the test.
func MustInsert(tb testing.TB, pool *pgxpool.Pool, rows ...Row) {
	tb.Helper()
	if err := Copy(context.Background(), pool, rows); err != nil {
		tb.Fatal(err)
	}
}

// MustInsertEvents writes hep_events rows or fails the test.
func MustInsertEvents(tb testing.TB, pool *pgxpool.Pool, events ...Event) {
	tb.Helper()
	for _, e := range events {
		var callID, corr any
		if e.CallID != "" {
			callID = e.CallID
		}
		if e.CorrelationID != "" {
			corr = e.CorrelationID
		}
		_, err := pool.Exec(context.Background(), `INSERT INTO hep_events (tenant_id, captured_at, received_at,
			payload_type, call_id, correlation_id, src_ip, src_port, dst_ip, dst_port, capture_id, payload)
			VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			e.TenantID, e.CapturedAt, int16(e.PayloadType), callID, corr, e.Src.Addr(), int32(e.Src.Port()),
			e.Dst.Addr(), int32(e.Dst.Port()), int64(e.CaptureID), e.Payload)
		if err != nil {
			tb.Fatalf("querytest: insert event: %v", err)
		}
	}
}

// Call describes a call to generate. Zero fields take defaults that make a
// plausible UDP call between two hosts.
type Call struct {
	TenantID  int64
	CallID    string
	Start     time.Time
	FromUser  string // default "alice"
	ToUser    string // default "bob"; also the Request-URI user
	Caller    netip.AddrPort
	Callee    netip.AddrPort
	Transport string // default udp
	CaptureID uint32
	// Status is the final answer: 200 (default) gives INVITE 100 180 200
	// ACK BYE 200; anything else INVITE 100 <status> ACK.
	Status int
	// XCID adds an X-CID header (the correlation id) to every message.
	XCID string
	// Headers are extra header lines for the INVITE, hostile ones included.
	Headers []string
	// Body replaces the INVITE's SDP offer.
	Body      string
	UserAgent string
}

func (c *Call) defaults() {
	if c.FromUser == "" {
		c.FromUser = "alice"
	}
	if c.ToUser == "" {
		c.ToUser = "bob"
	}
	if !c.Caller.IsValid() {
		c.Caller = netip.MustParseAddrPort("10.0.0.1:5060")
	}
	if !c.Callee.IsValid() {
		c.Callee = netip.MustParseAddrPort("10.0.0.2:5060")
	}
	if c.Transport == "" {
		c.Transport = "udp"
	}
	if c.Status == 0 {
		c.Status = 200
	}
	if c.UserAgent == "" {
		c.UserAgent = "callscope-test/1.0"
	}
}

// Rows renders the call's messages, a few milliseconds apart.
func (c Call) Rows() []Row {
	c.defaults()
	type step struct {
		at      time.Duration
		forward bool // caller -> callee
		text    string
	}
	tr := strings.ToUpper(c.Transport)
	from := fmt.Sprintf("\"%s\" <sip:%s@%s>;tag=ft-%s", c.FromUser, c.FromUser, c.Caller.Addr(), shortTag(c.CallID))
	toNoTag := fmt.Sprintf("<sip:%s@%s>", c.ToUser, c.Callee.Addr())
	toTag := toNoTag + ";tag=tt-" + shortTag(c.CallID)
	extra := ""
	if c.XCID != "" {
		extra = "X-CID: " + c.XCID + "\r\n"
	}
	req := func(method string, cseq int, to string, hdrs []string, body, ctype string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "%s sip:%s@%s SIP/2.0\r\n", method, c.ToUser, c.Callee)
		fmt.Fprintf(&b, "Via: SIP/2.0/%s %s;branch=z9hG4bK-%s-%d\r\n", tr, c.Caller, shortTag(c.CallID), cseq)
		fmt.Fprintf(&b, "Max-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n", from, to, c.CallID, cseq, method)
		fmt.Fprintf(&b, "Contact: <sip:%s@%s>\r\nUser-Agent: %s\r\n%s", c.FromUser, c.Caller, c.UserAgent, extra)
		for _, h := range hdrs {
			b.WriteString(h + "\r\n")
		}
		if body != "" {
			fmt.Fprintf(&b, "Content-Type: %s\r\nContent-Length: %d\r\n\r\n%s", ctype, len(body), body)
		} else {
			b.WriteString("Content-Length: 0\r\n\r\n")
		}
		return b.String()
	}
	resp := func(status int, reason, method string, cseq int, to, body string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", status, reason)
		fmt.Fprintf(&b, "Via: SIP/2.0/%s %s;branch=z9hG4bK-%s-%d\r\n", tr, c.Caller, shortTag(c.CallID), cseq)
		fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nServer: callscope-test-uas\r\n%s", from, to, c.CallID, cseq, method, extra)
		if body != "" {
			fmt.Fprintf(&b, "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		} else {
			b.WriteString("Content-Length: 0\r\n\r\n")
		}
		return b.String()
	}
	offer := c.Body
	ctype := "application/sdp"
	if offer == "" {
		offer = sdp(c.Caller.Addr(), 40000, "sendrecv")
	}
	answer := sdp(c.Callee.Addr(), 50000, "sendrecv")
	steps := []step{
		{0, true, req("INVITE", 1, toNoTag, c.Headers, offer, ctype)},
		{2 * time.Millisecond, false, resp(100, "Trying", "INVITE", 1, toNoTag, "")},
	}
	if c.Status >= 200 && c.Status < 300 {
		steps = append(steps,
			step{40 * time.Millisecond, false, resp(180, "Ringing", "INVITE", 1, toTag, "")},
			step{1500 * time.Millisecond, false, resp(c.Status, "OK", "INVITE", 1, toTag, answer)},
			step{1502 * time.Millisecond, true, req("ACK", 1, toTag, nil, "", "")},
			step{31500 * time.Millisecond, true, req("BYE", 2, toTag, nil, "", "")},
			step{31503 * time.Millisecond, false, resp(200, "OK", "BYE", 2, toTag, "")},
		)
	} else {
		steps = append(steps,
			step{900 * time.Millisecond, false, resp(c.Status, reasonOf(c.Status), "INVITE", 1, toTag, "")},
			step{902 * time.Millisecond, true, req("ACK", 1, toTag, nil, "", "")},
		)
	}
	rows := make([]Row, len(steps))
	for i, s := range steps {
		src, dst := c.Caller, c.Callee
		if !s.forward {
			src, dst = dst, src
		}
		rows[i] = Row{TenantID: c.TenantID, CapturedAt: c.Start.Add(s.at), Src: src, Dst: dst,
			Transport: c.Transport, CaptureID: c.CaptureID, Payload: []byte(s.text)}
	}
	return rows
}

// FromBYE returns the rows of c from its BYE on: a capture that starts
// inside a dialog. It is empty for a call that was not answered.
func (c Call) FromBYE() []Row {
	rows := c.Rows()
	for i, r := range rows {
		if strings.HasPrefix(string(r.Payload), "BYE ") {
			return rows[i:]
		}
	}
	return nil
}

func reasonOf(status int) string {
	switch status {
	case 486:
		return "Busy Here"
	case 404:
		return "Not Found"
	case 487:
		return "Request Terminated"
	case 503:
		return "Service Unavailable"
	}
	return "Failed"
}

func sdp(addr netip.Addr, port int, dir string) string {
	ipv := "IP4"
	if addr.Is6() {
		ipv = "IP6"
	}
	return fmt.Sprintf("v=0\r\no=- 1 1 IN %s %s\r\ns=-\r\nc=IN %s %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=%s\r\n",
		ipv, addr, ipv, addr, port, dir)
}

func shortTag(callID string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(callID); i++ {
		h = (h ^ uint32(callID[i])) * 16777619
	}
	return fmt.Sprintf("%08x", h)
}
