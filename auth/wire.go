package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file parses the two JSON objects of a view token by hand rather than
// with json.Unmarshal into a struct, because encoding/json matches field
// names case-insensitively and lets the last duplicate win. A token whose
// header says {"alg":"EdDSA","ALG":"none"} or whose claims carry two "tid"
// members must be refused, not interpreted: two parsers reading the same
// token differently is how JWT libraries get bypassed.

// errShape is an internal marker; Verify turns it into ErrMalformed with a
// fixed message, so JSON parser errors (which quote input) never surface.
var errShape = errors.New("shape")

// splitCompact splits a compact JWS into its three segments. It refuses
// anything but exactly three non-empty segments of the base64url alphabet:
// no padding "=", no standard-base64 "+" or "/", no whitespace (the base64
// package would silently skip "\r" and "\n"), so JSON serialization ("{")
// and JWE (five segments) fail here too.
func splitCompact(token string) (header, payload, sig string, ok bool) {
	dots := 0
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c == '.':
			dots++
			if dots > 2 {
				return "", "", "", false
			}
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return "", "", "", false
		}
	}
	if dots != 2 {
		return "", "", "", false
	}
	header, rest, _ := strings.Cut(token, ".")
	payload, sig, _ = strings.Cut(rest, ".")
	if header == "" || payload == "" || sig == "" {
		return "", "", "", false
	}
	return header, payload, sig, true
}

// b64 decodes one segment strictly (no padding, canonical trailing bits).
var b64 = base64.RawURLEncoding.Strict()

// jsonObject reads one JSON object into its members, refusing duplicates,
// non-objects and trailing data. Member names are compared exactly, after
// decoding (so "t\u0069d" and "tid" are duplicates). The values are
// subslices of data.
//
// json.Valid checks the whole document first; the walk below then only
// has to find where each member's name and value start and end, which on
// valid JSON needs no more than strings and nesting. (It replaced a walk
// with json.Decoder.Token, which cost every view ~100 allocations.)
func jsonObject(data []byte) (map[string]json.RawMessage, error) {
	if !json.Valid(data) {
		return nil, errShape
	}
	i := skipSpace(data, 0)
	if data[i] != '{' {
		return nil, errShape
	}
	m := make(map[string]json.RawMessage, 12)
	i = skipSpace(data, i+1)
	for data[i] != '}' {
		end := stringEnd(data, i)
		name, ok := memberName(data[i:end])
		if !ok {
			return nil, errShape
		}
		if _, dup := m[name]; dup {
			return nil, errShape
		}
		i = skipSpace(data, skipSpace(data, end)+1) // past the colon
		end = valueEnd(data, i)
		m[name] = data[i:end:end]
		i = skipSpace(data, end)
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	return m, nil
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string literal starting at i.
func stringEnd(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(data)
}

// valueEnd returns the index just past the value starting at i.
func valueEnd(data []byte, i int) int {
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				i = stringEnd(data, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(data)
	}
	for i < len(data) && !strings.ContainsRune(",}] \t\r\n", rune(data[i])) {
		i++
	}
	return i
}

// memberName decodes a member name literal (quotes included): as is when
// it holds no escape and is valid UTF-8, else as encoding/json decodes it.
func memberName(lit []byte) (string, bool) {
	if inner := lit[1 : len(lit)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	var name string
	return name, json.Unmarshal(lit, &name) == nil
}

// header is what Verify needs from the JOSE header.
type header struct {
	alg string
	kid string
}

// allowedHeader lists every header member a view token may carry. Anything
// else is refused rather than ignored: jku/x5u/jwk/x5c would name keys the
// attacker controls, crit/b64/zip change how the token is processed, and
// enc/epk mean JWE.
var allowedHeader = map[string]bool{"alg": true, "typ": true, "kid": true}

func parseHeader(data []byte) (header, string) {
	m, err := jsonObject(data)
	if err != nil {
		return header{}, "header is not a JSON object"
	}
	for name := range m {
		if !allowedHeader[name] {
			switch name {
			case "jku", "x5u", "x5c", "jwk", "crit":
				return header{}, "header carries a forbidden key reference or crit"
			}
			return header{}, "header carries an unexpected member"
		}
	}
	var h header
	var typ string
	if !stringMember(m, "alg", &h.alg) || !stringMember(m, "typ", &typ) || !stringMember(m, "kid", &h.kid) {
		return header{}, "header lacks alg, typ or kid"
	}
	// Exact, case-sensitive: "none", "None", "noNE", HS256, RS256, ES384 all
	// fall out here, before any key is looked up.
	if h.alg != "EdDSA" && h.alg != "ES256" {
		return header{}, "algorithm not allowed"
	}
	if typ != TokenType {
		return header{}, "wrong typ"
	}
	if !ValidKID(h.kid) {
		return header{}, "kid is not 1..128 printable characters"
	}
	return h, ""
}

func stringMember(m map[string]json.RawMessage, name string, dst *string) bool {
	raw, ok := m[name]
	if !ok || len(raw) < 2 || raw[0] != '"' {
		return false
	}
	// Fast path for the common case: the decoder already validated the
	// literal, so without escapes the string is the bytes between quotes.
	if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		*dst = string(inner)
		return true
	}
	return json.Unmarshal(raw, dst) == nil
}

// maxNumericDate is 9999-12-31T23:59:59Z; beyond it time arithmetic and
// NumericDate conversions stop being meaningful.
const maxNumericDate = 253402300799

// numericDate parses a JSON NumericDate: seconds since the epoch, integer or
// decimal (RFC 7519 §2), within [0, year 9999].
func numericDate(m map[string]json.RawMessage, name string) (time.Time, bool) {
	raw, ok := m[name]
	if !ok || len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return time.Time{}, false
	}
	s := string(raw)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		if i < 0 || i > maxNumericDate {
			return time.Time{}, false
		}
		return time.Unix(i, 0).UTC(), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// maxClaimLen bounds the string claims; the token's 4 KiB already bounds
// them, this keeps a tid or jti usable as a Redis key part.
const maxClaimLen = 256

// parseClaims checks that every required claim is present with its JSON
// type and returns them. Policy (times, audience, limits) is checked by
// Verify after the signature.
func parseClaims(data []byte) (*Claims, string) {
	m, err := jsonObject(data)
	if err != nil {
		return nil, "claims are not a JSON object"
	}
	c := &Claims{}
	for _, s := range []struct {
		name string
		dst  *string
	}{{"iss", &c.Issuer}, {"tid", &c.Tenant}, {"call_id", &c.CallID}, {"jti", &c.ID}} {
		if !stringMember(m, s.name, s.dst) || *s.dst == "" || len(*s.dst) > maxClaimLen {
			return nil, "missing or invalid " + s.name
		}
	}
	aud, ok := audience(m["aud"])
	if !ok {
		return nil, "missing or invalid aud"
	}
	c.Audience = aud
	for _, d := range []struct {
		name string
		dst  *time.Time
	}{{"window_start", &c.WindowStart}, {"window_end", &c.WindowEnd}, {"iat", &c.IssuedAt}, {"exp", &c.Expiry}} {
		t, ok := numericDate(m, d.name)
		if !ok {
			return nil, "missing or invalid " + d.name
		}
		*d.dst = t
	}
	if _, present := m["nbf"]; present {
		t, ok := numericDate(m, "nbf")
		if !ok {
			return nil, "invalid nbf"
		}
		c.NotBefore = t
	}
	if raw, present := m["scp"]; present {
		if err := json.Unmarshal(raw, &c.Scopes); err != nil || len(raw) == 0 || raw[0] != '[' {
			return nil, "invalid scp"
		}
	}
	return c, ""
}

// audience accepts "aud" as a string or as an array of exactly one string
// (RFC 7519 allows both; more than one audience means the token was meant
// for someone else too, which a viewer link never is).
func audience(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 {
		return "", false
	}
	var s string
	if raw[0] == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	}
	var list []string
	if raw[0] != '[' || json.Unmarshal(raw, &list) != nil || len(list) != 1 {
		return "", false
	}
	return list[0], true
}
