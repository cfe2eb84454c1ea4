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
)

// nodeEntry is a capture node as the hot path needs it: the node and its
// tenant's pre-resolved "accepted" counter.
type nodeEntry struct {
	node     tenant.Node
	name     []byte // node.Name, stored with messages whose HEP carries no agent name
	active   bool
	accepted prometheus.Counter
}

type nodeMap map[uint32]*nodeEntry

// maxUnclaimed bounds the unknown capture IDs remembered between flushes:
// a sender spraying random IDs must not grow memory.
const maxUnclaimed = 1000

// resolver maps capture IDs to nodes. Readers look up an immutable map
// behind an atomic pointer; a refresh builds a new map and swaps it in, so
// lookups never take a lock.
type resolver struct {
	store *tenant.Store
	byTen *prometheus.CounterVec
	nodes atomic.Pointer[nodeMap]

	// refreshMu serialises refresh: the upkeep loop and a caller (Listen,
	// a test) may refresh at once, and version is read and written there.
	refreshMu sync.Mutex
	version   string

	mu        sync.Mutex
	unclaimed map[uint32]*tenant.Unclaimed
}

func newResolver(store *tenant.Store, byTenant *prometheus.CounterVec) *resolver {
	r := &resolver{store: store, byTen: byTenant, unclaimed: map[uint32]*tenant.Unclaimed{}}
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
	for _, n := range all {
		m[n.CaptureID] = &nodeEntry{node: n, name: []byte(n.Name), active: n.TenantStatus == tenant.Active,
			accepted: r.byTen.WithLabelValues(n.TenantSlug)}
	}
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
