package query

import (
	"time"

	"github.com/callscope/callscope/db"
)

// Store reads calls. It never writes: ingest owns sip_messages and
// call_records.
type Store struct {
	db *db.DB
	// now decides whether a call record without a final response is still
	// in progress or has timed out.
	now func() time.Time
}

// NewStore returns a Store over d.
func NewStore(d *db.DB) *Store { return &Store{db: d, now: time.Now} }
