package authdb

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/tenant"
)

// TenantKey is a public key a tenant registered to sign its own view tokens.
type TenantKey struct {
	TenantID  int64           `db:"tenant_id"`
	KID       string          `db:"kid"`
	JWK       json.RawMessage `db:"jwk"` // public members only
	Alg       string          `db:"alg"`
	Enabled   bool            `db:"enabled"`
	CreatedAt time.Time       `db:"created_at"`
}

// TenantKeys keeps tenants' registered public keys. It is the TenantKey
// half of an auth.KeyResolver: a key is looked up inside the token's own tenant
// only, so tenant A's key can never vouch for a token naming tenant B.
// Safe for concurrent use.
type TenantKeys struct {
	db      *db.DB
	tenants Tenants
	cache   *keyCache
}

// Tenants resolves a tenant's slug: the query role's tenantdb.Cache.
type Tenants interface {
	BySlug(ctx context.Context, slug string) (tenant.Tenant, error)
}

// NewTenantKeys returns the tenant key store over d; tenants resolves slugs.
func NewTenantKeys(d *db.DB, tenants Tenants) *TenantKeys {
	return &TenantKeys{db: d, tenants: tenants, cache: newKeyCache(DefaultKeyCacheTTL)}
}

const tenantKeyColumns = `tenant_id, kid, jwk, alg, enabled, created_at`

// AddTenantKey registers jwkJSON, an Ed25519 or P-256 public JWK, for
// tenantID. The kid is the JWK's own or, when it has none, its RFC 7638
// thumbprint. Returns Invalid for anything ParsePublicJWK refuses (private
// keys, RSA, symmetric keys, other curves...), Conflict when the tenant
// already has that kid, NotFound when the tenant does not exist.
func (s *TenantKeys) AddTenantKey(ctx context.Context, tenantID int64, jwkJSON []byte) (TenantKey, error) {
	jwk, err := auth.ParsePublicJWK(jwkJSON)
	if err != nil {
		return TenantKey{}, err
	}
	if jwk.KeyID == "" {
		if jwk.KeyID, err = auth.Thumbprint(jwk.Key); err != nil {
			return TenantKey{}, err
		}
	}
	pub, err := jwk.MarshalJSON()
	if err != nil {
		return TenantKey{}, fmt.Errorf("authdb.TenantKeys.AddTenantKey: %w", err)
	}
	var k TenantKey
	var slug string
	err = s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `/* TenantKeys.AddTenantKey */ SELECT slug FROM tenants WHERE id = $1`, tenantID).Scan(&slug); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `/* TenantKeys.AddTenantKey */
			INSERT INTO tenant_keys (tenant_id, kid, jwk, alg) VALUES ($1, $2, $3, $4)
			RETURNING `+tenantKeyColumns, tenantID, jwk.KeyID, string(pub), jwk.Algorithm)
		if err != nil {
			return err
		}
		k, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[TenantKey])
		return err
	})
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return TenantKey{}, callscope.Errorf(callscope.NotFound, "tenant %d not found", tenantID)
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		return TenantKey{}, callscope.Errorf(callscope.Conflict, "the tenant already has a key with kid %q", jwk.KeyID)
	case err != nil:
		return TenantKey{}, fmt.Errorf("authdb.TenantKeys.AddTenantKey(%d): %w", tenantID, err)
	}
	s.cache.forget(slug)
	return k, nil
}

// DisableTenantKey stops kid of tenantID from verifying (within the cache
// TTL on other replicas). Returns NotFound if the tenant has no such key.
func (s *TenantKeys) DisableTenantKey(ctx context.Context, tenantID int64, kid string) error {
	var slug string
	err := s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `/* TenantKeys.DisableTenantKey */
			UPDATE tenant_keys k SET enabled = false FROM tenants t
			WHERE k.tenant_id = $1 AND k.kid = $2 AND t.id = k.tenant_id
			RETURNING t.slug`, tenantID, kid).Scan(&slug)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return callscope.Errorf(callscope.NotFound, "tenant %d has no key %q", tenantID, kid)
	}
	if err != nil {
		return fmt.Errorf("authdb.TenantKeys.DisableTenantKey(%d): %w", tenantID, err)
	}
	s.cache.forget(slug)
	return nil
}

// ListTenantKeys returns tenantID's keys, enabled or not, oldest first.
func (s *TenantKeys) ListTenantKeys(ctx context.Context, tenantID int64) ([]TenantKey, error) {
	var out []TenantKey
	err := s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* TenantKeys.ListTenantKeys */
			SELECT `+tenantKeyColumns+` FROM tenant_keys WHERE tenant_id = $1 ORDER BY created_at, kid`, tenantID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[TenantKey])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("authdb.TenantKeys.ListTenantKeys(%d): %w", tenantID, err)
	}
	return out, nil
}

// TenantKey returns the enabled key kid registered by the tenant with slug,
// or NotFound (also for an unknown tenant). It implements
// auth.KeyResolver.TenantKey from a cache.
func (s *TenantKeys) TenantKey(ctx context.Context, slug, kid string) (crypto.PublicKey, error) {
	if !auth.ValidKID(kid) || tenant.ValidateSlug(slug) != nil {
		return nil, callscope.Errorf(callscope.NotFound, "no such key")
	}
	k, err := s.cache.lookup(ctx, slug, kid, func(ctx context.Context) (map[string]crypto.PublicKey, error) {
		return s.load(ctx, slug)
	})
	if err != nil && !callscope.Is(err, callscope.NotFound) {
		return nil, fmt.Errorf("authdb.TenantKeys.TenantKey: %w", err)
	}
	return k, err
}

// load resolves slug to its tenant, then reads that tenant's enabled keys
// in a transaction row-level security confines to it.
func (s *TenantKeys) load(ctx context.Context, slug string) (map[string]crypto.PublicKey, error) {
	t, err := s.tenants.BySlug(ctx, slug)
	if err != nil {
		return nil, err // NotFound is cached as "no keys"
	}
	out := map[string]crypto.PublicKey{}
	err = s.db.InTenant(ctx, t.ID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* TenantKeys.load */
			SELECT kid, jwk FROM tenant_keys WHERE tenant_id = $1 AND enabled`, t.ID)
		if err != nil {
			return err
		}
		var (
			kid string
			raw []byte
		)
		_, err = pgx.ForEachRow(rows, []any{&kid, &raw}, func() error {
			// Re-validate on the way out: a row edited by hand must not
			// smuggle in a key type Verify was never meant to see.
			jwk, err := auth.ParsePublicJWK(raw)
			if err != nil {
				return nil
			}
			out[kid] = jwk.Key
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Resolver is the PostgreSQL-backed auth.KeyResolver: server keys from a
// KeyStore, tenant keys from TenantKeys, both cached.
type Resolver struct {
	Server  *KeyStore
	Tenants *TenantKeys
}

var _ auth.KeyResolver = Resolver{}

// ServerKey implements auth.KeyResolver.
func (r Resolver) ServerKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	return r.Server.ServerKey(ctx, kid)
}

// TenantKey implements auth.KeyResolver.
func (r Resolver) TenantKey(ctx context.Context, slug, kid string) (crypto.PublicKey, error) {
	return r.Tenants.TenantKey(ctx, slug, kid)
}
