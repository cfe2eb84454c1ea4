package callrec

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope/sip"
)

// t0 is when every scenario starts unless a test moves it.
var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// scenario is a call read from testdata/NAME.sip: messages, each after a
// line "@ OFFSET SRC > DST NODE" (OFFSET a Go duration from the start).
// Lines starting with '#' before the first message are a comment. The SIP
// text is written with LF line ends and sent with CRLF.
type scenario struct {
	name     string
	callID   string
	messages []Message
}

func loadScenario(tb testing.TB, name string, start time.Time) scenario {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name+".sip"))
	if err != nil {
		tb.Fatal(err)
	}
	sc := scenario{name: name}
	x := sip.NewExtractor(sip.DefaultCorrelationHeaders)
	parts := strings.Split("\n"+string(raw), "\n@ ")
	for _, p := range parts[1:] {
		head, body, _ := strings.Cut(p, "\n")
		f := strings.Fields(head)
		if len(f) != 5 || f[2] != ">" {
			tb.Fatalf("%s: bad message line %q", name, head)
		}
		off, err := time.ParseDuration(f[0])
		if err != nil {
			tb.Fatalf("%s: %q: %v", name, head, err)
		}
		body = strings.TrimRight(body, "\n")
		if strings.Contains(body, "\n\n") {
			body += "\n"
		} else {
			body += "\n\n"
		}
		payload := []byte(strings.ReplaceAll(body, "\n", "\r\n"))
		var m sip.Message
		if err := x.Extract(payload, &m); err != nil {
			tb.Fatalf("%s: %q: %v", name, head, err)
		}
		sc.callID = string(m.CallID)
		in := Message{At: start.Add(off), Src: netip.MustParseAddrPort(f[1]), Dst: netip.MustParseAddrPort(f[3]),
			Node: f[4], Payload: payload}
		if len(m.Correlation) > 0 {
			in.Correlation, in.CorrelationSource = string(m.Correlation), m.CorrelationHeader
		}
		sc.messages = append(sc.messages, in)
	}
	if len(sc.messages) == 0 {
		tb.Fatalf("%s: no messages", name)
	}
	return sc
}

// stateOf folds msgs into one State, as one batch would.
func stateOf(tb testing.TB, msgs []Message) *State {
	tb.Helper()
	b := NewBatch()
	for i := range msgs {
		var m sip.Message
		if err := sip.NewExtractor(nil).Extract(msgs[i].Payload, &m); err != nil {
			tb.Fatal(err)
		}
		if !b.AddSIP(1, m.CallID, &msgs[i]) {
			tb.Fatalf("message %d refused", i)
		}
	}
	st := b.States()
	if len(st) != 1 {
		tb.Fatalf("%d calls in one scenario", len(st))
	}
	return st[0].State
}

func encode(tb testing.TB, s *State) []byte {
	tb.Helper()
	b, err := s.AppendBinary(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// shuffledMerge splits msgs, in an order and at points drawn from rng,
// into batches, folds each into a State, round-trips each through its
// encoding (as storage does), and merges them in another drawn order.
func shuffledMerge(tb testing.TB, msgs []Message, rng *rand.Rand) *State {
	tb.Helper()
	perm := rng.Perm(len(msgs))
	var parts [][]Message
	var cur []Message
	for _, i := range perm {
		cur = append(cur, msgs[i])
		if rng.IntN(3) == 0 {
			parts, cur = append(parts, cur), nil
		}
	}
	if len(cur) > 0 {
		parts = append(parts, cur)
	}
	states := make([]*State, len(parts))
	for i, p := range parts {
		s, err := UnmarshalState(encode(tb, stateOf(tb, p)))
		if err != nil {
			tb.Fatal(err)
		}
		states[i] = &s
	}
	// Merge in a random tree shape: pick two, merge, put back.
	for len(states) > 1 {
		i, j := rng.IntN(len(states)), rng.IntN(len(states)-1)
		if j >= i {
			j++
		}
		states[i].Merge(states[j])
		states = append(states[:j], states[j+1:]...)
	}
	return states[0]
}

func sameState(a, b []byte) bool { return bytes.Equal(a, b) }
