package tenantdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/tenant"
)

// Store reads and writes tenants and capture nodes.
type Store struct {
	db *db.DB
}

// NewStore returns a Store over d.
func NewStore(d *db.DB) *Store { return &Store{db: d} }

const tenantColumns = `id, slug, name, status, retention_days, embed_origins, aliases, tokens_valid_after, created_at,
	follow_header_correlation, show_internal_events`

// Create adds a tenant. Returns Invalid for a bad slug or origin and
// Conflict when the slug is taken.
func (s *Store) Create(ctx context.Context, n tenant.New) (tenant.Tenant, error) {
	if err := tenant.ValidateSlug(n.Slug); err != nil {
		return tenant.Tenant{}, err
	}
	origins, err := tenant.NormalizeOrigins(n.EmbedOrigins)
	if err != nil {
		return tenant.Tenant{}, err
	}
	if n.Name == "" {
		n.Name = n.Slug
	}
	if n.RetentionDays == 0 {
		n.RetentionDays = tenant.DefaultRetentionDays
	}
	if n.RetentionDays < 1 || n.RetentionDays > tenant.MaxRetentionDays {
		return tenant.Tenant{}, callscope.FieldError("retention_days", "must be between 1 and %d", tenant.MaxRetentionDays)
	}
	var t tenant.Tenant
	// Creating a tenant is an admin act across tenants: the new row has no
	// tenant context to live in yet.
	err = s.db.AllTenants(ctx, func(tx pgx.Tx) error {
		var err error
		t, err = queryOne(ctx, tx, `/* Store.Create */
			INSERT INTO tenants (slug, name, embed_origins, retention_days)
			VALUES ($1, $2, $3, $4)
			RETURNING `+tenantColumns, n.Slug, n.Name, origins, n.RetentionDays)
		return err
	})
	if isUnique(err) {
		return tenant.Tenant{}, callscope.Errorf(callscope.Conflict, "tenant %q already exists", n.Slug)
	}
	if err != nil {
		return tenant.Tenant{}, fmt.Errorf("tenantdb.Store.Create(%s): %w", n.Slug, err)
	}
	return t, nil
}

// BySlug returns the tenant with slug. Resolving a slug is a lookup across
// tenants by nature (tokens and the CLI name tenants by slug). Returns
// NotFound if no tenant has it.
func (s *Store) BySlug(ctx context.Context, slug string) (tenant.Tenant, error) {
	var t tenant.Tenant
	err := s.db.AllTenants(ctx, func(tx pgx.Tx) error {
		var err error
		t, err = queryOne(ctx, tx, `/* Store.BySlug */ SELECT `+tenantColumns+` FROM tenants WHERE slug = $1`, slug)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return tenant.Tenant{}, callscope.Errorf(callscope.NotFound, "tenant %q not found", slug)
	}
	if err != nil {
		return tenant.Tenant{}, fmt.Errorf("tenantdb.Store.BySlug(%s): %w", slug, err)
	}
	return t, nil
}

// ByID returns tenant id. Returns NotFound if it does not exist.
func (s *Store) ByID(ctx context.Context, id int64) (tenant.Tenant, error) {
	var t tenant.Tenant
	err := s.db.InTenant(ctx, id, func(tx pgx.Tx) error {
		var err error
		t, err = queryOne(ctx, tx, `/* Store.ByID */ SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return tenant.Tenant{}, callscope.Errorf(callscope.NotFound, "tenant %d not found", id)
	}
	if err != nil {
		return tenant.Tenant{}, fmt.Errorf("tenantdb.Store.ByID(%d): %w", id, err)
	}
	return t, nil
}

// List returns every tenant, by slug. Admin only: it spans tenants.
func (s *Store) List(ctx context.Context) ([]tenant.Tenant, error) {
	var out []tenant.Tenant
	err := s.db.AllTenants(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* Store.List */ SELECT `+tenantColumns+` FROM tenants ORDER BY slug`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[tenant.Tenant])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tenantdb.Store.List: %w", err)
	}
	return out, nil
}

// Update changes tenant id. Returns NotFound if it does not exist and
// Invalid for a bad value.
func (s *Store) Update(ctx context.Context, id int64, u tenant.Update) (tenant.Tenant, error) {
	if u.Status != nil && *u.Status != tenant.Active && *u.Status != tenant.Suspended {
		return tenant.Tenant{}, callscope.FieldError("status", "must be %q or %q", tenant.Active, tenant.Suspended)
	}
	if u.RetentionDays != nil && (*u.RetentionDays < 1 || *u.RetentionDays > tenant.MaxRetentionDays) {
		return tenant.Tenant{}, callscope.FieldError("retention_days", "must be between 1 and %d", tenant.MaxRetentionDays)
	}
	var origins []string
	if u.EmbedOrigins != nil {
		var err error
		if origins, err = tenant.NormalizeOrigins(u.EmbedOrigins); err != nil {
			return tenant.Tenant{}, err
		}
	}
	if u.Aliases != nil {
		if err := tenant.ValidateAliases(u.Aliases); err != nil {
			return tenant.Tenant{}, err
		}
	}
	var t tenant.Tenant
	err := s.db.InTenant(ctx, id, func(tx pgx.Tx) error {
		var err error
		t, err = queryOne(ctx, tx, `/* Store.Update */
			UPDATE tenants SET
				name = coalesce($2, name),
				status = coalesce($3, status),
				retention_days = coalesce($4, retention_days),
				embed_origins = coalesce($5, embed_origins),
				aliases = coalesce($6, aliases),
				follow_header_correlation = coalesce($7, follow_header_correlation),
				show_internal_events = coalesce($8, show_internal_events)
			WHERE id = $1
			RETURNING `+tenantColumns, id, u.Name, u.Status, u.RetentionDays, origins, aliasesArg(u.Aliases),
			u.FollowHeaderCorrelation, u.ShowInternalEvents)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return tenant.Tenant{}, callscope.Errorf(callscope.NotFound, "tenant %d not found", id)
	}
	if err != nil {
		return tenant.Tenant{}, fmt.Errorf("tenantdb.Store.Update(%d): %w", id, err)
	}
	return t, nil
}

// SetTokensValidAfter records the tenant-wide revocation epoch: tokens
// issued before at are refused. Returns NotFound if the tenant does not exist.
func (s *Store) SetTokensValidAfter(ctx context.Context, id int64, at time.Time) error {
	err := s.db.InTenant(ctx, id, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `/* Store.SetTokensValidAfter */ 
			UPDATE tenants SET tokens_valid_after = $2 WHERE id = $1`, id, at)
		if err == nil && tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return callscope.Errorf(callscope.NotFound, "tenant %d not found", id)
	}
	if err != nil {
		return fmt.Errorf("tenantdb.Store.SetTokensValidAfter(%d): %w", id, err)
	}
	return nil
}

// queryOne runs a query that returns exactly one tenant row; pgx.ErrNoRows
// when it returns none.
func queryOne(ctx context.Context, tx pgx.Tx, sql string, args ...any) (tenant.Tenant, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return tenant.Tenant{}, err
	}
	return pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[tenant.Tenant])
}

func aliasesArg(a map[string]string) any {
	if a == nil {
		return nil
	}
	return a
}

func isUnique(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func constraintOf(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.ConstraintName
	}
	return ""
}
