package sip

import (
	"bytes"
	"errors"
	"strings"
)

// Errors returned by [Extractor.Extract]. Ingest drops the packet on any of
// them and counts it as "sip_malformed"; they never reach an HTTP caller.
var (
	// ErrNoStartLine: the payload is empty or holds only line breaks
	// (a keep-alive).
	ErrNoStartLine = errors.New("sip: no start line")
	// ErrMalformed: the first line is neither a request line nor a status line.
	ErrMalformed = errors.New("sip: malformed start line")
	// ErrNoCallID: no Call-ID header, or an empty one.
	ErrNoCallID = errors.New("sip: no Call-ID")
)

// DefaultCorrelationHeaders are the headers that carry a cross-leg
// correlation id in the deployments callscope serves, in order of preference.
var DefaultCorrelationHeaders = []string{"X-CID", "X-Call-ID", "P-Charging-Vector"}

// Extractor extracts [Message] fields. It is immutable after [NewExtractor]
// and safe for concurrent use. The zero value, and a nil *Extractor, extract
// no correlation.
type Extractor struct {
	corr      []corrHeader
	corrFirst [256]bool // lower-case first letters of the corr names
}

type corrHeader struct {
	name string // lower case
	icid bool   // P-Charging-Vector: the value is its icid-value parameter
}

// NewExtractor returns an Extractor that fills Message.Correlation from the
// first of correlationHeaders present in a message: the order of the list is
// the order of preference, whatever the order of the headers in the message.
// Names are case-insensitive; empty names are ignored. Pass
// [DefaultCorrelationHeaders] for the usual set, nil for none.
func NewExtractor(correlationHeaders []string) *Extractor {
	x := &Extractor{}
	for _, h := range correlationHeaders {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		x.corr = append(x.corr, corrHeader{name: h, icid: h == "p-charging-vector"})
		x.corrFirst[h[0]] = true
	}
	return x
}

// CorrelationHeaders returns the correlation header names x reads, in
// order of preference and in lower case: the values of
// Message.CorrelationHeader.
func (x *Extractor) CorrelationHeaders() []string {
	if x == nil {
		return nil
	}
	names := make([]string, len(x.corr))
	for i, c := range x.corr {
		names[i] = c.name
	}
	return names
}

// noCorrelation stands in for a nil *Extractor.
var noCorrelation Extractor

// Which single-valued headers were seen: the first occurrence wins, so a
// second Call-ID or From smuggled further down cannot override the first.
const (
	seenCallID uint16 = 1 << iota
	seenCSeq
	seenFrom
	seenTo
	seenVia
	seenUA
	seenServer
	seenContact
	seenCType
)

// parse is the state of one Extract call; it lives on the stack.
type parse struct {
	seen    uint16
	corrIdx int // index in Extractor.corr of Correlation, len(corr) when none yet
}

// Extract parses the SIP message b into m, resetting m first. The fields of m
// alias b. It allocates nothing.
//
// Returns ErrNoStartLine when b is empty or only line breaks, ErrMalformed
// when the first line is neither a request nor a status line, and ErrNoCallID
// when the headers have no non-empty Call-ID; in that last case m still
// holds every other field found. Other defects (a header line without a
// colon, an unparsable CSeq) are tolerated: the fields they would fill stay
// empty.
func (x *Extractor) Extract(b []byte, m *Message) error {
	if x == nil {
		x = &noCorrelation
	}
	*m = Message{}
	// RFC 3261 7.5: CRLFs before the start line are ignored; over streams
	// they are keep-alives.
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++
	}
	if i == len(b) {
		return ErrNoStartLine
	}
	end, next := lineAt(b, i)
	if !startLine(b[i:end], m) {
		return ErrMalformed
	}
	x.headers(b, next, m)
	if len(m.CallID) == 0 {
		return ErrNoCallID
	}
	return nil
}

// lineAt returns the end of the line starting at b[i] (before its CR LF or
// LF) and the start of the next line.
func lineAt(b []byte, i int) (end, next int) {
	j := bytes.IndexByte(b[i:], '\n')
	if j < 0 {
		end, next = len(b), len(b)
	} else {
		end, next = i+j, i+j+1
	}
	if end > i && b[end-1] == '\r' {
		end--
	}
	return end, next
}

// startLine parses a request line or a status line into m:
//
//	Request-Line = Method SP Request-URI SP SIP-Version
//	Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase
//
// SIP-Version is matched on "SIP/" without case; runs of spaces are
// tolerated between elements.
func startLine(l []byte, m *Message) bool {
	if hasPrefixFold(l, "sip/") {
		sp := bytes.IndexByte(l, ' ')
		if sp < 0 {
			return false
		}
		rest := l[sp:]
		for len(rest) > 0 && rest[0] == ' ' {
			rest = rest[1:]
		}
		if len(rest) < 3 || (len(rest) > 3 && rest[3] != ' ' && rest[3] != '\t') {
			return false
		}
		code := 0
		for _, c := range rest[:3] {
			if c < '0' || c > '9' {
				return false
			}
			code = code*10 + int(c-'0')
		}
		if code < 100 || code > 699 {
			return false
		}
		m.StatusCode = code
		m.Reason = trimWS(rest[3:])
		return true
	}

	sp := bytes.IndexByte(l, ' ')
	if sp <= 0 {
		return false
	}
	for _, c := range l[:sp] {
		if !tokenTab[c] {
			return false
		}
	}
	rest := l[sp:]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return false
	}
	version := trimWS(rest[sp2:])
	if !hasPrefixFold(version, "sip/") || bytes.IndexByte(version, ' ') >= 0 {
		return false
	}
	m.Request = true
	m.Method = l[:sp]
	m.RequestURI = rest[:sp2]
	m.RURIUser, _ = userHost(m.RequestURI)
	return true
}

// headers reads the header block starting at b[pos] into m, and the body
// after the empty line that ends it.
func (x *Extractor) headers(b []byte, pos int, m *Message) {
	p := parse{corrIdx: len(x.corr)}
	for pos < len(b) {
		// lineAt, by hand: this loop runs once per header line.
		end, next := len(b), len(b)
		if j := bytes.IndexByte(b[pos:], '\n'); j >= 0 {
			end, next = pos+j, pos+j+1
		}
		if end > pos && b[end-1] == '\r' {
			end--
		}
		if end == pos {
			if next < len(b) {
				m.Body = b[next:]
			}
			break
		}
		// A line starting with SP or HTAB continues the header above it
		// (RFC 3261 7.3.1): the value spans the continuation lines.
		for next < len(b) && (b[next] == ' ' || b[next] == '\t') {
			end, next = lineAt(b, next)
		}
		if c := b[pos]; c != ' ' && c != '\t' { // else a continuation with nothing to continue
			x.header(b[pos:end], m, &p)
		}
		pos = next
	}
	if len(m.Body) > 0 {
		m.HasSDP = sdpBody(m.ContentType, m.Body) != nil
	}
}

// header dispatches one (possibly folded) header line. Names are matched
// without case, compact forms included (RFC 3261 7.3.3); lines without a
// colon are ignored.
func (x *Extractor) header(line []byte, m *Message, p *parse) {
	// Most lines (Allow, Max-Forwards, Supported, ...) are of no interest:
	// their first letter rules them out before the colon is even looked for.
	first := lowerTab[line[0]]
	if !wantFirst[first] && !x.corrFirst[first] {
		return
	}
	colon := 0
	for colon < len(line) && line[colon] != ':' {
		colon++
	}
	if colon == len(line) {
		return
	}
	name := line[:colon]
	for len(name) > 0 && (name[len(name)-1] == ' ' || name[len(name)-1] == '\t') {
		name = name[:len(name)-1]
	}
	if len(name) == 0 {
		return
	}

	var kind uint16
	switch first {
	case 'i':
		if len(name) == 1 {
			kind = seenCallID
		}
	case 'c':
		switch {
		case len(name) == 1 || eqFold(name, "content-type"):
			kind = seenCType
		case eqFold(name, "call-id"):
			kind = seenCallID
		case eqFold(name, "cseq"):
			kind = seenCSeq
		case eqFold(name, "contact"):
			kind = seenContact
		}
	case 'f':
		if len(name) == 1 || eqFold(name, "from") {
			kind = seenFrom
		}
	case 't':
		if len(name) == 1 || eqFold(name, "to") {
			kind = seenTo
		}
	case 'v':
		if len(name) == 1 || eqFold(name, "via") {
			kind = seenVia
		}
	case 'm':
		if len(name) == 1 {
			kind = seenContact
		}
	case 'u':
		if eqFold(name, "user-agent") {
			kind = seenUA
		}
	case 's':
		if eqFold(name, "server") {
			kind = seenServer
		}
	}
	if kind != 0 && p.seen&kind == 0 {
		p.seen |= kind
		value := trimWS(line[colon+1:])
		switch kind {
		case seenCallID:
			m.CallID = value
		case seenCSeq:
			m.CSeqNum, m.CSeqMethod = cseq(value)
		case seenFrom:
			uri, params := nameAddr(value)
			m.FromUser, m.FromHost = userHost(uri)
			m.FromTag = param(params, "tag", false)
			m.FromName = displayName(value)
		case seenTo:
			uri, params := nameAddr(value)
			m.ToUser, m.ToHost = userHost(uri)
			m.ToTag = param(params, "tag", false)
			m.ToName = displayName(value)
		case seenVia:
			m.ViaBranch = viaBranch(value)
		case seenUA:
			m.UserAgent = value
		case seenServer:
			if p.seen&seenUA == 0 {
				m.UserAgent = value
			}
		case seenContact:
			m.Contact = value
		case seenCType:
			m.ContentType = value
		}
	}

	if !x.corrFirst[first] {
		return
	}
	for k := 0; k < p.corrIdx; k++ {
		c := &x.corr[k]
		if !eqFold(name, c.name) {
			continue
		}
		v := trimWS(line[colon+1:])
		if c.icid {
			v = param(v, "icid-value", false)
		}
		if len(v) > 0 {
			m.Correlation, m.CorrelationHeader, p.corrIdx = v, c.name, k
		}
		break
	}
}

// wantFirst marks the lower-case first letters of the headers Extract reads,
// long and compact: i, c, f, t, v, m, u, s.
var wantFirst = func() (t [256]bool) {
	for _, c := range "icftvmus" {
		t[c] = true
	}
	return t
}()

// cseq parses `CSeq: 4711 INVITE`. A number that is missing or over 32 bits
// gives 0; the method is kept either way.
func cseq(v []byte) (uint32, []byte) {
	i := 0
	var n uint64
	for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		if n <= 1<<32 {
			n = n*10 + uint64(v[i]-'0')
		}
	}
	if n > 1<<32-1 {
		n = 0
	}
	return uint32(n), trimWS(v[i:])
}

// viaBranch returns the branch parameter of the first via-parm in a Via
// value; the vias after the first ',' belong to other hops.
//
//	Via: SIP/2.0/UDP [2001:db8::9]:5060;rport;branch=z9hG4bK1, SIP/2.0/TCP p2.example.com;branch=z9hG4bK2
//	     '-protocol-' '----sent-by-----' '------params------'
func viaBranch(v []byte) []byte {
	sc := bytes.IndexByte(v, ';')
	if sc < 0 || bytes.IndexByte(v[:sc], ',') >= 0 {
		return nil
	}
	return param(v[sc+1:], "branch", true)
}
