package callrec

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/callscope/callscope/qos"
	"github.com/callscope/callscope/sip"
)

// Message is one captured SIP message of a call, as stored. Its fields may
// alias buffers the caller reuses once AddSIP returns: a State copies what
// it keeps.
type Message struct {
	At       time.Time
	Src, Dst netip.AddrPort
	// Node names the capture node that saw it: its name, or its capture
	// ID when it has none.
	Node    string
	Payload []byte // the SIP text
	// Correlation is the correlation value stored with the message and
	// CorrelationSource where it came from: "hep" for the capture node's
	// correlation chunk, else the SIP header (lower case).
	Correlation, CorrelationSource string
}

// SourceHEP is the CorrelationSource of a value the capture node set in
// HEP's correlation chunk (0x0011), as opposed to one read from a SIP
// header the endpoints wrote.
const SourceHEP = "hep"

// AddSIP folds one SIP message, already extracted into m, into s. The hash
// that tells retransmissions from distinct messages covers the capture
// node, the addresses and the payload: a second capture node's copy of a
// message is distinct, the same sender sending the same bytes again on the
// same path is a retransmission.
func (s *State) AddSIP(in *Message, m *sip.Message) {
	at := in.At.UnixMicro()
	if at == 0 {
		at = 1 // 0 means "none" in a State
	}
	s.Messages++
	s.First = minNZ(s.First, at)
	s.Last = max(s.Last, at)
	s.Sketch = insert(s.Sketch, messageHash(in), sketchK)
	if in.Node != "" {
		v, borrowed := peekString(in.Node, maxText)
		s.Nodes = insertText(s.Nodes, v, borrowed, maxSet)
	}
	if len(m.UserAgent) > 0 {
		v, borrowed := peek(m.UserAgent, maxText)
		s.UserAgents = insertText(s.UserAgents, v, borrowed, maxSet)
	}
	if in.Correlation != "" {
		v, vb := peekString(in.Correlation, maxText)
		src, sb := peekString(in.CorrelationSource, maxTagText)
		c := Corr{Value: v, Source: src}
		slot(&s.Corr, maxCorr, func(e Corr) int { return compareCorr(e, c) },
			func() Corr { return Corr{Value: keep(v, vb), Source: keep(src, sb)} })
	}

	var method string
	if m.Request {
		method = upper(m.Method)
	} else {
		method = upper(m.CSeqMethod)
	}
	if m.Request {
		s.addRequest(in, m, at, method)
		return
	}
	switch method {
	case "ACK", "CANCEL", "BYE", "PRACK", "":
		return // their responses say nothing of the outcome
	}
	code := m.StatusCode
	s.txn(m.FromTag, m.CSeqNum, method, func(t *Txn) {
		switch {
		case code >= 180 && code < 190:
			earliestFrom(&t.Prov, &t.ProvFrom, at, in.Src)
		case code >= 200:
			t.addFinal(Final{Status: code, First: at, From: in.Src, Last: at}, m.Reason)
		}
	})
	if method == "INVITE" && m.HasSDP {
		switch {
		case code >= 200 && code < 300 && s.Answer.wins(at):
			s.Answer.earliest(Media{At: at, Codecs: codecs(m)})
		case code >= 180 && code < 190 && s.EarlyAnswer.wins(at):
			s.EarlyAnswer.earliest(Media{At: at, Codecs: codecs(m)})
		}
	}
}

func (s *State) addRequest(in *Message, m *sip.Message, at int64, method string) {
	switch method {
	case "ACK", "PRACK":
		return
	case "CANCEL":
		s.Cancel = minNZ(s.Cancel, at)
		return
	case "BYE":
		if s.Bye.At == 0 || at <= s.Bye.At {
			s.Bye.earliest(Mark{At: at, FromTag: text(m.FromTag, maxTagText)})
		}
		return
	}
	initial := len(m.ToTag) == 0
	s.txn(m.FromTag, m.CSeqNum, method, func(t *Txn) {
		t.ReqAt = minNZ(t.ReqAt, at)
		if initial {
			t.Initial = true
		} else {
			t.InDialog = true
		}
	})
	if !initial {
		return
	}
	// Only a copy at least as early as the one kept can replace it: the
	// strings are made for those alone.
	if s.Initial.At == 0 || at <= s.Initial.At {
		r := Request{At: at, Method: method, CSeq: m.CSeqNum,
			FromUser: text(m.FromUser, maxText), FromName: text(unquote(m.FromName), maxText), FromTag: text(m.FromTag, maxTagText),
			ToUser: text(m.ToUser, maxText), ToName: text(unquote(m.ToName), maxText),
			RURIUser: text(m.RURIUser, maxText), Src: in.Src, Dst: in.Dst}
		if s.Initial.At == 0 || r.less(&s.Initial) {
			s.Initial = r
		}
	}
	if method == "INVITE" && m.HasSDP && s.Offer.wins(at) {
		s.Offer.earliest(Media{At: at, Codecs: codecs(m)})
	}
}

// AddQoS folds one media report of the call into s.
func (s *State) AddQoS(r qos.Report) {
	if at := r.At.UnixMicro(); at != 0 {
		s.Reported = minNZ(s.Reported, at)
	}
	name := text([]byte(r.Stream), maxText)
	s.stream(name, func(st *Stream) {
		st.merge(&Stream{Reports: 1,
			MOS:    pick(r.Has&qos.HasMOS != 0, r.MOS),
			Jitter: r.Jitter, HasJitter: r.Has&qos.HasJitter != 0,
			LossPct: r.LossPct, HasLossPct: r.Has&qos.HasLoss != 0,
			Lost: r.Lost, HasLost: r.Has&qos.HasLost != 0})
	})
}

func pick(ok bool, v float64) float64 {
	if !ok {
		return 0
	}
	return v
}

// messageHash identifies a message on one path as one capture node saw it.
func messageHash(in *Message) uint64 {
	var buf [128]byte
	b := binary.BigEndian.AppendUint64(buf[:0], xxhash.Sum64(in.Payload))
	b = appendAddrPort(b, in.Src)
	b = appendAddrPort(b, in.Dst)
	b = append(b, in.Node...)
	return xxhash.Sum64(b)
}

func appendAddrPort(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr().As16()
	b = append(b, a[:]...)
	return binary.BigEndian.AppendUint16(b, ap.Port())
}

// codecs lists the codecs of m's SDP in offer order ("PCMU/8000"), of
// every stream not rejected, each once.
func codecs(m *sip.Message) []string {
	sdp, err := sip.ParseSDP(sip.SDPBody(m))
	if err != nil {
		return nil
	}
	var out []string
	for _, md := range sdp.Media {
		if md.Port == 0 {
			continue
		}
		for _, c := range md.Codecs {
			c = text([]byte(c), maxTagText)
			if len(out) < maxCodecs && !contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// upper returns an ASCII upper-case copy of a method, at most maxTagText
// bytes; methods are case-sensitive tokens, but some stacks send "Invite".
func upper(b []byte) string {
	switch string(b) { // the usual ones without allocating
	case "INVITE":
		return "INVITE"
	case "ACK":
		return "ACK"
	case "BYE":
		return "BYE"
	case "CANCEL":
		return "CANCEL"
	case "REGISTER":
		return "REGISTER"
	case "OPTIONS":
		return "OPTIONS"
	}
	if len(b) > maxTagText {
		b = b[:maxTagText]
	}
	lower := false
	for _, c := range b {
		if c >= 'a' && c <= 'z' {
			lower = true
			break
		}
	}
	if !lower {
		return text(b, maxTagText)
	}
	u := make([]byte, len(b))
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		u[i] = c
	}
	return text(u, maxTagText)
}

// unquote undoes the backslash escapes of a quoted display name.
func unquote(b []byte) []byte {
	for i := range b {
		if b[i] == '\\' {
			out := make([]byte, 0, len(b))
			for j := 0; j < len(b); j++ {
				if b[j] == '\\' && j+1 < len(b) {
					j++
				}
				out = append(out, b[j])
			}
			return out
		}
	}
	return b
}
