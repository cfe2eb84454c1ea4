package ingest

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// nodeEntry is a capture node as the hot path needs it: the node, its
// tenant's pre-resolved "accepted" counter and its health counters.
type nodeEntry struct {
	node     tenant.Node
	name     []byte // node.Name, stored with messages whose HEP carries no agent name
	active   bool
	accepted prometheus.Counter
	stats    *nodeStats
}

// outcomes are what a capture node's packets come to in its health:
// accepted, or a drop that names the node. Index 0 is accepted.
var outcomes = [...]string{tenant.OutcomeAccepted, reasonBadAuthKey, reasonSourceNotAllowed, reasonWrongCert,
	reasonTenantSuspended, reasonSIPMalformed, reasonUnsupported, reasonDuplicate, reasonQueueFull,
	reasonSpoolFull, reasonWriteRefused}

const outcomeAccepted = 0

var outcomeIndex = func() map[string]int {
	m := make(map[string]int, len(outcomes))
	for i, o := range outcomes {
		m[o] = i
	}
	return m
}()

// nodeStats counts one capture node's packets by outcome between two
// flushes of its health (tenant.Store.RecordNodeStats): two atomic writes
// per packet, no lock. It outlives node map refreshes.
type nodeStats struct {
	tenantID  int64
	captureID uint32
	n         [len(outcomes)]atomic.Int64
	last      [len(outcomes)]atomic.Int64 // unix µs of the last such packet

	// Refusals (wrong auth key, source, certificate) are logged at most
	// once a minute per node: logged is when (unix s), held how many were
	// not logged since.
	logged, held atomic.Int64
}

// count notes one packet with outcome o received at (unix µs).
func (st *nodeStats) count(o int, at int64) {
	st.n[o].Add(1)
	st.last[o].Store(at)
}

// take returns and resets the counts, as stats of minute.
func (st *nodeStats) take(minute time.Time, out []tenant.NodeStat) []tenant.NodeStat {
	for o := range st.n {
		if n := st.n[o].Swap(0); n > 0 {
			out = append(out, tenant.NodeStat{TenantID: st.tenantID, CaptureID: st.captureID, Minute: minute,
				Outcome: outcomes[o], Packets: n, LastSeen: time.UnixMicro(st.last[o].Load())})
		}
	}
	return out
}

type nodeMap map[uint32]*nodeEntry

// maxUnclaimed bounds the unknown capture IDs remembered between flushes:
// a sender spraying random IDs must not grow memory.
const maxUnclaimed = 1000

// resolver maps capture IDs to nodes. Readers look up an immutable map
// behind an atomic pointer; a refresh builds a new map and swaps it in, so
// lookups never take a lock.
type resolver struct {
	store *tenantdb.Store
	byTen *prometheus.CounterVec
	nodes atomic.Pointer[nodeMap]

	// refreshMu serialises refresh: the upkeep loop and a caller (Listen,
	// a test) may refresh at once, and version is read and written there.
	refreshMu sync.Mutex
	version   string

	mu        sync.Mutex
	unclaimed map[uint32]*tenant.Unclaimed

	// stats are the health counters by capture ID, kept across refreshes;
	// retired ones (the node was removed or moved to another tenant) are
	// flushed once more, then forgotten. pending holds stats a failed flush
	// could not write, for the next one (at most maxPendingStats).
	statsMu sync.Mutex
	stats   map[uint32]*nodeStats
	retired []*nodeStats
	pending []tenant.NodeStat
}

// maxPendingStats bounds the health stats kept while PostgreSQL is away
// (one per node, outcome and minute).
const maxPendingStats = 20000

func newResolver(store *tenantdb.Store, byTenant *prometheus.CounterVec) *resolver {
	r := &resolver{store: store, byTen: byTenant, unclaimed: map[uint32]*tenant.Unclaimed{}, stats: map[uint32]*nodeStats{}}
	empty := nodeMap{}
	r.nodes.Store(&empty)
	return r
}

func (r *resolver) lookup(id uint32) *nodeEntry { return (*r.nodes.Load())[id] }

// refresh reloads the map when the store's version changed (or always,
// when force is set).
func (r *resolver) refresh(ctx context.Context, force bool) error {
	r.refreshMu.Lock()
	defer r.refreshMu.Unlock()
	v, err := r.store.NodesVersion(ctx)
	if err != nil {
		return fmt.Errorf("ingest: node map: %w", err)
	}
	if !force && v == r.version {
		return nil
	}
	all, err := r.store.AllNodes(ctx)
	if err != nil {
		return fmt.Errorf("ingest: node map: %w", err)
	}
	m := make(nodeMap, len(all))
	r.statsMu.Lock()
	for _, n := range all {
		m[n.CaptureID] = &nodeEntry{node: n, name: []byte(n.Name), active: n.TenantStatus == tenant.Active,
			accepted: r.byTen.WithLabelValues(n.TenantSlug), stats: r.statsFor(n)}
	}
	for id, st := range r.stats {
		if m[id] == nil {
			r.retired = append(r.retired, st)
			delete(r.stats, id)
		}
	}
	r.statsMu.Unlock()
	r.nodes.Store(&m)
	r.version = v
	// Sightings of an ID that has since been claimed are not unclaimed any more.
	r.mu.Lock()
	for id := range r.unclaimed {
		if m[id] != nil {
			delete(r.unclaimed, id)
		}
	}
	r.mu.Unlock()
	return nil
}

// statsFor returns the health counters of n, new when n is new or now
// belongs to another tenant. Call with statsMu held.
func (r *resolver) statsFor(n tenant.Node) *nodeStats {
	st := r.stats[n.CaptureID]
	if st != nil && st.tenantID == n.TenantID {
		return st
	}
	if st != nil {
		r.retired = append(r.retired, st)
	}
	st = &nodeStats{tenantID: n.TenantID, captureID: n.CaptureID}
	r.stats[n.CaptureID] = st
	return st
}

// countRows counts rows dropped by the writer (spool full at shutdown, or
// refused by PostgreSQL) in their nodes' health.
func (r *resolver) countRows(rows []*row, reason string) {
	o := outcomeIndex[reason]
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	for _, rw := range rows {
		if st := r.stats[rw.captureID]; st != nil && st.tenantID == rw.tenantID {
			st.count(o, rw.receivedAt)
		}
	}
}

// flushStats writes the health counts since the last flush as the stats
// of minute; on failure they are kept for the next flush.
func (r *resolver) flushStats(ctx context.Context, minute time.Time) error {
	r.statsMu.Lock()
	out := r.pending
	r.pending = nil
	for _, st := range r.stats {
		out = st.take(minute, out)
	}
	for _, st := range r.retired {
		out = st.take(minute, out)
	}
	r.retired = nil
	r.statsMu.Unlock()
	if len(out) == 0 {
		return nil
	}
	if err := r.store.RecordNodeStats(ctx, out); err != nil {
		r.statsMu.Lock()
		if len(out) > maxPendingStats {
			out = out[len(out)-maxPendingStats:] // the newest matter most
		}
		r.pending = append(out, r.pending...)
		r.statsMu.Unlock()
		return fmt.Errorf("ingest: node health: %w", err)
	}
	return nil
}

// noteUnknown remembers a packet from a capture ID no tenant owns.
func (r *resolver) noteUnknown(id uint32, src netip.Addr, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	u := r.unclaimed[id]
	if u == nil {
		if len(r.unclaimed) >= maxUnclaimed {
			return
		}
		u = &tenant.Unclaimed{CaptureID: int64(id), FirstSeen: now}
		r.unclaimed[id] = u
	}
	u.Packets++
	u.LastSource = src.Unmap()
	u.LastReason = reasonUnknownNode
	u.LastSeen = now
}

// flushUnclaimed hands the sightings since the last flush to the store;
// on failure they are kept (and merged) for the next try.
func (r *resolver) flushUnclaimed(ctx context.Context) error {
	r.mu.Lock()
	if len(r.unclaimed) == 0 {
		r.mu.Unlock()
		return nil
	}
	seen := make([]tenant.Unclaimed, 0, len(r.unclaimed))
	for _, u := range r.unclaimed {
		seen = append(seen, *u)
	}
	r.unclaimed = map[uint32]*tenant.Unclaimed{}
	r.mu.Unlock()

	if err := r.store.NoteUnclaimed(ctx, seen); err != nil {
		r.mu.Lock()
		for _, u := range seen {
			id := uint32(u.CaptureID)
			if cur := r.unclaimed[id]; cur != nil {
				cur.Packets += u.Packets
				cur.FirstSeen = u.FirstSeen
			} else if len(r.unclaimed) < maxUnclaimed {
				u := u
				r.unclaimed[id] = &u
			}
		}
		r.mu.Unlock()
		return fmt.Errorf("ingest: unclaimed nodes: %w", err)
	}
	return nil
}
