package sip

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// ErrSDP is wrapped by every error of [ParseSDP].
var ErrSDP = errors.New("sip: malformed SDP")

// SDP is the summary of a session description that the ladder shows.
type SDP struct {
	// Origin is the o= line value, verbatim:
	// "username sess-id sess-version IN IP4 address".
	Origin string
	// SessionAddr is the connection address of the session-level c= line.
	SessionAddr string
	Media       []Media
}

// Media is one m= section.
type Media struct {
	Type  string // audio, video, image, application, ...
	Port  int    // 0 means the stream is rejected or disabled
	Proto string // RTP/AVP, RTP/SAVP, udptl, ...
	// Addr is the media-level c= address, or the session's.
	Addr string
	// Codecs follow the order of the m= format list: "name/clock[/channels]"
	// from a=rtpmap, else the RFC 3551 static name with its clock
	// ("PCMU/8000") so that a list reads the same with or without rtpmap,
	// else the format as written (a dynamic payload type without rtpmap,
	// "t38" on an image stream).
	Codecs []string
	// Direction is sendrecv, sendonly, recvonly or inactive: the media-level
	// attribute, else the session-level one, else sendrecv (RFC 4566 6).
	Direction string
}

// staticPayloads names the RFC 3551 static payload types the ladder shows
// when an offer omits a=rtpmap for them, which RFC 4566 allows.
var staticPayloads = map[string]string{
	"0":  "PCMU/8000",
	"3":  "GSM/8000",
	"8":  "PCMA/8000",
	"9":  "G722/8000", // 8000 by RFC 3551's historical error, as every SDP says
	"18": "G729/8000",
}

// ParseSDP summarises an SDP body (RFC 4566). Lines may end in CRLF or LF.
// Lines it does not need, and lines that are not "x=value", are skipped, so
// that a vendor's odd attribute does not hide the call's media.
//
// Returns an error wrapping ErrSDP when the body is blank, does not start
// with a v= line, or has an m= line without type, port and protocol or with
// a port that is not a number in 0-65535.
//
//	v=0
//	o=alice 2890844526 2890844526 IN IP4 192.0.2.10   -> Origin
//	s=-
//	c=IN IP4 192.0.2.10                               -> SessionAddr (and Addr of media without c=)
//	a=sendonly                                        session-level direction
//	m=audio 49170 RTP/AVP 0 8 101                     -> Media{Type, Port, Proto}, format order
//	c=IN IP4 192.0.2.20                               -> Media.Addr
//	a=rtpmap:101 telephone-event/8000                 -> Codecs
//	a=recvonly                                        -> Media.Direction
func ParseSDP(body []byte) (SDP, error) {
	var (
		s          SDP
		sessionDir string
		fmts       [][][]byte          // per media: its format list
		rtpmaps    []map[string]string // per media: payload type -> encoding
		dirs       []string            // per media: its direction attribute
		sawVersion bool
	)
	n := 0
	for pos := 0; pos < len(body); {
		end, next := lineAt(body, pos)
		line := body[pos:end]
		pos = next
		n++
		if isBlank(line) {
			continue
		}
		if !sawVersion {
			if !bytes.HasPrefix(line, []byte("v=")) {
				return SDP{}, fmt.Errorf("sip.ParseSDP: line %d: want v=: %w", n, ErrSDP)
			}
			sawVersion = true
			continue
		}
		if len(line) < 2 || line[1] != '=' {
			continue
		}
		val := trimWS(line[2:])
		inMedia := len(s.Media) > 0
		switch line[0] {
		case 'o':
			if !inMedia {
				s.Origin = string(val)
			}
		case 'c':
			addr := connAddr(val)
			if inMedia {
				s.Media[len(s.Media)-1].Addr = addr
			} else {
				s.SessionAddr = addr
			}
		case 'm':
			f := bytes.Fields(val)
			if len(f) < 3 {
				return SDP{}, fmt.Errorf("sip.ParseSDP: line %d: m= needs media, port and proto: %w", n, ErrSDP)
			}
			port := f[1]
			if sl := bytes.IndexByte(port, '/'); sl >= 0 { // port/number-of-ports
				port = port[:sl]
			}
			p, err := strconv.Atoi(string(port))
			if err != nil || p < 0 || p > 65535 {
				return SDP{}, fmt.Errorf("sip.ParseSDP: line %d: bad port %q: %w", n, f[1], ErrSDP)
			}
			s.Media = append(s.Media, Media{Type: string(f[0]), Port: p, Proto: string(f[2])})
			fmts = append(fmts, f[3:])
			rtpmaps = append(rtpmaps, nil)
			dirs = append(dirs, "")
		case 'a':
			if d := direction(val); d != "" {
				if inMedia {
					dirs[len(dirs)-1] = d
				} else {
					sessionDir = d
				}
			} else if inMedia && hasPrefixFold(val, "rtpmap:") {
				pt, enc, ok := bytes.Cut(val[len("rtpmap:"):], []byte(" "))
				pt, enc = trimWS(pt), trimWS(enc)
				if ok && len(pt) > 0 && len(enc) > 0 {
					last := len(rtpmaps) - 1
					if rtpmaps[last] == nil {
						rtpmaps[last] = map[string]string{}
					}
					if _, dup := rtpmaps[last][string(pt)]; !dup { // the first rtpmap wins
						rtpmaps[last][string(pt)] = string(enc)
					}
				}
			}
		}
	}
	if !sawVersion {
		return SDP{}, fmt.Errorf("sip.ParseSDP: empty body: %w", ErrSDP)
	}
	if sessionDir == "" {
		sessionDir = "sendrecv"
	}
	for i := range s.Media {
		md := &s.Media[i]
		if md.Addr == "" {
			md.Addr = s.SessionAddr
		}
		md.Direction = dirs[i]
		if md.Direction == "" {
			md.Direction = sessionDir
		}
		for _, f := range fmts[i] {
			if enc, ok := rtpmaps[i][string(f)]; ok {
				md.Codecs = append(md.Codecs, enc)
			} else if name, ok := staticPayloads[string(f)]; ok {
				md.Codecs = append(md.Codecs, name)
			} else {
				md.Codecs = append(md.Codecs, string(f))
			}
		}
	}
	return s, nil
}

// connAddr returns the address of "IN IP4 224.2.1.1/127": the third field,
// without the multicast TTL and count.
func connAddr(v []byte) string {
	f := bytes.Fields(v)
	if len(f) < 3 {
		return ""
	}
	a := f[2]
	if sl := bytes.IndexByte(a, '/'); sl >= 0 {
		a = a[:sl]
	}
	return string(a)
}

func direction(attr []byte) string {
	for _, d := range [...]string{"sendrecv", "sendonly", "recvonly", "inactive"} {
		if eqFold(attr, d) {
			return d
		}
	}
	return ""
}

// SDPBody returns the SDP of m: the body itself when it is application/sdp,
// the content of the first application/sdp part of a multipart body, or nil.
// The result aliases m.Body.
func SDPBody(m *Message) []byte {
	return sdpBody(m.ContentType, m.Body)
}
