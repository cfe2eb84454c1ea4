package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// errAlreadyWritten: the batch's id is in ingest_batches, so an earlier
// attempt committed it (a replay after an ambiguous commit or a crash).
var errAlreadyWritten = errors.New("ingest: batch already written")

// errAborted: the batch before this one failed, so this one was rolled back
// rather than committed ahead of it.
var errAborted = errors.New("ingest: rolled back behind a failed batch")

// writeTimeout bounds each step of one batch write (the COPYs, the commit),
// so a PostgreSQL that hangs rather than refusing fails the batch, which is
// then retried, instead of stalling the writer for ever.
const writeTimeout = 10 * time.Second

// lagEvery is how often the writer publishes how far behind it is.
const lagEvery = 250 * time.Millisecond

// writer is the goroutine that takes rows off the queue, forms batches by
// size or by interval, and sees each one written, in the order it was
// formed, exactly once.
//
// Batches wait in one logical line, oldest first:
//
//	retry | head | spool (disk) | tail
//
// retry holds batches whose write failed (they go first again after
// RetryInterval), head batches formed in memory, the spool batches that did
// not fit in memory, and tail batches formed while the spool was full.
// A new batch joins head while nothing is spooled, no write is failing and
// the queue's memory is under half its bound; otherwise it is spilled to
// the end of the spool, so that nothing overtakes what is spooled. Writers copier goroutines
// take batches from the front of the line, each COPYing on its own
// connection, so PostgreSQL's per-row work (heap and index inserts, WAL)
// runs on as many backends; but a copier commits only after the batch
// before it committed, so batches become visible in the order they were
// formed, and a batch behind a failed one rolls back and is retried after
// it. The batch id (ingest_batches) keeps every path exactly-once.
type writer struct {
	s   *Server
	ctx context.Context // writes while serving
	// drainCtx bounds the writes made after the queue is closed; set by
	// Run before it closes the queue.
	drainCtx context.Context

	cur      *batch // being formed
	retry    []*batch
	head     []*batch
	tail     []*batch
	inflight []*job // handed to copiers, in write order
	order    uint64 // last write order given
	last     chan bool
	failed   bool      // a job failed: start no other until the line in flight settled
	backoff  time.Time // no job starts before it

	work    chan *job
	results chan *job
	copiers sync.WaitGroup
	free    []*batch
	spoolB  []byte

	failLog, spoolLog logEvery
}

// copier holds the COPY buffers of one writing goroutine.
type copier struct {
	sipBuf, evBuf []byte
}

// job is one batch handed to a copier, and its outcome.
type job struct {
	ctx context.Context
	b   *batch
	// prev delivers whether the job before committed; outcome delivers
	// this one's to the job after (buffered: the copier never waits).
	prev    <-chan bool
	outcome chan bool
	err     error
	done    bool
}

func newWriter(s *Server, ctx context.Context) *writer {
	return &writer{s: s, ctx: ctx, drainCtx: ctx}
}

// run consumes the queue until it is closed and empty, then writes what it
// can within drainCtx and spools the rest.
func (w *writer) run() {
	s := w.s
	n := s.cfg.Writers
	w.work, w.results = make(chan *job, n), make(chan *job, n)
	for range n {
		w.copiers.Add(1)
		go func() { defer w.copiers.Done(); w.copyLoop() }()
	}
	defer w.copiers.Wait()
	defer close(w.work)

	w.cur = w.newBatch()
	flush := time.NewTimer(s.cfg.FlushInterval)
	defer flush.Stop()
	tick := time.NewTicker(lagEvery)
	defer tick.Stop()
	for {
		w.dispatch(w.ctx, false)
		select {
		case r, ok := <-s.queue:
			if !ok {
				w.drain()
				return
			}
			if len(w.cur.rows) == 0 {
				flush.Reset(s.cfg.FlushInterval)
			}
			w.cur.add(r)
			if len(w.cur.rows) >= s.cfg.BatchSize {
				w.form()
			}
		case j := <-w.results:
			w.complete(j)
		case <-flush.C:
			w.form()
		case <-tick.C:
			if len(w.tail) > 0 {
				w.spill()
			}
			w.publishLag()
		}
	}
}

// copyLoop is a copier goroutine.
func (w *writer) copyLoop() {
	var cp copier
	for j := range w.work {
		j.err = w.s.writeBatch(j.ctx, &cp, j.b, j.prev)
		j.outcome <- j.err == nil || errors.Is(j.err, errAlreadyWritten)
		w.results <- j
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

// recycle releases b's rows and keeps b for reuse.
func (w *writer) recycle(b *batch) {
	w.s.release(b)
	b.reset()
	w.free = append(w.free, b)
}

// form closes the batch being formed and puts it in line.
func (w *writer) form() {
	if len(w.cur.rows) == 0 {
		return
	}
	b := w.cur
	w.cur = w.newBatch()
	b.id = newBatchID()
	s := w.s
	// While writes fail (PostgreSQL away) new batches go to disk at once:
	// the outage may last, and the spool survives a crash of the process.
	if !s.spool.pending() && len(w.tail) == 0 && len(w.retry) == 0 && s.queued.Load() <= s.cfg.QueueBytes/2 {
		w.head = append(w.head, b)
		return
	}
	w.tail = append(w.tail, b)
	w.spill()
}

// spill moves tail to the end of the spool, in order, until the spool
// refuses (full, or an I/O error): then the rest waits in memory, and once
// memory is full too readers drop datagrams as spool_full and TCP waits.
func (w *writer) spill() {
	s := w.s
	for len(w.tail) > 0 {
		b := w.tail[0]
		w.spoolB = b.encode(w.spoolB[:0])
		s.spoolNeed.Store(int64(spoolRecHeader + len(w.spoolB)))
		err := s.spool.append(w.spoolB)
		s.spoolErr.Store(err != nil && !errors.Is(err, errSpoolFull))
		if err != nil {
			if ok, held := w.spoolLog.allow(time.Now(), 10*time.Second); ok {
				s.log.Error("ingest: spool refuses batches; holding them in memory, datagrams will be dropped once it is full",
					"err", err, "spool_bytes", s.spool.size.Load(), "limit_bytes", s.cfg.SpoolMaxBytes,
					"batches_waiting", len(w.tail), "repeats", held)
			}
			return
		}
		s.m.spoolBatches.WithLabelValues("spooled").Inc()
		w.tail[0] = nil
		w.tail = w.tail[1:]
		w.recycle(b)
	}
}

// dispatch hands batches from the front of the line to idle copiers. With
// memOnly (shutdown), the spool is left for the next process.
func (w *writer) dispatch(ctx context.Context, memOnly bool) {
	s := w.s
	for len(w.inflight) < s.cfg.Writers {
		if !s.spool.pending() && len(w.tail) > 0 {
			// Nothing spooled lies between head and tail any more.
			w.head = append(w.head, w.tail...)
			clear(w.tail)
			w.tail = w.tail[:0]
		}
		if len(w.retry)+len(w.head) == 0 && (memOnly || !s.spool.pending()) {
			return
		}
		if w.failed {
			if len(w.inflight) > 0 {
				return // the jobs behind the failure are still rolling back
			}
			w.failed = false
		}
		if !w.backoff.IsZero() && !memOnly {
			if time.Now().Before(w.backoff) {
				return
			}
			w.backoff = time.Time{}
		}
		b := w.take()
		if b == nil {
			return
		}
		w.start(ctx, b)
	}
}

// take removes the batch at the front of the line: retry, head, then the
// spool; nil when there is none (or the spool cannot be read).
func (w *writer) take() *batch {
	pop := func(l *[]*batch) *batch {
		b := (*l)[0]
		(*l)[0] = nil
		*l = (*l)[1:]
		return b
	}
	switch {
	case len(w.retry) > 0:
		return pop(&w.retry)
	case len(w.head) > 0:
		return pop(&w.head)
	}
	s := w.s
	for {
		rec, seg, ok, err := s.spool.next()
		if err != nil {
			w.backoff = time.Now().Add(s.cfg.RetryInterval)
			s.log.Error("ingest: spool read failed; will retry", "err", err)
			return nil
		}
		if !ok {
			return nil
		}
		b := w.newBatch()
		err = decodeBatch(rec, b)
		s.spool.advance()
		if err != nil {
			s.m.dropped[reasonSpoolCorrupt].Inc()
			s.log.Error("ingest: spooled batch unreadable; skipped", "err", err)
			b.reset()
			w.free = append(w.free, b)
			continue
		}
		s.spool.taken(seg)
		b.seg = seg
		var n int64
		for _, r := range b.rows {
			n += r.footprint()
		}
		s.queued.Add(n) // given back by release, like any row
		return b
	}
}

// start hands b to a copier, behind the job last handed out.
func (w *writer) start(ctx context.Context, b *batch) {
	if b.order == 0 {
		w.order++
		b.order = w.order
	}
	j := &job{ctx: ctx, b: b, prev: w.last, outcome: make(chan bool, 1)}
	w.last = j.outcome
	w.inflight = append(w.inflight, j)
	if n := int64(len(w.inflight)); n > w.s.peakWrites.Load() {
		w.s.peakWrites.Store(n)
	}
	w.work <- j // never blocks: at most Writers jobs are out
}

// complete takes a copier's outcome. Outcomes are settled in write order:
// a written batch is released; a failed one goes back to the front of the
// line, after RetryInterval.
func (w *writer) complete(j *job) {
	s := w.s
	j.done = true
	for len(w.inflight) > 0 && w.inflight[0].done {
		j := w.inflight[0]
		w.inflight[0] = nil
		w.inflight = w.inflight[1:]
		b := j.b
		switch {
		case j.err == nil, errors.Is(j.err, errAlreadyWritten):
			if b.seg != 0 {
				s.spool.done(b.seg)
				event := "replayed"
				if j.err != nil {
					event = "skipped_duplicate"
				}
				s.m.spoolBatches.WithLabelValues(event).Inc()
			}
			w.recycle(b)
		case refused(j.err):
			// PostgreSQL refuses this data itself: retrying cannot help,
			// and would hold back everything behind it.
			s.m.dropped[reasonWriteRefused].Add(float64(len(b.rows)))
			s.nodes.countRows(b.rows, reasonWriteRefused)
			s.log.Error("ingest: PostgreSQL refused a batch; dropped", "rows", len(b.rows), "err", j.err)
			if b.seg != 0 {
				s.spool.done(b.seg)
			}
			w.recycle(b)
		default:
			if !errors.Is(j.err, errAborted) {
				s.m.writeErrors.Inc()
				if ok, held := w.failLog.allow(time.Now(), 10*time.Second); ok {
					s.log.Warn("ingest: batch write failed; will retry in order", "rows", len(b.rows), "err", j.err, "repeats", held)
				}
			}
			w.failed = true
			w.backoff = time.Now().Add(s.cfg.RetryInterval)
			w.retry = insertByOrder(w.retry, b)
		}
	}
	if len(w.inflight) == 0 {
		w.last = nil // nothing in flight to wait for
		if w.failed && !s.spool.pending() && len(w.tail) == 0 && len(w.retry)+len(w.head) > 0 {
			// PostgreSQL refuses writes, and may for a while: what memory
			// holds goes to disk, in order, where a crash cannot take it.
			for _, b := range w.retry {
				if b.seg != 0 {
					s.spool.done(b.seg) // spooled again below
					b.seg = 0
				}
			}
			w.tail = append(append(w.tail, w.retry...), w.head...)
			w.retry, w.head = w.retry[:0], w.head[:0]
			w.spill()
		}
	}
}

// refused reports an error that writing the same batch again cannot cure:
// PostgreSQL rejected the data (SQLSTATE class 22, data exception, or 23,
// integrity constraint).
func refused(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && len(pe.Code) == 5 && (pe.Code[:2] == "22" || pe.Code[:2] == "23")
}

// insertByOrder puts b into l, which is sorted by write order.
func insertByOrder(l []*batch, b *batch) []*batch {
	i := len(l)
	for i > 0 && l[i-1].order > b.order {
		i--
	}
	l = append(l, nil)
	copy(l[i+1:], l[i:])
	l[i] = b
	return l
}

// drain runs once the queue is closed: it writes what memory holds within
// drainCtx, behind what is in flight, then spools what is left: the older
// batches (retry, head) before everything spooled, tail after it.
func (w *writer) drain() {
	s := w.s
	w.form()
	for {
		if !w.failed && w.drainCtx.Err() == nil {
			w.dispatch(w.drainCtx, true)
		}
		if len(w.inflight) == 0 {
			break
		}
		w.complete(<-w.results)
	}
	older := append(w.retry, w.head...)
	var recs [][]byte
	for _, b := range older {
		recs = append(recs, b.encode(nil))
	}
	if err := s.spool.prepend(recs); err != nil {
		// Out of order, but not lost: behind what is spooled.
		s.log.Error("ingest: cannot spool the batches held in memory ahead of the spool; spooling them behind it", "err", err)
		w.tail = append(older, w.tail...)
	} else {
		s.m.spoolBatches.WithLabelValues("spooled").Add(float64(len(older)))
		for _, b := range older {
			w.recycle(b)
		}
	}
	w.retry, w.head = nil, nil
	w.spill()
	for _, b := range w.tail {
		s.m.dropped[reasonSpoolFull].Add(float64(len(b.rows)))
		s.nodes.countRows(b.rows, reasonSpoolFull)
		s.log.Error("ingest: spool full at shutdown; batch dropped", "rows", len(b.rows))
		w.recycle(b)
	}
	w.tail = nil
	w.publishLag()
}

// publishLag records the receive time of the oldest message not written
// yet (0: none), for the lag metric and status.
func (w *writer) publishLag() {
	var oldest int64
	see := func(t int64) {
		if t != 0 && (oldest == 0 || t < oldest) {
			oldest = t
		}
	}
	if len(w.inflight) > 0 {
		see(w.inflight[0].b.oldest)
	}
	for _, l := range [][]*batch{w.retry, w.head, w.tail} {
		if len(l) > 0 {
			see(l[0].oldest)
		}
	}
	if t, ok := w.s.spool.headOldest(); ok {
		see(t)
	}
	if len(w.cur.rows) > 0 {
		see(w.cur.oldest)
	}
	w.s.lagOldest.Store(oldest)
}

// writeBatch stores b in one transaction on a pooled connection, encoding
// into c's buffers, and commits it only once prev (the batch before it)
// committed. Returns errAlreadyWritten when b's id is known, errAborted
// when prev failed.
func (s *Server) writeBatch(ctx context.Context, c *copier, b *batch, prev <-chan bool) error {
	start := time.Now()
	nSIP, nEv := c.encode(b, s.corrNames)
	cb := s.foldRecords(b.rows)
	defer releaseRecords(cb)

	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	tx, err := s.db.Owner().Begin(wctx)
	if err != nil {
		return fmt.Errorf("ingest: write batch %x (%d rows): begin: %w", b.id[:4], len(b.rows), err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit a no-op
	err = s.writeInTx(wctx, tx, c, b, nSIP, nEv)
	if err != nil && !errors.Is(err, errAlreadyWritten) {
		return fmt.Errorf("ingest: write batch %x (%d rows): %w", b.id[:4], len(b.rows), err)
	}
	if prev != nil {
		select {
		case ok := <-prev:
			if !ok {
				return errAborted
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err != nil {
		return err // already written: the deferred rollback ends the transaction
	}
	if err := s.applyRecords(wctx, tx, cb); err != nil {
		return fmt.Errorf("ingest: write batch %x (%d rows): call records: %w", b.id[:4], len(b.rows), err)
	}
	cctx, ccancel := context.WithTimeout(ctx, writeTimeout)
	defer ccancel()
	if err := tx.Commit(cctx); err != nil {
		return fmt.Errorf("ingest: write batch %x (%d rows): commit: %w", b.id[:4], len(b.rows), err)
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

// encode fills c's COPY buffers with b's rows and counts them per table.
func (c *copier) encode(b *batch, corrNames []string) (nSIP, nEv int) {
	c.sipBuf = append(c.sipBuf[:0], copyHeader...)
	c.evBuf = append(c.evBuf[:0], copyHeader...)
	for _, r := range b.rows {
		if r.kind == kindSIP {
			c.sipBuf = appendSIPTuple(c.sipBuf, r, corrNames)
			nSIP++
		} else {
			c.evBuf = appendEventTuple(c.evBuf, r)
			nEv++
		}
	}
	c.sipBuf = appendCopyTrailer(c.sipBuf)
	c.evBuf = appendCopyTrailer(c.evBuf)
	return nSIP, nEv
}

// writeInTx is the one place a batch is written, inside its transaction:
// its ingest_batches row first (which also makes a concurrent write of the
// same batch wait, then find it written), then a binary COPY per table
// from c's buffers (filled by encode). Returns errAlreadyWritten when the
// id is known.
//
// It runs while the batch before may still be uncommitted: only inserts of
// rows no other batch touches belong here. A write that locks rows other
// batches write too (an upsert keyed by Call-ID) must come after writeBatch
// has waited for prev: done here, a later batch could hold a lock the
// earlier one waits for while it waits for the earlier one to commit.
func (s *Server) writeInTx(ctx context.Context, tx pgx.Tx, c *copier, b *batch, nSIP, nEv int) error {
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
		if _, err := pc.CopyFrom(ctx, bytes.NewReader(c.sipBuf), copySIP); err != nil {
			return fmt.Errorf("copy sip_messages: %w", err)
		}
	}
	if nEv > 0 {
		if _, err := pc.CopyFrom(ctx, bytes.NewReader(c.evBuf), copyEvents); err != nil {
			return fmt.Errorf("copy hep_events: %w", err)
		}
	}
	return nil
}

// logEvery lets a log line through at most once per interval and counts
// the ones it held back.
type logEvery struct {
	last time.Time
	held int
}

func (l *logEvery) allow(now time.Time, every time.Duration) (bool, int) {
	if !l.last.IsZero() && now.Sub(l.last) < every {
		l.held++
		return false, 0
	}
	held := l.held
	l.last, l.held = now, 0
	return true, held
}
