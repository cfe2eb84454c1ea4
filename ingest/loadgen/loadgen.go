// Package loadgen makes realistic SIP traffic wrapped in HEPv3, for the
// ingest tests and the hepload tool: INVITE dialogs with SDP offer and
// answer, and REGISTER challenges. Messages are built by appending into a
// caller's buffer, so a load generator can pace tens of thousands a second
// without allocating.
package loadgen

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/callscope/callscope/hep"
)

// CallMessages is the number of messages in one INVITE dialog:
// INVITE, 100, 180, 200 (SDP), ACK, BYE, 200.
const CallMessages = 7

// RegisterMessages is the number of messages in one registration:
// REGISTER, 401, REGISTER (with credentials), 200.
const RegisterMessages = 4

var (
	uac = netip.MustParseAddrPort("192.0.2.10:5060")
	uas = netip.MustParseAddrPort("198.51.100.20:5060")
)

// Message returns message i (0-based) of an INVITE dialog with callID as
// SIP text appended to dst, and whether it flows from the caller (uac) to
// the callee.
func Message(dst []byte, callID string, i int) (out []byte, fromCaller bool) {
	const sdpOffer = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
	const sdpAnswer = "v=0\r\no=bob 2808844564 2808844564 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
	req := func(dst []byte, method string, cseq int, cseqMethod, toTag, body string) []byte {
		dst = append(dst, method+" sip:bob@biloxi.example.com SIP/2.0\r\n"...)
		dst = append(dst, "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK"...)
		dst = append(dst, callID[:min(len(callID), 12)]...)
		dst = strconv.AppendInt(dst, int64(cseq), 10)
		dst = append(dst, method[:1]...)
		dst = append(dst, "\r\nMax-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\nTo: <sip:bob@biloxi.example.com>"...)
		if toTag != "" {
			dst = append(dst, ";tag="+toTag...)
		}
		dst = append(dst, "\r\nCall-ID: "...)
		dst = append(dst, callID...)
		dst = append(dst, "\r\nCSeq: "...)
		dst = strconv.AppendInt(dst, int64(cseq), 10)
		dst = append(dst, " "+cseqMethod+"\r\nContact: <sip:alice@192.0.2.10:5060>\r\nUser-Agent: hepload/1.0\r\nX-CID: "...)
		dst = append(dst, callID...)
		return finish(dst, body)
	}
	resp := func(dst []byte, code, cseqMethod, toTag, body string) []byte {
		dst = append(dst, "SIP/2.0 "+code+"\r\n"...)
		dst = append(dst, "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK"...)
		dst = append(dst, callID[:min(len(callID), 12)]...)
		dst = append(dst, "1I\r\nFrom: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\nTo: <sip:bob@biloxi.example.com>"...)
		if toTag != "" {
			dst = append(dst, ";tag="+toTag...)
		}
		dst = append(dst, "\r\nCall-ID: "...)
		dst = append(dst, callID...)
		cseq := "1 "
		if cseqMethod == "BYE" {
			cseq = "2 "
		}
		dst = append(dst, "\r\nCSeq: "+cseq+cseqMethod+"\r\nServer: loadgen-uas/1.0\r\n"...)
		if body != "" {
			dst = append(dst, "Contact: <sip:bob@198.51.100.20:5060>\r\n"...)
		}
		dst = dst[:len(dst)-2]
		return finish(dst, body)
	}
	switch i {
	case 0:
		return req(dst, "INVITE", 1, "INVITE", "", sdpOffer), true
	case 1:
		return resp(dst, "100 Trying", "INVITE", "", ""), false
	case 2:
		return resp(dst, "180 Ringing", "INVITE", "a6c85cf", ""), false
	case 3:
		return resp(dst, "200 OK", "INVITE", "a6c85cf", sdpAnswer), false
	case 4:
		return req(dst, "ACK", 1, "ACK", "a6c85cf", ""), true
	case 5:
		return req(dst, "BYE", 2, "BYE", "a6c85cf", ""), true
	default:
		return resp(dst, "200 OK", "BYE", "a6c85cf", ""), false
	}
}

// RegisterMessage returns message i of a REGISTER / 401 / REGISTER / 200
// exchange with callID, and whether it flows from the registering client.
func RegisterMessage(dst []byte, callID string, i int) (out []byte, fromClient bool) {
	cseq := 1 + i/2
	if i%2 == 0 {
		dst = append(dst, "REGISTER sip:atlanta.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKreg"...)
	} else {
		dst = append(dst, "SIP/2.0 "...)
		if i == 1 {
			dst = append(dst, "401 Unauthorized"...)
		} else {
			dst = append(dst, "200 OK"...)
		}
		dst = append(dst, "\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKreg"...)
	}
	dst = strconv.AppendInt(dst, int64(cseq), 10)
	dst = append(dst, "\r\nFrom: <sip:alice@atlanta.example.com>;tag=reg1\r\nTo: <sip:alice@atlanta.example.com>"...)
	if i%2 == 1 {
		dst = append(dst, ";tag=srv1"...)
	}
	dst = append(dst, "\r\nCall-ID: "...)
	dst = append(dst, callID...)
	dst = append(dst, "\r\nCSeq: "...)
	dst = strconv.AppendInt(dst, int64(cseq), 10)
	dst = append(dst, " REGISTER\r\nContact: <sip:alice@192.0.2.10:5060>;expires=3600\r\n"...)
	switch i {
	case 1:
		dst = append(dst, "WWW-Authenticate: Digest realm=\"atlanta.example.com\", nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", algorithm=MD5, qop=\"auth\"\r\n"...)
	case 2:
		dst = append(dst, "Authorization: Digest username=\"alice\", realm=\"atlanta.example.com\", nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", uri=\"sip:atlanta.example.com\", response=\"dfe56131d1958046689d83306477ecc\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n"...)
	}
	dst = dst[:len(dst)-2]
	return finish(dst, ""), i%2 == 0
}

func finish(dst []byte, body string) []byte {
	if body != "" {
		dst = append(dst, "\r\nContent-Type: application/sdp"...)
	}
	dst = append(dst, "\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}

// Packet describes the HEP envelope of one message.
type Packet struct {
	CaptureID uint32
	AuthKey   []byte
	Time      time.Time
	// FromCaller picks the direction of the addresses.
	FromCaller bool
}

// AppendHEP appends sipMsg wrapped in HEPv3 to dst.
func AppendHEP(dst []byte, pk Packet, sipMsg []byte) []byte {
	p := hep.Packet{
		Version: 3, Protocol: hep.ProtoUDP, PayloadType: hep.PayloadSIP,
		CaptureID: pk.CaptureID, AuthKey: pk.AuthKey, Payload: sipMsg,
		Src: uac, Dst: uas,
	}
	if !pk.FromCaller {
		p.Src, p.Dst = uas, uac
	}
	p.SetTime(pk.Time)
	return p.AppendV3(dst)
}

// CallID returns a unique Call-ID for call n of a run with prefix.
func CallID(prefix string, n int) string { return fmt.Sprintf("%s-%08d@loadgen", prefix, n) }
