// Package sip extracts the SIP fields that ingest indexes and the viewer
// renders, and summarises SDP bodies for the ladder.
//
// Every SIP payload is attacker-controlled, and extraction runs on the ingest
// hot path (tens of thousands of messages a second), so [Extractor.Extract]
// allocates nothing: every field of a [Message] is a slice aliasing the
// payload, valid as long as the payload is. Callers that keep a Message beyond
// the payload's lifetime must copy the fields they keep.
//
// What a message looks like on the wire (RFC 3261 section 7), and what
// Extract takes from it:
//
//	INVITE sip:bob@biloxi.example.com SIP/2.0\r\n             start line: Method, RequestURI (-> RURIUser)
//	Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776\r\n   first Via value -> ViaBranch
//	Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK1\r\n    (later Vias ignored)
//	From: "Alice \"A\"" <sip:alice@example.com>;tag=1928\r\n  -> FromName, FromUser, FromHost, FromTag
//	t: <sip:bob@biloxi.example.com>\r\n                       compact form of To
//	Call-ID: a84b4c76e66710\r\n                               -> CallID (required)
//	CSeq: 314159 INVITE\r\n                                   -> CSeqNum, CSeqMethod
//	Subject: a long value that is\r\n
//	 folded onto a second line\r\n                            continuation: starts with SP or HTAB
//	Content-Type: application/sdp\r\n                         -> ContentType, HasSDP
//	\r\n                                                      empty line: end of headers
//	v=0\r\n ...                                               -> Body (to the end of the payload)
//
// Line endings may be CRLF or bare LF (third-party captures use LF only).
// Content-Length is ignored: the UDP payload boundary is the truth, and a
// lying Content-Length must not hide or invent body bytes.
package sip
