package ingest

import (
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callscope/callscope/sip"
	"github.com/callscope/callscope/tenant"
)

// BenchmarkPacketPath measures the per-packet work of a reader: HEP decode,
// node resolution, SIP extraction and the owned row (pooled), without the
// queue and the database.
func BenchmarkPacketPath(b *testing.B) {
	zero := func() float64 { return 0 }
	m, err := newMetrics(prometheus.NewRegistry(), gauges{zero, zero, zero, zero, zero})
	if err != nil {
		b.Fatal(err)
	}
	s := &Server{m: m, extractor: sip.NewExtractor(sip.DefaultCorrelationHeaders)}
	s.nodes = newResolver(nil, m.acceptedByTenant)
	nm := nodeMap{2001: {node: tenant.Node{TenantID: 1, CaptureID: 2001, AuthKeyHash: tenant.HashAuthKey("k"),
		AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, active: true,
		accepted: m.acceptedByTenant.WithLabelValues("acme"), stats: &nodeStats{tenantID: 1, captureID: 2001}}}
	s.nodes.nodes.Store(&nm)
	p := sipPacket(2001, MustFixture(b, "invite.sip"))
	p.AuthKey = []byte("k")
	pkt := p.AppendV3(nil)
	h := s.newHandler(trUDP)
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	now := time.Now()
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		r, _, reason := h.build(pkt, from, now)
		if r == nil {
			b.Fatal(reason)
		}
		putRow(r)
	}
}
