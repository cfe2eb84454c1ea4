package hep

import "errors"

// Decode errors. Decode wraps them with the offset and chunk at fault; test
// with errors.Is and label with Reason.
var (
	// ErrShort: the buffer ends before the header, or before the total
	// length the v3 header declares.
	ErrShort = errors.New("hep: truncated packet")
	// ErrMagic: neither "HEP3"/"EEP3" nor a v1/v2 version byte.
	ErrMagic = errors.New("hep: bad magic")
	// ErrLength: a v3 total length below 6, or a v1/v2 header length that
	// does not match its family.
	ErrLength = errors.New("hep: bad length")
	// ErrChunk: a chunk shorter than its 6-byte header, running past the
	// packet, or of the wrong size for its type.
	ErrChunk = errors.New("hep: bad chunk")
	// ErrFamily: an IP family other than 2 (IPv4) or 10 (IPv6).
	ErrFamily = errors.New("hep: bad ip family")
	// ErrInflate: chunk 0x0010 is neither gzip, zlib nor raw deflate.
	ErrInflate = errors.New("hep: cannot inflate payload")
	// ErrTooLarge: the inflated payload exceeds Decoder.MaxInflated.
	ErrTooLarge = errors.New("hep: inflated payload too large")
	// ErrNoPayload: no payload chunk, or an empty one. The rest of the
	// Packet is filled in, so a caller can still see who sent it.
	ErrNoPayload = errors.New("hep: no payload")
)

// Reason returns a short snake_case label for err, fit for a metrics label
// with a bounded set of values: "" for nil, "hep_other" for errors that are
// none of this package's.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrShort):
		return "hep_truncated"
	case errors.Is(err, ErrMagic):
		return "hep_bad_magic"
	case errors.Is(err, ErrLength):
		return "hep_bad_length"
	case errors.Is(err, ErrChunk):
		return "hep_bad_chunk"
	case errors.Is(err, ErrFamily):
		return "hep_bad_family"
	case errors.Is(err, ErrTooLarge):
		return "hep_too_large"
	case errors.Is(err, ErrInflate):
		return "hep_inflate_failed"
	case errors.Is(err, ErrNoPayload):
		return "hep_no_payload"
	default:
		return "hep_other"
	}
}
