package tenant

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/db"
)

// Store reads and writes tenants and capture nodes.
type Store struct {
	db *db.DB
}

// NewStore returns a Store over d.
func NewStore(d *db.DB) *Store { return &Store{db: d} }

// New describes a tenant to create.
type New struct {
	Slug          string
	Name          string
	EmbedOrigins  []string
	RetentionDays int // 0 means DefaultRetentionDays
}

const tenantColumns = `id, slug, name, status, retention_days, embed_origins, aliases, tokens_valid_after, created_at`

// Create adds a tenant. Returns Invalid for a bad slug or origin and
// Conflict when the slug is taken.
func (s *Store) Create(ctx context.Context, n New) (Tenant, error) {
	if err := ValidateSlug(n.Slug); err != nil {
		return Tenant{}, err
	}
	origins, err := normalizeOrigins(n.EmbedOrigins)
	if err != nil {
		return Tenant{}, err
	}
	if n.Name == "" {
		n.Name = n.Slug
	}
	if n.RetentionDays == 0 {
		n.RetentionDays = DefaultRetentionDays
	}
	if n.RetentionDays < 1 || n.RetentionDays > MaxRetentionDays {
		return Tenant{}, callscope.FieldError("retention_days", "must be between 1 and %d", MaxRetentionDays)
	}
	var t Tenant
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
		return Tenant{}, callscope.Errorf(callscope.Conflict, "tenant %q already exists", n.Slug)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("tenant.Store.Create(%s): %w", n.Slug, err)
	}
	return t, nil
}

// BySlug returns the tenant with slug. Resolving a slug is a lookup across
// tenants by nature (tokens and the CLI name tenants by slug). Returns
// NotFound if no tenant has it.
func (s *Store) BySlug(ctx context.Context, slug string) (Tenant, error) {
	var t Tenant
	err := s.db.AllTenants(ctx, func(tx pgx.Tx) error {
		var err error
		t, err = queryOne(ctx, tx, `/* Store.BySlug */ SELECT `+tenantColumns+` FROM tenants WHERE slug = $1`, slug)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, callscope.Errorf(callscope.NotFound, "tenant %q not found", slug)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("tenant.Store.BySlug(%s): %w", slug, err)
	}
	return t, nil
}

// ByID returns tenant id. Returns NotFound if it does not exist.
func (s *Store) ByID(ctx context.Context, id int64) (Tenant, error) {
	var t Tenant
	err := s.db.InTenant(ctx, id, func(tx pgx.Tx) error {
		var err error
		t, err = queryOne(ctx, tx, `/* Store.ByID */ SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, callscope.Errorf(callscope.NotFound, "tenant %d not found", id)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("tenant.Store.ByID(%d): %w", id, err)
	}
	return t, nil
}

// List returns every tenant, by slug. Admin only: it spans tenants.
func (s *Store) List(ctx context.Context) ([]Tenant, error) {
	var out []Tenant
	err := s.db.AllTenants(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* Store.List */ SELECT `+tenantColumns+` FROM tenants ORDER BY slug`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[Tenant])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tenant.Store.List: %w", err)
	}
	return out, nil
}

// Update describes a change to a tenant; nil fields stay as they are.
type Update struct {
	Name          *string
	Status        *string
	RetentionDays *int
	EmbedOrigins  []string // replaced when non-nil
	Aliases       map[string]string
}

// Update changes tenant id. Returns NotFound if it does not exist and
// Invalid for a bad value.
func (s *Store) Update(ctx context.Context, id int64, u Update) (Tenant, error) {
	if u.Status != nil && *u.Status != Active && *u.Status != Suspended {
		return Tenant{}, callscope.FieldError("status", "must be %q or %q", Active, Suspended)
	}
	if u.RetentionDays != nil && (*u.RetentionDays < 1 || *u.RetentionDays > MaxRetentionDays) {
		return Tenant{}, callscope.FieldError("retention_days", "must be between 1 and %d", MaxRetentionDays)
	}
	var origins []string
	if u.EmbedOrigins != nil {
		var err error
		if origins, err = normalizeOrigins(u.EmbedOrigins); err != nil {
			return Tenant{}, err
		}
	}
	if u.Aliases != nil {
		if err := ValidateAliases(u.Aliases); err != nil {
			return Tenant{}, err
		}
	}
	var t Tenant
	err := s.db.InTenant(ctx, id, func(tx pgx.Tx) error {
		var err error
		t, err = queryOne(ctx, tx, `/* Store.Update */
			UPDATE tenants SET
				name = coalesce($2, name),
				status = coalesce($3, status),
				retention_days = coalesce($4, retention_days),
				embed_origins = coalesce($5, embed_origins),
				aliases = coalesce($6, aliases)
			WHERE id = $1
			RETURNING `+tenantColumns, id, u.Name, u.Status, u.RetentionDays, origins, aliasesArg(u.Aliases))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, callscope.Errorf(callscope.NotFound, "tenant %d not found", id)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("tenant.Store.Update(%d): %w", id, err)
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
		return fmt.Errorf("tenant.Store.SetTokensValidAfter(%d): %w", id, err)
	}
	return nil
}

// ValidateAliases checks that every key is an IP or IP:port and every name
// is short and printable.
func ValidateAliases(a map[string]string) error {
	for k, v := range a {
		if _, err := netip.ParseAddr(k); err != nil {
			if _, err := netip.ParseAddrPort(k); err != nil {
				return callscope.FieldError("aliases", "%q is not an IP or IP:port", k)
			}
		}
		if v == "" || len(v) > 64 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return callscope.FieldError("aliases", "name for %s must be 1 to 64 printable characters", k)
		}
	}
	return nil
}

// queryOne runs a query that returns exactly one tenant row; pgx.ErrNoRows
// when it returns none.
func queryOne(ctx context.Context, tx pgx.Tx, sql string, args ...any) (Tenant, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return Tenant{}, err
	}
	return pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Tenant])
}

func aliasesArg(a map[string]string) any {
	if a == nil {
		return nil
	}
	return a
}

func normalizeOrigins(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, o := range in {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
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
