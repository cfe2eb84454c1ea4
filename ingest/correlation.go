package ingest

// Where a stored correlation value came from (row.corrSrc). A view token
// follows a leg joined by a value the capture node set (the HEP chunk), but
// not one the call's own SIP headers assert: the endpoints write those, and
// a call carrying "X-CID: <someone else's Call-ID>" must not open that call
// to its token holder.
const (
	corrUnknown uint8 = 0 // no value, or spooled before sources were kept
	corrHEP     uint8 = 1 // HEP correlation chunk (0x0011)
	corrHeader0 uint8 = 2 // corrHeader0+k: correlation header k
	// corrMax is the largest source the spool's 5 flag bits hold.
	corrMax uint8 = 31
)

// corrSource is the source of a row's correlation value: the HEP chunk when
// the packet had one, else the header among names (the extractor's, by
// index) that header names.
func corrSource(names []string, fromHEP bool, header string) uint8 {
	if fromHEP {
		return corrHEP
	}
	if header == "" {
		return corrUnknown
	}
	for k, n := range names {
		if n == header && int(corrHeader0)+k <= int(corrMax) {
			return corrHeader0 + uint8(k)
		}
	}
	return corrUnknown
}

// corrSourceName is how the correlation_source column names src: "hep",
// the header in lower case, or "" (NULL) when unknown.
func corrSourceName(names []string, src uint8) string {
	switch {
	case src == corrHEP:
		return "hep"
	case src >= corrHeader0 && int(src-corrHeader0) < len(names):
		return names[src-corrHeader0]
	}
	return ""
}

// appendCorrSource appends the correlation_source value of r: NULL when r
// has no correlation value or its source is unknown.
func appendCorrSource(b []byte, r *row, names []string) []byte {
	name := corrSourceName(names, r.corrSrc)
	if name == "" || len(r.field(fCorrelation)) == 0 {
		return appendNull(b)
	}
	b = append(b, byte(len(name)>>24), byte(len(name)>>16), byte(len(name)>>8), byte(len(name)))
	return append(b, name...)
}
