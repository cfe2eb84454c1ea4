package scenario

// causal returns a side's messages in an order SIP allows. Capture times
// are not always causal even on one node: Kamailio's siptrace stamps a
// message it sends after sending it, so the endpoint's instant reaction,
// stamped on arrival by another worker, can come first (an ACK before the
// 200 it acknowledges, on loopback). Each message is moved after the last
// message it must follow (see mustFollow); an order that cannot be
// satisfied (a cycle, which only nonsense input makes) is left as
// captured.
func causal(msgs []*msg) []*msg {
	out := append([]*msg(nil), msgs...)
	moves := 0
	for i := 0; i < len(out); {
		last := -1
		for j := i + 1; j < len(out); j++ {
			if mustFollow(out[i], out[j]) {
				last = j
			}
		}
		if last < 0 {
			i++
			continue
		}
		// Moving out[i] later cannot break what comes before it: those
		// messages only follow messages before them.
		if moves++; moves > 2*len(out) {
			return msgs
		}
		n := out[i]
		copy(out[i:last], out[i+1:last+1])
		out[last] = n
	}
	return out
}

// mustFollow reports whether n can only have been sent after m: an answer
// after its request, an ACK after the final answer to its INVITE, a CANCEL
// after its INVITE, an INVITE's failure after the CANCEL of it, and a
// request after the final answers to its sender's requests of lower CSeq
// (the REGISTER with credentials after the 401).
func mustFollow(n, m *msg) bool {
	if n.fromTag != m.fromTag {
		return false
	}
	switch {
	case !n.request && m.request:
		sameTxn := m.cseq == n.cseq && m.method == n.cseqMethod
		cancelled := m.method == "CANCEL" && n.cseqMethod == "INVITE" && n.status >= 300 && m.cseq == n.cseq
		return sameTxn || cancelled
	case n.request && !m.request && m.status >= 200:
		switch n.method {
		case "ACK":
			return m.cseqMethod == "INVITE" && m.cseq == n.cseq
		case "CANCEL":
			return false
		}
		return m.cseq < n.cseq
	case n.request && m.request:
		return n.method == "CANCEL" && m.method == "INVITE" && m.cseq == n.cseq
	}
	return false
}
