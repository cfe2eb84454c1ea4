package ingest

import (
	"context"
	"os"
	"time"

	"github.com/callscope/callscope/tenant"
)

// behindAfter: a lag under it is batching and writing as usual; from it on
// ingest reports itself behind.
const behindAfter = 5 * time.Second

// behindLogEvery is how often the "behind by" line repeats while behind.
const behindLogEvery = 10 * time.Second

// statsKeep is how long per-minute node counts are kept (an hour is shown).
const statsKeep = 3 * time.Hour

// status is what the upkeep goroutine remembers between two health
// reports.
type status struct {
	instance    string
	started     time.Time
	prevBacklog int64
	behindSince time.Time // zero while caught up
	lastLog     time.Time
	lastPrune   time.Time
	failLog     logEvery
}

// instanceName names this process in the lag status: the host and the
// HEP address it listens on, stable across restarts.
func instanceName(configured, addr string) string {
	if configured != "" {
		return configured
	}
	host, err := os.Hostname()
	if err != nil {
		host = "ingest"
	}
	return host + " " + addr
}

// reportHealth writes each node's counts since the last report and how far
// behind this process is, and says so in the log while it is behind
// ("behind by 40 s (12.5 MB waiting), catching up"), independently of
// /readyz: a slow PostgreSQL answers pings.
func (s *Server) reportHealth(ctx context.Context, now time.Time) {
	st := &s.status
	if err := s.nodes.flushStats(ctx, now.Truncate(time.Minute)); err != nil && ctx.Err() == nil {
		if ok, held := st.failLog.allow(now, time.Minute); ok {
			s.log.Warn("ingest: node health not written; kept for the next try", "err", err, "repeats", held)
		}
	}
	if now.Sub(st.lastPrune) > 10*time.Minute {
		if err := s.nodes.store.PruneNodeStats(ctx, now.Add(-statsKeep)); err == nil {
			st.lastPrune = now
		}
	}

	lag := s.lag(now)
	backlog := s.queued.Load() + s.spoolBytes()
	trend := tenant.CaughtUp
	if lag >= behindAfter {
		trend = tenant.FallingBehind
		if backlog < st.prevBacklog {
			trend = tenant.CatchingUp
		}
	}
	st.prevBacklog = backlog
	rep := tenant.IngestStatus{Instance: st.instance, StartedAt: st.started, LagSeconds: lag.Seconds(),
		BacklogBytes: backlog, SpoolBytes: s.spoolBytes(), Trend: trend}
	switch {
	case trend != tenant.CaughtUp:
		if st.behindSince.IsZero() {
			st.behindSince = now
		}
		if now.Sub(st.lastLog) >= behindLogEvery {
			st.lastLog = now
			s.log.Warn("ingest: "+rep.Summary(), "lag_seconds", int(lag.Seconds()), "backlog_bytes", backlog,
				"spool_bytes", rep.SpoolBytes)
		}
	case !st.behindSince.IsZero():
		s.log.Info("ingest: caught up", "was_behind_for", now.Sub(st.behindSince).Round(time.Second).String())
		st.behindSince, st.lastLog = time.Time{}, time.Time{}
	}
	if err := s.nodes.store.ReportIngestStatus(ctx, rep); err != nil && ctx.Err() == nil {
		if ok, held := st.failLog.allow(now, time.Minute); ok {
			s.log.Warn("ingest: status not written", "err", err, "repeats", held)
		}
	}
}
