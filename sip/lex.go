package sip

// Byte-level helpers shared by the header, URI, multipart and SDP code. They
// work on slices of the payload and never allocate.

// lowerTab maps every byte to its ASCII lower case; other bytes map to
// themselves. A table, because OR-ing 0x20 would also fold '\r' onto '-' and
// make "Call\rID" match "call-id".
var lowerTab = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byte(c) + 'a' - 'A'
	}
	return t
}()

// tokenTab marks the RFC 3261 token characters, used to validate methods.
var tokenTab = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-.!%*_+`'~" {
		t[c] = true
	}
	return t
}()

// eqFold reports whether b equals lower, ignoring ASCII case in b. lower must
// already be lower case.
func eqFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lowerTab[b[i]] != lower[i] {
			return false
		}
	}
	return true
}

// hasPrefixFold reports whether b starts with lower, ignoring ASCII case in b.
func hasPrefixFold(b []byte, lower string) bool {
	return len(b) >= len(lower) && eqFold(b[:len(lower)], lower)
}

// Character classes, as tables: the scanning loops below run over every
// byte of the headers Extract reads, and a load beats four compares.
const (
	classWS        = 1 << iota // SP HTAB CR LF: linear white space, CR LF included for folded values
	classNameStop              // ends a parameter name: = ; , or white space
	classValueStop             // ends a token parameter value: ; , or white space
	classHostStop              // ends a host in a URI: : ; ? > , or white space
)

var classTab = func() (t [256]uint8) {
	for _, c := range " \t\r\n" {
		t[c] |= classWS | classNameStop | classValueStop
	}
	for _, c := range ";," {
		t[c] |= classNameStop | classValueStop
	}
	t['='] |= classNameStop
	for _, c := range " \t\r\n:;?>," {
		t[c] |= classHostStop
	}
	return t
}()

// isWS reports linear white space, including the CR and LF a folded value
// keeps inside it.
func isWS(c byte) bool { return classTab[c]&classWS != 0 }

func trimWS(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isWS(b[i]) {
		i++
	}
	for j > i && isWS(b[j-1]) {
		j--
	}
	return b[i:j]
}

func trimLeftWS(b []byte) []byte {
	i := 0
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return b[i:]
}

// isBlank reports whether b holds nothing but white space.
func isBlank(b []byte) bool { return len(trimLeftWS(b)) == 0 }

// skipQuoted returns the index just past the quoted-string that starts at
// b[i] == '"', honouring backslash escapes, or len(b) when it never closes.
func skipQuoted(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// param returns the value of the parameter called name (lower case) in a
// parameter list such as `tag=1928;lr;branch="z9"`. list starts at the first
// parameter, after its leading ';'. Names are case-insensitive; a quoted value
// is returned without its quotes; a parameter without a value gives an empty
// non-nil slice. With stopAtComma the list ends at the first ',' outside
// quotes (the end of one value of a multi-valued header such as Via).
// Returns nil when the parameter is absent.
//
//	list := param *( *LWS ";" *LWS param )
//	param := name [ *LWS "=" *LWS ( token / quoted-string ) ]
func param(list []byte, name string, stopAtComma bool) []byte {
	i := 0
	for i < len(list) {
		for i < len(list) && isWS(list[i]) {
			i++
		}
		ns := i
		for i < len(list) && classTab[list[i]]&classNameStop == 0 {
			i++
		}
		pname := list[ns:i]
		for i < len(list) && isWS(list[i]) {
			i++
		}
		val := list[i:i]
		if i < len(list) && list[i] == '=' {
			i++
			for i < len(list) && isWS(list[i]) {
				i++
			}
			if i < len(list) && list[i] == '"' {
				end := skipQuoted(list, i)
				if end > i+1 && list[end-1] == '"' {
					val = list[i+1 : end-1]
				} else {
					val = list[i+1 : end]
				}
				i = end
			} else {
				vs := i
				for i < len(list) && classTab[list[i]]&classValueStop == 0 {
					i++
				}
				val = list[vs:i]
			}
		}
		if eqFold(pname, name) {
			return val
		}
		// Skip whatever is left of this parameter, up to the next ';'.
		for i < len(list) && list[i] != ';' {
			switch list[i] {
			case ',':
				if stopAtComma {
					return nil
				}
				i++
			case '"':
				i = skipQuoted(list, i)
			default:
				i++
			}
		}
		i++ // the ';'
	}
	return nil
}
