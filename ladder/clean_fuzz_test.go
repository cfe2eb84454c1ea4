package ladder

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzClean checks the promises labels rely on: valid UTF-8, one line, no
// control or format characters, bounded length; and that the ASCII fast
// path answers as the general one does.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"INVITE", "200 OK", "<script>alert(1)</script>", "a\r\nb", "\u202e", "\xff\xfe", strings.Repeat("☎", 100), " 180  Ringing ", "10.0.0.1:5060", "a\x7fb"} {
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max = max%300 + 1
		if max <= 0 {
			max += 300
		}
		got := clean(s, max)
		if slow := cleanRunes(s, max); got != slow {
			t.Fatalf("clean(%q, %d) = %q, but the rune-by-rune path says %q", s, max, got, slow)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8: %q", got)
		}
		if n := utf8.RuneCountInString(got); n > max+1 {
			t.Fatalf("%d runes > %d", n, max+1)
		}
		if strings.HasPrefix(got, " ") || strings.HasSuffix(got, " ") || strings.Contains(got, "  ") {
			t.Fatalf("untrimmed spaces: %q", got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || (unicode.IsSpace(r) && r != ' ') {
				t.Fatalf("rune %U kept in %q", r, got)
			}
		}
	})
}
