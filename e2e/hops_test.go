package e2e

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"
)

// Hop is one SIP message as one capture node reported it: the unit the
// capture tests count. A message crossing two proxies is four hops: each
// proxy reports it once when it receives it and once when it sends it on.
type Hop struct {
	CaptureID uint32
	Src, Dst  netip.AddrPort
	CallID    string
	What      string // method, or status code
	CSeq      int64
}

func (h Hop) String() string {
	return fmt.Sprintf("node %d %s -> %s %s cseq %d %s", h.CaptureID, h.Src, h.Dst, h.What, h.CSeq, h.CallID)
}

// probeCallIDPrefix marks the harness's readiness probes (see sipPing):
// a proxy may take a probe before its workers run and never report it, so
// the probes are left out of the expected hops.
const probeCallIDPrefix = "e2e-probe-"

// expectedHops derives from what crossed the wire the hops each proxy must
// report: with siptrace's trace_mode 1, one per SIP message the proxy
// received and one per message it sent.
func expectedHops(wire []WireMsg, proxies ...Proxy) []Hop {
	var hops []Hop
	for _, m := range wire {
		if strings.HasPrefix(m.CallID, probeCallIDPrefix) {
			continue
		}
		for _, p := range proxies {
			a := netip.MustParseAddrPort(p.Addr)
			if m.Src == a || m.Dst == a {
				hops = append(hops, Hop{CaptureID: p.CaptureID, Src: m.Src, Dst: m.Dst, CallID: m.CallID, What: m.What, CSeq: m.CSeq})
			}
		}
	}
	return hops
}

// withoutProbes drops the readiness probes from reported hops.
func withoutProbes(hops []Hop) []Hop {
	var out []Hop
	for _, h := range hops {
		if !strings.HasPrefix(h.CallID, probeCallIDPrefix) {
			out = append(out, h)
		}
	}
	return out
}

// diffHops compares two multisets of hops and describes the difference:
// hops missing from got and hops got has in excess. Empty means equal.
func diffHops(want, got []Hop) string {
	count := map[Hop]int{}
	for _, h := range want {
		count[h]++
	}
	for _, h := range got {
		count[h]--
	}
	var lines []string
	for h, n := range count {
		switch {
		case n > 0:
			lines = append(lines, fmt.Sprintf("missing x%d: %s", n, h))
		case n < 0:
			lines = append(lines, fmt.Sprintf("extra   x%d: %s", -n, h))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// hopsByCallID counts hops per Call-ID and capture node, for messages.
func hopsByCallID(hops []Hop) map[string]map[uint32]int {
	out := map[string]map[uint32]int{}
	for _, h := range hops {
		if out[h.CallID] == nil {
			out[h.CallID] = map[uint32]int{}
		}
		out[h.CallID][h.CaptureID]++
	}
	return out
}

// mustSameHops fails t unless got is exactly want.
func mustSameHops(t *testing.T, what string, want, got []Hop) {
	t.Helper()
	if d := diffHops(want, got); d != "" {
		t.Errorf("%s: %d hops expected, %d reported:\n%s", what, len(want), len(got), d)
	}
}
