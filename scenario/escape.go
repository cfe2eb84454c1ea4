package scenario

import (
	"net/netip"
	"strconv"
	"strings"
)

// lit returns captured text as SIPp message text that means exactly that
// text: SIPp expands "[...]" as a keyword (and "[file name=...]" reads a
// local file into the message), treats "\x" as the start of an escape, and
// its XML reader takes printable ASCII only. Everything else is written as
// \xHH, which SIPp turns back into the byte. With ']' escaped, "]]>"
// cannot occur either, so the CDATA section holding the message cannot be
// closed from inside.
func lit(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '[' && c != ']' && c != '\\' {
			b.WriteByte(c)
			continue
		}
		b.WriteString(`\x`)
		b.WriteByte(hexDigit[c>>4])
		b.WriteByte(hexDigit[c&0xf])
	}
	return b.String()
}

const hexDigit = "0123456789ABCDEF"

// guardEdges escapes a space at either end of a line: SIPp strips the
// spaces around every line of a <send> (its XML is indented), which would
// change a folded header or a body line. Tabs never reach here unescaped.
func guardEdges(line string) string {
	if strings.HasPrefix(line, " ") {
		line = `\x20` + line[1:]
	}
	if strings.HasSuffix(line, " ") {
		line = line[:len(line)-1] + `\x20`
	}
	return line
}

// swap is a captured address and the keywords that replace it.
type swap struct {
	from, to string
}

// addrSwaps returns the replacements of an endpoint's captured address:
// "ip:port" by ipKW:portKW, then the bare ip by ipKW.
func addrSwaps(ap netip.AddrPort, ipKW, portKW string) []swap {
	if !ap.IsValid() {
		return nil
	}
	ip := ap.Addr().Unmap().String()
	return []swap{
		{from: ip + ":" + strconv.Itoa(int(ap.Port())), to: ipKW + ":" + portKW},
		{from: ip, to: ipKW},
	}
}

// litSwap is lit, except that the captured addresses in swaps become their
// keywords. An address only matches whole: 10.0.0.1 is not replaced inside
// 10.0.0.12 or 110.0.0.1. Earlier swaps win at a position, so "ip:port"
// goes before the bare "ip".
func litSwap(s string, swaps []swap) string {
	var b strings.Builder
	start := 0
	for i := 0; i < len(s); i++ {
		if i > 0 && addrByte(s[i-1]) {
			continue
		}
		for _, sw := range swaps {
			end := i + len(sw.from)
			if sw.from != "" && strings.HasPrefix(s[i:], sw.from) && (end == len(s) || !addrByte(s[end])) {
				b.WriteString(lit(s[start:i]))
				b.WriteString(sw.to)
				start, i = end, end-1
				break
			}
		}
	}
	b.WriteString(lit(s[start:]))
	return b.String()
}

// addrByte reports a byte that may continue an IPv4 address or a port.
func addrByte(c byte) bool { return isDigit(c) || c == '.' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func itoa(n int) string { return strconv.Itoa(n) }
