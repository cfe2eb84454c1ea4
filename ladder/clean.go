package ladder

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// clean makes an attacker-controlled string fit for one line of display:
// invalid UTF-8 becomes U+FFFD, control characters (CR and LF included)
// become spaces, bidirectional overrides and other format characters are
// dropped (they can make "evil.com" read as "moc.live"), and a longer
// result is cut to at most max runes followed by an ellipsis. It does not
// escape: templ does.
func clean(s string, max int) string {
	if displayable(s, max) {
		return s // nearly every label: no copy
	}
	return cleanRunes(s, max)
}

// displayable reports whether clean would return s unchanged because it
// is short printable ASCII with single spaces inside only.
func displayable(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ':
			if i == 0 || i == len(s)-1 || s[i-1] == ' ' {
				return false
			}
		case c < 0x21 || c > 0x7e:
			return false
		}
	}
	return true
}

// cleanRunes is clean's general case, rune by rune.
func cleanRunes(s string, max int) string {
	var b strings.Builder
	b.Grow(min(len(s), max*4))
	n := 0
	pending := false // a space to write before the next visible rune
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size <= 1:
			r = '\uFFFD'
		case unicode.IsControl(r) || unicode.IsSpace(r):
			pending = n > 0 // collapse runs, trim both ends
			continue
		case unicode.Is(unicode.Cf, r):
			continue
		}
		need := 1
		if pending {
			need = 2
		}
		if n+need > max {
			return b.String() + "…"
		}
		if pending {
			b.WriteByte(' ')
			n++
			pending = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
