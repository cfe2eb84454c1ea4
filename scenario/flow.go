package scenario

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/callscope/callscope/ladder"
	"github.com/callscope/callscope/sip"
)

// call is a captured call ready for export: its packets once each, in
// order, and the path of its first request.
type call struct {
	msgs  []*msg
	first *msg // the call's first request
	// path is where the first request went: the caller, every proxy the
	// capture saw, the callee.
	path []netip.AddrPort
	// forked, when set, says why the callee is unknown.
	forked string
}

// initialMethods are the requests a call may start with.
var initialMethods = []string{"INVITE", "REGISTER", "OPTIONS", "MESSAGE"}

// maxHops bounds the walk along the first request's path.
const maxHops = 70

// analyse dedups and parses in, finds the first request and follows it hop
// by hop.
func analyse(in []Message) (*call, error) {
	if len(in) == 0 {
		return nil, unsupported("the call has no SIP message")
	}
	lm := make([]ladder.Message, len(in))
	for i, m := range in {
		lm[i] = ladder.Message{Seq: i, Time: m.Time, Src: m.Src, Dst: m.Dst, Transport: m.Transport,
			CaptureID: m.CaptureID, Raw: string(m.Payload)}
	}
	x := sip.NewExtractor(nil)
	c := &call{}
	for _, u := range ladder.Unique(lm) {
		m, err := parseMsg(in[u.Seq], x)
		if err != nil {
			return nil, unsupported("message %d is not a SIP message SIPp could send (%v)", u.Seq+1, err)
		}
		if c.first == nil && m.request {
			c.first = m
		}
		c.msgs = append(c.msgs, m)
	}
	f := c.first
	switch {
	case f == nil:
		return nil, unsupported("the capture holds answers but no request")
	case f.toTag != "":
		return nil, unsupported("the capture starts inside a dialog: its first request, %s, already has a To tag", lit(f.method))
	case !methodOK(f.method):
		return nil, unsupported("the first request's method %q is not one SIPp can be told to send", f.method)
	case !slices.Contains(initialMethods, f.method):
		return nil, unsupported("a call that starts with %s is not supported; INVITE, REGISTER, OPTIONS and MESSAGE are", f.method)
	}
	// Other Call-IDs are correlated legs: each is a call of its own.
	own := c.msgs[:0]
	for _, m := range c.msgs {
		if m.callID == f.callID {
			own = append(own, m)
		}
	}
	c.msgs = own
	c.walk()
	for _, ap := range c.path {
		if !ap.Addr().Unmap().Is4() {
			return nil, unsupported("endpoint %s is not IPv4; the generated scenarios support IPv4 only", ap)
		}
	}
	return c, nil
}

// walk follows the first request from its sender: each hop is a copy of
// it (same method, CSeq and From tag) sent on by the node the previous hop
// reached. A node that sends it to two places forked it. When the request
// was challenged (401, 407) and sent again, the last attempt is followed:
// a proxy's challenge stops the first one at the proxy.
func (c *call) walk() {
	f := c.first
	cur := f.Src
	c.path = []netip.AddrPort{cur}
	copies := c.copiesOfFirst()
	for len(c.path) < maxHops {
		var next []netip.AddrPort
		add := func(m *msg) {
			if !slices.Contains(c.path, m.Dst) && !slices.Contains(next, m.Dst) {
				next = append(next, m.Dst)
			}
		}
		for _, m := range copies {
			if m.Src == cur {
				add(m)
			}
		}
		if len(next) == 0 {
			// Over TCP a node's copy may carry the sender's ephemeral
			// port rather than the one it listens on.
			for _, m := range copies {
				if m.Src.Addr() == cur.Addr() {
					add(m)
				}
			}
		}
		switch len(next) {
		case 0:
			return
		case 1:
			cur = next[0]
			c.path = append(c.path, cur)
		default:
			c.forked = "the " + lit(f.method) + " was forked by " + cur.String() + " to " + itoa(len(next)) +
				" destinations, so there is no one callee to play"
			return
		}
	}
}

// copiesOfFirst returns the copies of the last attempt of the first
// request: the initial requests of its method and From tag with the
// highest CSeq.
func (c *call) copiesOfFirst() []*msg {
	var out []*msg
	for _, m := range c.msgs {
		if !c.attempt(m) {
			continue
		}
		if len(out) > 0 && m.cseq > out[0].cseq {
			out = out[:0]
		}
		if len(out) == 0 || m.cseq == out[0].cseq {
			out = append(out, m)
		}
	}
	return out
}

// attempt reports an attempt at the call's first request: an initial
// request (no To tag) of its method and From tag.
func (c *call) attempt(m *msg) bool {
	f := c.first
	return m.request && m.method == f.method && m.fromTag == f.fromTag && m.toTag == ""
}

// endpoint returns the address a side plays: the first request's sender,
// or the last node its path reached.
func (c *call) endpoint(s Side) (netip.AddrPort, error) {
	if s == UAC {
		return c.path[0], nil
	}
	if c.forked != "" {
		return netip.AddrPort{}, unsupported("%s", c.forked)
	}
	if len(c.path) < 2 {
		return netip.AddrPort{}, unsupported("the capture never shows the %s reaching anyone", lit(c.first.method))
	}
	return c.path[len(c.path)-1], nil
}

// owns reports whether a is the endpoint e: the same address, or (over a
// stream, where ports are ephemeral) the same IP when no other node on
// the path has it.
func (c *call) owns(e, a netip.AddrPort) bool {
	if a == e {
		return true
	}
	if a.Addr() != e.Addr() {
		return false
	}
	for _, p := range c.path {
		if p != e && p.Addr() == e.Addr() {
			return false
		}
	}
	return true
}

// sippTransport is SIPp's -t value for a captured transport.
func sippTransport(t string) (string, bool) {
	switch strings.ToLower(t) {
	case "udp", "":
		return "u1", true
	case "tcp":
		return "t1", true
	case "tls":
		return "l1", true
	case "sctp":
		return "s1", true
	}
	return "", false
}
