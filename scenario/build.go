package scenario

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// step is one element of a scenario: a send, a recv or a pause.
type step struct {
	send  *sendStep
	recv  *recvStep
	pause time.Duration
}

type sendStep struct {
	lines []string // SIPp text, one header per line; lines[via] is set when rendering
	via   int      // index of the Via line in lines; -1 for a response
	// branchOf is the step whose [branch] this request reuses (a CANCEL,
	// the ACK of a non-2xx answer: both belong to the INVITE's
	// transaction); -1 for a branch of its own.
	branchOf         int
	retrans          bool
	startTxn, ackTxn string
}

type recvStep struct {
	response    int
	request     string
	provisional bool // a 1xx: optional unless it ends a run of receptions
	optional    bool
	rrs, auth   bool
	responseTxn string
	// saveVia keeps the request's Via headers for an answer sent after a
	// later message (the 487 of an INVITE, after its CANCEL); saveCaller
	// keeps its From for the To of the callee's own requests.
	saveVia, saveCaller bool
}

// Variables the scenarios keep between steps.
const (
	varInviteVia = "inv_via"
	varCaller    = "caller"
)

// minPause is the shortest captured gap written as a pause: shorter gaps
// are the endpoints' processing time, not something they waited for.
const minPause = 10 * time.Millisecond

// maxPause bounds one pause (SIPp refuses pauses past INT_MAX ms).
const maxPause = 24 * time.Hour

// sent is a request this side sent.
type sent struct {
	m      *msg
	step   int
	txn    string // start_txn of an INVITE
	ruri   string // SIPp text of its Request-URI
	toLine string // SIPp text of its To line
	final  int    // the first final answer received
}

// got is a request this side received.
type got struct {
	m    *msg
	step int
}

type builder struct {
	c        *call
	side     Side
	opt      Options
	self     netip.AddrPort
	peer     netip.AddrPort
	ownTag   string
	service  string
	swaps    []swap
	steps    []step
	sent     []*sent
	got      []*got
	lastRecv *msg
	prev     *msg
	// dialog: the UAC received a 2xx to an INVITE, so [next_url] and
	// [routes] are known.
	dialog     bool
	answerTag  string          // To tag of the first 2xx to the first INVITE
	challenged map[string]bool // methods answered 401 or 407
	authUser   string
	invites    int
	callee     bool // the UAS sends requests of its own in the dialog
}

// build writes side's scenario.
func (c *call) build(side Side, opt Options) (*Scenario, error) {
	self, err := c.endpoint(side)
	if err != nil {
		return nil, err
	}
	mine := c.sideMessages(side, self)
	if len(mine) == 0 {
		return nil, unsupported("the capture shows nothing the %s exchanged", side)
	}
	b := &builder{c: c, side: side, opt: opt, self: self, service: c.first.ruriUser, challenged: map[string]bool{}}
	b.peer = mine[0].Dst
	b.ownTag = "[pid]SIPpTag00[call_number]"
	if side == UAS {
		b.peer = mine[0].Src
		b.ownTag = "[pid]SIPpTag01[call_number]"
	}
	b.swaps = addrSwaps(self, "[local_ip]", "[local_port]")
	if side == UAC {
		// A UAS is run without a remote host: SIPp's [remote_ip] is empty
		// there, so the callee's captured peer stays as captured.
		b.swaps = append(b.swaps, addrSwaps(b.peer, "[remote_ip]", "[remote_port]")...)
	}
	transport, ok := sippTransport(mine[0].Transport)
	if !ok {
		return nil, unsupported("SIPp cannot speak the %s transport", lit(mine[0].Transport))
	}
	for _, m := range mine {
		if !strings.EqualFold(m.Transport, mine[0].Transport) {
			return nil, unsupported("the %s uses both %s and %s", side, lit(mine[0].Transport), lit(m.Transport))
		}
		if c.owns(self, m.Src) {
			err = b.send(m)
		} else {
			err = b.receive(m)
		}
		if err != nil {
			return nil, err
		}
		b.prev = m
	}
	b.finish()
	xml, err := render(b.steps, side, c.summary())
	if err != nil {
		return nil, err
	}
	s := &Scenario{Side: side, XML: xml, Summary: c.summary(), Service: b.service, AuthUser: b.authUser,
		Challenge: len(b.challenged) > 0, Transport: transport, Local: self, Remote: b.peer}
	if side == UAS {
		s.Remote = netip.AddrPort{}
	}
	return s, nil
}

// sideMessages returns what the endpoint sent and received, from the
// first request on (the UAC's own, the UAS's arriving copy).
func (c *call) sideMessages(side Side, self netip.AddrPort) []*msg {
	var all []*msg
	for _, m := range c.msgs {
		if c.owns(self, m.Src) != c.owns(self, m.Dst) { // else not its message, or one to itself
			all = append(all, m)
		}
	}
	var out []*msg
	started := false
	for _, m := range causal(all) {
		from := c.owns(self, m.Src)
		if !started {
			if !c.attempt(m) || (side == UAC) != from {
				continue
			}
			started = true
		}
		out = append(out, m)
	}
	return out
}

func (b *builder) add(s step) int {
	b.steps = append(b.steps, s)
	return len(b.steps) - 1
}

// send adds the pause the endpoint took before m, then m.
func (b *builder) send(m *msg) error {
	if b.prev != nil && !b.opt.NoPauses {
		if gap := m.Time.Sub(b.prev.Time); gap >= minPause {
			b.add(step{pause: min(gap.Round(time.Millisecond), maxPause)})
		}
	}
	if reliable(m) {
		return unsupported("reliable provisional answers (100rel, PRACK) are not supported")
	}
	if m.request {
		return b.sendRequest(m)
	}
	return b.sendResponse(m)
}

func (b *builder) receive(m *msg) error {
	if reliable(m) {
		return unsupported("reliable provisional answers (100rel, PRACK) are not supported")
	}
	defer func() { b.lastRecv = m }()
	if m.request {
		if !methodOK(m.method) {
			return unsupported("method %q is not one SIPp can be told to expect", m.method)
		}
		i := b.add(step{recv: &recvStep{request: m.method}})
		b.got = append(b.got, &got{m: m, step: i})
		return nil
	}
	req := b.sentRequest(m.cseq, m.cseqMethod)
	if req == nil {
		return unsupported("a %d answers a %s the %s never sent", m.status, lit(m.cseqMethod), b.side)
	}
	r := &recvStep{response: m.status, responseTxn: req.txn, provisional: m.status < 200}
	switch {
	case m.status == 401 || m.status == 407:
		r.auth = true
		b.challenged[req.m.method] = true
	case m.status >= 200 && m.status < 300 && m.cseqMethod == "INVITE":
		r.rrs, b.dialog = true, true
		if req.m.cseq == b.c.first.cseq && req.m.method == b.c.first.method {
			if b.answerTag != "" && m.toTag != b.answerTag {
				return unsupported("the INVITE was answered 2xx by two callees (a fork); SIPp plays one dialog")
			}
			b.answerTag = m.toTag
		}
	}
	if m.status >= 200 && req.final == 0 {
		req.final = m.status
	}
	b.add(step{recv: r})
	return nil
}

// reliable reports a provisional answer sent reliably (RFC 3262), or a
// PRACK: SIPp would have to acknowledge each RSeq.
func reliable(m *msg) bool {
	if m.request {
		return m.method == "PRACK"
	}
	if m.status < 101 || m.status > 199 {
		return false
	}
	if _, ok := m.get("rseq"); ok {
		return true
	}
	req, _ := m.get("require")
	return strings.Contains(strings.ToLower(req), "100rel")
}

func (b *builder) sentRequest(cseq uint32, method string) *sent {
	for i := len(b.sent) - 1; i >= 0; i-- {
		if s := b.sent[i]; s.m.cseq == cseq && s.m.method == method {
			return s
		}
	}
	return nil
}

func (b *builder) gotRequest(cseq uint32, method string) *got {
	for i := len(b.got) - 1; i >= 0; i-- {
		if g := b.got[i]; g.m.cseq == cseq && g.m.method == method {
			return g
		}
	}
	return nil
}

// Headers the generator writes itself, whatever was captured.
var (
	requestOwn  = []string{"via", "route", "record-route", "from", "to", "call-id", "cseq", "content-length", "authorization", "proxy-authorization"}
	responseOwn = []string{"via", "route", "record-route", "from", "to", "call-id", "cseq", "content-length"}
)

func (b *builder) sendRequest(m *msg) error {
	if !methodOK(m.method) {
		return unsupported("method %q is not one SIPp can send", m.method)
	}
	var (
		ruri, toLine     string
		branchOf         = -1
		inDialog         bool
		startTxn, ackTxn string
		retrans          = true
	)
	switch {
	case m.method == "ACK":
		inv := b.sentRequest(m.cseq, "INVITE")
		if inv == nil || inv.final == 0 {
			return unsupported("an ACK without a final answer to an INVITE the %s sent", b.side)
		}
		ackTxn, retrans = inv.txn, false
		if inv.final < 300 {
			inDialog = true
			break
		}
		// The ACK of a failure is part of the INVITE's transaction: its
		// Request-URI and branch, and the To of the answer.
		if b.lastRecv == nil || b.lastRecv.request || b.lastRecv.status != inv.final || b.lastRecv.cseq != m.cseq {
			return unsupported("the ACK of the %d does not follow it", inv.final)
		}
		ruri, toLine, branchOf = inv.ruri, "[last_To:]", inv.step
	case m.method == "CANCEL":
		inv := b.sentRequest(m.cseq, "INVITE")
		if inv == nil {
			return unsupported("a CANCEL of an INVITE the %s did not send", b.side)
		}
		ruri, toLine, branchOf = inv.ruri, inv.toLine, inv.step
	case m.toTag != "":
		inDialog = true
	case b.side == UAS:
		return unsupported("the callee sent a request of its own outside the dialog (%s)", m.method)
	default:
		ruri = b.requestURI(m)
		to, _ := m.get("to")
		toLine = "To: " + parseNameAddr(to).rewrite(uriRule{service: b.service, ipHost: "remote"})
	}
	if inDialog {
		ruri = "[next_url]"
		if b.side == UAC {
			if !b.dialog {
				return unsupported("the caller sent %s in a dialog no 2xx had established", m.method)
			}
			to, _ := m.get("to")
			toLine = "To: " + parseNameAddr(to).rewrite(uriRule{service: b.service, ipHost: "remote"}) + "[peer_tag_param]"
		} else {
			b.callee = true
			toLine = "To:[$" + varCaller + "]"
		}
	}
	if m.method == "INVITE" {
		b.invites++
		startTxn = "invite" + itoa(b.invites)
	}

	from, _ := m.get("from")
	lines := []string{m.method + " " + ruri + " SIP/2.0", ""}
	if inDialog {
		lines = append(lines, "[routes]")
	}
	lines = append(lines,
		"From: "+parseNameAddr(from).rewrite(uriRule{ipHost: "local", localIP: b.self.Addr()})+";tag="+b.ownTag,
		toLine,
		"Call-ID: [call_id]",
		"CSeq: "+itoa(int(m.cseq))+" "+m.method)
	for _, h := range m.headers {
		switch {
		case h.key == "authorization" || h.key == "proxy-authorization":
			// Captured credentials are never replayed: after a challenge
			// SIPp answers it with the run's password (-ap).
			if b.challenged[m.method] {
				lines = append(lines, b.authentication(h.value))
			}
		case slices.Contains(requestOwn, h.key):
		default:
			lines = append(lines, b.header(h))
		}
	}
	lines = append(lines, "Content-Length: [len]")
	lines = append(lines, b.body(m)...)

	i := b.add(step{send: &sendStep{lines: lines, via: 1, branchOf: branchOf, retrans: retrans, startTxn: startTxn, ackTxn: ackTxn}})
	b.sent = append(b.sent, &sent{m: m, step: i, txn: startTxn, ruri: ruri, toLine: toLine})
	return nil
}

// requestURI is an initial request's Request-URI: the user it called as
// [service], an IP host as the run's remote address, a domain as
// captured; the transport is SIPp's to choose.
func (b *builder) requestURI(m *msg) string {
	u, ok := parseURI(m.uri)
	if !ok {
		return lit(m.uri)
	}
	return u.rewrite(uriRule{service: b.service, ipHost: "remote", dropParams: []string{"transport", "maddr"}})
}

// authentication is SIPp's answer to the last challenge, with the
// captured username when SIPp can take it in the keyword; otherwise the
// run's -au applies.
func (b *builder) authentication(captured string) string {
	user, _ := param(captured, "username")
	if user == "" {
		return "[authentication]"
	}
	if b.authUser == "" {
		b.authUser = user
	}
	if !keywordSafe(user) {
		return "[authentication]"
	}
	return "[authentication username=" + user + "]"
}

// keywordSafe reports a value SIPp reads back intact as a keyword
// parameter: no space, quote, bracket or backslash ends it early, and no
// '=' can start another parameter (password=) inside it.
func keywordSafe(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"'[]\=<>`, c) >= 0 {
			return false
		}
	}
	return true
}

// header is a captured header kept in a sent message: the endpoint's and
// its peer's addresses become keywords, a Contact points at the run.
func (b *builder) header(h header) string {
	if h.key == "contact" {
		return "Contact: " + contact(h.value)
	}
	if h.value == "" {
		return lit(h.name) + ":"
	}
	return lit(h.name) + ": " + litSwap(h.value, b.swaps)
}

// contact rewrites every contact of a Contact value to the run's own
// address and transport, keeping user parts and parameters.
func contact(v string) string {
	if strings.TrimSpace(v) == "*" {
		return "*"
	}
	parts := splitUnquoted(v)
	for i, p := range parts {
		parts[i] = parseNameAddr(p).rewrite(uriRule{anyHost: true, dropParams: []string{"transport", "maddr"}, extra: ";transport=[transport]"})
	}
	return strings.Join(parts, ", ")
}

// body is the empty line and the body, when there is one.
func (b *builder) body(m *msg) []string {
	if len(strings.TrimSpace(string(m.body))) == 0 {
		return nil
	}
	if m.isSDP() {
		return append([]string{""}, sdpLines(m.body)...)
	}
	lines := bodyLines(m.body)
	out := make([]string, 0, len(lines)+1)
	out = append(out, "")
	for _, l := range lines {
		out = append(out, lit(l))
	}
	return out
}

func (b *builder) sendResponse(m *msg) error {
	req := b.gotRequest(m.cseq, m.cseqMethod)
	if req == nil {
		return unsupported("the %s sent a %d to a %s it never received", b.side, m.status, lit(m.cseqMethod))
	}
	afterCancel := false
	if b.lastRecv != req.m {
		l := b.lastRecv
		if req.m.method != "INVITE" || l == nil || !l.request || l.method != "CANCEL" || l.cseq != req.m.cseq {
			return unsupported("the %d to %s was sent after other messages arrived; SIPp answers only the last one", m.status, lit(m.cseqMethod))
		}
		afterCancel = true
		b.steps[req.step].recv.saveVia = true
	}
	status := "SIP/2.0 " + itoa(m.status)
	if m.reason != "" {
		status += " " + lit(m.reason)
	}
	lines := []string{status}
	if afterCancel {
		lines = append(lines, "[$"+varInviteVia+"]")
	} else {
		lines = append(lines, "[last_Via:]")
		if req.m.method == "INVITE" && m.status > 100 && m.status < 300 {
			lines = append(lines, "[last_Record-Route:]")
		}
	}
	to := "[last_To:]"
	if req.m.toTag == "" && m.toTag != "" {
		to += ";tag=" + b.ownTag
	}
	lines = append(lines, "[last_From:]", to, "[last_Call-ID:]")
	if afterCancel {
		lines = append(lines, "CSeq: [last_cseq_number] INVITE")
	} else {
		lines = append(lines, "[last_CSeq:]")
	}
	for _, h := range m.headers {
		if !slices.Contains(responseOwn, h.key) {
			lines = append(lines, b.header(h))
		}
	}
	lines = append(lines, "Content-Length: [len]")
	lines = append(lines, b.body(m)...)
	b.add(step{send: &sendStep{lines: lines, via: -1, branchOf: -1, retrans: req.m.method == "INVITE" && m.status >= 200}})
	return nil
}

// finish settles what depends on later steps: which provisional answers
// may be skipped (SIPp wants every run of optional receptions closed by a
// mandatory one), and what the callee's first reception must keep.
func (b *builder) finish() {
	for i, s := range b.steps {
		if s.recv != nil && s.recv.provisional {
			s.recv.optional = i+1 < len(b.steps) && b.steps[i+1].recv != nil
		}
	}
	// SIPp refuses an INVITE transaction without an answer and an ACK, as
	// a capture that ends while the call rings has: such an INVITE's
	// answers are matched by method instead.
	acked := map[string]bool{}
	for _, s := range b.steps {
		if s.send != nil && s.send.ackTxn != "" {
			acked[s.send.ackTxn] = true
		}
	}
	for _, s := range b.steps {
		switch {
		case s.send != nil && s.send.startTxn != "" && !acked[s.send.startTxn]:
			s.send.startTxn = ""
		case s.recv != nil && s.recv.responseTxn != "" && !acked[s.recv.responseTxn]:
			s.recv.responseTxn = ""
		}
	}
	if b.side == UAS && b.callee {
		first := b.steps[0].recv
		first.rrs, first.saveCaller = true, true
	}
}

// summary names the call's kind and its answers: "INVITE answered 180,
// 200", for the scenario's comment and the README.
func (c *call) summary() string {
	var codes []string
	for _, m := range c.msgs {
		if !m.request && m.cseqMethod == c.first.method && m.status >= 200 && c.owns(c.path[0], m.Dst) {
			codes = append(codes, itoa(m.status))
		}
	}
	if len(codes) == 0 {
		return c.first.method + " without a final answer"
	}
	return c.first.method + " answered " + strings.Join(codes, " then ")
}
