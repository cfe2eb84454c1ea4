package callrec

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/callscope/callscope/qos"
)

// want is what a scenario's record must say; nil pointers are "null".
type want struct {
	kind, outcome        string
	final                int // 0: null
	reason               string
	pdd, duration        int64 // ms; -1: null
	answered             time.Duration
	hungUpBy             string
	from, to, ruri       string
	fromName, toName     string
	caller, callee       string
	messages, retrans    int64
	offered, answeredCod []string
	uas, nodes           []string
}

var scenarios = []struct {
	name string
	now  time.Duration // after t0, when the record is read
	want want
}{
	{"answered", time.Hour, want{kind: "invite", outcome: "answered", final: 200, reason: "OK",
		pdd: 1200, duration: 60000, answered: 4200 * time.Millisecond, hungUpBy: "callee",
		from: "alice", to: "bob", ruri: "bob", fromName: "Alice Liddell", toName: "Bob",
		caller: "192.0.2.10:5060", callee: "192.0.2.40:5060", messages: 15, retrans: 1,
		offered: []string{"PCMU/8000", "PCMA/8000", "telephone-event/8000"}, answeredCod: []string{"PCMU/8000", "telephone-event/8000"},
		uas: []string{"Asterisk PBX 20.5.0", "Zoiper rv2.10", "kamailio 5.6"}, nodes: []string{"proxy-a", "sbc"}}},
	{"challenged_busy", time.Hour, want{kind: "invite", outcome: "busy", final: 486, reason: "Busy Here",
		pdd: 90, duration: -1, from: "alice", to: "carol", ruri: "carol",
		caller: "192.0.2.10:5060", callee: "192.0.2.40:5060", messages: 9,
		uas: []string{"Linphone/5.2", "Yealink T46U"}, nodes: []string{"proxy-a"}}},
	{"register", time.Hour, want{kind: "register", outcome: "ok", final: 200, reason: "OK", pdd: -1, duration: -1,
		from: "1001", to: "1001", caller: "203.0.113.7:5060", callee: "192.0.2.20:5060", messages: 4,
		uas: []string{"Linphone-Desktop/5.2.4"}, nodes: []string{"proxy-a"}}},
	{"cancelled", time.Hour, want{kind: "invite", outcome: "cancelled", final: 487, reason: "Request Terminated",
		pdd: 150, duration: -1, hungUpBy: "caller", from: "alice", to: "dave", ruri: "dave", fromName: "Alice",
		caller: "192.0.2.10:5060", callee: "192.0.2.40:5060", messages: 6, nodes: []string{"uas-side"}}},
	{"no_answer", time.Hour, want{kind: "invite", outcome: "no_answer", final: 480, reason: "Temporarily Unavailable",
		pdd: 2000, duration: -1, from: "alice", to: "erin", ruri: "erin",
		caller: "192.0.2.10:5060", callee: "192.0.2.40:5060", messages: 3, answeredCod: []string{"PCMA/8000"},
		nodes: []string{"uas-side"}}},
	{"unanswered", 5 * time.Second, want{kind: "invite", outcome: "in_progress", pdd: -1, duration: -1,
		from: "alice", to: "frank", ruri: "frank", caller: "192.0.2.10:5060", messages: 3, retrans: 2,
		nodes: []string{"uac-side"}}},
	{"unanswered", time.Minute, want{kind: "invite", outcome: "timeout", pdd: -1, duration: -1,
		from: "alice", to: "frank", ruri: "frank", caller: "192.0.2.10:5060", messages: 3, retrans: 2,
		nodes: []string{"uac-side"}}},
	{"callee_reinvite", time.Hour, want{kind: "invite", outcome: "answered", final: 200, reason: "OK",
		pdd: 800, duration: 20000, answered: 800 * time.Millisecond, hungUpBy: "caller",
		from: "alice", to: "gina", ruri: "gina", caller: "192.0.2.10:5060", callee: "192.0.2.40:5060", messages: 7,
		nodes: []string{"edge"}}},
	{"serial_fork", time.Hour, want{kind: "invite", outcome: "busy", final: 486, reason: "Busy Here",
		pdd: 8040, duration: -1, from: "alice", to: "hank", ruri: "hank",
		caller: "192.0.2.10:5060", callee: "192.0.2.42:5060", messages: 6, nodes: []string{"proxy-a"}}},
	{"options", time.Hour, want{kind: "options", outcome: "ok", final: 200, reason: "OK", pdd: -1, duration: -1,
		from: "ping", caller: "192.0.2.20:5060", callee: "192.0.2.40:5060", messages: 2, nodes: []string{"proxy-a"}}},
}

func TestRecord(t *testing.T) {
	for _, tc := range scenarios {
		t.Run(tc.name+"/"+tc.want.outcome, func(t *testing.T) {
			sc := loadScenario(t, tc.name, t0)
			r := stateOf(t, sc.messages).Record(sc.callID, t0.Add(tc.now))
			checkRecord(t, r, sc, tc.want)
		})
	}
}

func checkRecord(t *testing.T, r Record, sc scenario, w want) {
	t.Helper()
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	num := func(p *int64) int64 {
		if p == nil {
			return -1
		}
		return *p
	}
	final := 0
	if r.FinalStatus != nil {
		final = *r.FinalStatus
	}
	first, last := sc.messages[0].At, sc.messages[0].At
	for _, m := range sc.messages {
		first, last = minTime(first, m.At), maxTime(last, m.At)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"call_id", r.CallID, sc.callID},
		{"kind", r.Kind, w.kind},
		{"outcome", r.Outcome, w.outcome},
		{"final_status", final, w.final},
		{"final_reason", str(r.FinalReason), w.reason},
		{"pdd_ms", num(r.PDDMs), w.pdd},
		{"duration_ms", num(r.DurationMs), w.duration},
		{"hung_up_by", str(r.HungUpBy), w.hungUpBy},
		{"from_user", str(r.FromUser), w.from},
		{"to_user", str(r.ToUser), w.to},
		{"ruri_user", str(r.RURIUser), w.ruri},
		{"from_name", str(r.FromName), w.fromName},
		{"to_name", str(r.ToName), w.toName},
		{"caller", str(r.Caller), w.caller},
		{"callee", str(r.Callee), w.callee},
		{"messages", r.Messages, w.messages},
		{"retransmissions", r.Retransmissions, w.retrans},
		{"started_at", r.StartedAt, first},
		{"ended_at", r.EndedAt, last},
		{"codecs_offered", r.CodecsOffered, nonNil(w.offered)},
		{"codecs_answered", r.CodecsAnswered, nonNil(w.answeredCod)},
		{"user_agents", r.UserAgents, nonNil(w.uas)},
		{"capture_nodes", r.CaptureNodes, nonNil(w.nodes)},
	}
	if w.answered == 0 {
		checks = append(checks, struct {
			what      string
			got, want any
		}{"answered_at", r.AnsweredAt == nil, true})
	} else {
		checks = append(checks, struct {
			what      string
			got, want any
		}{"answered_at", r.AnsweredAt != nil && r.AnsweredAt.Equal(t0.Add(w.answered)), true})
	}
	for _, c := range checks {
		g, _ := json.Marshal(c.got)
		wb, _ := json.Marshal(c.want)
		if string(g) != string(wb) {
			t.Errorf("%s = %s, want %s", c.what, g, wb)
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// TestAnyOrderAnySplit is the property the store relies on: any
// permutation of a call's messages, split into any batches, stored and
// merged in any order, gives the same State (byte for byte) as all of
// them at once, so the same record.
func TestAnyOrderAnySplit(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range scenarios {
		if seen[tc.name] {
			continue
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			sc := loadScenario(t, tc.name, t0)
			whole := encode(t, stateOf(t, sc.messages))
			rng := rand.New(rand.NewPCG(1, uint64(len(tc.name))))
			for i := range 200 {
				got := shuffledMerge(t, sc.messages, rng)
				if b := encode(t, got); !sameState(b, whole) {
					t.Fatalf("round %d: merged state differs:\n%+v\nwant\n%+v", i, got, stateOf(t, sc.messages))
				}
			}
		})
	}
}

// TestAcrossMidnight: a call that starts before midnight UTC and ends
// after it, its messages stored in two days' batches, is one call with
// the same outcome, delay and duration.
func TestAcrossMidnight(t *testing.T) {
	start := time.Date(2026, 11, 26, 23, 59, 0, 0, time.UTC) // answered at 23:59:04.2, BYE at 00:00:04.2
	sc := loadScenario(t, "answered", start)
	midnight := start.Truncate(24 * time.Hour).Add(24 * time.Hour)
	var before, after []Message
	for _, m := range sc.messages {
		if m.At.Before(midnight) {
			before = append(before, m)
		} else {
			after = append(after, m)
		}
	}
	if len(before) == 0 || len(after) == 0 {
		t.Fatalf("the call does not cross midnight: %d before, %d after", len(before), len(after))
	}
	// The second day's batch arrives first.
	s := stateOf(t, after)
	s.Merge(stateOf(t, before))
	r := s.Record(sc.callID, start.Add(time.Hour))
	if r.Outcome != OutcomeAnswered || *r.DurationMs != 60000 || *r.PDDMs != 1200 || !r.StartedAt.Equal(start) ||
		r.EndedAt.Before(midnight) {
		t.Errorf("record across midnight: outcome %s, duration %v, pdd %v, %s - %s", r.Outcome, *r.DurationMs, *r.PDDMs, r.StartedAt, r.EndedAt)
	}
}

func TestQoSSummary(t *testing.T) {
	sc := loadScenario(t, "answered", t0)
	s := stateOf(t, sc.messages)
	reports := []qos.Report{
		{Stream: "ssrc 0x00000001", At: t0, MOS: 4.1, Jitter: 3, LossPct: 1, Lost: 4, Has: qos.HasMOS | qos.HasJitter | qos.HasLoss | qos.HasLost},
		{Stream: "ssrc 0x00000001", At: t0, MOS: 3.2, Jitter: 9, LossPct: 0.5, Lost: 10, Has: qos.HasMOS | qos.HasJitter | qos.HasLoss | qos.HasLost},
		{Stream: "ssrc 0x00000002", At: t0, Jitter: 12, Lost: 2, Has: qos.HasJitter | qos.HasLost},
	}
	for _, r := range reports {
		s.AddQoS(r)
	}
	q := s.Record(sc.callID, t0).QoS
	if q == nil || q.Reports != 3 || *q.WorstMOS != 3.2 || *q.MaxJitter != 12 || *q.MaxLossPct != 1 || *q.PacketsLost != 12 {
		b, _ := json.Marshal(q)
		t.Errorf("qos = %s", b)
	}
	// Reports merged in another order give the same summary.
	o := stateOf(t, sc.messages)
	for _, i := range []int{2, 0, 1} {
		p := &State{}
		p.AddQoS(reports[i])
		o.Merge(p)
	}
	if !sameState(encode(t, o), encode(t, s)) {
		t.Error("QoS reports merged in another order differ")
	}
	if stateOf(t, sc.messages).Record(sc.callID, t0).QoS != nil {
		t.Error("a call without reports has a QoS summary")
	}
}

func TestEncodingRoundTrip(t *testing.T) {
	for _, name := range []string{"answered", "serial_fork", "register"} {
		s := stateOf(t, loadScenario(t, name, t0).messages)
		s.AddQoS(qos.Report{Stream: "x", MOS: 4, Has: qos.HasMOS})
		b := encode(t, s)
		got, err := UnmarshalState(b)
		if err != nil {
			t.Fatal(err)
		}
		if !sameState(encode(t, &got), b) {
			t.Errorf("%s: round trip changed the state", name)
		}
	}
	if _, err := UnmarshalState([]byte{9}); err == nil {
		t.Error("an unknown version decoded")
	}
}

func TestBoundsKeepTheSmallest(t *testing.T) {
	// More user agents than the bound: the smallest maxSet are kept
	// whatever the order they come in.
	var a, b State
	for i := range 20 {
		a.UserAgents = insert(a.UserAgents, string(rune('a'+i)), maxSet)
		b.UserAgents = insert(b.UserAgents, string(rune('a'+19-i)), maxSet)
	}
	if !slices.Equal(a.UserAgents, b.UserAgents) || len(a.UserAgents) != maxSet || a.UserAgents[0] != "a" {
		t.Errorf("%v vs %v", a.UserAgents, b.UserAgents)
	}
}
