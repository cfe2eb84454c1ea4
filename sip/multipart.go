package sip

import "bytes"

// sdpBody returns the SDP in body given its Content-Type: the whole body for
// application/sdp, the content of the first application/sdp part of a
// multipart body (SIP-I/SIP-T and some SBCs send SDP beside ISUP this way),
// or nil. Blank content counts as no SDP. It allocates nothing.
func sdpBody(contentType, body []byte) []byte {
	mt := mediaType(contentType)
	switch {
	case eqFold(mt, "application/sdp"):
		if isBlank(body) {
			return nil
		}
		return body
	case hasPrefixFold(mt, "multipart/"):
		sc := bytes.IndexByte(contentType, ';')
		if sc < 0 {
			return nil
		}
		return sdpPart(body, param(contentType[sc+1:], "boundary", false))
	}
	return nil
}

// mediaType returns the type/subtype of a Content-Type value, parameters
// dropped.
func mediaType(ct []byte) []byte {
	if sc := bytes.IndexByte(ct, ';'); sc >= 0 {
		ct = ct[:sc]
	}
	return trimWS(ct)
}

// sdpPart finds the first application/sdp part of a multipart body
// (RFC 2046 section 5.1.1):
//
//	preamble (ignored)
//	--boundary CRLF                   delimiter: "--" boundary at the start of a line
//	Content-Type: application/sdp CRLF
//	CRLF
//	v=0 ... CRLF                      the CRLF before the next delimiter belongs to it
//	--boundary-- CRLF                 close delimiter
//
// A truncated body without a close delimiter still yields its last part:
// captures get cut, and the SDP is worth showing.
func sdpPart(body, boundary []byte) []byte {
	if len(boundary) == 0 {
		return nil
	}
	pos, partStart := 0, -1
	for pos < len(body) {
		k := bytes.Index(body[pos:], boundary)
		if k < 0 {
			break
		}
		k += pos
		if k < 2 || body[k-1] != '-' || body[k-2] != '-' || (k > 2 && body[k-3] != '\n') {
			pos = k + 1 // the boundary string inside content, not a delimiter
			continue
		}
		if partStart >= 0 {
			end := k - 2
			if end > partStart && body[end-1] == '\n' {
				end--
				if end > partStart && body[end-1] == '\r' {
					end--
				}
			}
			if sdp := sdpInPart(body[partStart:end]); sdp != nil {
				return sdp
			}
		}
		after := k + len(boundary)
		if after+1 < len(body) && body[after] == '-' && body[after+1] == '-' {
			return nil
		}
		nl := bytes.IndexByte(body[after:], '\n')
		if nl < 0 {
			return nil
		}
		partStart = after + nl + 1
		pos = partStart
	}
	if partStart >= 0 && partStart < len(body) {
		return sdpInPart(body[partStart:])
	}
	return nil
}

// sdpInPart returns the content of one MIME part when its headers declare
// application/sdp and the content is not blank. A part without headers is
// text/plain (RFC 2046), so it is not SDP.
func sdpInPart(part []byte) []byte {
	var ct []byte
	pos := 0
	for pos < len(part) {
		end, next := lineAt(part, pos)
		if end == pos {
			content := part[next:]
			if next >= len(part) || !eqFold(mediaType(ct), "application/sdp") || isBlank(content) {
				return nil
			}
			return content
		}
		line := part[pos:end]
		if colon := bytes.IndexByte(line, ':'); colon > 0 && ct == nil {
			name := trimWS(line[:colon])
			if eqFold(name, "content-type") || eqFold(name, "c") {
				ct = trimWS(line[colon+1:])
			}
		}
		pos = next
	}
	return nil
}
