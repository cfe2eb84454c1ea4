package templates

import (
	"html"
	"testing"
)

// FuzzEscape: the ladder's hand-written SVG escapes exactly as templ does
// (html.EscapeString), for any bytes SIP may carry.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "INVITE", `"><svg onload=alert(1)>`, "a&b'c<d>e\"", "\x00\r\n\u202e", "é<"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(escape([]byte("x"), s)), "x"+html.EscapeString(s); got != want {
			t.Fatalf("escape(%q) = %q, want %q", s, got, want)
		}
	})
}
