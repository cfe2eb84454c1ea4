package demo_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope/demo"
	"github.com/callscope/callscope/hep"
)

// The ingest extractor is lenient by design (capture agents send what
// they saw); demo traffic must be more than accepted: it must be what a
// strict RFC 3261 stack would send. checkSIP and checkSDP are that strict
// reader, here and not in package sip, which must stay lenient.

var (
	tokenRE       = regexp.MustCompile(`^[A-Za-z0-9.!%*_+` + "`" + `'~-]+$`)
	requestLineRE = regexp.MustCompile(`^([A-Za-z0-9.!%*_+` + "`" + `'~-]+) (sips?:[^ \t]+) SIP/2\.0$`)
	statusLineRE  = regexp.MustCompile(`^SIP/2\.0 ([1-6][0-9][0-9]) ([^\x00-\x1f\x7f]*)$`)
	cseqRE        = regexp.MustCompile(`^([0-9]{1,10}) ([A-Za-z0-9.!%*_+` + "`" + `'~-]+)$`)
	sdpLineRE     = regexp.MustCompile(`^([a-z])=([^\x00-\x1f\x7f]*)$`)
)

// checkSIP parses msg as a strict SIP parser would and returns the first
// fault: bare CR or LF, header folding, a malformed start line or header,
// a missing mandatory header, a Content-Length that is not the body's
// length, or a body without Content-Type. An SDP body is checked by
// checkSDP.
func checkSIP(msg []byte) error {
	head, body, ok := bytes.Cut(msg, []byte("\r\n\r\n"))
	if !ok {
		return fmt.Errorf("no CRLF CRLF between headers and body")
	}
	lines := strings.Split(string(head), "\r\n")
	for i, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			return fmt.Errorf("line %d %q: bare CR or LF", i+1, l)
		}
	}
	var method string
	if m := requestLineRE.FindStringSubmatch(lines[0]); m != nil {
		method = m[1]
	} else if !statusLineRE.MatchString(lines[0]) {
		return fmt.Errorf("start line %q is neither a Request-Line nor a Status-Line", lines[0])
	}
	hdr := map[string][]string{}
	for _, l := range lines[1:] {
		if l == "" || l[0] == ' ' || l[0] == '\t' {
			return fmt.Errorf("header line %q: empty or folded", l)
		}
		name, value, ok := strings.Cut(l, ":")
		name = strings.TrimRight(name, " \t")
		if !ok || !tokenRE.MatchString(name) {
			return fmt.Errorf("header line %q: not NAME: value", l)
		}
		value = strings.Trim(value, " \t")
		if strings.ContainsFunc(value, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			return fmt.Errorf("header %s: control character in %q", name, value)
		}
		hdr[strings.ToLower(name)] = append(hdr[strings.ToLower(name)], value)
	}
	required := []string{"via", "from", "to", "call-id", "cseq", "content-length"}
	if method != "" {
		required = append(required, "max-forwards")
	}
	for _, h := range required {
		if len(hdr[h]) == 0 {
			return fmt.Errorf("no %s header", h)
		}
	}
	for _, h := range []string{"from", "to", "call-id", "cseq", "content-length", "max-forwards", "content-type"} {
		if len(hdr[h]) > 1 {
			return fmt.Errorf("%d %s headers", len(hdr[h]), h)
		}
	}
	cs := cseqRE.FindStringSubmatch(hdr["cseq"][0])
	if cs == nil {
		return fmt.Errorf("CSeq %q is not NUMBER METHOD", hdr["cseq"][0])
	}
	if method != "" && cs[2] != method {
		return fmt.Errorf("CSeq method %s of a %s request", cs[2], method)
	}
	n, err := strconv.Atoi(hdr["content-length"][0])
	if err != nil || n != len(body) {
		return fmt.Errorf("Content-Length %q, body is %d bytes", hdr["content-length"][0], len(body))
	}
	if len(body) == 0 {
		return nil
	}
	if len(hdr["content-type"]) == 0 {
		return fmt.Errorf("a %d-byte body without Content-Type", len(body))
	}
	if strings.EqualFold(hdr["content-type"][0], "application/sdp") {
		if err := checkSDP(body); err != nil {
			return fmt.Errorf("SDP: %w", err)
		}
	}
	return nil
}

// checkSDP reads body as RFC 8866 does: CRLF-terminated type=value lines,
// v= then o= then s= first, a six-field origin, a time description before
// the first media description.
func checkSDP(body []byte) error {
	if !bytes.HasSuffix(body, []byte("\r\n")) {
		return fmt.Errorf("last line does not end with CRLF")
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\r\n"), "\r\n")
	var types []string
	for i, l := range lines {
		m := sdpLineRE.FindStringSubmatch(l)
		if m == nil {
			return fmt.Errorf("line %d %q is not type=value (bare CR or LF, or an empty line?)", i+1, l)
		}
		types = append(types, m[1])
	}
	if len(types) < 4 || types[0] != "v" || lines[0] != "v=0" || types[1] != "o" || types[2] != "s" {
		return fmt.Errorf("must start with v=0, o=, s=: %q", lines[:min(3, len(lines))])
	}
	if f := strings.Fields(lines[1][2:]); len(f) != 6 || f[3] != "IN" {
		return fmt.Errorf("origin %q: want username sess-id sess-version IN addrtype address", lines[1])
	}
	firstMedia := len(types)
	for i, t := range types {
		if t == "m" {
			firstMedia = i
			break
		}
	}
	hasTime := false
	for _, t := range types[:firstMedia] {
		hasTime = hasTime || t == "t"
	}
	if !hasTime {
		return fmt.Errorf("no t= line before the first m= line")
	}
	return nil
}

// Every SIP message of every demo call, as it leaves in its HEP packet.
func TestCallsAreStrictSIP(t *testing.T) {
	calls := demo.Calls(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), "t1")
	var dec hep.Decoder
	var p hep.Packet
	sdps := 0
	for i, b := range demo.Packets(demo.Node{CaptureID: 4242}, calls) {
		if err := dec.Decode(b, &p); err != nil {
			t.Fatal(err)
		}
		if p.PayloadType != hep.PayloadSIP {
			continue
		}
		if err := checkSIP(p.Payload); err != nil {
			t.Errorf("packet %d: %v\n%q", i, err, p.Payload)
		}
		if bytes.Contains(p.Payload, []byte("\r\nv=0\r\n")) {
			sdps++
		}
	}
	if sdps < 6 {
		t.Errorf("%d messages with SDP, want the offers and answers of the answered, busy and B-leg calls", sdps)
	}
}

// The strict reader must refuse what the demo once sent and what it could
// plausibly get wrong, or TestCallsAreStrictSIP would prove nothing.
func TestCheckSIPRefuses(t *testing.T) {
	sdp := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
	head := "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n" +
		"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n"
	good := head + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(sdp)) + sdp
	if err := checkSIP([]byte(good)); err != nil {
		t.Fatalf("a correct INVITE refused: %v", err)
	}
	doubled := strings.ReplaceAll(sdp, "\r\n", "\r\r\n")
	for name, msg := range map[string]string{
		"SDPLinesEndCRCRLF":   head + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(doubled)) + doubled,
		"ContentLengthShort":  head + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(sdp)-6) + sdp,
		"BareLFInHeaders":     strings.Replace(good, "Call-ID: c1\r\n", "Call-ID: c1\n", 1),
		"NoCallID":            strings.Replace(good, "Call-ID: c1\r\n", "", 1),
		"CSeqMethodMismatch":  strings.Replace(good, "CSeq: 1 INVITE", "CSeq: 1 ACK", 1),
		"FoldedHeader":        strings.Replace(good, "To: <sip:b@x>\r\n", "To:\r\n <sip:b@x>\r\n", 1),
		"BadRequestLine":      strings.Replace(good, " SIP/2.0\r\n", " SIP/3.0\r\n", 1),
		"SDPWithoutVersion":   strings.Replace(good, "v=0\r\n", "", 1),
		"SDPLastLineNoCRLF":   head + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(sdp)-2) + sdp[:len(sdp)-2],
		"NoBlankLineAtAll":    strings.Replace(good, "\r\n\r\n", "\r\n", 1),
		"BodyWithoutType":     strings.Replace(good, "Content-Type: application/sdp\r\n", "", 1),
		"TwoContentLengths":   strings.Replace(good, "Content-Length:", "Content-Length: 0\r\nContent-Length:", 1),
		"ControlCharInHeader": strings.Replace(good, "Call-ID: c1", "Call-ID: c\x001", 1),
	} {
		if err := checkSIP([]byte(msg)); err == nil {
			t.Errorf("%s: accepted\n%q", name, msg)
		}
	}
}
