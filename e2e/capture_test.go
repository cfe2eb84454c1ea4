package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope/sip"
)

// TestKamailioHEPToSink checks the peers without callscope: two proxies
// report every kind of call to an in-test HEP collector, one over UDP with
// an auth key and one over TCP, and every SIP message each proxy received
// or sent arrives exactly once, with the proxy's capture ID. When this
// fails, the peers or their configuration are at fault, not ingest.
func TestKamailioHEPToSink(t *testing.T) {
	needPeers(t)
	// Safe in parallel: every test has its own ports, and compares only
	// what crossed its own proxies.
	t.Parallel()
	sink := startHEPSink(t)
	a := Proxy{Name: "A", Addr: freeSIPAddr(t, "127.0.0.21"), HEPURI: "sip:" + sink.Addr, CaptureID: 2001, AuthKey: "acme-key"}
	b := Proxy{Name: "B", Addr: freeSIPAddr(t, "127.0.0.22"), HEPURI: "sip:" + sink.Addr + ";transport=tcp", CaptureID: 3001}
	a.Next = "sip:" + b.Addr
	wire := startWire(t, a, b)
	startKamailio(t, b)
	startKamailio(t, a)
	runCallKinds(t, "sink", a, "127.0.0.11", "127.0.0.31", callKinds)
	want := expectedHops(wire.Stop(t), a, b)

	var got []Hop
	err := eventually(5*time.Second, func() error {
		pkts, err := sink.Packets()
		if err != nil {
			return err
		}
		got = got[:0]
		for _, p := range pkts {
			h, err := sinkHop(p)
			if err != nil {
				return err
			}
			if p.CaptureID == a.CaptureID && (p.Transport != "udp" || string(p.AuthKey) != a.AuthKey) {
				return fmt.Errorf("proxy A sent %s with key %q", p.Transport, p.AuthKey)
			}
			if p.CaptureID == b.CaptureID && (p.Transport != "tcp" || len(p.AuthKey) != 0) {
				return fmt.Errorf("proxy B sent %s with key %q", p.Transport, p.AuthKey)
			}
			got = append(got, h)
		}
		got = withoutProbes(got)
		if d := diffHops(want, got); d != "" {
			return fmt.Errorf("%d hops expected, %d arrived:\n%s", len(want), len(got), d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkCallKinds(t, "sink", got, callKinds, a.CaptureID, b.CaptureID)
	t.Logf("%d SIP messages on the wire through the proxies, %d hops reported", len(want)/2, len(got))
}

// sinkHop is the hop a HEP packet reports.
func sinkHop(p sinkPacket) (Hop, error) {
	var m sip.Message
	if err := sip.NewExtractor(nil).Extract(p.Payload, &m); err != nil {
		return Hop{}, fmt.Errorf("HEP payload from node %d: %w", p.CaptureID, err)
	}
	return Hop{CaptureID: p.CaptureID, Src: p.Src, Dst: p.Dst, CallID: string(m.CallID), What: what(&m), CSeq: int64(m.CSeqNum)}, nil
}

func port(addr string) string {
	ap := netip.MustParseAddrPort(addr)
	return fmt.Sprint(ap.Port())
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\r' || c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}

// TestCapture is the capture path end to end, with real peers: a SIPp UAC
// and UAS call through two Kamailio proxies whose siptrace reports to
// callscope — proxy A over UDP with an auth key, for tenant acme; proxy B
// over TCP, for tenant globex. Every SIP message each proxy received or sent
// (as tshark saw it on lo) is stored once under that proxy's tenant. A
// second chain — proxy C with a capture ID nobody registered, proxy D with a
// wrong auth key — stores nothing, and `node unclaimed` names C.
//
//	UAC 127.0.0.11 ─> A 127.0.0.21 ─> B 127.0.0.22 ─> UAS 127.0.0.31
//	                  │ HEP/UDP 2001   │ HEP/TCP 3001
//	                  │ + auth key     │
//	UAC 127.0.0.12 ─> C 127.0.0.23 ─> D 127.0.0.24 ─> UAS 127.0.0.32
//	                  │ HEP/UDP 9001   │ HEP/TCP 3002
//	                  │ (unregistered) │ wrong auth key
//	                  v                v
//	            callscope ingest 127.0.0.9:PORT (UDP and TCP)
func TestCapture(t *testing.T) {
	needPeers(t)
	t.Parallel()
	cs := newCallscope(t)
	// Provisioned before the server starts, so that its node map holds
	// the nodes from the first packet on: a node added to a running server
	// is picked up within seconds, and the probes of that window would be
	// dropped and listed as unclaimed.
	cs.CLI(t, "tenant", "create", "acme", "--name", "Acme")
	cs.CLI(t, "tenant", "create", "globex", "--name", "Globex")
	out := cs.CLI(t, "node", "add", "acme", "2001", "--name", "proxy-a", "--auth-key", "acme-hep-key")
	if !strings.Contains(out, "auth key: required") {
		t.Fatalf("node add with --auth-key: %q", out)
	}
	cs.CLI(t, "node", "add", "globex", "3001", "--name", "proxy-b")
	cs.CLI(t, "node", "add", "globex", "3002", "--name", "proxy-d", "--auth-key", "globex-hep-key")
	cs.Start(t)
	if got := cs.Listening["ingest udp"]; got != cs.HEPAddr {
		t.Fatalf("ingest listens on udp://%s, want %s (listeners: %v)", got, cs.HEPAddr, cs.Listening)
	}
	if got := cs.Listening["ingest tcp"]; got != cs.HEPAddr {
		t.Fatalf("ingest listens on tcp://%s, want %s", got, cs.HEPAddr)
	}

	hepUDP, hepTCP := "sip:"+cs.HEPAddr, "sip:"+cs.HEPAddr+";transport=tcp"
	a := Proxy{Name: "A", Addr: freeSIPAddr(t, "127.0.0.21"), HEPURI: hepUDP, CaptureID: 2001, AuthKey: "acme-hep-key"}
	b := Proxy{Name: "B", Addr: freeSIPAddr(t, "127.0.0.22"), HEPURI: hepTCP, CaptureID: 3001}
	c := Proxy{Name: "C", Addr: freeSIPAddr(t, "127.0.0.23"), HEPURI: hepUDP, CaptureID: 9001}
	d := Proxy{Name: "D", Addr: freeSIPAddr(t, "127.0.0.24"), HEPURI: hepTCP, CaptureID: 3002, AuthKey: "not-the-key"}
	a.Next, c.Next = "sip:"+b.Addr, "sip:"+d.Addr

	wire := startWire(t, a, b, c, d)
	for _, p := range []Proxy{b, a, d, c} {
		startKamailio(t, p)
	}
	runCallKinds(t, "acme", a, "127.0.0.11", "127.0.0.31", callKinds)
	runCallKinds(t, "rogue", c, "127.0.0.12", "127.0.0.32", callKinds[:1])
	msgs := wire.Stop(t)

	t.Run("EveryHopUnderItsTenant", func(t *testing.T) {
		for _, tc := range []struct {
			slug  string
			proxy Proxy
		}{{"acme", a}, {"globex", b}} {
			want := expectedHops(msgs, tc.proxy)
			var got []Hop
			err := eventually(15*time.Second, func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				hops, err := storedHops(ctx, cs.DatabaseURL, tc.slug)
				if err != nil {
					return err
				}
				got = withoutProbes(hops)
				if d := diffHops(want, got); d != "" {
					return fmt.Errorf("%d hops expected, %d stored:\n%s", len(want), len(got), d)
				}
				return nil
			})
			if err != nil {
				t.Errorf("tenant %s (proxy %s, capture ID %d): %v", tc.slug, tc.proxy.Name, tc.proxy.CaptureID, err)
				continue
			}
			checkCallKinds(t, "acme", got, callKinds, tc.proxy.CaptureID)
			t.Logf("tenant %s: %d messages from proxy %s, as on the wire", tc.slug, len(got), tc.proxy.Name)
		}
	})

	t.Run("HEPTransports", func(t *testing.T) {
		// Stored rows keep the SIP transport, not the HEP one: the
		// collector's counters say A and C reached it over UDP, B and D
		// over TCP, all as HEPv3.
		for _, tc := range []struct {
			transport string
			proxies   []Proxy
		}{{"udp", []Proxy{a, c}}, {"tcp", []Proxy{b, d}}} {
			sent := len(expectedHops(msgs, tc.proxies...))
			sample := fmt.Sprintf("callscope_ingest_packets_total{transport=%q,version=\"3\"}", tc.transport)
			v, err := metric(cs.Listening["metrics http"], sample)
			if err != nil {
				t.Fatal(err)
			}
			if int(v) < sent {
				t.Errorf("%s = %v, want at least the %d messages proxies %s and %s reported", sample, v, sent, tc.proxies[0].Name, tc.proxies[1].Name)
			}
		}
	})

	t.Run("UnknownNodeAndWrongKeyStoreNothing", func(t *testing.T) {
		metricsAddr := cs.Listening["metrics http"]
		for _, tc := range []struct {
			proxy  Proxy
			reason string
		}{{c, "unknown_node"}, {d, "bad_auth_key"}} {
			sent := len(expectedHops(msgs, tc.proxy))
			if sent == 0 {
				t.Fatalf("proxy %s saw no SIP messages: the rogue calls did not run", tc.proxy.Name)
			}
			// Wait until ingest has judged all of them, so that "nothing
			// stored" is not merely "not stored yet".
			sample := fmt.Sprintf("callscope_ingest_dropped_total{reason=%q}", tc.reason)
			err := eventually(15*time.Second, func() error {
				v, err := metric(metricsAddr, sample)
				if err != nil {
					return err
				}
				if int(v) < sent {
					return fmt.Errorf("%s = %v, want at least the %d messages proxy %s reported", sample, v, sent, tc.proxy.Name)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}
		if n := countStored(t, cs.DatabaseURL, `capture_id IN (9001, 3002) OR call_id LIKE 'rogue-%'`); n != 0 {
			t.Errorf("%d messages stored from the unregistered node or the wrong key", n)
		}
	})

	t.Run("NodeUnclaimedListsTheUnknownID", func(t *testing.T) {
		var out string
		err := eventually(15*time.Second, func() error {
			out = cs.CLI(t, "node", "unclaimed")
			for _, line := range strings.Split(out, "\n") {
				f := strings.Fields(line)
				if len(f) >= 3 && f[0] == "9001" {
					if f[1] != "127.0.0.23" {
						return fmt.Errorf("9001 listed from %s, want 127.0.0.23", f[1])
					}
					return nil
				}
			}
			return fmt.Errorf("9001 not listed")
		})
		if err != nil {
			t.Fatalf("node unclaimed: %v:\n%s", err, out)
		}
		for _, line := range strings.Split(out, "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 0 && f[0] != "9001" {
				t.Errorf("node unclaimed lists %s, which a tenant owns or nobody sent:\n%s", f[0], out)
			}
		}
	})
}
