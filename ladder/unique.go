package ladder

import (
	"cmp"
	"slices"
)

// Unique returns msgs in the order Build draws them, without the rows Build
// marks as retransmissions or as the second capture node's copy of a hop:
// every packet once, as it first crossed the wire. A SIPp scenario built
// from a call (package scenario) must neither send a packet twice nor
// expect it twice.
func Unique(msgs []Message) []Message {
	sorted := inDrawingOrder(msgs)
	kinds := classify(sorted)
	out := sorted[:0]
	for i, m := range sorted {
		if !kinds[i].retransmission && !kinds[i].hop {
			out = append(out, m)
		}
	}
	return out
}

// inDrawingOrder returns a copy of msgs in capture order (Message.Seq),
// each packet two nodes saw with the sender's copy first (senderFirst).
func inDrawingOrder(msgs []Message) []Message {
	sorted := slices.Clone(msgs)
	slices.SortStableFunc(sorted, func(a, b Message) int { return cmp.Compare(a.Seq, b.Seq) })
	senderFirst(sorted)
	return sorted
}
