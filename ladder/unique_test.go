package ladder

import (
	"slices"
	"testing"
	"time"
)

// TestUnique checks that Unique keeps exactly the rows Build draws as
// neither a retransmission nor a hop copy, in Build's order.
func TestUnique(t *testing.T) {
	const uac, a, b, uas = "10.0.0.10:5060", "10.0.0.1:5060", "10.0.0.2:5060", "10.0.0.20:5060"
	on := func(m Message, seq int, at time.Duration, capture uint32) Message {
		m.Seq, m.Time, m.CaptureID = seq, t0.Add(at), capture
		return m
	}
	invite := msg(100, 0, uac, a, "INVITE") // the seq in the bytes tells packets apart
	inviteAB := msg(200, 0, a, b, "INVITE")
	ok := msg(400, 0, uas, b, "200 OK")
	msgs := []Message{
		on(invite, 1, 0, 1),
		on(inviteAB, 2, time.Millisecond, 2), // B's copy, stamped first ...
		on(inviteAB, 3, 2*time.Millisecond, 1),
		on(msg(300, 0, b, uas, "INVITE"), 4, 3*time.Millisecond, 2),
		on(invite, 5, 500*time.Millisecond, 1), // the UAC resends
		on(ok, 6, 600*time.Millisecond, 2),
		on(ok, 7, 1100*time.Millisecond, 2), // the UAS resends
	}
	var want []int
	for _, r := range Build(msgs, nil, Options{PageSize: MaxPageSize}).Rows {
		if !r.Retransmission && !r.Hop {
			want = append(want, r.Seq)
		}
	}
	var got []int
	for _, m := range Unique(msgs) {
		got = append(got, m.Seq)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Unique kept %v, Build draws %v as first copies", got, want)
	}
	if wantSeqs := []int{1, 3, 4, 6}; !slices.Equal(got, wantSeqs) {
		t.Fatalf("Unique kept %v, want %v (the sender's copy of the hop, no resends)", got, wantSeqs)
	}
	if msgs[1].Seq != 2 {
		t.Fatal("Unique reordered its argument")
	}
}
