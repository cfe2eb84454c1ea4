package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

// writer is the one goroutine that takes rows off the queue, forms batches
// by size or by interval, and writes them; the spool is its own.
type writer struct {
	s       *Server
	sipBuf  []byte
	evBuf   []byte
	spoolB  []byte
	lastErr time.Time // last failed write; replay waits RetryInterval after it

	// drainCtx bounds the writes made after the queue is closed; set by
	// Run before it closes the queue.
	drainCtx context.Context
}

// run consumes the queue until it is closed and empty; the last batch is
// written with drainCtx (the shutdown deadline) or spooled.
func (w *writer) run(ctx context.Context) {
	s := w.s
	cur := &batch{rows: make([]*row, 0, s.cfg.BatchSize)}
	timer := time.NewTimer(s.cfg.FlushInterval)
	defer timer.Stop()
	retry := time.NewTicker(s.cfg.RetryInterval / 2)
	defer retry.Stop()

	flush := func(ctx context.Context, replay bool) {
		if len(cur.rows) == 0 {
			return
		}
		w.flush(ctx, cur, replay)
		cur.rows = cur.rows[:0]
	}
	for {
		select {
		case r, ok := <-s.queue:
			if !ok {
				flush(w.drainCtx, false)
				return
			}
			if len(cur.rows) == 0 {
				timer.Reset(s.cfg.FlushInterval)
			}
			cur.rows = append(cur.rows, r)
			if len(cur.rows) >= s.cfg.BatchSize {
				flush(ctx, true)
			}
		case <-timer.C:
			flush(ctx, true)
		case <-retry.C:
			w.replay(ctx)
		}
	}
}

// flush writes b, or spools it when the spool already holds older batches
// (order is kept) or the write fails. The rows go back to the pool.
func (w *writer) flush(ctx context.Context, b *batch, replay bool) {
	s := w.s
	b.id = newBatchID()
	if s.spool.pending() {
		w.toSpool(b)
		if replay {
			w.replay(ctx)
		}
	} else if err := w.write(ctx, b); err != nil {
		w.lastErr = time.Now()
		s.m.writeErrors.Inc()
		s.log.Warn("ingest: batch write failed; spooling", "rows", len(b.rows), "err", err)
		w.toSpool(b)
	}
	for _, r := range b.rows {
		putRow(r)
	}
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

// write stores b in one transaction: its ingest_batches row first (which
// also makes a concurrent replay of the same batch wait, then skip), then
// a binary COPY per table. Returns errAlreadyWritten when the id is known.
func (w *writer) write(ctx context.Context, b *batch) error {
	s := w.s
	start := time.Now()
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
