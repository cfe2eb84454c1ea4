package callrec

import (
	"cmp"
	"slices"
	"strings"

	"github.com/callscope/callscope/qos"
	"github.com/callscope/callscope/sip"
)

// Key names one call of one tenant.
type Key struct {
	TenantID int64
	CallID   string
}

// Compare orders keys by tenant, then Call-ID byte by byte: the order in
// which every writer locks stored records, so that two writers never wait
// for each other in a cycle.
func (k Key) Compare(o Key) int {
	return cmp.Or(cmp.Compare(k.TenantID, o.TenantID), strings.Compare(k.CallID, o.CallID))
}

// Keyed is one call's State.
type Keyed struct {
	Key
	State *State
}

// Batch folds the messages of a batch into one State per call. It is not
// safe for concurrent use; Reset makes it ready for the next batch.
type Batch struct {
	x     *sip.Extractor
	msg   sip.Message
	calls map[int64]map[string]*State
	n     int
}

// NewBatch returns an empty Batch.
func NewBatch() *Batch {
	return &Batch{x: sip.NewExtractor(nil), calls: map[int64]map[string]*State{}}
}

func (b *Batch) state(tenantID int64, callID []byte) *State {
	byCall := b.calls[tenantID]
	if byCall == nil {
		byCall = map[string]*State{}
		b.calls[tenantID] = byCall
	}
	s := byCall[string(callID)]
	if s == nil {
		s = &State{}
		byCall[string(callID)] = s
		b.n++
	}
	return s
}

// AddSIP folds in a SIP message of callID (the Call-ID as stored). A
// payload that is not a SIP message is left out and reported false.
func (b *Batch) AddSIP(tenantID int64, callID []byte, m *Message) bool {
	if err := b.x.Extract(m.Payload, &b.msg); err != nil {
		return false
	}
	b.state(tenantID, callID).AddSIP(m, &b.msg)
	return true
}

// AddQoS folds in a media report of callID.
func (b *Batch) AddQoS(tenantID int64, callID []byte, r qos.Report) {
	b.state(tenantID, callID).AddQoS(r)
}

// Len is the number of calls in the batch.
func (b *Batch) Len() int { return b.n }

// States returns the batch's calls in Key order.
func (b *Batch) States() []Keyed {
	out := make([]Keyed, 0, b.n)
	for tid, byCall := range b.calls {
		for id, s := range byCall {
			out = append(out, Keyed{Key: Key{TenantID: tid, CallID: id}, State: s})
		}
	}
	slices.SortFunc(out, func(a, b Keyed) int { return a.Key.Compare(b.Key) })
	return out
}

// Reset empties the batch.
func (b *Batch) Reset() {
	clear(b.calls)
	b.n = 0
}
