package ingest

import (
	"context"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/callrec"
	"github.com/callscope/callscope/calls"
	"github.com/callscope/callscope/hep"
	"github.com/callscope/callscope/qos"
)

// view is b as a string without a copy, for a callee that copies what it
// keeps; b must not change while the string is in use.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// recordBatches recycles the per-batch record builders, one per write in
// flight.
var recordBatches = sync.Pool{New: func() any { return callrec.NewBatch() }}

// foldRecords folds rows into per-call states, ready for applyRecords. It
// is work on the batch's own rows only, so it runs before the batch waits
// for the one before it. Give the result back with releaseRecords.
func (s *Server) foldRecords(rows []*row) *callrec.Batch {
	cb := recordBatches.Get().(*callrec.Batch)
	var m callrec.Message
	for _, r := range rows {
		callID := r.field(fCallID)
		switch {
		case len(callID) == 0:
		case r.kind == kindSIP:
			// The strings view the row's buffer, which outlives this call:
			// the state copies what it keeps (callrec.Message).
			m = callrec.Message{At: time.UnixMicro(r.capturedAt), Src: r.src, Dst: r.dst,
				Node: view(r.field(fNodeName)), Payload: r.field(fPayload)}
			if m.Node == "" {
				m.Node = strconv.FormatUint(uint64(r.captureID), 10)
			}
			if corr := r.field(fCorrelation); len(corr) > 0 {
				m.Correlation, m.CorrelationSource = view(corr), corrSourceName(s.corrNames, r.corrSrc)
			}
			cb.AddSIP(r.tenantID, callID, &m)
		case r.payloadType == hep.PayloadRTCP || r.payloadType == hep.PayloadQoSFull || r.payloadType == hep.PayloadQoSShort:
			reports, err := qos.Parse(int(r.payloadType), r.field(fPayload), time.UnixMicro(r.capturedAt))
			if err != nil {
				continue // stored as an event all the same; it just says nothing of quality
			}
			for _, rep := range reports {
				cb.AddQoS(r.tenantID, callID, rep)
			}
		}
	}
	return cb
}

// releaseRecords recycles what foldRecords made.
func releaseRecords(cb *callrec.Batch) {
	cb.Reset()
	recordBatches.Put(cb)
}

// applyRecords merges cb into the stored records inside tx, the
// transaction that COPYs the batch, so a record is current as soon as its
// messages are visible and a replayed batch is counted once (ingest_batches
// is in the same transaction). It locks records that other batches update
// too, so writeBatch calls it only once the batch before committed.
//
// It runs under a savepoint: records are derived data, and a failure to
// update them (a state this version cannot merge, a bug) must not send
// the batch's messages to the spool and stall ingest behind it. Such a
// batch is written without its record updates, counted on
// callscope_ingest_record_errors_total and logged; `callscope calls
// rebuild` recomputes the records from the stored messages. A failure of
// the savepoint itself fails the batch: the transaction is gone.
func (s *Server) applyRecords(ctx context.Context, tx pgx.Tx, cb *callrec.Batch) error {
	if cb.Len() == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `SAVEPOINT call_records`); err != nil {
		return err
	}
	if err := calls.Apply(ctx, tx, cb.States()); err != nil {
		if _, rbErr := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT call_records`); rbErr != nil {
			return rbErr
		}
		s.m.recordErrors.Inc()
		s.log.Error("ingest: call records not updated; messages written (run `callscope calls rebuild` over their time)",
			"calls", cb.Len(), "err", err)
		return nil
	}
	s.m.rowsWritten.WithLabelValues("call_records").Add(float64(cb.Len()))
	return nil
}
