package query_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/pcap"
	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/query/querytest"
)

func TestCallLegs(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.insert(t,
		// A leg and its B2BUA leg by suffix.
		querytest.Call{TenantID: b.acme.ID, CallID: "a-leg@x", Start: t0},
		querytest.Call{TenantID: b.acme.ID, CallID: "a-leg@x" + query.B2BSuffix, Start: t0.Add(5 * time.Millisecond),
			Caller: ap("10.0.0.2:5060"), Callee: ap("10.0.0.3:5060")},
		// A leg whose X-CID names the call.
		querytest.Call{TenantID: b.acme.ID, CallID: "xcid-leg@y", Start: t0.Add(10 * time.Millisecond), XCID: "a-leg@x",
			Caller: ap("10.0.0.2:5062"), Callee: ap("10.0.0.4:5060")},
		// Two calls sharing a correlation id.
		querytest.Call{TenantID: b.acme.ID, CallID: "p1", Start: t0.Add(time.Hour), XCID: "corr-9"},
		querytest.Call{TenantID: b.acme.ID, CallID: "p2", Start: t0.Add(time.Hour + time.Second), XCID: "corr-9"},
		// Same correlation id a day later: not a leg of p1.
		querytest.Call{TenantID: b.acme.ID, CallID: "p3", Start: t0.Add(25 * time.Hour), XCID: "corr-9"},
		// Another tenant's B2BUA leg of a call with the same Call-ID.
		querytest.Call{TenantID: b.beta.ID, CallID: "a-leg@x" + query.B2BSuffix, Start: t0},
	)
	querytest.MustInsertEvents(t, b.db.Owner(),
		querytest.Event{TenantID: b.acme.ID, CapturedAt: t0.Add(3 * time.Millisecond), PayloadType: 100, CallID: "a-leg@x",
			Src: ap("10.0.0.2:5060"), Dst: ap("10.0.0.9:9060"), Payload: []byte("routing to carrier")},
		querytest.Event{TenantID: b.acme.ID, CapturedAt: t0.Add(20 * time.Second), PayloadType: 34, CallID: "a-leg@x" + query.B2BSuffix,
			Src: ap("10.0.0.2:5060"), Dst: ap("10.0.0.9:9060"), Payload: []byte(`{"mos":4.3}`)},
		querytest.Event{TenantID: b.beta.ID, CapturedAt: t0.Add(3 * time.Millisecond), PayloadType: 100, CallID: "a-leg@x" + query.B2BSuffix,
			Src: ap("10.0.0.2:5060"), Dst: ap("10.0.0.9:9060"), Payload: []byte("beta's log")},
		// p1's events: by correlation value only (an RTCP report), and by
		// Call-ID and correlation value at once, which must come back once.
		querytest.Event{TenantID: b.acme.ID, CapturedAt: t0.Add(time.Hour + 2*time.Second), PayloadType: 5, CorrelationID: "corr-9",
			Src: ap("10.0.0.2:5060"), Dst: ap("10.0.0.9:9060"), Payload: []byte("rtcp of corr-9")},
		querytest.Event{TenantID: b.acme.ID, CapturedAt: t0.Add(time.Hour + 3*time.Second), PayloadType: 100, CallID: "p1", CorrelationID: "corr-9",
			Src: ap("10.0.0.2:5060"), Dst: ap("10.0.0.9:9060"), Payload: []byte("log of p1")},
		// corr-9 a day later belongs to p3, not to p1.
		querytest.Event{TenantID: b.acme.ID, CapturedAt: t0.Add(25*time.Hour + time.Second), PayloadType: 5, CorrelationID: "corr-9",
			Src: ap("10.0.0.2:5060"), Dst: ap("10.0.0.9:9060"), Payload: []byte("rtcp of p3")},
	)
	day := [2]time.Time{t0.Add(-time.Hour), t0.Add(23 * time.Hour)}

	t.Run("B2BAndXCID", func(t *testing.T) {
		c, err := b.store.Call(ctx, b.acme.ID, "a-leg@x", day[0], day[1])
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"a-leg@x", "a-leg@x_b2b-1", "xcid-leg@y"}; !slices.Equal(c.Legs, want) {
			t.Errorf("legs = %v, want %v", c.Legs, want)
		}
		if len(c.Messages) != 21 {
			t.Errorf("%d messages, want 21", len(c.Messages))
		}
		for i := 1; i < len(c.Messages); i++ {
			p, m := c.Messages[i-1], c.Messages[i]
			if m.CapturedAt.Before(p.CapturedAt) || (m.CapturedAt.Equal(p.CapturedAt) && m.ReceivedAt.Before(p.ReceivedAt)) {
				t.Fatalf("message %d out of capture order", i)
			}
			if c.Legs[m.Leg] != m.CallID {
				t.Fatalf("message %d: leg %d is not %s", i, m.Leg, m.CallID)
			}
		}
		if c.Tenant.Slug != "acme" || !slices.Equal(c.Tenant.EmbedOrigins, []string{"https://app.acme.example"}) {
			t.Errorf("tenant = %+v", c.Tenant)
		}
		if len(c.Events) != 2 || string(c.Events[0].Payload) != "routing to carrier" || c.Events[1].Kind() != "qos" {
			t.Errorf("events = %+v", c.Events)
		}
	})
	t.Run("FromTheBLeg", func(t *testing.T) {
		c, err := b.store.Call(ctx, b.acme.ID, "a-leg@x_b2b-1", day[0], day[1])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(c.Legs, "a-leg@x") {
			t.Errorf("legs = %v", c.Legs)
		}
	})
	t.Run("CorrelationID", func(t *testing.T) {
		c, err := b.store.Call(ctx, b.acme.ID, "p1", day[0], t0.Add(48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"p1", "p2"}; !slices.Equal(c.Legs, want) {
			t.Errorf("legs = %v, want %v (p3 is a day later)", c.Legs, want)
		}
		var got []string
		for _, e := range c.Events {
			got = append(got, string(e.Payload))
		}
		if want := []string{"rtcp of corr-9", "log of p1"}; !slices.Equal(got, want) {
			t.Errorf("events %q, want %q (each once, none of p3's)", got, want)
		}
	})
	t.Run("WindowRespected", func(t *testing.T) {
		// The window ends after the 200 OK: ACK, BYE and 200 stay out.
		c, err := b.store.Call(ctx, b.acme.ID, "p1", t0.Add(time.Hour), t0.Add(time.Hour+1500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range c.Messages {
			if m.CapturedAt.After(t0.Add(time.Hour + 1500*time.Millisecond)) {
				t.Errorf("message at %v outside the window", m.CapturedAt)
			}
		}
		if len(c.Messages) != 4+3 { // p1's INVITE..200 and p2's INVITE 100 180 inside
			t.Errorf("%d messages in the window", len(c.Messages))
		}
	})
	t.Run("OutsideWindowIsNotFound", func(t *testing.T) {
		_, err := b.store.Call(ctx, b.acme.ID, "p1", t0.Add(2*time.Hour), t0.Add(3*time.Hour))
		if !callscope.Is(err, callscope.NotFound) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("OtherTenant", func(t *testing.T) {
		_, err := b.store.Call(ctx, b.beta.ID, "a-leg@x", day[0], day[1])
		if !callscope.Is(err, callscope.NotFound) {
			t.Errorf("beta reads acme's call: %v", err)
		}
		c, err := b.store.Call(ctx, b.beta.ID, "a-leg@x_b2b-1", day[0], day[1])
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Legs) != 1 || len(c.Messages) != 7 || len(c.Events) != 1 || string(c.Events[0].Payload) != "beta's log" {
			t.Errorf("beta's call leaks acme rows: legs %v, %d messages, events %+v", c.Legs, len(c.Messages), c.Events)
		}
	})
}

// The search view keeps the tenant confinement of the table's policy.
func TestSearchViewConfined(t *testing.T) {
	b := setup(t)
	b.insert(t, querytest.Call{TenantID: b.acme.ID, CallID: "a", Start: t0})
	var n int
	err := b.db.InTenant(context.Background(), b.beta.ID, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT count(*) FROM sip_messages_search`).Scan(&n)
	})
	if err != nil || n != 0 {
		t.Errorf("beta sees %d acme rows through the view (%v)", n, err)
	}
}

func TestExports(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.insert(t,
		querytest.Call{TenantID: b.acme.ID, CallID: "exp-1", Start: t0},
		querytest.Call{TenantID: b.acme.ID, CallID: "exp-1" + query.B2BSuffix, Start: t0.Add(time.Millisecond), Transport: "tcp",
			Caller: ap("[2001:db8::1]:5060"), Callee: ap("[2001:db8::2]:5060")},
	)
	c, err := b.store.Call(ctx, b.acme.ID, "exp-1", t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	data, err := c.PCAP()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "call.pcap")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	frames, err := pcap.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != len(c.Messages) {
		t.Fatalf("%d frames for %d messages", len(frames), len(c.Messages))
	}
	var udp, tcp int
	for i, f := range frames {
		if p, src, dst, ok := pcap.UDPPayload(f); ok {
			udp++
			if string(p) != string(c.Messages[i].Payload) || src != c.Messages[i].Src || dst != c.Messages[i].Dst {
				t.Errorf("frame %d differs from message", i)
			}
		} else if p, src, dst, ok := pcap.TCPPayload(f); ok {
			tcp++
			if string(p) != string(c.Messages[i].Payload) || src != c.Messages[i].Src || dst != c.Messages[i].Dst {
				t.Errorf("frame %d differs from message", i)
			}
		}
	}
	if udp != 7 || tcp != 7 {
		t.Errorf("udp %d tcp %d", udp, tcp)
	}
	if _, err := exec.LookPath("tshark"); err == nil {
		out, err := exec.Command("tshark", "-r", path, "-Y", "sip", "-T", "fields", "-e", "sip.Call-ID").Output()
		if err != nil {
			t.Fatalf("tshark: %v\n%s", err, out)
		}
		ids := strings.Fields(string(out))
		if len(ids) != 14 || !slices.Contains(ids, "exp-1_b2b-1") {
			t.Errorf("tshark decoded %d SIP messages: %v", len(ids), ids)
		}
	}
	text := string(c.Text())
	for _, want := range []string{"Call-ID: exp-1\n", "Leg 1: exp-1_b2b-1", "#1 2026-03-01T10:00:00.000000Z 10.0.0.1:5060 -> 10.0.0.2:5060 udp", "INVITE sip:bob@", "[2001:db8::1]:5060 -> [2001:db8::2]:5060 tcp"} {
		if !strings.Contains(text, want) {
			t.Errorf("text dump lacks %q", want)
		}
	}
	if strings.Contains(text, "\r") {
		t.Error("text dump keeps CR")
	}
}
