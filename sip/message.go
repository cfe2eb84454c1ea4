package sip

// Message holds the fields of one SIP message. Every slice aliases the payload
// passed to [Extractor.Extract]; an absent field is an empty slice. Values are
// trimmed of surrounding whitespace but otherwise raw: a value that was folded
// over several lines keeps its embedded line breaks, and nothing is unescaped.
type Message struct {
	// Request is true for requests, false for responses.
	Request bool

	// Method and RequestURI are set for requests.
	Method     []byte
	RequestURI []byte
	// RURIUser is the user part of a sip: or sips: Request-URI without
	// password or user parameters (sip:USER;npdi@host gives USER), or the
	// number of a tel: URI. Empty when the URI has no user.
	RURIUser []byte

	// StatusCode (100-699) and Reason are set for responses.
	StatusCode int
	Reason     []byte

	// CallID is the Call-ID (compact i) header value.
	CallID []byte
	// CSeqNum and CSeqMethod come from CSeq; CSeqNum is 0 when the number
	// is missing or does not fit 32 bits.
	CSeqNum    uint32
	CSeqMethod []byte

	// From (compact f) and To (compact t): user and host of the URI and the
	// tag parameter. A bracketed IPv6 host keeps its brackets, as RFC 3261
	// writes it ("[2001:db8::1]"); a tel: URI gives its number as the user.
	FromUser, FromHost, FromTag []byte
	ToUser, ToHost, ToTag       []byte
	// FromName and ToName are the display names of From and To: the
	// content of a quoted display name with its escapes kept (\" stays
	// two bytes), or a token display name as written. Empty when there is
	// none.
	FromName, ToName []byte

	// ViaBranch is the branch parameter of the top Via: the first value of
	// the first Via (compact v) header.
	ViaBranch []byte

	// UserAgent is the User-Agent header, or Server when there is none.
	UserAgent []byte
	// Contact is the raw value of the first Contact (compact m) header.
	Contact []byte
	// ContentType is the raw value of Content-Type (compact c).
	ContentType []byte
	// HasSDP reports an application/sdp body that is not blank, either
	// the whole body or one part of a multipart body.
	HasSDP bool

	// Correlation is the value of the first configured correlation header
	// present (see [NewExtractor]); for P-Charging-Vector, its icid-value.
	Correlation []byte
	// CorrelationHeader names the header Correlation came from, in lower
	// case as configured ("x-cid"); empty when Correlation is.
	CorrelationHeader string

	// Body is everything after the empty line that ends the headers, nil
	// when there is none.
	Body []byte
}
