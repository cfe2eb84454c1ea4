package authdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/cache"
	"github.com/callscope/callscope/db"
)

// APIKey is an orchestrator's credential for the mint API, without its
// secret. TenantSlug and TenantStatus are filled by AuthenticateAPIKey.
type APIKey struct {
	TenantID     int64      `db:"tenant_id"`
	ID           int64      `db:"id"`
	Prefix       string     `db:"prefix"`
	Name         string     `db:"name"`
	CreatedAt    time.Time  `db:"created_at"`
	LastUsedAt   *time.Time `db:"last_used_at"`
	RevokedAt    *time.Time `db:"revoked_at"`
	TenantSlug   string     `db:"-"`
	TenantStatus string     `db:"-"`
}

// IssuedBy is how tokens minted with k are recorded in view_tokens.
func (k APIKey) IssuedBy() string { return "apikey:" + k.Prefix }

// lastUsedEvery bounds last_used_at writes: a busy orchestrator must not
// turn every mint into an UPDATE of the same row.
const lastUsedEvery = time.Minute

// APIKeys stores API keys hashed (see auth.NewAPIKey). Safe for concurrent use.
type APIKeys struct {
	db  *db.DB
	now func() time.Time

	lastUsed *cache.Cache[string, time.Time] // prefix -> when this process last wrote last_used_at
}

// NewAPIKeys returns the API key store over d.
func NewAPIKeys(d *db.DB) *APIKeys {
	return &APIKeys{db: d, now: time.Now,
		lastUsed: cache.New[string, time.Time](cache.Options[time.Time]{MaxEntries: 100000, TTL: lastUsedEvery})}
}

const apiKeyColumns = `tenant_id, id, prefix, name, created_at, last_used_at, revoked_at`

// CreateAPIKey makes a key for tenantID and returns its plaintext, which is
// never stored and cannot be shown again. Returns Invalid for a name over
// 100 characters or with control characters, NotFound for an unknown tenant.
func (s *APIKeys) CreateAPIKey(ctx context.Context, tenantID int64, name string) (string, APIKey, error) {
	name = strings.TrimSpace(name)
	if len(name) > 100 || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", APIKey{}, callscope.FieldError("name", "must be at most 100 printable characters")
	}
	// A prefix collision among 48 random bits is unlikely enough that one
	// retry covers it.
	for attempt := 0; ; attempt++ {
		plain, prefix, hash := auth.NewAPIKey()
		var k APIKey
		err := s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `/* APIKeys.CreateAPIKey */
				INSERT INTO api_keys (tenant_id, prefix, hash, name)
				SELECT id, $2, $3, $4 FROM tenants WHERE id = $1
				RETURNING `+apiKeyColumns, tenantID, prefix, hash, name)
			if err != nil {
				return err
			}
			k, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[APIKey])
			return err
		})
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return "", APIKey{}, callscope.Errorf(callscope.NotFound, "tenant %d not found", tenantID)
		case isUniqueViolation(err) && attempt == 0:
			continue
		case err != nil:
			return "", APIKey{}, fmt.Errorf("authdb.APIKeys.CreateAPIKey(%d): %w", tenantID, err)
		}
		return plain, k, nil
	}
}

// AuthenticateAPIKey returns the key that plaintext is, with its tenant's
// slug and status. Returns Unauthorized alike for a malformed, unknown or
// revoked key; the error never repeats the input. The hash is compared in
// constant time. last_used_at is refreshed at most once a minute.
func (s *APIKeys) AuthenticateAPIKey(ctx context.Context, plaintext string) (APIKey, error) {
	prefix, hash, err := auth.ParseAPIKey(plaintext)
	if err != nil {
		return APIKey{}, err
	}
	var (
		k      APIKey
		stored []byte
	)
	// Across tenants by nature: the key is what says which tenant is
	// calling, so it is looked up before any tenant is known.
	err = s.db.AllTenants(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `/* APIKeys.AuthenticateAPIKey */
			SELECT k.tenant_id, k.id, k.prefix, k.name, k.created_at, k.last_used_at, k.revoked_at, k.hash, t.slug, t.status
			FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
			WHERE k.prefix = $1`, prefix).Scan(&k.TenantID, &k.ID, &k.Prefix, &k.Name, &k.CreatedAt,
			&k.LastUsedAt, &k.RevokedAt, &stored, &k.TenantSlug, &k.TenantStatus)
	})
	denied := callscope.Errorf(callscope.Unauthorized, "invalid API key")
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, denied
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("authdb.APIKeys.AuthenticateAPIKey: %w", err)
	}
	if !auth.EqualAPIKeyHash(hash, stored) || k.RevokedAt != nil {
		return APIKey{}, denied
	}
	if err := s.touch(ctx, k); err != nil {
		return APIKey{}, err
	}
	return k, nil
}

// touch records the use of k unless this process did within lastUsedEvery;
// the SQL condition covers the other replicas.
func (s *APIKeys) touch(ctx context.Context, k APIKey) error {
	now := s.now()
	if last, seen := s.lastUsed.Get(k.Prefix); seen && now.Sub(last) < lastUsedEvery {
		return nil
	}
	s.lastUsed.Set(k.Prefix, now)
	err := s.db.InTenant(ctx, k.TenantID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `/* APIKeys.touch */
			UPDATE api_keys SET last_used_at = $3
			WHERE tenant_id = $1 AND id = $2 AND (last_used_at IS NULL OR last_used_at < $3::timestamptz - interval '1 minute')`,
			k.TenantID, k.ID, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("authdb.APIKeys.touch(%s): %w", k.Prefix, err)
	}
	return nil
}

// ListAPIKeys returns tenantID's keys, revoked ones included, newest first.
// Secrets are not stored and hashes are not returned.
func (s *APIKeys) ListAPIKeys(ctx context.Context, tenantID int64) ([]APIKey, error) {
	var out []APIKey
	err := s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* APIKeys.ListAPIKeys */
			SELECT `+apiKeyColumns+` FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC`, tenantID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[APIKey])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("authdb.APIKeys.ListAPIKeys(%d): %w", tenantID, err)
	}
	return out, nil
}

// RevokeAPIKey revokes tenantID's key with the display prefix; it is
// refused from the next request on. Revoking twice is not an error.
// Returns NotFound if the tenant has no key with that prefix.
func (s *APIKeys) RevokeAPIKey(ctx context.Context, tenantID int64, prefix string) error {
	err := s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `/* APIKeys.RevokeAPIKey */
			UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE tenant_id = $1 AND prefix = $2`,
			tenantID, prefix)
		if err == nil && tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return callscope.Errorf(callscope.NotFound, "tenant %d has no API key %q", tenantID, prefix)
	}
	if err != nil {
		return fmt.Errorf("authdb.APIKeys.RevokeAPIKey(%d): %w", tenantID, err)
	}
	return nil
}
