package scenario

import (
	"bytes"
	"strings"

	"github.com/callscope/callscope/sip"
)

// msg is one captured packet, parsed.
type msg struct {
	Message
	request    bool
	method     string // requests: the method
	uri        string // requests: the Request-URI as captured
	ruriUser   string
	status     int // responses
	reason     string
	headers    []header
	body       []byte
	callID     string
	cseq       uint32
	cseqMethod string
	fromTag    string
	toTag      string
}

// header is one header line: the name as captured, its full lower-case
// name for matching (compact forms expanded), and the value with folded
// lines joined.
type header struct {
	name, key, value string
}

// compact are RFC 3261's (and its extensions') one-letter header names.
var compact = map[string]string{
	"i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
	"c": "content-type", "f": "from", "s": "subject", "k": "supported", "t": "to",
	"v": "via", "o": "event", "r": "refer-to", "b": "referred-by", "u": "allow-events",
	"x": "session-expires",
}

// parseMsg parses m. The start line and the fields matching depends on
// come from package sip; the header lines, which the generator rewrites
// one by one, are split here.
func parseMsg(m Message, x *sip.Extractor) (*msg, error) {
	var sm sip.Message
	if err := x.Extract(m.Payload, &sm); err != nil {
		return nil, err
	}
	p := &msg{Message: m, request: sm.Request, callID: string(sm.CallID), cseq: sm.CSeqNum,
		cseqMethod: string(sm.CSeqMethod), fromTag: string(sm.FromTag), toTag: string(sm.ToTag)}
	if sm.Request {
		p.method, p.uri, p.ruriUser = string(sm.Method), string(sm.RequestURI), string(sm.RURIUser)
	} else {
		p.status, p.reason = sm.StatusCode, string(sm.Reason)
	}
	p.headers, p.body = splitHeaders(m.Payload)
	return p, nil
}

// splitHeaders returns the header lines after the start line and the body
// after the empty line that ends them (nil when there is none). Lines end
// in CRLF or LF; a line starting with SP or HTAB continues the one above.
func splitHeaders(b []byte) ([]header, []byte) {
	b = bytes.TrimLeft(b, "\r\n") // keep-alive CRLFs before the start line
	var out []header
	first := true
	for len(b) > 0 {
		line, rest, found := bytes.Cut(b, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			if found && len(rest) > 0 {
				return out, rest
			}
			return out, nil
		}
		b = rest
		if first {
			first = false
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(out) > 0 {
			h := &out[len(out)-1]
			h.value = strings.TrimSpace(h.value + " " + strings.TrimSpace(string(line)))
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue // not a header; SIP stacks ignore it too
		}
		n := strings.TrimSpace(string(name))
		key := strings.ToLower(n)
		if full, ok := compact[key]; ok {
			key = full
		}
		out = append(out, header{name: n, key: key, value: strings.TrimSpace(string(value))})
	}
	return out, nil
}

// get returns the value of the first header named key, and whether there
// is one.
func (m *msg) get(key string) (string, bool) {
	for _, h := range m.headers {
		if h.key == key {
			return h.value, true
		}
	}
	return "", false
}

// isSDP reports a body that is one SDP document (not a multipart one).
func (m *msg) isSDP() bool {
	ct, _ := m.get("content-type")
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/sdp") && len(bytes.TrimSpace(m.body)) > 0
}

// what names m for reasons and summaries: "INVITE" or "486".
func (m *msg) what() string {
	if m.request {
		return m.method
	}
	return itoa(m.status)
}

// finalFor reports a final (non-1xx) response to method.
func (m *msg) finalFor(method string) bool {
	return !m.request && m.status >= 200 && m.cseqMethod == method
}

// methodOK reports a method SIPp can be told to expect in an attribute:
// upper-case letters, digits, '-' and '_'. RFC 3261 allows more in a
// token, but no real method uses it, and a quote or '&' would not survive
// SIPp's attribute parser.
func methodOK(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
