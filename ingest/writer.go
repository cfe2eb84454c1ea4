package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// errAlreadyWritten: the batch's id is in ingest_batches, so an earlier
// attempt committed it (a replay after an ambiguous commit).
var errAlreadyWritten = errors.New("ingest: batch already written")

// writeTimeout bounds one batch write, so a PostgreSQL that hangs (rather
// than refusing) sends batches to the spool instead of stalling the queue.
const writeTimeout = 10 * time.Second

// replayBudget bounds how long one turn of the writer loop spends replaying
// the spool, so live batches keep moving (into the spool, in order) while a
// long backlog drains.
const replayBudget = 500 * time.Millisecond

// writer is the goroutine that takes rows off the queue, forms batches by
// size or by interval, and sees each one written or spooled; the spool is
// its own.
//
// While the spool is empty, batches go to Config.Writers copier goroutines,
// each COPYing on its own connection, so PostgreSQL's per-row work (heap and
// index inserts, WAL) runs on as many backends and commits overlap. Batches
// written concurrently have no order among themselves, exactly as packets
// read by concurrent readers have none. Once anything is spooled the writer
// takes the ordered path: it waits for the writes in flight (spooling those
// that fail), then spools every new batch behind the older ones and replays
// them oldest first itself, on one connection, until the spool is empty
// again. The batch id (ingest_batches) keeps every path exactly-once.
type writer struct {
	s       *Server
	cp      copier // the ordered path's buffers
	spoolB  []byte
	lastErr time.Time // last failed write; replay waits RetryInterval after it

	// drainCtx bounds the writes made after the queue is closed; set by
	// Run before it closes the queue.
	drainCtx context.Context

	// The parallel path: jobs go out on work, outcomes come back on done.
	// inflight counts jobs whose outcome the writer has not taken yet, so
	// at most Writers batches are out at once and one copier is idle
	// whenever inflight < Writers.
	work     chan job
	done     chan job
	inflight int
	copiers  sync.WaitGroup
	free     []*batch // batches whose rows were released, for reuse
}

// copier holds the COPY buffers of one writing goroutine.
type copier struct {
	sipBuf, evBuf []byte
}

// job is one batch handed to a copier, and its outcome.
type job struct {
	ctx context.Context
	b   *batch
	err error
}

// run consumes the queue until it is closed and empty; the last batch is
// written with drainCtx (the shutdown deadline) or spooled.
func (w *writer) run(ctx context.Context) {
	s := w.s
	if n := s.cfg.Writers; n > 1 {
		w.work, w.done = make(chan job), make(chan job, n)
		for range n {
			w.copiers.Add(1)
			go func() {
				defer w.copiers.Done()
				var cp copier
				for j := range w.work {
					j.err = s.writeBatch(j.ctx, &cp, j.b)
					w.done <- j
				}
			}()
		}
		defer w.copiers.Wait()
		defer close(w.work)
	}
	cur := w.newBatch()
	timer := time.NewTimer(s.cfg.FlushInterval)
	defer timer.Stop()
	retry := time.NewTicker(s.cfg.RetryInterval / 2)
	defer retry.Stop()

	flush := func(ctx context.Context, replay bool) {
		if len(cur.rows) == 0 {
			return
		}
		if w.flush(ctx, cur, replay) {
			cur = w.newBatch()
		} else {
			cur.rows = cur.rows[:0]
		}
	}
	for {
		select {
		case r, ok := <-s.queue:
			if !ok {
				flush(w.drainCtx, false)
				w.settle()
				return
			}
			if len(cur.rows) == 0 {
				timer.Reset(s.cfg.FlushInterval)
			}
			cur.rows = append(cur.rows, r)
			if len(cur.rows) >= s.cfg.BatchSize {
				flush(ctx, true)
			}
		case j := <-w.done: // nil channel without parallel writers
			w.finish(j)
		case <-timer.C:
			flush(ctx, true)
		case <-retry.C:
			w.replay(ctx)
		}
	}
}

func (w *writer) newBatch() *batch {
	if n := len(w.free); n > 0 {
		b := w.free[n-1]
		w.free = w.free[:n-1]
		return b
	}
	return &batch{rows: make([]*row, 0, w.s.cfg.BatchSize)}
}

// flush sees b written or spooled: handed to a copier while the spool is
// empty (true: b now belongs to it), else written here or, when the spool
// already holds older batches or the write fails, spooled (false: b's rows
// were released and b may be reused).
func (w *writer) flush(ctx context.Context, b *batch, replay bool) bool {
	s := w.s
	b.id = newBatchID()
	if w.work != nil && !s.spool.pending() {
		for w.inflight >= s.cfg.Writers {
			w.finish(<-w.done)
		}
		// finish may have spooled a failed batch: then b must queue up
		// behind it.
		if !s.spool.pending() {
			w.work <- job{ctx: ctx, b: b}
			w.inflight++
			if int64(w.inflight) > s.peakWrites.Load() {
				s.peakWrites.Store(int64(w.inflight))
			}
			return true
		}
	}
	w.settle()
	if s.spool.pending() {
		w.toSpool(b)
		if replay {
			w.replay(ctx)
		}
	} else if err := s.writeBatch(ctx, &w.cp, b); err != nil {
		w.failed(b, err)
	}
	s.release(b)
	return false
}

// finish takes the outcome of a copier's job: a failed batch is spooled.
func (w *writer) finish(j job) {
	w.inflight--
	if j.err != nil {
		w.failed(j.b, j.err)
	}
	w.s.release(j.b)
	j.b.rows = j.b.rows[:0]
	w.free = append(w.free, j.b)
}

// settle waits for every batch in flight, so that what is spooled next
// comes after them.
func (w *writer) settle() {
	for w.inflight > 0 {
		w.finish(<-w.done)
	}
}

// failed spools b after a failed write. If the commit happened after all
// (ambiguous: the connection broke during COMMIT), the replay finds b's id
// in ingest_batches and skips it.
func (w *writer) failed(b *batch, err error) {
	s := w.s
	w.lastErr = time.Now()
	s.m.writeErrors.Inc()
	s.log.Warn("ingest: batch write failed; spooling", "rows", len(b.rows), "err", err)
	w.toSpool(b)
}

func (w *writer) toSpool(b *batch) {
	s := w.s
	w.spoolB = b.encode(w.spoolB[:0])
	err := s.spool.append(w.spoolB)
	if err == nil {
		s.m.spoolBatches.WithLabelValues("spooled").Inc()
		return
	}
	// Counted per row, like every other drop: a batch is an accident of timing.
	s.m.dropped[reasonSpoolFull].Add(float64(len(b.rows)))
	if !errors.Is(err, errSpoolFull) {
		s.log.Error("ingest: spool write failed; batch dropped", "rows", len(b.rows), "err", err)
	} else {
		s.log.Error("ingest: spool full; batch dropped", "rows", len(b.rows), "limit_bytes", s.cfg.SpoolMaxBytes)
	}
}

// replay writes spooled batches, oldest first, until the spool is empty,
// a write fails, or the turn's budget is spent. A batch already committed
// (ambiguous commit) is skipped; one that cannot be decoded is counted and
// skipped.
func (w *writer) replay(ctx context.Context) {
	s := w.s
	if !s.spool.pending() || time.Since(w.lastErr) < s.cfg.RetryInterval || ctx.Err() != nil {
		return
	}
	w.settle() // older than anything in flight: nothing may overtake it
	start := time.Now()
	for time.Since(start) < replayBudget {
		rec, ok, err := s.spool.next()
		if err != nil {
			w.lastErr = time.Now()
			s.log.Error("ingest: spool read failed", "err", err)
			return
		}
		if !ok {
			return
		}
		b, err := decodeBatch(rec)
		if err != nil {
			s.spool.corrupt.Add(1)
			s.m.dropped[reasonSpoolCorrupt].Inc()
			s.log.Error("ingest: spooled batch unreadable; skipped", "err", err)
			s.spool.advance()
			continue
		}
		err = w.write(ctx, b)
		switch {
		case errors.Is(err, errAlreadyWritten):
			s.m.spoolBatches.WithLabelValues("skipped_duplicate").Inc()
		case err != nil:
			w.lastErr = time.Now()
			s.m.writeErrors.Inc()
			s.log.Warn("ingest: spool replay failed; will retry", "err", err)
			return
		default:
			s.m.spoolBatches.WithLabelValues("replayed").Inc()
		}
		s.spool.advance()
	}
}

// write stores b with the ordered path's buffers (see Server.writeBatch).
func (w *writer) write(ctx context.Context, b *batch) error { return w.s.writeBatch(ctx, &w.cp, b) }

// writeBatch stores b in one transaction on a pooled connection, encoding
// into c's buffers: its ingest_batches row first (which also makes a
// concurrent replay of the same batch wait, then skip), then a binary COPY
// per table. Returns errAlreadyWritten when the id is known.
func (s *Server) writeBatch(ctx context.Context, c *copier, b *batch) error {
	start := time.Now()
	w := c
	w.sipBuf = append(w.sipBuf[:0], copyHeader...)
	w.evBuf = append(w.evBuf[:0], copyHeader...)
	var nSIP, nEv int
	for _, r := range b.rows {
		if r.kind == kindSIP {
			w.sipBuf = appendSIPTuple(w.sipBuf, r)
			nSIP++
		} else {
			w.evBuf = appendEventTuple(w.evBuf, r)
			nEv++
		}
	}
	w.sipBuf = appendCopyTrailer(w.sipBuf)
	w.evBuf = appendCopyTrailer(w.evBuf)

	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.db.Owner(), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `/* ingest.write */ INSERT INTO ingest_batches (batch_id, rows)
			VALUES ($1, $2) ON CONFLICT (batch_id) DO NOTHING`, b.id, len(b.rows))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errAlreadyWritten
		}
		pc := tx.Conn().PgConn()
		if nSIP > 0 {
			if _, err := pc.CopyFrom(ctx, bytes.NewReader(w.sipBuf), copySIP); err != nil {
				return fmt.Errorf("copy sip_messages: %w", err)
			}
		}
		if nEv > 0 {
			if _, err := pc.CopyFrom(ctx, bytes.NewReader(w.evBuf), copyEvents); err != nil {
				return fmt.Errorf("copy hep_events: %w", err)
			}
		}
		return nil
	})
	if errors.Is(err, errAlreadyWritten) {
		return err
	}
	if err != nil {
		return fmt.Errorf("ingest: write batch %x (%d rows): %w", b.id[:4], len(b.rows), err)
	}
	s.m.flushSeconds.Observe(time.Since(start).Seconds())
	s.m.batchSize.Observe(float64(len(b.rows)))
	if nSIP > 0 {
		s.m.rowsWritten.WithLabelValues("sip_messages").Add(float64(nSIP))
	}
	if nEv > 0 {
		s.m.rowsWritten.WithLabelValues("hep_events").Add(float64(nEv))
	}
	return nil
}
