package callrec

import (
	"math"
	"time"
)

// Kinds of call, from the method of the request that started it.
const (
	KindInvite    = "invite"
	KindRegister  = "register"
	KindOptions   = "options"
	KindMessage   = "message"
	KindSubscribe = "subscribe"
	KindOther     = "other"
)

// Kinds lists every kind, for validating filters.
var Kinds = []string{KindInvite, KindRegister, KindOptions, KindMessage, KindSubscribe, KindOther}

// Outcomes: how the call (or the transaction of a REGISTER, OPTIONS...)
// ended, as a person reading the trace would say it.
const (
	OutcomeAnswered   = "answered"    // an INVITE answered 2xx
	OutcomeOK         = "ok"          // any other request answered 2xx
	OutcomeBusy       = "busy"        // 486 Busy Here, 600 Busy Everywhere
	OutcomeNoAnswer   = "no_answer"   // 480, or 408 after ringing: nobody picked up
	OutcomeCancelled  = "cancelled"   // the caller sent CANCEL (487)
	OutcomeTimeout    = "timeout"     // no final response in time, or 408 without ringing
	OutcomeRedirected = "redirected"  // 3xx
	OutcomeRejected   = "rejected"    // any other final 4xx-6xx
	OutcomeInProgress = "in_progress" // no final response yet, still within the timers
)

// Timers after which a request without a final response has timed out:
// Timer B (64 x T1, RFC 3261 17.1.1.2) before any ringing, and a proxy's
// Timer C (> 3 minutes, 16.6 step 11) once it rings.
const (
	timerB = 32 * time.Second
	timerC = 3 * time.Minute
)

// Record is a call as the calls API, search and the viewer present it.
// Pointers are null where the call does not say (no final response yet,
// not answered, ...). Times are UTC.
type Record struct {
	CallID     string     `json:"call_id"`
	Kind       string     `json:"kind"`
	StartedAt  time.Time  `json:"started_at"`
	AnsweredAt *time.Time `json:"answered_at"`
	EndedAt    time.Time  `json:"ended_at"`

	FromUser *string `json:"from_user"`
	FromName *string `json:"from_name"`
	ToUser   *string `json:"to_user"`
	ToName   *string `json:"to_name"`
	RURIUser *string `json:"ruri_user"`
	Caller   *string `json:"caller"` // ip:port the first request came from
	// Callee is the ip:port that sent the final response that decides the
	// call (or rang, while there is none): the UAS, or the proxy that
	// refused.
	Callee *string `json:"callee"`

	FinalStatus *int    `json:"final_status"`
	FinalReason *string `json:"final_reason"`
	Outcome     string  `json:"outcome"`
	PDDMs       *int64  `json:"pdd_ms"`
	DurationMs  *int64  `json:"duration_ms"`
	HungUpBy    *string `json:"hung_up_by"` // "caller" or "callee"

	CodecsOffered  []string `json:"codecs_offered"`
	CodecsAnswered []string `json:"codecs_answered"`
	UserAgents     []string `json:"user_agents"`
	CaptureNodes   []string `json:"capture_nodes"`

	Messages        int64    `json:"messages"`
	Retransmissions int64    `json:"retransmissions"`
	Legs            []string `json:"legs"` // Call-IDs of correlated legs; the store fills it
	QoS             *QoS     `json:"qos"`
}

// QoS is the worst the call's media reports said.
type QoS struct {
	Reports   int64    `json:"reports"`
	WorstMOS  *float64 `json:"worst_mos"`
	MaxJitter *float64 `json:"max_jitter_ms"`
	// MaxLossPct is the highest share of packets lost any report gave;
	// PacketsLost the sum over streams of each stream's highest count.
	MaxLossPct  *float64 `json:"max_loss_pct"`
	PacketsLost *int64   `json:"packets_lost"`
}

// Kind returns the kind of call s describes.
func (s *State) Kind() string {
	return kindOf(s.kindMethod())
}

func kindOf(method string) string {
	switch method {
	case "INVITE":
		return KindInvite
	case "REGISTER":
		return KindRegister
	case "OPTIONS":
		return KindOptions
	case "MESSAGE":
		return KindMessage
	case "SUBSCRIBE":
		return KindSubscribe
	}
	return KindOther
}

// kindMethod is the method that started the call: the earliest initial
// request's, else (its request not captured) the method of the
// lowest-numbered transaction that was not seen inside a dialog.
func (s *State) kindMethod() string {
	if s.Initial.At != 0 {
		return s.Initial.Method
	}
	best := -1
	for i := range s.Txns {
		t := &s.Txns[i]
		if !t.InDialog && (best < 0 || t.CSeq < s.Txns[best].CSeq) {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return s.Txns[best].Method
}

// lastInitial returns the last initial transaction of the call's kind: the
// highest CSeq among those whose request was seen without To tag, or, when
// no such request was captured, among those not seen inside a dialog. nil
// when there is none.
func (s *State) lastInitial(method string) *Txn {
	var best *Txn
	anyInitial := false
	for i := range s.Txns {
		if t := &s.Txns[i]; t.Method == method && t.Initial {
			anyInitial = true
			break
		}
	}
	for i := range s.Txns {
		t := &s.Txns[i]
		if t.Method != method || t.InDialog || (anyInitial && !t.Initial) {
			continue
		}
		if best == nil || t.CSeq > best.CSeq || (t.CSeq == best.CSeq && t.FromTag > best.FromTag) {
			best = t
		}
	}
	return best
}

// Span returns the times a call is filed under: its first and last SIP
// messages, or, while it has none, its first media report (both).
func (s *State) Span() (first, last time.Time) {
	if s.Messages > 0 {
		return fromMicros(s.First), fromMicros(s.Last)
	}
	return fromMicros(s.Reported), fromMicros(s.Reported)
}

// Final returns the final status of the call (0 when none yet).
func (s *State) Final() (status int, reason string) {
	if t := s.lastInitial(s.kindMethod()); t != nil {
		if f := t.decisive(); f != nil {
			return f.Status, f.Reason
		}
	}
	return 0, ""
}

// Record computes the record of callID from s. now decides whether a call
// without a final response is still in progress or has timed out. Legs is
// left for the store.
func (s *State) Record(callID string, now time.Time) Record {
	method := s.kindMethod()
	r := Record{CallID: callID, Kind: kindOf(method), Messages: s.Messages,
		StartedAt: fromMicros(s.First), EndedAt: fromMicros(s.Last),
		UserAgents: nonNil(s.UserAgents), CaptureNodes: nonNil(s.Nodes),
		CodecsOffered: nonNil(s.Offer.Codecs), CodecsAnswered: []string{}}
	r.Retransmissions = max(0, s.Messages-s.distinct())
	if in := &s.Initial; in.At != 0 {
		r.FromUser, r.FromName = strPtr(in.FromUser), strPtr(in.FromName)
		r.ToUser, r.ToName = strPtr(in.ToUser), strPtr(in.ToName)
		r.RURIUser = strPtr(in.RURIUser)
		if in.Src.IsValid() {
			r.Caller = strPtr(in.Src.String())
		}
	}
	switch {
	case s.Answer.At != 0:
		r.CodecsAnswered = nonNil(s.Answer.Codecs)
	case s.EarlyAnswer.At != 0:
		r.CodecsAnswered = nonNil(s.EarlyAnswer.Codecs)
	}

	last := s.lastInitial(method)
	var final *Final
	if last != nil {
		final = last.decisive()
	}
	switch {
	case final != nil:
		st, reason := final.Status, final.Reason
		r.FinalStatus, r.FinalReason = &st, &reason
		if final.From.IsValid() {
			r.Callee = strPtr(final.From.String())
		}
	case last != nil && last.Prov != 0 && last.ProvFrom.IsValid():
		r.Callee = strPtr(last.ProvFrom.String())
	}
	invite := method == "INVITE"
	var answered int64
	if invite && last != nil && last.answered() != 0 {
		answered = last.answered()
		t := fromMicros(answered)
		r.AnsweredAt = &t
	}
	if invite {
		r.PDDMs = s.pdd(final)
	}
	if answered != 0 && s.Bye.At > answered {
		d := (s.Bye.At - answered) / 1000
		r.DurationMs = &d
		who := "callee"
		if s.Bye.FromTag == s.Initial.FromTag && s.Initial.At != 0 {
			who = "caller"
		}
		r.HungUpBy = &who
	}
	r.Outcome = s.outcome(invite, last, final, now)
	if r.Outcome == OutcomeCancelled {
		who := "caller"
		r.HungUpBy = &who
	}
	r.QoS = s.qos()
	return r
}

// pdd is the post-dial delay: from the first initial INVITE to the first
// 18x of any of them, or, without ringing, to the first copy of the final
// response that decides the last one (in ms).
func (s *State) pdd(final *Final) *int64 {
	var start, ring int64
	for i := range s.Txns {
		t := &s.Txns[i]
		if t.Method != "INVITE" || !t.Initial {
			continue
		}
		start = minNZ(start, t.ReqAt)
		ring = minNZ(ring, t.Prov)
	}
	end := ring
	if end == 0 && final != nil {
		end = final.First
	}
	if start == 0 || end == 0 || end < start {
		return nil
	}
	d := (end - start) / 1000
	return &d
}

func (s *State) outcome(invite bool, last *Txn, final *Final, now time.Time) string {
	code := 0
	if final != nil {
		code = final.Status
	}
	switch {
	case code/100 == 2:
		if invite {
			return OutcomeAnswered
		}
		return OutcomeOK
	case code == 487 || (invite && s.Cancel != 0 && final == nil):
		return OutcomeCancelled
	case final == nil:
		if last == nil {
			return OutcomeInProgress
		}
		waited := now.Sub(fromMicros(max(last.ReqAt, s.Last)))
		if (last.Prov == 0 && waited > timerB) || waited > timerC {
			return OutcomeTimeout
		}
		return OutcomeInProgress
	case code == 486 || code == 600:
		return OutcomeBusy
	case code == 480 || (code == 408 && last.Prov != 0):
		return OutcomeNoAnswer
	case code == 408:
		return OutcomeTimeout
	case code/100 == 3:
		return OutcomeRedirected
	}
	return OutcomeRejected
}

// distinct is the number of distinct messages: exact while the sketch is
// not full, else the k-minimum-values estimate (k-1) / (k-th smallest
// hash as a fraction of the hash space), never fewer than k.
func (s *State) distinct() int64 {
	if len(s.Sketch) < sketchK {
		return int64(len(s.Sketch))
	}
	kth := float64(s.Sketch[sketchK-1]) / math.Exp2(64)
	if kth <= 0 {
		return int64(sketchK)
	}
	return max(int64(sketchK), int64(float64(sketchK-1)/kth))
}

func (s *State) qos() *QoS {
	if len(s.Streams) == 0 {
		return nil
	}
	q := &QoS{}
	for _, st := range s.Streams {
		q.Reports += st.Reports
		if st.MOS > 0 && (q.WorstMOS == nil || st.MOS < *q.WorstMOS) {
			q.WorstMOS = ptr(st.MOS)
		}
		if st.HasJitter && (q.MaxJitter == nil || st.Jitter > *q.MaxJitter) {
			q.MaxJitter = ptr(st.Jitter)
		}
		if st.HasLossPct && (q.MaxLossPct == nil || st.LossPct > *q.MaxLossPct) {
			q.MaxLossPct = ptr(st.LossPct)
		}
		if st.HasLost {
			if q.PacketsLost == nil {
				q.PacketsLost = ptr(int64(0))
			}
			*q.PacketsLost += st.Lost
		}
	}
	return q
}

func ptr[T any](v T) *T { return &v }

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// Correlation returns the value the call's legs are found by: a value the
// capture node set in HEP's correlation chunk when there is one, else the
// first correlation header value; "" when the call has none.
func (s *State) Correlation() string {
	for _, c := range s.Corr {
		if c.Source == SourceHEP {
			return c.Value
		}
	}
	if len(s.Corr) > 0 {
		return s.Corr[0].Value
	}
	return ""
}
