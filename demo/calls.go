// Package demo makes realistic SIP calls and sends them to ingest as HEP,
// so that a newcomer sees a working ladder a minute after starting
// callscope, and so that tests have traffic shaped like the real thing.
package demo

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/callscope/callscope/hep"
)

// Message is one SIP message as a capture node saw it.
type Message struct {
	Time     time.Time
	Src, Dst netip.AddrPort
	Payload  string // SIP: exact wire bytes, CRLF line ends; LOG: plain text
	Type     uint8  // HEP payload type: hep.PayloadSIP or hep.PayloadLog
	Corr     string // HEP correlation chunk (0x0011), e.g. the Call-ID of a LOG line
}

// Call is one scenario: its Call-ID and its messages in capture order.
type Call struct {
	Name     string
	CallID   string
	Messages []Message
}

// Endpoints of the demo network, all on loopback.
var (
	Alice = netip.MustParseAddrPort("127.0.0.10:5060")
	Proxy = netip.MustParseAddrPort("127.0.0.20:5060")
	Bob   = netip.MustParseAddrPort("127.0.0.30:5060")
	Carol = netip.MustParseAddrPort("127.0.0.40:5060")
)

// builder accumulates the messages of one call with realistic gaps.
type builder struct {
	call Call
	now  time.Time
}

// add appends a SIP message made by wire.
func (b *builder) add(gap time.Duration, src, dst netip.AddrPort, payload string) {
	b.now = b.now.Add(gap)
	b.call.Messages = append(b.call.Messages, Message{Time: b.now, Src: src, Dst: dst, Type: hep.PayloadSIP, Payload: payload})
}

func (b *builder) log(gap time.Duration, src netip.AddrPort, text string) {
	b.now = b.now.Add(gap)
	b.call.Messages = append(b.call.Messages, Message{Time: b.now, Src: src, Dst: src, Type: hep.PayloadLog,
		Payload: text, Corr: b.call.CallID})
}

// wire assembles a SIP message from head, its start line and headers
// written one per line with "\n" as Go source reads best, and body, the
// exact bytes of the body. It ends every head line with CRLF, once, and
// writes the Content-Length of body itself, so neither can disagree with
// the bytes sent.
func wire(head, body string) string {
	head = strings.TrimSpace(head)
	return strings.ReplaceAll(head, "\n", "\r\n") + fmt.Sprintf("\r\nContent-Length: %d\r\n\r\n", len(body)) + body
}

// sdp returns an SDP body with CRLF line ends (RFC 8866 section 5).
func sdp(addr netip.AddrPort, media int, session string) string {
	body := fmt.Sprintf(`v=0
o=- %s 1 IN IP4 %s
s=callscope demo
c=IN IP4 %s
t=0 0
m=audio %d RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
`, session, addr.Addr(), addr.Addr(), media)
	return strings.ReplaceAll(body, "\n", "\r\n")
}

// headers of a request or response in the INVITE dialog between Alice and
// Bob through the proxy.
type dialog struct {
	callID, fromTag, toTag, from, to, branch string
	extra                                    string
}

func (d dialog) invite(src, dst netip.AddrPort, vias []string, cseq int, body string) string {
	head := fmt.Sprintf(`
INVITE sip:%s@%s SIP/2.0
%sMax-Forwards: 69
From: "Alice" <sip:%s@example.com>;tag=%s
To: <sip:%s@example.com>
Call-ID: %s
CSeq: %d INVITE
Contact: <sip:%s@%s>
User-Agent: callscope-demo/1.0
%sContent-Type: application/sdp`, d.to, dst, viaLines(vias), d.from, d.fromTag, d.to, d.callID, cseq, d.from, src, d.extra)
	return wire(head, body)
}

func (d dialog) response(code int, reason string, vias []string, cseq int, method, contact, body string) string {
	toTag := ""
	if d.toTag != "" && code > 100 {
		toTag = ";tag=" + d.toTag
	}
	ct := ""
	if body != "" {
		ct = "Content-Type: application/sdp\n"
	}
	c := ""
	if contact != "" {
		c = "Contact: <sip:" + d.to + "@" + contact + ">\n"
	}
	head := fmt.Sprintf(`
SIP/2.0 %d %s
%sFrom: "Alice" <sip:%s@example.com>;tag=%s
To: <sip:%s@example.com>%s
Call-ID: %s
CSeq: %d %s
%sServer: callscope-demo-uas/1.0
%s%s`, code, reason, viaLines(vias), d.from, d.fromTag, d.to, toTag, d.callID, cseq, method, c, d.extra, ct)
	return wire(head, body)
}

func (d dialog) inDialog(method string, src, dst netip.AddrPort, vias []string, cseq int, fromCaller bool) string {
	from, fromTag, to, toTag := d.from, d.fromTag, d.to, d.toTag
	if !fromCaller {
		from, fromTag, to, toTag = d.to, d.toTag, d.from, d.fromTag
	}
	return wire(fmt.Sprintf(`
%s sip:%s@%s SIP/2.0
%sMax-Forwards: 69
From: <sip:%s@example.com>;tag=%s
To: <sip:%s@example.com>;tag=%s
Call-ID: %s
CSeq: %d %s
%s`, method, to, dst, viaLines(vias), from, fromTag, to, toTag, d.callID, cseq, method, d.extra), "")
}

func viaLines(vias []string) string {
	var s strings.Builder
	for _, v := range vias {
		s.WriteString("Via: SIP/2.0/UDP " + v + "\n")
	}
	return s.String()
}

func via(a netip.AddrPort, branch string) string { return a.String() + ";branch=z9hG4bK" + branch }

// Calls returns the demo scenarios, starting at start: an answered call with
// SDP through a proxy, a busy call, a correlated B-leg, a REGISTER with a
// digest challenge, and a LOG event. Call-IDs carry suffix so repeated runs
// do not collide.
func Calls(start time.Time, suffix string) []Call {
	return []Call{answered(start, suffix), busy(start.Add(20*time.Second), suffix),
		register(start.Add(40*time.Second), suffix)}
}

func answered(start time.Time, suffix string) Call {
	d := dialog{callID: "demo-answered-" + suffix, fromTag: "a1b2c3", toTag: "x9y8z7", from: "alice", to: "bob",
		extra: "X-CID: demo-corr-" + suffix + "\n"}
	b := &builder{call: Call{Name: "answered call with SDP", CallID: d.callID}, now: start}
	offer, answer := sdp(Alice, 40000, "1001"), sdp(Bob, 50000, "2002")
	va, vp := via(Alice, "a-inv"), via(Proxy, "p-inv")
	b.add(0, Alice, Proxy, d.invite(Alice, Proxy, []string{va}, 1, offer))
	b.add(2*time.Millisecond, Proxy, Alice, d.response(100, "Trying", []string{va}, 1, "INVITE", "", ""))
	b.add(1*time.Millisecond, Proxy, Bob, d.invite(Proxy, Bob, []string{vp, va}, 1, offer))
	b.log(500*time.Microsecond, Proxy, "routing INVITE for bob to 127.0.0.30 (location lookup hit)")
	b.add(3*time.Millisecond, Bob, Proxy, d.response(100, "Trying", []string{vp, va}, 1, "INVITE", "", ""))
	b.add(120*time.Millisecond, Bob, Proxy, d.response(180, "Ringing", []string{vp, va}, 1, "INVITE", Bob.String(), ""))
	b.add(1*time.Millisecond, Proxy, Alice, d.response(180, "Ringing", []string{va}, 1, "INVITE", Bob.String(), ""))
	b.add(2400*time.Millisecond, Bob, Proxy, d.response(200, "OK", []string{vp, va}, 1, "INVITE", Bob.String(), answer))
	b.add(1*time.Millisecond, Proxy, Alice, d.response(200, "OK", []string{va}, 1, "INVITE", Bob.String(), answer))
	b.add(15*time.Millisecond, Alice, Proxy, d.inDialog("ACK", Alice, Proxy, []string{via(Alice, "a-ack")}, 1, true))
	b.add(1*time.Millisecond, Proxy, Bob, d.inDialog("ACK", Proxy, Bob, []string{via(Proxy, "p-ack"), via(Alice, "a-ack")}, 1, true))
	// The B-leg the proxy's B2BUA opened towards Carol's voicemail recorder,
	// correlated by X-CID.
	leg := dialog{callID: "demo-answered-" + suffix + "_b2b-1", fromTag: "l1", toTag: "l2", from: "proxy", to: "carol",
		extra: "X-CID: demo-corr-" + suffix + "\n"}
	lb := &builder{call: Call{CallID: leg.callID}, now: b.now.Add(5 * time.Millisecond)}
	lv := via(Proxy, "leg-inv")
	lb.add(0, Proxy, Carol, leg.invite(Proxy, Carol, []string{lv}, 1, sdp(Proxy, 42000, "3003")))
	lb.add(40*time.Millisecond, Carol, Proxy, leg.response(200, "OK", []string{lv}, 1, "INVITE", Carol.String(), sdp(Carol, 52000, "4004")))
	lb.add(2*time.Millisecond, Proxy, Carol, leg.inDialog("ACK", Proxy, Carol, []string{via(Proxy, "leg-ack")}, 1, true))
	b.call.Messages = append(b.call.Messages, lb.call.Messages...)
	b.now = lb.now
	b.add(8*time.Second, Bob, Proxy, d.inDialog("BYE", Bob, Proxy, []string{via(Bob, "b-bye")}, 1, false))
	b.add(1*time.Millisecond, Proxy, Alice, d.inDialog("BYE", Proxy, Alice, []string{via(Proxy, "p-bye"), via(Bob, "b-bye")}, 1, false))
	b.add(10*time.Millisecond, Alice, Proxy, d.response(200, "OK", []string{via(Proxy, "p-bye"), via(Bob, "b-bye")}, 1, "BYE", "", ""))
	b.add(1*time.Millisecond, Proxy, Bob, d.response(200, "OK", []string{via(Bob, "b-bye")}, 1, "BYE", "", ""))
	return b.call
}

func busy(start time.Time, suffix string) Call {
	d := dialog{callID: "demo-busy-" + suffix, fromTag: "c4d5", toTag: "busy1", from: "alice", to: "bob"}
	b := &builder{call: Call{Name: "busy call", CallID: d.callID}, now: start}
	offer := sdp(Alice, 40002, "1002")
	va, vp := via(Alice, "a-b"), via(Proxy, "p-b")
	b.add(0, Alice, Proxy, d.invite(Alice, Proxy, []string{va}, 1, offer))
	b.add(2*time.Millisecond, Proxy, Alice, d.response(100, "Trying", []string{va}, 1, "INVITE", "", ""))
	b.add(1*time.Millisecond, Proxy, Bob, d.invite(Proxy, Bob, []string{vp, va}, 1, offer))
	b.add(30*time.Millisecond, Bob, Proxy, d.response(486, "Busy Here", []string{vp, va}, 1, "INVITE", "", ""))
	b.add(1*time.Millisecond, Proxy, Bob, d.inDialog("ACK", Proxy, Bob, []string{vp}, 1, true))
	b.add(1*time.Millisecond, Proxy, Alice, d.response(486, "Busy Here", []string{va}, 1, "INVITE", "", ""))
	b.add(10*time.Millisecond, Alice, Proxy, d.inDialog("ACK", Alice, Proxy, []string{va}, 1, true))
	return b.call
}

func register(start time.Time, suffix string) Call {
	callID := "demo-register-" + suffix
	b := &builder{call: Call{Name: "REGISTER with digest challenge", CallID: callID}, now: start}
	reg := func(cseq int, branch, auth string) string {
		return wire(fmt.Sprintf(`
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK%s
Max-Forwards: 70
From: <sip:carol@example.com>;tag=r1
To: <sip:carol@example.com>
Call-ID: %s
CSeq: %d REGISTER
Contact: <sip:carol@%s>;expires=3600
%sUser-Agent: callscope-demo-phone/2.1`, Carol, branch, callID, cseq, Carol, auth), "")
	}
	resp := func(code int, reason string, cseq int, branch, extra string) string {
		return wire(fmt.Sprintf(`
SIP/2.0 %d %s
Via: SIP/2.0/UDP %s;branch=z9hG4bK%s
From: <sip:carol@example.com>;tag=r1
To: <sip:carol@example.com>;tag=reg-%d
Call-ID: %s
CSeq: %d REGISTER
%sServer: callscope-demo-registrar/1.0`, code, reason, Carol, branch, code, callID, cseq, extra), "")
	}
	b.add(0, Carol, Proxy, reg(1, "r-1", ""))
	b.add(3*time.Millisecond, Proxy, Carol, resp(401, "Unauthorized", 1, "r-1",
		"WWW-Authenticate: Digest realm=\"example.com\", nonce=\"5f2a9c\", algorithm=MD5, qop=\"auth\"\n"))
	b.add(40*time.Millisecond, Carol, Proxy, reg(2, "r-2",
		"Authorization: Digest username=\"carol\", realm=\"example.com\", nonce=\"5f2a9c\", uri=\"sip:example.com\", response=\"0a4f113b\", algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001\n"))
	b.add(4*time.Millisecond, Proxy, Carol, resp(200, "OK", 2, "r-2", "Contact: <sip:carol@"+Carol.String()+">;expires=3600\n"))
	return b.call
}
