package tenant

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Capture health: what each capture node sent over the last hour, as the
// ingest processes count it, and how far each ingest process is behind
// PostgreSQL. Ingest reports both every few seconds; `callscope node list`
// and the console's nodes page read them.

// OutcomeAccepted is the outcome of a packet that was stored (or is on its
// way); every other outcome is a drop reason.
const OutcomeAccepted = "accepted"

// NodeStat is one capture node's count of one outcome in one minute, as
// one ingest process reports it.
type NodeStat struct {
	TenantID  int64
	CaptureID uint32
	Minute    time.Time // start of the minute
	Outcome   string    // OutcomeAccepted or a drop reason (bad_auth_key, ...)
	Packets   int64
	LastSeen  time.Time // the last such packet
}

// NodeKey names a capture node of a tenant.
type NodeKey struct {
	TenantID  int64
	CaptureID uint32
}

// NodeHealth is what a capture node sent over a period.
type NodeHealth struct {
	LastPacket time.Time // zero when nothing came in the period
	Accepted   int64
	Dropped    map[string]int64 // by reason; nil when nothing was dropped
}

// Drops is the number of packets dropped, every reason together.
func (h NodeHealth) Drops() int64 {
	var n int64
	for _, v := range h.Dropped {
		n += v
	}
	return n
}

// ReasonCount is a drop reason and how many packets it dropped.
type ReasonCount struct {
	Reason  string
	Packets int64
}

// DropReasons returns the drops by reason, most first.
func (h NodeHealth) DropReasons() []ReasonCount {
	out := make([]ReasonCount, 0, len(h.Dropped))
	for r, n := range h.Dropped {
		out = append(out, ReasonCount{Reason: r, Packets: n})
	}
	slices.SortFunc(out, func(a, b ReasonCount) int {
		if c := cmp.Compare(b.Packets, a.Packets); c != 0 {
			return c
		}
		return strings.Compare(a.Reason, b.Reason)
	})
	return out
}

// Trends of an ingest process's backlog.
const (
	CaughtUp      = "caught_up"
	CatchingUp    = "catching_up"
	FallingBehind = "falling_behind"
)

// IngestStatus is how far one ingest process is behind PostgreSQL.
type IngestStatus struct {
	Instance     string    `db:"instance"` // host and HEP address
	StartedAt    time.Time `db:"started_at"`
	UpdatedAt    time.Time `db:"updated_at"`
	LagSeconds   float64   `db:"lag_seconds"`   // age of the oldest accepted message not written yet
	BacklogBytes int64     `db:"backlog_bytes"` // memory and spool waiting to be written
	SpoolBytes   int64     `db:"spool_bytes"`
	Trend        string    `db:"trend"` // CaughtUp, CatchingUp or FallingBehind
}

// Summary says where the process stands, e.g. "behind by 40 s (12.5 MB
// waiting), catching up" or "caught up".
func (st IngestStatus) Summary() string {
	if st.Trend == CaughtUp {
		return "caught up"
	}
	trend := "catching up"
	if st.Trend == FallingBehind {
		trend = "falling behind"
	}
	return fmt.Sprintf("behind by %s (%s waiting), %s", roundLag(st.LagSeconds), megabytes(st.BacklogBytes), trend)
}

// Silent reports a status not refreshed for a while at now: the process
// stopped, or cannot reach PostgreSQL.
func (st IngestStatus) Silent(now time.Time) bool { return now.Sub(st.UpdatedAt) > time.Minute }

func roundLag(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	if d < time.Minute {
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	}
	return d.Round(time.Second).String()
}

func megabytes(b int64) string {
	return fmt.Sprintf("%.1f MB", float64(b)/1e6)
}
