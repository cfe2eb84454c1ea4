package authdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// RevocationPublisher is where the revocations recorded here are published
// for verifiers to read (authredis.Revocations).
type RevocationPublisher interface {
	RevokeJTI(ctx context.Context, tenant, jti string, until time.Time) error
	RevokeAllBefore(ctx context.Context, tenant string, at time.Time) error
	// Restore writes a tenant's whole state, after Redis lost it.
	Restore(ctx context.Context, st auth.TenantRevocations) error
}

// Tokens records issued tokens and every revocation. PostgreSQL is the
// record; Redis is what verifiers read, and SyncTenant and SyncRevocations
// rebuild it from PostgreSQL after Redis lost its data.
type Tokens struct {
	db      *db.DB
	tenants *tenantdb.Store
	revs    RevocationPublisher
	limits  auth.Limits
	now     func() time.Time
}

// NewTokens returns the issued-token store. revs may be nil for a process
// that only records and lists (the revocation methods then refuse). limits
// are the verifiers' (zero fields: the defaults): a revocation of a token
// the server never saw lasts as long as such a token could.
func NewTokens(d *db.DB, tenants *tenantdb.Store, revs RevocationPublisher, limits auth.Limits) *Tokens {
	return &Tokens{db: d, tenants: tenants, revs: revs, limits: limits, now: time.Now}
}

var _ auth.TokenRecorder = (*Tokens)(nil)

const issuedColumns = `tenant_id, jti, call_id, window_start, window_end, issued_at, expires_at, scopes, issued_by, revoked_at`

// RecordIssued stores a freshly minted token. Returns Conflict if the jti
// exists.
func (s *Tokens) RecordIssued(ctx context.Context, t auth.IssuedToken) error {
	if t.Scopes == nil {
		t.Scopes = []string{}
	}
	err := s.db.InTenant(ctx, t.TenantID, func(tx pgx.Tx) error {
		// The commit waits for the WAL flush: a minted link whose record a
		// crash could lose would be a link nobody can revoke by jti, so the
		// record is as durable as the revocation that may follow it.
		_, err := tx.Exec(ctx, `/* Tokens.RecordIssued */
			INSERT INTO view_tokens (tenant_id, jti, call_id, window_start, window_end, issued_at, expires_at, scopes, issued_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			t.TenantID, t.JTI, t.CallID, t.WindowStart, t.WindowEnd, t.IssuedAt, t.ExpiresAt, t.Scopes, t.IssuedBy)
		return err
	})
	if isUniqueViolation(err) {
		return callscope.Errorf(callscope.Conflict, "jti already issued")
	}
	if err != nil {
		return fmt.Errorf("authdb.Tokens.RecordIssued(%d): %w", t.TenantID, err)
	}
	return nil
}

// TokenFilter selects issued tokens of one tenant.
type TokenFilter struct {
	ActiveOnly bool // neither expired nor revoked
	Limit      int  // 0 means 100; at most 1000
}

// ListTokens returns tenantID's issued tokens, newest first.
func (s *Tokens) ListTokens(ctx context.Context, tenantID int64, f TokenFilter) ([]auth.IssuedToken, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	var out []auth.IssuedToken
	err := s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* Tokens.ListTokens */
			SELECT `+issuedColumns+` FROM view_tokens
			WHERE tenant_id = $1 AND (NOT $2 OR (revoked_at IS NULL AND expires_at > $3))
			ORDER BY issued_at DESC, jti LIMIT $4`, tenantID, f.ActiveOnly, s.now(), f.Limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[auth.IssuedToken])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("authdb.Tokens.ListTokens(%d): %w", tenantID, err)
	}
	return out, nil
}

// validJTI is what a revocation accepts as a jti: what Verify accepts in a
// token, printable, without spaces.
func validJTI(jti string) bool {
	return jti != "" && len(jti) <= 256 && !strings.ContainsFunc(jti, func(r rune) bool { return r <= ' ' || r == 0x7f })
}

// RevokeToken revokes token jti of tenantID, whoever signed it: a token the
// server issued is marked in view_tokens; any other (a token the tenant
// signed with its own key, which the server may never have seen) is
// recorded in token_revocations for as long as such a token could live.
// PostgreSQL first, so that a rebuild restores it; then Redis. Revoking
// twice is not an error. Another tenant's token with the same jti is not
// touched: jtis are per tenant. Returns Invalid for a malformed jti,
// NotFound for an unknown tenant, and Unavailable when Redis cannot take it
// (the PostgreSQL record stays, and a retry or a rebuild finishes the job).
func (s *Tokens) RevokeToken(ctx context.Context, tenantID int64, jti string) error {
	if s.revs == nil {
		return fmt.Errorf("authdb.Tokens.RevokeToken: no revocation store")
	}
	if !validJTI(jti) {
		return callscope.FieldError("jti", "must be 1 to 256 printable characters without spaces")
	}
	var (
		slug    string
		expires time.Time
	)
	lim := s.limits.Effective()
	err := s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `/* Tokens.RevokeToken */
			UPDATE view_tokens v SET revoked_at = coalesce(v.revoked_at, now())
			FROM tenants t
			WHERE v.tenant_id = $1 AND v.jti = $2 AND t.id = v.tenant_id
			RETURNING t.slug, v.expires_at`, tenantID, jti).Scan(&slug, &expires)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return tx.QueryRow(ctx, `/* Tokens.RevokeToken */
			INSERT INTO token_revocations (tenant_id, jti, expires_at)
			SELECT t.id, $2, $3 FROM tenants t WHERE t.id = $1
			ON CONFLICT (tenant_id, jti) DO UPDATE SET expires_at = greatest(token_revocations.expires_at, excluded.expires_at)
			RETURNING (SELECT slug FROM tenants WHERE id = $1), expires_at`,
			tenantID, jti, s.now().Add(lim.MaxLifetime+auth.MaxLeeway)).Scan(&slug, &expires)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return callscope.Errorf(callscope.NotFound, "tenant %d not found", tenantID)
	}
	if err != nil {
		return fmt.Errorf("authdb.Tokens.RevokeToken(%d): %w", tenantID, err)
	}
	if err := s.revs.RevokeJTI(ctx, slug, jti, expires); err != nil {
		return fmt.Errorf("authdb.Tokens.RevokeToken(%d): %w", tenantID, err)
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
		return time.Time{}, fmt.Errorf("authdb.Tokens.RevokeAllTenantTokens: no revocation store")
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
		return time.Time{}, fmt.Errorf("authdb.Tokens.RevokeAllTenantTokens(%d): %w", tenantID, err)
	}
	if err := s.revs.RevokeAllBefore(ctx, t.Slug, at); err != nil {
		return time.Time{}, fmt.Errorf("authdb.Tokens.RevokeAllTenantTokens(%d): %w", tenantID, err)
	}
	return at, nil
}

// revocationsSQL reads every revocation that may still matter, of one
// tenant ($2) or of all ($2 NULL): each revoked token not yet expired
// (beyond the largest leeway, $1), by jti from both tables, and each
// tenant's epoch. A tenant with none of them still has its row, so that
// its state in Redis is marked complete too.
const revocationsSQL = `/* Tokens.revocations */
	SELECT t.slug, t.tokens_valid_after, r.jti, r.expires_at
	FROM tenants t
	LEFT JOIN LATERAL (
		SELECT v.jti, v.expires_at FROM view_tokens v
		WHERE v.tenant_id = t.id AND v.revoked_at IS NOT NULL AND v.expires_at > $1
		UNION ALL
		SELECT x.jti, x.expires_at FROM token_revocations x
		WHERE x.tenant_id = t.id AND x.expires_at > $1
	) r ON true
	WHERE $2::text IS NULL OR t.slug = $2
	ORDER BY t.slug`

// revocations reads the state revocationsSQL selects, by tenant.
func (s *Tokens) revocations(ctx context.Context, slug *string) ([]auth.TenantRevocations, error) {
	var out []auth.TenantRevocations
	// Across tenants on purpose: this reads the revocation state that
	// verifiers of every tenant need, by slug, as tokens name tenants.
	err := s.db.AllTenants(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, revocationsSQL, s.now().Add(-auth.MaxLeeway), slug)
		if err != nil {
			return err
		}
		var (
			tslug   string
			epoch   *time.Time
			jti     *string
			expires *time.Time
		)
		_, err = pgx.ForEachRow(rows, []any{&tslug, &epoch, &jti, &expires}, func() error {
			if len(out) == 0 || out[len(out)-1].Tenant != tslug {
				st := auth.TenantRevocations{Tenant: tslug}
				if epoch != nil {
					st.Epoch = *epoch
				}
				out = append(out, st)
			}
			if jti != nil {
				last := &out[len(out)-1]
				last.JTIs = append(last.JTIs, auth.RevokedJTI{JTI: *jti, Until: *expires})
			}
			return nil
		})
		return err
	})
	return out, err
}

// SyncTenant rebuilds the revocation state of tenant slug in Redis from
// PostgreSQL. It is what a verifier calls when Redis has lost that state.
// Returns NotFound for an unknown tenant.
func (s *Tokens) SyncTenant(ctx context.Context, slug string) error {
	if s.revs == nil {
		return fmt.Errorf("authdb.Tokens.SyncTenant: no revocation store")
	}
	states, err := s.revocations(ctx, &slug)
	if err != nil {
		return fmt.Errorf("authdb.Tokens.SyncTenant(%s): %w", slug, err)
	}
	if len(states) == 0 {
		return callscope.Errorf(callscope.NotFound, "tenant %q not found", slug)
	}
	if err := s.revs.Restore(ctx, states[0]); err != nil {
		return fmt.Errorf("authdb.Tokens.SyncTenant(%s): %w", slug, err)
	}
	return nil
}

// SyncRevocations rebuilds every tenant's revocation state in Redis from
// PostgreSQL; the query role runs it on start. It is idempotent (it only
// adds, and epochs only move forward) and returns how many tenants it
// restored.
func (s *Tokens) SyncRevocations(ctx context.Context) (int, error) {
	if s.revs == nil {
		return 0, fmt.Errorf("authdb.Tokens.SyncRevocations: no revocation store")
	}
	states, err := s.revocations(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("authdb.Tokens.SyncRevocations: %w", err)
	}
	for i, st := range states {
		if err := s.revs.Restore(ctx, st); err != nil {
			return i, fmt.Errorf("authdb.Tokens.SyncRevocations: %w", err)
		}
	}
	return len(states), nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
