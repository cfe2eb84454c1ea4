// Package callrec computes a call record — kind, times, parties, outcome,
// post-dial delay, duration, codecs, counts, QoS — from the SIP messages
// and media reports of one Call-ID. It is pure: messages in, a record out.
//
// Messages of a call reach the store in any order, split over batches,
// written by several ingest processes at once, and a call may span
// midnight. So the record is not computed from "all the messages" in one
// place: each batch folds its messages into a State, and States merge.
// Merge is commutative and associative, and every field of a State is a
// lattice value chosen so that it is (a min, a max, a sum, the smallest K
// of a set, the best of a total order):
//
//	batch 1 ─ State ─┐
//	batch 2 ─ State ─┼─ Merge ─ State (stored) ─ Record(now)
//	batch 3 ─ State ─┘
//
// so any permutation and any split of a call's messages merge to the same
// State as all of them at once, and Record reads the same outcome. The
// bounds (at most 32 transactions, 8 user agents, 128 hashes, ...) keep the
// smallest elements by a fixed order, which keeps the property: a call
// within the bounds is exact; one beyond them keeps the same subset
// whatever the order.
//
// What an engineer reading traces calls the outcome follows RFC 3261's
// transaction and dialog rules: the final status is the final response to
// the last initial request of the dialog (a REGISTER answered 401, re-sent
// with credentials and answered 200 is 200), matched by From tag, CSeq
// number and method, so that a callee's re-INVITE reusing CSeq 1 is not
// taken for the caller's INVITE.
package callrec

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Bounds of a State. A call past them keeps the smallest elements by each
// field's order.
const (
	maxTxns    = 32  // transactions, by (From tag, CSeq, method)
	maxSet     = 8   // user agents, capture nodes, QoS streams
	maxCorr    = 4   // correlation values
	maxCodecs  = 16  // codecs of one SDP
	sketchK    = 128 // message hashes (retransmission count)
	maxText    = 256 // bytes of any text field
	maxTagText = 128 // bytes of a tag or method
)

// State is the mergeable summary of some of a call's messages. The zero
// value is the summary of none. Times are unix microseconds; 0 is "none".
type State struct {
	Messages    int64
	First, Last int64 // of SIP messages
	// Reported is the time of the earliest media report; with First, the
	// time a call known only from its reports so far is filed under.
	Reported int64
	// Sketch holds the smallest distinct hashes of the call's messages,
	// ascending, at most sketchK: their number is the number of distinct
	// messages while it is below sketchK, an estimate beyond (k minimum
	// values). Retransmissions are the messages that are not distinct.
	Sketch []uint64

	// Initial is the earliest copy of a request that starts a dialog or a
	// transaction outside one (no To tag).
	Initial Request

	Txns   []Txn // sorted by key
	Bye    Mark  // the earliest BYE
	Cancel int64 // the earliest CANCEL

	// Offer is the SDP of the earliest initial INVITE that has one;
	// Answer of the earliest 2xx to an INVITE, EarlyAnswer of the earliest
	// 18x to an INVITE.
	Offer, Answer, EarlyAnswer Media

	UserAgents []string // sorted, distinct
	Nodes      []string // sorted, distinct
	Corr       []Corr   // sorted, distinct
	Streams    []Stream // QoS, sorted by name
}

// Request is one copy of an initial request.
type Request struct {
	At                 int64
	Method             string
	CSeq               uint32
	FromUser, FromName string
	FromTag            string
	ToUser, ToName     string
	RURIUser           string
	Src, Dst           netip.AddrPort
}

// Txn is what was seen of one transaction: a request (From tag, CSeq,
// method) and the responses to it, which carry the same three.
type Txn struct {
	FromTag string
	CSeq    uint32
	Method  string

	Initial  bool  // a copy of the request without To tag was seen
	InDialog bool  // a copy with a To tag was seen (re-INVITE, refresh)
	ReqAt    int64 // earliest request copy
	Prov     int64 // earliest 18x
	// ProvFrom sent the earliest 18x: the party that rang (a proxy relays
	// later copies).
	ProvFrom netip.AddrPort
	Finals   []Final // one per final status seen, by status
}

// Final is every copy of one final status of a transaction: the earliest
// copy and its sender (the party that answered or refused), and the latest
// copy, the one relayed furthest towards the caller.
type Final struct {
	Status int
	First  int64
	From   netip.AddrPort
	Last   int64
	Reason string // of the latest copy
}

// maxFinals bounds the distinct final statuses kept per transaction.
const maxFinals = 8

// decisive returns the final response that decides the transaction, nil
// while it has none. A 2xx beats any other final response (with forking,
// one 2xx means the call was answered), and of two 2xx the earlier. Of
// other finals the one relayed last wins: a proxy relays the best final
// response it collected after receiving it, so the latest copy is what
// the caller got (a serial fork's 480 from the first branch comes before
// the 486 relayed from the second). Ties go to the lower status.
func (t *Txn) decisive() *Final {
	var best *Final
	for i := range t.Finals {
		f := &t.Finals[i]
		switch {
		case best == nil:
			best = f
		case f.Status/100 == 2 && best.Status/100 != 2:
			best = f
		case f.Status/100 == 2 && best.Status/100 == 2:
			if f.First < best.First {
				best = f
			}
		case f.Status/100 != 2 && best.Status/100 != 2:
			if f.Last > best.Last {
				best = f
			}
		}
	}
	return best
}

// answered is the earliest copy of a 2xx, 0 when none.
func (t *Txn) answered() int64 {
	var at int64
	for i := range t.Finals {
		if t.Finals[i].Status/100 == 2 {
			at = minNZ(at, t.Finals[i].First)
		}
	}
	return at
}

// addFinal folds in copies of a final status; reason, when not nil, is
// the latest copy's reason as bytes (made a string only if it is kept).
func (t *Txn) addFinal(o Final, reason []byte) {
	i := slot(&t.Finals, maxFinals, func(f Final) int { return cmp.Compare(f.Status, o.Status) },
		func() Final { return Final{Status: o.Status} })
	if i < 0 {
		return
	}
	f := &t.Finals[i]
	earliestFrom(&f.First, &f.From, o.First, o.From)
	if reason != nil && o.Last >= f.Last {
		o.Reason = text(reason, maxText)
	}
	if o.Last > f.Last || (o.Last == f.Last && o.Reason < f.Reason) {
		f.Last, f.Reason = o.Last, o.Reason
	}
}

// Mark is one request of interest (the earliest BYE) and who sent it.
type Mark struct {
	At      int64
	FromTag string
}

// Media is the codecs of one SDP and when it was seen.
type Media struct {
	At     int64
	Codecs []string
}

// Corr is a correlation value of the call and where it came from: "hep"
// (the capture node's correlation chunk) or the SIP header, lower case.
type Corr struct {
	Value, Source string
}

// Stream is the worst a call's QoS reports said of one media stream.
type Stream struct {
	Name       string
	Reports    int64
	MOS        float64 // lowest; 0 when no report gave one
	Jitter     float64 // highest, ms
	LossPct    float64 // highest
	Lost       int64   // highest cumulative count
	HasJitter  bool
	HasLossPct bool
	HasLost    bool
}

// Merge folds o into s. Merge is commutative and associative, and merging
// the zero State changes nothing.
func (s *State) Merge(o *State) {
	s.Messages += o.Messages
	s.First = minNZ(s.First, o.First)
	s.Last = max(s.Last, o.Last)
	s.Reported = minNZ(s.Reported, o.Reported)
	s.Sketch = union(s.Sketch, o.Sketch, sketchK)
	if o.Initial.At != 0 && (s.Initial.At == 0 || o.Initial.less(&s.Initial)) {
		s.Initial = o.Initial
	}
	for i := range o.Txns {
		ot := &o.Txns[i]
		j := slot(&s.Txns, maxTxns, func(t Txn) int { return -txnCompare(ot.FromTag, ot.CSeq, ot.Method, &t) },
			func() Txn { return Txn{FromTag: ot.FromTag, CSeq: ot.CSeq, Method: ot.Method} })
		if j >= 0 {
			s.Txns[j].merge(ot)
		}
	}
	s.Bye.earliest(o.Bye)
	s.Cancel = minNZ(s.Cancel, o.Cancel)
	s.Offer.earliest(o.Offer)
	s.Answer.earliest(o.Answer)
	s.EarlyAnswer.earliest(o.EarlyAnswer)
	s.UserAgents = union(s.UserAgents, o.UserAgents, maxSet)
	s.Nodes = union(s.Nodes, o.Nodes, maxSet)
	for _, c := range o.Corr {
		s.addCorr(c)
	}
	for i := range o.Streams {
		s.stream(o.Streams[i].Name, func(st *Stream) { st.merge(&o.Streams[i]) })
	}
}

// minNZ is the smaller of two times, 0 meaning none.
func minNZ(a, b int64) int64 {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

// less orders request copies: earlier first, then by every field, so that
// two copies captured in the same microsecond still have one winner.
func (r *Request) less(o *Request) bool {
	if c := cmp.Or(
		cmp.Compare(r.At, o.At),
		strings.Compare(r.Method, o.Method),
		cmp.Compare(r.CSeq, o.CSeq),
		strings.Compare(r.FromTag, o.FromTag),
		strings.Compare(r.FromUser, o.FromUser),
		strings.Compare(r.FromName, o.FromName),
		strings.Compare(r.ToUser, o.ToUser),
		strings.Compare(r.ToName, o.ToName),
		strings.Compare(r.RURIUser, o.RURIUser),
		r.Src.Compare(o.Src),
	); c != 0 {
		return c < 0
	}
	return r.Dst.Compare(o.Dst) < 0
}

// earliestFrom keeps the earlier of two (time, sender) marks, the lower
// address on a tie.
func earliestFrom(at *int64, from *netip.AddrPort, oAt int64, oFrom netip.AddrPort) {
	if oAt != 0 && (*at == 0 || oAt < *at || (oAt == *at && oFrom.Compare(*from) < 0)) {
		*at, *from = oAt, oFrom
	}
}

func (m *Mark) earliest(o Mark) {
	if o.At != 0 && (m.At == 0 || o.At < m.At || (o.At == m.At && o.FromTag < m.FromTag)) {
		*m = o
	}
}

// wins reports whether an SDP seen at at could replace m: SDPs are parsed
// only for those.
func (m *Media) wins(at int64) bool { return m.At == 0 || at <= m.At }

func (m *Media) earliest(o Media) {
	if o.At == 0 {
		return
	}
	if m.At == 0 || o.At < m.At || (o.At == m.At && slices.Compare(o.Codecs, m.Codecs) < 0) {
		m.At, m.Codecs = o.At, slices.Clone(o.Codecs)
	}
}

func txnCompare(tag string, cseq uint32, method string, t *Txn) int {
	return cmp.Or(strings.Compare(tag, t.FromTag), cmp.Compare(cseq, t.CSeq), strings.Compare(method, t.Method))
}

// txn finds or adds the transaction (tag, cseq, method) and runs f on it.
// Past maxTxns the largest keys are dropped, the one just added included.
func (s *State) txn(tagBytes []byte, cseq uint32, method string, f func(*Txn)) {
	tag, borrowed := peek(tagBytes, maxTagText)
	i := slot(&s.Txns, maxTxns, func(t Txn) int { return -txnCompare(tag, cseq, method, &t) },
		func() Txn { return Txn{FromTag: keep(tag, borrowed), CSeq: cseq, Method: method} })
	if i >= 0 {
		f(&s.Txns[i])
	}
}

// slot finds the element of the sorted set that compare (element vs the
// key sought) says is the one, adding mk() in its place when absent, and
// returns its index. The set keeps its n smallest elements: -1 when the
// key falls beyond them.
func slot[T any](set *[]T, n int, compare func(T) int, mk func() T) int {
	i, found := slices.BinarySearchFunc(*set, 0, func(e T, _ int) int { return compare(e) })
	if found {
		return i
	}
	if i >= n {
		return -1
	}
	*set = slices.Insert(*set, i, mk())
	if len(*set) > n {
		*set = (*set)[:n]
	}
	return i
}

// insert adds v to the sorted set, keeping the n smallest.
func insert[T cmp.Ordered](set []T, v T, n int) []T {
	slot(&set, n, func(e T) int { return cmp.Compare(e, v) }, func() T { return v })
	return set
}

// union returns the n smallest of the union of two sorted sets.
func union[T cmp.Ordered](a, b []T, n int) []T {
	if len(b) == 0 {
		return a
	}
	out := make([]T, 0, min(len(a)+len(b), n))
	for len(out) < n && (len(a) > 0 || len(b) > 0) {
		switch {
		case len(b) == 0 || (len(a) > 0 && a[0] < b[0]):
			out, a = append(out, a[0]), a[1:]
		case len(a) == 0 || b[0] < a[0]:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return out
}

func (t *Txn) merge(o *Txn) {
	t.Initial = t.Initial || o.Initial
	t.InDialog = t.InDialog || o.InDialog
	t.ReqAt = minNZ(t.ReqAt, o.ReqAt)
	earliestFrom(&t.Prov, &t.ProvFrom, o.Prov, o.ProvFrom)
	for _, f := range o.Finals {
		t.addFinal(f, nil)
	}
}

func (s *State) addCorr(c Corr) {
	slot(&s.Corr, maxCorr, func(e Corr) int { return compareCorr(e, c) }, func() Corr { return c })
}

func compareCorr(a, b Corr) int {
	return cmp.Or(strings.Compare(a.Value, b.Value), strings.Compare(a.Source, b.Source))
}

func (s *State) stream(name string, f func(*Stream)) {
	i := slot(&s.Streams, maxSet, func(st Stream) int { return strings.Compare(st.Name, name) },
		func() Stream { return Stream{Name: name} })
	if i >= 0 {
		f(&s.Streams[i])
	}
}

func (st *Stream) merge(o *Stream) {
	st.Reports += o.Reports
	if o.MOS > 0 && (st.MOS == 0 || o.MOS < st.MOS) {
		st.MOS = o.MOS
	}
	if o.HasJitter && (!st.HasJitter || o.Jitter > st.Jitter) {
		st.Jitter, st.HasJitter = o.Jitter, true
	}
	if o.HasLossPct && (!st.HasLossPct || o.LossPct > st.LossPct) {
		st.LossPct, st.HasLossPct = o.LossPct, true
	}
	if o.HasLost && (!st.HasLost || o.Lost > st.Lost) {
		st.Lost, st.HasLost = o.Lost, true
	}
}

// peek returns b as a string to look a set up with: b itself, without a
// copy (borrowed), when text would keep it unchanged, else text's copy.
// A borrowed string aliases b and must go through keep before a State
// stores it.
func peek(b []byte, n int) (s string, borrowed bool) {
	if len(b) <= n && plain(b) {
		return unsafe.String(unsafe.SliceData(b), len(b)), true
	}
	return text(b, n), false
}

// plain reports whether b is ASCII without NUL: text as it comes, the
// common case.
func plain(b []byte) bool {
	for _, c := range b {
		if c == 0 || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// peekString is peek for a string that may itself alias a reused buffer.
func peekString(v string, n int) (s string, borrowed bool) {
	return peek(unsafe.Slice(unsafe.StringData(v), len(v)), n)
}

// keep returns a string peek gave that a State may store.
func keep(s string, borrowed bool) string {
	if borrowed {
		return strings.Clone(s)
	}
	return s
}

// insertText adds v (peeked) to the sorted set, keeping the n smallest; it
// allocates only for a value the set keeps.
func insertText(set []string, v string, borrowed bool, n int) []string {
	slot(&set, n, func(e string) int { return strings.Compare(e, v) }, func() string { return keep(v, borrowed) })
	return set
}

// text turns SIP bytes into a stored string: valid UTF-8 without NUL (a
// PostgreSQL text value refuses both), cut to at most n bytes on a rune
// boundary.
func text(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
		// Drop a rune the cut split (at most UTFMax-1 bytes of it).
		for i := 1; i < utf8.UTFMax && len(b) > 0; i++ {
			if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size > 1 {
				break
			}
			b = b[:len(b)-1]
		}
	}
	if plain(b) {
		return string(b)
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "")
}
