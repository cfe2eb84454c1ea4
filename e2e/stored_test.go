package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// storedHops reads every SIP message stored under the tenant slug, as hops.
// It connects with the test database's owner role, which row-level
// security does not confine: the tenant filter here is the test's own.
func storedHops(ctx context.Context, dbURL, slug string) ([]Hop, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `
		SELECT m.capture_id, host(m.src_ip), m.src_port, host(m.dst_ip), m.dst_port,
		       m.call_id, coalesce(m.method, m.status::text), coalesce(m.cseq, 0)
		FROM sip_messages m JOIN tenants t ON t.id = m.tenant_id
		WHERE t.slug = $1`, slug)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Hop, error) {
		var h Hop
		var capture int64
		var srcIP, dstIP string
		var srcPort, dstPort int
		if err := r.Scan(&capture, &srcIP, &srcPort, &dstIP, &dstPort, &h.CallID, &h.What, &h.CSeq); err != nil {
			return h, err
		}
		src, err := netip.ParseAddr(srcIP)
		if err != nil {
			return h, err
		}
		dst, err := netip.ParseAddr(dstIP)
		if err != nil {
			return h, err
		}
		h.CaptureID = uint32(capture)
		h.Src = netip.AddrPortFrom(src, uint16(srcPort))
		h.Dst = netip.AddrPortFrom(dst, uint16(dstPort))
		return h, nil
	})
}

// countStored counts stored SIP messages matching a WHERE clause.
func countStored(t *testing.T, dbURL, where string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM sip_messages WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatalf("count sip_messages where %s: %v", where, err)
	}
	return n
}

// metric reads one sample from a Prometheus text endpoint: name with its
// labels exactly as printed (`callscope_ingest_dropped_total{reason="x"}`).
// A sample that is not there reads as 0.
func metric(addr, sample string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, sc.Err()
}

// waitCallStored waits until the one call of the tenant slug whose Call-ID
// matches is completely stored — byeOKs copies of the 200 to its BYE (two
// per proxy it crossed), and a count that holds still between two looks —
// and returns its Call-ID. Readiness probes never match.
func waitCallStored(t *testing.T, cs *Callscope, slug string, byeOKs int, match func(callID string) bool) string {
	t.Helper()
	var callID string
	stored := 0
	err := eventually(15*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hops, err := storedHops(ctx, cs.DatabaseURL, slug)
		if err != nil {
			return err
		}
		ids := map[string]bool{}
		for _, h := range withoutProbes(hops) {
			if match(h.CallID) {
				ids[h.CallID] = true
			}
		}
		if len(ids) != 1 {
			return fmt.Errorf("stored Call-IDs %v, want the one call", ids)
		}
		for id := range ids {
			callID = id
		}
		n := countStored(t, cs.DatabaseURL, "call_id = $1", callID)
		done := countStored(t, cs.DatabaseURL, "call_id = $1 AND cseq_method = 'BYE' AND status = 200", callID)
		if done != byeOKs || n != stored {
			stored = n
			return fmt.Errorf("call %s: %d messages stored, %d of the %d copies of the BYE's 200", callID, n, done, byeOKs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return callID
}
