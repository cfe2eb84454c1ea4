package ingest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/hep"
	"github.com/callscope/callscope/tenant"
)

func TestEndToEnd(t *testing.T) {
	b := setup(t)
	acme := MustTenant(t, b.store, "acme")
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 2001, AuthKey: "s3cret"})
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 0}) // HEPv1 carries no capture ID
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 7})
	if err := b.srv.nodes.refresh(context.Background(), true); err != nil {
		t.Fatal(err)
	}

	v3 := func(callID string) []byte {
		p := sipPacket(2001, withCallID(t, callID))
		p.AuthKey = []byte("s3cret")
		p.NodeName = []byte("kam-1")
		return p.AppendV3(nil)
	}
	tests := []struct {
		name   string
		callID string
		send   func(callID string)
		// wantTransport is the SIP transport column, wantCaptured whether
		// the HEP timestamp is the capture time (v1 has none).
		wantCaptured bool
	}{
		{"UDPv3", "udp-v3@x", func(c string) { sendUDP(t, b.udp, v3(c)) }, true},
		{"TCPv3", "tcp-v3@x", func(c string) { sendStream(t, b.tcp, nil, v3(c)) }, true},
		{"UDPv2", "udp-v2@x", func(c string) {
			p := sipPacket(7, withCallID(t, c))
			sendUDP(t, b.udp, p.AppendV2(nil))
		}, true},
		{"UDPv1", "udp-v1@x", func(c string) {
			p := sipPacket(0, withCallID(t, c))
			sendUDP(t, b.udp, p.AppendV1(nil))
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now().Add(-time.Second)
			tt.send(tt.callID)
			waitCount(t, b.db, 1, 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id = $1`, tt.callID)

			var (
				tenantID                                int64
				captured, received                      time.Time
				method, fromUser, fromTag, toUser, ruri string
				ua, corr, cseqMethod, transport         string
				cseq                                    int64
				hasSDP                                  bool
				srcIP, dstIP                            netip.Prefix
				srcPort, dstPort                        int
				payload                                 []byte
				status                                  *int16
			)
			err := b.db.Owner().QueryRow(context.Background(), `SELECT tenant_id, captured_at, received_at,
				method, from_user, from_tag, to_user, ruri_user, user_agent, correlation_id, cseq_method,
				transport, cseq, has_sdp, src_ip, dst_ip, src_port, dst_port, payload, status
				FROM sip_messages WHERE call_id = $1`, tt.callID).Scan(&tenantID, &captured, &received,
				&method, &fromUser, &fromTag, &toUser, &ruri, &ua, &corr, &cseqMethod, &transport, &cseq,
				&hasSDP, &srcIP, &dstIP, &srcPort, &dstPort, &payload, &status)
			if err != nil {
				t.Fatal(err)
			}
			if tenantID != acme.ID {
				t.Errorf("tenant_id = %d, want %d", tenantID, acme.ID)
			}
			if tt.wantCaptured && !captured.Equal(testTS.Truncate(time.Microsecond)) {
				t.Errorf("captured_at = %v, want %v", captured, testTS)
			}
			if !tt.wantCaptured && captured.Before(before) {
				t.Errorf("captured_at = %v, want the arrival time", captured)
			}
			if received.Before(before) || received.After(time.Now().Add(time.Second)) {
				t.Errorf("received_at = %v, want about now", received)
			}
			got := []string{method, fromUser, fromTag, toUser, ruri, ua, corr, cseqMethod, transport}
			want := []string{"INVITE", "alice", "1928301774", "bob", "bob", "Zoiper rv2.10", "corr-7e1d2c3b", "INVITE", "udp"}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("column %d = %q, want %q", i, got[i], want[i])
				}
			}
			if cseq != 314159 || !hasSDP || status != nil {
				t.Errorf("cseq %d has_sdp %v status %v", cseq, hasSDP, status)
			}
			if srcIP.Addr() != testSrc.Addr() || srcPort != 5060 || dstIP.Addr() != testDst.Addr() || dstPort != 5080 {
				t.Errorf("addresses %v:%d -> %v:%d", srcIP, srcPort, dstIP, dstPort)
			}
			if !bytes.Equal(payload, withCallID(t, tt.callID)) {
				t.Error("payload is not the exact bytes sent")
			}
		})
	}
}

func TestCorrelationChunkWins(t *testing.T) {
	b := setup(t)
	acme := MustTenant(t, b.store, "acme")
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 9})
	b.srv.nodes.refresh(context.Background(), true)

	p := sipPacket(9, withCallID(t, "corr@x"))
	p.CorrelationID = []byte("from-chunk")
	sendUDP(t, b.udp, p.AppendV3(nil))
	waitCount(t, b.db, 1, 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id = 'corr@x' AND correlation_id = 'from-chunk'`)
}

func TestEvents(t *testing.T) {
	b := setup(t)
	acme := MustTenant(t, b.store, "acme")
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 9})
	b.srv.nodes.refresh(context.Background(), true)

	for _, pt := range []uint8{hep.PayloadLog, hep.PayloadRTCP, hep.PayloadQoSFull, hep.PayloadQoSShort} {
		p := sipPacket(9, []byte(`{"event":"x"}`))
		p.PayloadType = pt
		p.CorrelationID = []byte("call-with-events@x")
		sendUDP(t, b.udp, p.AppendV3(nil))
	}
	other := sipPacket(9, []byte("mgcp"))
	other.PayloadType = 6 // MGCP: not stored
	sendUDP(t, b.udp, other.AppendV3(nil))

	waitCount(t, b.db, 4, 10*time.Second, `SELECT count(*) FROM hep_events
		WHERE tenant_id = $1 AND call_id = 'call-with-events@x' AND correlation_id = 'call-with-events@x'`, acme.ID)
	b.waitDropped(reasonUnsupported, 1)
}

func TestRefusals(t *testing.T) {
	b := setup(t)
	acme := MustTenant(t, b.store, "acme")
	sus := MustTenant(t, b.store, "dormant")
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 10, AuthKey: "right"})
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 11, CIDRs: []string{"10.99.0.0/16"}})
	MustNode(t, b.store, sus.ID, tenant.NewNode{CaptureID: 12})
	suspended := tenant.Suspended
	if _, err := b.store.Update(context.Background(), sus.ID, tenant.Update{Status: &suspended}); err != nil {
		t.Fatal(err)
	}
	b.srv.nodes.refresh(context.Background(), true)

	tests := []struct {
		name, reason string
		pkt          func() *hep.Packet
	}{
		{"UnknownNode", reasonUnknownNode, func() *hep.Packet { return sipPacket(131203072, withCallID(t, "r1@x")) }},
		{"WrongAuthKey", reasonBadAuthKey, func() *hep.Packet {
			p := sipPacket(10, withCallID(t, "r2@x"))
			p.AuthKey = []byte("wrong")
			return p
		}},
		{"MissingAuthKey", reasonBadAuthKey, func() *hep.Packet { return sipPacket(10, withCallID(t, "r3@x")) }},
		// The SIP addresses inside are in the CIDR on purpose: only the
		// HEP sender (127.0.0.1 here) counts.
		{"SourceOutsideCIDR", reasonSourceNotAllowed, func() *hep.Packet {
			p := sipPacket(11, withCallID(t, "r4@x"))
			p.Src = netip.MustParseAddrPort("10.99.1.1:5060")
			return p
		}},
		{"SuspendedTenant", reasonTenantSuspended, func() *hep.Packet { return sipPacket(12, withCallID(t, "r5@x")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.dropped(tt.reason)
			p := tt.pkt()
			sendUDP(t, b.udp, p.AppendV3(nil))
			sendStream(t, b.tcp, nil, p.AppendV3(nil))
			b.waitDropped(tt.reason, before+2)
		})
	}
	if n := count(t, b.db, `SELECT count(*) FROM sip_messages`); n != 0 {
		t.Errorf("%d rows stored from refused packets", n)
	}

	// The unknown capture ID (sngrep's byte-swapped 2002) is listed for admins.
	deadline := time.Now().Add(5 * time.Second)
	for {
		un, err := b.store.ListUnclaimed(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(un) == 1 && un[0].CaptureID == 131203072 && un[0].Packets == 2 &&
			un[0].LastSource == netip.MustParseAddr("127.0.0.1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unclaimed = %+v, want capture ID 131203072 seen twice from 127.0.0.1", un)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNodeAddedWhileRunning(t *testing.T) {
	b := setup(t, func(c *Config) { c.NodeRefresh = 2 * time.Second })
	acme := MustTenant(t, b.store, "acme")
	pkt := sipPacket(4242, withCallID(t, "late@x")).AppendV3(nil)
	sendUDP(t, b.udp, pkt)
	b.waitDropped(reasonUnknownNode, 1)

	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 4242})
	added := time.Now()
	for count(t, b.db, `SELECT count(*) FROM sip_messages WHERE call_id = 'late@x'`) == 0 {
		if time.Since(added) > 5*time.Second {
			t.Fatal("a node added while running was not honoured within 5 s")
		}
		sendUDP(t, b.udp, pkt)
		time.Sleep(100 * time.Millisecond)
	}
}

// An unknown capture ID is listed until it is claimed, and stays off the
// list although ingest keeps reporting it until its node map catches up.
func TestUnclaimedUntilClaimed(t *testing.T) {
	b := setup(t, func(c *Config) { c.NodeRefresh = time.Second })
	acme := MustTenant(t, b.store, "acme")
	pkt := sipPacket(4343, withCallID(t, "unclaimed@x")).AppendV3(nil)
	listed := func() bool {
		un, err := b.store.ListUnclaimed(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range un {
			if u.CaptureID == 4343 {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(5 * time.Second)
	for !listed() {
		if time.Now().After(deadline) {
			t.Fatal("unknown capture ID 4343 never listed")
		}
		sendUDP(t, b.udp, pkt)
		time.Sleep(50 * time.Millisecond)
	}

	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 4343})
	// Keep sending across the node map refresh and several unclaimed flushes.
	for end := time.Now().Add(3 * b.cfg.NodeRefresh); time.Now().Before(end); {
		sendUDP(t, b.udp, pkt)
		if listed() {
			t.Fatal("capture ID 4343 listed as unclaimed after it was claimed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := count(t, b.db, `SELECT count(*) FROM sip_messages WHERE call_id = 'unclaimed@x'`); n == 0 {
		t.Error("nothing stored from the claimed node")
	}
}

func TestTenantIsolation(t *testing.T) {
	b := setup(t)
	ta := MustTenant(t, b.store, "tenant-a")
	tb := MustTenant(t, b.store, "tenant-b")
	MustNode(t, b.store, ta.ID, tenant.NewNode{CaptureID: 1})
	MustNode(t, b.store, tb.ID, tenant.NewNode{CaptureID: 2})
	b.srv.nodes.refresh(context.Background(), true)

	// The same SIP message seen by both nodes is two hops: both kept, each
	// under its node's tenant.
	msg := withCallID(t, "shared@x")
	sendUDP(t, b.udp, sipPacket(1, msg).AppendV3(nil), sipPacket(2, msg).AppendV3(nil),
		sipPacket(1, withCallID(t, "only-a@x")).AppendV3(nil))
	waitCount(t, b.db, 2, 10*time.Second, `SELECT count(*) FROM sip_messages WHERE tenant_id = $1`, ta.ID)
	waitCount(t, b.db, 1, 10*time.Second, `SELECT count(*) FROM sip_messages WHERE tenant_id = $1`, tb.ID)

	// In tenant B's transaction (row-level security), nothing of A shows,
	// even without a WHERE.
	err := b.db.InTenant(context.Background(), tb.ID, func(tx pgx.Tx) error {
		var n, onlyA int
		if err := tx.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE call_id = 'only-a@x') FROM sip_messages`).Scan(&n, &onlyA); err != nil {
			return err
		}
		if n != 1 || onlyA != 0 {
			t.Errorf("tenant B sees %d rows (%d of A's), want 1 and 0", n, onlyA)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDedup(t *testing.T) {
	b := setup(t, func(c *Config) { c.DedupWindow = time.Second })
	acme := MustTenant(t, b.store, "acme")
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 1})
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 2})
	b.srv.nodes.refresh(context.Background(), true)

	msg := withCallID(t, "dup@x")
	p1 := sipPacket(1, msg).AppendV3(nil)
	sendUDP(t, b.udp, p1, p1, sipPacket(2, msg).AppendV3(nil))
	waitCount(t, b.db, 2, 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id = 'dup@x'`)
	b.waitDropped(reasonDuplicate, 1)
}

// TestNodeNameFallback: a message whose HEP names no capture agent (as
// Kamailio's siptrace sends it) is stored with the name its node was
// registered with; a name the agent sends wins.
func TestNodeNameFallback(t *testing.T) {
	b := setup(t)
	acme := MustTenant(t, b.store, "acme")
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 4101, Name: "proxy-a"})
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 4102})
	if err := b.srv.nodes.refresh(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		callID    string
		captureID uint32
		agent     string // HEP chunk 0x0013
		want      string // stored node_name; "" is NULL
	}{
		{"registered-name@x", 4101, "", "proxy-a"},
		{"agent-name@x", 4101, "kam-1", "kam-1"},
		{"no-name@x", 4102, "", ""},
	} {
		p := sipPacket(tc.captureID, withCallID(t, tc.callID))
		p.NodeName = []byte(tc.agent)
		sendUDP(t, b.udp, p.AppendV3(nil))
		waitCount(t, b.db, 1, 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id = $1`, tc.callID)
		var got string
		err := b.db.Owner().QueryRow(context.Background(),
			`SELECT coalesce(node_name, '') FROM sip_messages WHERE call_id = $1`, tc.callID).Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s (capture %d, agent name %q): node_name %q, want %q", tc.callID, tc.captureID, tc.agent, got, tc.want)
		}
	}
}

// Each node's accepted packets and drops by reason reach its health in
// PostgreSQL, summed per minute; a wrong auth key (or source) is also
// logged, once a minute per node, with the capture ID and the sender.
func TestNodeHealthAndRefusals(t *testing.T) {
	var logs logBuffer
	cfg := testConfig(t)
	cfg.HealthFlush = 100 * time.Millisecond
	b := startLogged(t, dbtest.New(t), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	acme := MustTenant(t, b.store, "acme")
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 21, AuthKey: "right", CIDRs: []string{"127.0.0.0/8"}})
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 22, CIDRs: []string{"10.9.0.0/16"}})
	b.srv.nodes.refresh(context.Background(), true)

	keyed := func(key, callID string) []byte {
		p := sipPacket(21, withCallID(t, callID))
		p.AuthKey = []byte(key)
		return p.AppendV3(nil)
	}
	for i := range 3 {
		sendUDP(t, b.udp, keyed("right", fmt.Sprintf("ok-%d@x", i)))
	}
	for i := range 5 {
		sendUDP(t, b.udp, keyed("typo", fmt.Sprintf("typo-%d@x", i)))
	}
	sendStream(t, b.tcp, nil, sipPacket(22, withCallID(t, "elsewhere-1@x")).AppendV3(nil), sipPacket(22, withCallID(t, "elsewhere-2@x")).AppendV3(nil))

	var h map[tenant.NodeKey]tenant.NodeHealth
	waitFor(t, 10*time.Second, "node health not reported", func() bool {
		var err error
		if h, err = b.store.NodeHealth(context.Background(), acme.ID, time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		n21, n22 := h[tenant.NodeKey{TenantID: acme.ID, CaptureID: 21}], h[tenant.NodeKey{TenantID: acme.ID, CaptureID: 22}]
		return n21.Accepted == 3 && n21.Dropped[reasonBadAuthKey] == 5 && n22.Dropped[reasonSourceNotAllowed] == 2
	})
	if n21 := h[tenant.NodeKey{TenantID: acme.ID, CaptureID: 21}]; time.Since(n21.LastPacket) > time.Minute || len(n21.Dropped) != 1 {
		t.Errorf("node 21: %+v", n21)
	}
	if got := logs.lines("wrong or missing auth key", "capture_id=21", "tenant=acme", "source=127.0.0.1", "reason=bad_auth_key"); len(got) != 1 {
		t.Errorf("want one rate-limited line for the wrong auth key, got %d:\n%s", len(got), logs.String())
	}
	if got := logs.lines("outside the node's allowed networks", "capture_id=22", "source=127.0.0.1"); len(got) != 1 {
		t.Errorf("want one line for the source outside the CIDR, got %d:\n%s", len(got), logs.String())
	}
	if strings.Contains(logs.String(), "typo") {
		t.Error("the log shows the wrong auth key itself")
	}
}

// How far behind PostgreSQL ingest is shows on its metric, in a log line
// and in the status `node list` reads, while /readyz would still say ready:
// the writers are stalled (a SHARE lock on ingest_batches), not refused.
func TestLagVisible(t *testing.T) {
	var logs logBuffer
	cfg := testConfig(t)
	cfg.HealthFlush = 200 * time.Millisecond
	cfg.Instance = "test-ingest"
	b := startLogged(t, dbtest.New(t), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	acme := MustTenant(t, b.store, "acme")
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 5})
	b.srv.nodes.refresh(context.Background(), true)

	ctx := context.Background()
	release := stallWriters(t, b.db)
	for i := range 50 {
		sendUDP(t, b.udp, sipPacket(5, withCallID(t, fmt.Sprintf("lag-%d@x", i))).AppendV3(nil))
	}
	status := func() tenant.IngestStatus {
		sts, err := b.store.IngestStatuses(ctx)
		if err != nil || len(sts) > 1 || len(sts) == 1 && sts[0].Instance != "test-ingest" {
			t.Fatalf("statuses %+v, %v", sts, err)
		}
		if len(sts) == 0 {
			return tenant.IngestStatus{} // not reported yet
		}
		return sts[0]
	}
	waitFor(t, 15*time.Second, "status never said behind", func() bool {
		st := status()
		return st.Trend != tenant.CaughtUp && st.LagSeconds >= 5 && st.BacklogBytes > 0
	})
	if lag := b.srv.lag(time.Now()); lag < 5*time.Second {
		t.Errorf("lag metric %s", lag)
	}
	if len(logs.lines("ingest: behind by ", "MB waiting)", "lag_seconds=")) == 0 {
		t.Errorf("no \"behind by\" line:\n%s", logs.String())
	}
	if err := b.db.Ping(ctx); err != nil {
		t.Fatalf("PostgreSQL does not answer the readiness ping: %v", err)
	}

	release()
	waitFor(t, 10*time.Second, "status never caught up", func() bool { return status().Trend == tenant.CaughtUp })
	if len(logs.lines("ingest: caught up", "was_behind_for=")) != 1 {
		t.Errorf("no \"caught up\" line:\n%s", logs.String())
	}
	if lag := b.srv.lag(time.Now()); lag > time.Second {
		t.Errorf("lag %s after catching up", lag)
	}
}
