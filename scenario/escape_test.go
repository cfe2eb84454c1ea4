package scenario

import (
	"net/netip"
	"testing"
)

func TestLit(t *testing.T) {
	for in, want := range map[string]string{
		"plain text; a=b":   "plain text; a=b",
		"[file name=x]":     `\x5Bfile name=x\x5D`,
		"]]>":               `\x5D\x5D>`,
		`back\x41slash`:     `back\x5Cx41slash`,
		"tab\there\x00\xff": `tab\x09here\x00\xFF`,
		"ça":                `\xC3\xA7a`,
	} {
		if got := lit(in); got != want {
			t.Errorf("lit(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLitSwap(t *testing.T) {
	swaps := append(addrSwaps(netip.MustParseAddrPort("10.0.0.1:5060"), "[local_ip]", "[local_port]"),
		swap{from: "", to: "[never]"}) // an empty address matches nothing
	for in, want := range map[string]string{
		"sip:a@10.0.0.1:5060;x":          "sip:a@[local_ip]:[local_port];x",
		"10.0.0.1":                       "[local_ip]",
		"10.0.0.12 110.0.0.1 10.0.0.1.5": "10.0.0.12 110.0.0.1 10.0.0.1.5",
		"10.0.0.1:5062, [10.0.0.1]":      `[local_ip]:5062, \x5B[local_ip]\x5D`,
		"10.0.0.1:50601":                 "[local_ip]:50601",
	} {
		if got := litSwap(in, swaps); got != want {
			t.Errorf("litSwap(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGuardEdges(t *testing.T) {
	for in, want := range map[string]string{"  two": `\x20 two`, "end ": `end\x20`, " ": `\x20`, "a b": "a b"} {
		if got := guardEdges(in); got != want {
			t.Errorf("guardEdges(%q) = %q, want %q", in, got, want)
		}
	}
}
