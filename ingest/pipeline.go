package ingest

import (
	"net/netip"
	"time"

	"github.com/callscope/callscope/hep"
	"github.com/callscope/callscope/sip"
)

// handler runs the per-packet path for one reader goroutine: decode,
// resolve the node, extract SIP, build an owned row, queue it. It keeps a
// decoder and scratch structs of its own, so the path takes no lock and,
// for an uncompressed packet from a known node, allocates nothing (rows
// come from a pool).
type handler struct {
	s         *Server
	transport int
	// cert is the SHA-256 of the TLS client certificate of the connection
	// (nil over UDP and TCP, or when the client sent none).
	cert []byte
	// decoded counts the packets that decoded as HEP: a stream that sent
	// none is not a capture agent.
	decoded uint64
	dec     hep.Decoder
	pkt     hep.Packet
	msg     sip.Message
}

func (s *Server) newHandler(transport int) *handler {
	return &handler{s: s, transport: transport}
}

// handle processes one HEP packet b that arrived from sender at now. b is
// not retained.
func (h *handler) handle(b []byte, sender netip.AddrPort, now time.Time) {
	r, e, reason := h.build(b, sender, now)
	if r == nil {
		h.s.m.drop(reason)
		if e != nil {
			e.stats.count(outcomeIndex[reason], now.UnixMicro())
			if refusals[reason] != "" {
				h.s.logRefusal(e, reason, sender, now)
			}
		}
		return
	}
	h.s.enqueue(r, e, h.transport != trUDP)
}

// refusals are the drops that say a capture agent is misconfigured, or
// someone speaks for a node it is not: logged, at most once a minute per
// node, so that a mistyped auth key does not look like "no traffic".
var refusals = map[string]string{
	reasonBadAuthKey:       "ingest: HEP packets with a wrong or missing auth key dropped",
	reasonSourceNotAllowed: "ingest: HEP packets from a source outside the node's allowed networks dropped",
	reasonWrongCert:        "ingest: HEP packets not sent over TLS with the node's client certificate dropped",
}

// logRefusal logs a refused packet of node e, at most once a minute per
// node, with how many were refused since the last line.
func (s *Server) logRefusal(e *nodeEntry, reason string, from netip.AddrPort, now time.Time) {
	st := e.stats
	sec := now.Unix()
	last := st.logged.Load()
	if sec-last < 60 || !st.logged.CompareAndSwap(last, sec) {
		st.held.Add(1)
		return
	}
	s.log.Warn(refusals[reason], "capture_id", e.node.CaptureID, "tenant", e.node.TenantSlug,
		"source", from.Addr().Unmap().String(), "reason", reason, "more_since_last_line", st.held.Swap(0))
}

// build turns b into a row and names its node, or returns the drop reason
// (and the node, once known).
func (h *handler) build(b []byte, sender netip.AddrPort, now time.Time) (*row, *nodeEntry, string) {
	s := h.s
	p := &h.pkt
	if err := h.dec.Decode(b, p); err != nil {
		s.m.packets[h.transport][0].Inc()
		return nil, nil, hep.Reason(err)
	}
	s.m.packets[h.transport][p.Version&3].Inc()
	h.decoded++

	e := s.nodes.lookup(p.CaptureID)
	switch {
	case e == nil:
		s.nodes.noteUnknown(p.CaptureID, sender.Addr(), now)
		return nil, nil, reasonUnknownNode
	case !e.node.CheckAuthKey(p.AuthKey):
		return nil, e, reasonBadAuthKey
	case !e.node.AllowsSource(sender.Addr()):
		return nil, e, reasonSourceNotAllowed
	case !e.node.AllowsCert(h.cert):
		return nil, e, reasonWrongCert
	case !e.active:
		return nil, e, reasonTenantSuspended
	}

	var kind uint8
	switch p.PayloadType {
	case hep.PayloadSIP:
		if err := s.extractor.Extract(p.Payload, &h.msg); err != nil {
			return nil, e, reasonSIPMalformed
		}
		kind = kindSIP
	case hep.PayloadRTCP, hep.PayloadQoSFull, hep.PayloadQoSShort, hep.PayloadLog:
		kind = kindEvent
	default:
		return nil, e, reasonUnsupported
	}
	if s.dedup != nil && s.dedup.seen(p.CaptureID, b, now) {
		return nil, e, reasonDuplicate
	}

	r := getRow()
	r.kind = kind
	r.payloadType = p.PayloadType
	r.protocol = p.Protocol
	r.captureID = p.CaptureID
	r.tenantID = e.node.TenantID
	r.receivedAt = now.UnixMicro()
	r.capturedAt = r.receivedAt
	if p.HasTime {
		r.capturedAt = int64(p.TsSec)*1e6 + int64(p.TsUsec)
	}
	r.src, r.dst = p.Src, p.Dst

	if kind == kindEvent {
		r.fit(2*len(p.CorrelationID) + len(p.Payload))
		// Kamailio and heplify put the Call-ID of LOG and RTCP reports in
		// the correlation chunk.
		r.setText(fCallID, p.CorrelationID)
		r.setText(fCorrelation, p.CorrelationID)
		if len(p.CorrelationID) > 0 {
			r.corrSrc = corrHEP
		}
		for i := fMethod; i < fPayload; i++ {
			r.end[i] = uint32(len(r.buf))
		}
		r.setRaw(fPayload, p.Payload)
		return r, e, ""
	}

	m := &h.msg
	r.hasSDP = m.HasSDP
	if !m.Request {
		r.hasStatus = true
		r.status = int16(m.StatusCode)
	}
	if m.CSeqNum > 0 || len(m.CSeqMethod) > 0 {
		r.hasCSeq = true
		r.cseq = m.CSeqNum
	}
	corr := p.CorrelationID
	if len(corr) == 0 {
		corr = m.Correlation
	}
	r.corrSrc = corrSource(s.corrNames, len(p.CorrelationID) > 0, m.CorrelationHeader)
	// Kamailio's siptrace sends no agent name (chunk 0x0013): the name the
	// node was registered with stands in, so that ladders say "proxy-a",
	// not "capture 2001". A name the agent sends wins.
	nodeName := p.NodeName
	if len(nodeName) == 0 {
		nodeName = e.name
	}
	r.fit(len(m.CallID) + len(corr) + len(m.Method) + len(m.Reason) + len(m.CSeqMethod) +
		len(m.FromUser) + len(m.FromTag) + len(m.ToUser) + len(m.ToTag) + len(m.RURIUser) +
		len(m.UserAgent) + len(nodeName) + len(p.Payload))
	r.setText(fCallID, m.CallID)
	r.setText(fCorrelation, corr)
	r.setText(fMethod, m.Method)
	r.setText(fReason, m.Reason)
	r.setText(fCSeqMethod, m.CSeqMethod)
	r.setText(fFromUser, m.FromUser)
	r.setText(fFromTag, m.FromTag)
	r.setText(fToUser, m.ToUser)
	r.setText(fToTag, m.ToTag)
	r.setText(fRURIUser, m.RURIUser)
	r.setText(fUserAgent, m.UserAgent)
	r.setText(fNodeName, nodeName)
	r.setRaw(fPayload, p.Payload)
	return r, e, ""
}
