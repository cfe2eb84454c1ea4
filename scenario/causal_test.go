package scenario

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"
)

// TestCausalOrder stores answered.txt as Kamailio's siptrace can: a proxy
// stamps what it sends after sending it, so the endpoint's instant answer
// is stamped (and read back) first. The scenarios must come out as from the
// causal capture.
func TestCausalOrder(t *testing.T) {
	msgs := loadCall(t, "answered.txt")
	want, wantUAS, err := Pair(msgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	find := func(first string, src, dst string) int {
		i := slices.IndexFunc(msgs, func(m Message) bool {
			return bytes.HasPrefix(m.Payload, []byte(first)) && m.Src == netip.MustParseAddrPort(src) && m.Dst == netip.MustParseAddrPort(dst)
		})
		if i < 0 {
			t.Fatalf("no %q %s > %s in the fixture", first, src, dst)
		}
		return i
	}
	moveBefore := func(from, to int) {
		m := msgs[from]
		msgs = slices.Insert(slices.Delete(msgs, from, from+1), to, m)
	}
	// The caller's ACK read before the 200 it acknowledges, the callee's
	// 100 before the INVITE, the callee's 200 to the BYE before the BYE.
	moveBefore(find("ACK ", "10.0.0.10:5060", "10.0.0.1:5060"), find("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bK-uac-1", "10.0.0.1:5060", "10.0.0.10:5060"))
	moveBefore(find("SIP/2.0 100", "10.0.0.20:5060", "10.0.0.2:5060"), find("INVITE ", "10.0.0.2:5060", "10.0.0.20:5060"))
	moveBefore(find("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-b-3", "10.0.0.20:5060", "10.0.0.2:5060"), find("BYE ", "10.0.0.2:5060", "10.0.0.20:5060"))

	got, gotUAS, err := Pair(msgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.XML, want.XML) {
		t.Errorf("uac from the stamped order:\n%s\nwant:\n%s", got.XML, want.XML)
	}
	if !bytes.Equal(gotUAS.XML, wantUAS.XML) {
		t.Errorf("uas from the stamped order:\n%s\nwant:\n%s", gotUAS.XML, wantUAS.XML)
	}
}
