package query

import (
	"github.com/callscope/callscope/db"
)

// Store reads calls. It never writes: ingest owns sip_messages.
type Store struct {
	db *db.DB
}

// NewStore returns a Store over d.
func NewStore(d *db.DB) *Store { return &Store{db: d} }
