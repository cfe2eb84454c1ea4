package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// IssuedToken is a view token the server signed, as recorded in view_tokens.
// The token itself is never stored: the record is enough to list and revoke.
type IssuedToken struct {
	TenantID    int64      `db:"tenant_id"`
	JTI         string     `db:"jti"`
	CallID      string     `db:"call_id"`
	WindowStart time.Time  `db:"window_start"`
	WindowEnd   time.Time  `db:"window_end"`
	IssuedAt    time.Time  `db:"issued_at"`
	ExpiresAt   time.Time  `db:"expires_at"`
	Scopes      []string   `db:"scopes"`
	IssuedBy    string     `db:"issued_by"`
	RevokedAt   *time.Time `db:"revoked_at"`
}

// Tokens records issued tokens and their revocations. PostgreSQL is the
// record; Redis (Revocations) is what verifiers read, and SyncRevocations
// rebuilds it from PostgreSQL after Redis lost its memory.
type Tokens struct {
	db      *db.DB
	tenants *tenantdb.Store
	revs    *Revocations
	now     func() time.Time
}

// NewTokens returns the issued-token store. revs may be nil for a process
// that only records and lists (the revocation methods then refuse).
func NewTokens(d *db.DB, tenants *tenantdb.Store, revs *Revocations) *Tokens {
	return &Tokens{db: d, tenants: tenants, revs: revs, now: time.Now}
}

const issuedColumns = `tenant_id, jti, call_id, window_start, window_end, issued_at, expires_at, scopes, issued_by, revoked_at`

// record stores a freshly minted token. Returns Conflict if the jti exists.
func (s *Tokens) record(ctx context.Context, t IssuedToken) error {
	if t.Scopes == nil {
		t.Scopes = []string{}
	}
	err := s.db.InTenant(ctx, t.TenantID, func(tx pgx.Tx) error {
		// The commit waits for the WAL flush: a minted link whose record a
		// crash could lose would be a link nobody can revoke by jti, so the
		// record is as durable as the revocation that may follow it. (Most of
		// a mint's latency is this flush; the signing itself is ~30 µs.)
		_, err := tx.Exec(ctx, `/* Tokens.record */
			INSERT INTO view_tokens (tenant_id, jti, call_id, window_start, window_end, issued_at, expires_at, scopes, issued_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			t.TenantID, t.JTI, t.CallID, t.WindowStart, t.WindowEnd, t.IssuedAt, t.ExpiresAt, t.Scopes, t.IssuedBy)
		return err
	})
	if isUniqueViolation(err) {
		return callscope.Errorf(callscope.Conflict, "jti already issued")
	}
	if err != nil {
		return fmt.Errorf("auth.Tokens.record(%d): %w", t.TenantID, err)
	}
	return nil
}

// TokenFilter selects issued tokens of one tenant.
type TokenFilter struct {
	ActiveOnly bool // neither expired nor revoked
	Limit      int  // 0 means 100; at most 1000
}

// ListTokens returns tenantID's issued tokens, newest first.
func (s *Tokens) ListTokens(ctx context.Context, tenantID int64, f TokenFilter) ([]IssuedToken, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	var out []IssuedToken
	err := s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* Tokens.ListTokens */
			SELECT `+issuedColumns+` FROM view_tokens
			WHERE tenant_id = $1 AND (NOT $2 OR (revoked_at IS NULL AND expires_at > $3))
			ORDER BY issued_at DESC, jti LIMIT $4`, tenantID, f.ActiveOnly, s.now(), f.Limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[IssuedToken])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("auth.Tokens.ListTokens(%d): %w", tenantID, err)
	}
	return out, nil
}

// RevokeToken revokes token jti of tenantID: recorded in PostgreSQL first
// (so that SyncRevocations can restore it), then published to Redis until
// the token expires. Revoking twice is not an error. Returns NotFound if
// tenantID issued no such token (another tenant's jti included), and
// Unavailable when Redis cannot take it (the PostgreSQL record stays, and
// a retry or SyncRevocations finishes the job).
func (s *Tokens) RevokeToken(ctx context.Context, tenantID int64, jti string) error {
	if s.revs == nil {
		return fmt.Errorf("auth.Tokens.RevokeToken: no revocation store")
	}
	var (
		slug    string
		expires time.Time
	)
	err := s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `/* Tokens.RevokeToken */
			UPDATE view_tokens v SET revoked_at = coalesce(v.revoked_at, now())
			FROM tenants t
			WHERE v.tenant_id = $1 AND v.jti = $2 AND t.id = v.tenant_id
			RETURNING t.slug, v.expires_at`, tenantID, jti).Scan(&slug, &expires)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return callscope.Errorf(callscope.NotFound, "no such token")
	}
	if err != nil {
		return fmt.Errorf("auth.Tokens.RevokeToken(%d): %w", tenantID, err)
	}
	if err := s.revs.RevokeJTI(ctx, slug, jti, expires); err != nil {
		return fmt.Errorf("auth.Tokens.RevokeToken(%d): %w", tenantID, err)
	}
	return nil
}

// RevokeAllTenantTokens revokes every token of tenantID issued until now,
// whoever signed it: the tenant epoch, recorded in PostgreSQL
// (tenants.tokens_valid_after) and then in Redis. The tenant's recorded
// live tokens are marked revoked for the console. Returns NotFound for an
// unknown tenant and Unavailable when Redis cannot take it.
func (s *Tokens) RevokeAllTenantTokens(ctx context.Context, tenantID int64) (time.Time, error) {
	if s.revs == nil {
		return time.Time{}, fmt.Errorf("auth.Tokens.RevokeAllTenantTokens: no revocation store")
	}
	t, err := s.tenants.ByID(ctx, tenantID)
	if err != nil {
		return time.Time{}, err
	}
	at := s.now()
	if err := s.tenants.SetTokensValidAfter(ctx, tenantID, at); err != nil {
		return time.Time{}, err
	}
	err = s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `/* Tokens.RevokeAllTenantTokens */
			UPDATE view_tokens SET revoked_at = $2
			WHERE tenant_id = $1 AND revoked_at IS NULL AND issued_at <= $2 AND expires_at > $2`, tenantID, at)
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("auth.Tokens.RevokeAllTenantTokens(%d): %w", tenantID, err)
	}
	if err := s.revs.RevokeAllBefore(ctx, t.Slug, at); err != nil {
		return time.Time{}, fmt.Errorf("auth.Tokens.RevokeAllTenantTokens(%d): %w", tenantID, err)
	}
	return at, nil
}

// SyncRevocations publishes to Redis every revocation PostgreSQL records
// that may still matter: each revoked token not yet expired (beyond the
// largest leeway) and each tenant epoch. Redis on these machines keeps
// nothing on disk, so the query role runs this on start; it is idempotent
// (epochs only move forward) and returns how many keys it wrote.
func (s *Tokens) SyncRevocations(ctx context.Context) (int, error) {
	if s.revs == nil {
		return 0, fmt.Errorf("auth.Tokens.SyncRevocations: no revocation store")
	}
	type jtiRev struct {
		Slug    string    `db:"slug"`
		JTI     string    `db:"jti"`
		Expires time.Time `db:"expires_at"`
	}
	type epoch struct {
		Slug  string    `db:"slug"`
		After time.Time `db:"tokens_valid_after"`
	}
	var (
		jtis   []jtiRev
		epochs []epoch
	)
	// Across tenants on purpose: this restores the whole revocation state.
	err := s.db.AllTenants(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* Tokens.SyncRevocations */
			SELECT t.slug, v.jti, v.expires_at FROM view_tokens v JOIN tenants t ON t.id = v.tenant_id
			WHERE v.revoked_at IS NOT NULL AND v.expires_at > $1`, s.now().Add(-MaxLeeway))
		if err != nil {
			return err
		}
		if jtis, err = pgx.CollectRows(rows, pgx.RowToStructByName[jtiRev]); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `/* Tokens.SyncRevocations */
			SELECT slug, tokens_valid_after FROM tenants WHERE tokens_valid_after IS NOT NULL`)
		if err != nil {
			return err
		}
		epochs, err = pgx.CollectRows(rows, pgx.RowToStructByName[epoch])
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("auth.Tokens.SyncRevocations: %w", err)
	}
	n := 0
	for _, r := range jtis {
		if err := s.revs.RevokeJTI(ctx, r.Slug, r.JTI, r.Expires); err != nil {
			return n, fmt.Errorf("auth.Tokens.SyncRevocations: %w", err)
		}
		n++
	}
	for _, e := range epochs {
		if err := s.revs.RevokeAllBefore(ctx, e.Slug, e.After); err != nil {
			return n, fmt.Errorf("auth.Tokens.SyncRevocations: %w", err)
		}
		n++
	}
	return n, nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// DefaultRedisPrefix namespaces callscope's revocation and rate-limit keys
// in Redis. The serve wiring and the CLI must use the same prefix, or a
// revocation made by one would be invisible to the other.
const DefaultRedisPrefix = "callscope:"
