package ingest

import (
	"hash/maphash"
	"sync"
	"time"
)

// dedup recognises capture duplicates: byte-identical packets from the same
// capture ID within a short window (a capture agent that sees a message
// twice, on two interfaces say). The same SIP message from two different
// nodes is two hops of the call and is never suppressed: the capture ID is
// part of the key.
//
// It keeps two sets of 64-bit hashes, the current window and the previous
// one; a packet is a duplicate when its hash is in either. Rotating every
// window means a duplicate is caught when it arrives within one window and
// may be caught up to two windows later, never missed inside one. A hash
// collision between two different packets (2^-64) would drop one.
type dedup struct {
	window time.Duration
	seed   maphash.Seed

	mu        sync.Mutex
	bucket    int64 // window number of cur
	cur, prev map[uint64]struct{}
}

// maxDedupEntries bounds one window's set; beyond it new packets are not
// remembered (and so never suppressed) until the window rotates.
const maxDedupEntries = 1 << 20

func newDedup(window time.Duration) *dedup {
	return &dedup{window: window, seed: maphash.MakeSeed(),
		cur: map[uint64]struct{}{}, prev: map[uint64]struct{}{}}
}

// seen records the packet and reports whether it was already seen within
// the window.
func (d *dedup) seen(captureID uint32, pkt []byte, now time.Time) bool {
	var h maphash.Hash
	h.SetSeed(d.seed)
	h.Write([]byte{byte(captureID >> 24), byte(captureID >> 16), byte(captureID >> 8), byte(captureID)})
	h.Write(pkt)
	sum := h.Sum64()

	b := now.UnixNano() / int64(d.window)
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case b == d.bucket+1:
		d.prev, d.cur = d.cur, d.prev
		clear(d.cur)
		d.bucket = b
	case b > d.bucket+1:
		clear(d.prev)
		clear(d.cur)
		d.bucket = b
	}
	if _, ok := d.cur[sum]; ok {
		return true
	}
	if _, ok := d.prev[sum]; ok {
		return true
	}
	if len(d.cur) < maxDedupEntries {
		d.cur[sum] = struct{}{}
	}
	return false
}
