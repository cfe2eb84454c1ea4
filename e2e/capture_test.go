package e2e

import (
	"fmt"
	"net/netip"
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
	sink := startHEPSink(t)
	a := Proxy{Name: "A", Addr: freeSIPAddr(t, "127.0.0.21"), HEPURI: "sip:" + sink.Addr, CaptureID: 2001, AuthKey: "acme-key"}
	b := Proxy{Name: "B", Addr: freeSIPAddr(t, "127.0.0.22"), HEPURI: "sip:" + sink.Addr + ";transport=tcp", CaptureID: 3001}
	a.Next = "sip:" + b.Addr
	wire := startWire(t, "udp and not port "+port(sink.Addr))
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
