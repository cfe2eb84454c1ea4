// Package db opens callscope's PostgreSQL pools and owns the one way to run a
// transaction: scoped to a tenant for row-level security, or explicitly
// across every tenant.
package db

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/migrations"
)

// AppRole is the role every application query runs as. It owns nothing and
// cannot bypass row-level security.
const AppRole = "callscope_app"

// DB holds two pools over one database:
//   - app runs as AppRole: every tenant-facing read and write;
//   - owner runs as the connecting role, which owns the schema: migrations,
//     partition maintenance and ingest's COPY writer only.
type DB struct {
	app   *pgxpool.Pool
	owner *pgxpool.Pool
}

// Options tune the pools. Zero values mean pgx's defaults.
type Options struct {
	AppMaxConns   int32
	OwnerMaxConns int32
}

// Open connects to url, creates the database when it does not exist yet,
// applies pending migrations and returns both pools. Errors name the setting
// and say what to do, e.g. when PostgreSQL is not reachable.
func Open(ctx context.Context, url string, opt Options) (*DB, error) {
	ownerCfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, callscope.Errorf(callscope.Invalid, "CALLSCOPE_DATABASE_URL: %v", err)
	}
	if opt.OwnerMaxConns > 0 {
		ownerCfg.MaxConns = opt.OwnerMaxConns
	}
	if err := ensureDatabase(ctx, ownerCfg.ConnConfig); err != nil {
		return nil, err
	}
	if err := migrate(ctx, ownerCfg.ConnConfig); err != nil {
		return nil, err
	}
	owner, err := pgxpool.NewWithConfig(ctx, ownerCfg)
	if err != nil {
		return nil, explain(ownerCfg.ConnConfig, err)
	}

	appCfg := ownerCfg.Copy()
	if opt.AppMaxConns > 0 {
		appCfg.MaxConns = opt.AppMaxConns
	}
	appCfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SET ROLE "+AppRole)
		return err
	}
	app, err := pgxpool.NewWithConfig(ctx, appCfg)
	if err != nil {
		owner.Close()
		return nil, explain(appCfg.ConnConfig, err)
	}
	d := &DB{app: app, owner: owner}
	if err := d.Ping(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Migrate applies pending migrations and returns their names. Open already
// does this; `callscope migrate` uses it to report what ran.
func Migrate(ctx context.Context, url string) ([]string, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, callscope.Errorf(callscope.Invalid, "CALLSCOPE_DATABASE_URL: %v", err)
	}
	if err := ensureDatabase(ctx, cfg); err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, explain(cfg, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return migrations.Apply(ctx, conn)
}

func migrate(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return explain(cfg, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := migrations.Apply(ctx, conn); err != nil {
		return fmt.Errorf("db.Open: %w", err)
	}
	return nil
}

// ensureDatabase creates cfg's database when the server says it does not
// exist, so a newcomer's first start needs no manual createdb.
func ensureDatabase(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" {
		return explain(cfg, err)
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err = pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return explain(cfg, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize())
	if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42P04") { // created concurrently
		return fmt.Errorf("CALLSCOPE_DATABASE_URL: database %q does not exist and could not be created: %w", cfg.Database, err)
	}
	return nil
}

// explain turns a connection failure into a message a person can act on.
func explain(cfg *pgx.ConnConfig, err error) error {
	addr := net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return callscope.Errorf(callscope.Unavailable,
			"CALLSCOPE_DATABASE_URL: cannot reach %s (connection refused): start PostgreSQL or point the variable at it", addr)
	case errors.As(err, &pgErr) && pgErr.Code == "28P01", errors.As(err, &pgErr) && pgErr.Code == "28000":
		return callscope.Errorf(callscope.Unavailable,
			"CALLSCOPE_DATABASE_URL: %s refused user %q (%s): fix the credentials in the URL", addr, cfg.User, pgErr.Message)
	case strings.Contains(err.Error(), "no such host"):
		return callscope.Errorf(callscope.Unavailable,
			"CALLSCOPE_DATABASE_URL: host %q not found: check the host name", cfg.Host)
	}
	return &callscope.Error{Kind: callscope.Unavailable,
		Message: fmt.Sprintf("CALLSCOPE_DATABASE_URL: cannot connect to %s", addr), Err: err}
}

// Ping checks that both pools answer.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.app.Ping(ctx); err != nil {
		return fmt.Errorf("db.Ping(app): %w", err)
	}
	if err := d.owner.Ping(ctx); err != nil {
		return fmt.Errorf("db.Ping(owner): %w", err)
	}
	return nil
}

// Close closes both pools.
func (d *DB) Close() {
	d.app.Close()
	d.owner.Close()
}

// Owner returns the schema owner's pool. Row-level security does not apply
// to it: only migrations, partition maintenance and ingest's writer use it.
func (d *DB) Owner() *pgxpool.Pool { return d.owner }

// InTenant runs fn in a transaction that row-level security confines to
// tenantID. Queries inside must still say WHERE tenant_id = $1: the policy
// is the second guard, not the first.
func (d *DB) InTenant(ctx context.Context, tenantID int64, fn func(pgx.Tx) error) error {
	if tenantID <= 0 {
		return fmt.Errorf("db.InTenant: invalid tenant id %d", tenantID)
	}
	// The setting travels with BEGIN, in one round trip. The id is an
	// integer formatted here, so the statement cannot carry anything else.
	begin := fmt.Sprintf("BEGIN; SET LOCAL callscope.tenant_id = '%d'", tenantID)
	return pgx.BeginTxFunc(ctx, d.app, pgx.TxOptions{BeginQuery: begin}, fn)
}

// ReadInTenant sends batch in one round trip and one implicit transaction
// scoped to tenantID for row-level security, as InTenant's would be, and
// hands the results to read, in the order the statements were queued. It
// saves InTenant's BEGIN and COMMIT round trips on the hot read paths (a
// view of a call is one of these), and runs with JIT compilation off. The
// tenant setting is the batch's first statement and is local to the
// implicit transaction: it ends with the batch and never reaches the
// connection's next user. Statements that must see their own writes across
// round trips need InTenant instead.
func (d *DB) ReadInTenant(ctx context.Context, tenantID int64, batch *pgx.Batch, read func(pgx.BatchResults) error) error {
	if tenantID <= 0 {
		return fmt.Errorf("db.ReadInTenant: invalid tenant id %d", tenantID)
	}
	scoped := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(batch.QueuedQueries)+1)}
	// JIT off too: it compiles a plan for seconds' worth of rows, and a
	// misestimated plan of a read this short would spend 100 ms compiling.
	scoped.Queue(`SELECT set_config('callscope.tenant_id', $1, true), set_config('jit', 'off', true)`, strconv.FormatInt(tenantID, 10))
	scoped.QueuedQueries = append(scoped.QueuedQueries, batch.QueuedQueries...)
	br := d.app.SendBatch(ctx, scoped)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return fmt.Errorf("db.ReadInTenant: set tenant: %w", err)
	}
	if err := read(br); err != nil {
		_ = br.Close()
		return err
	}
	return br.Close()
}

// AllTenants runs fn in a transaction that sees every tenant. It is the one
// explicit cross-tenant path: admin search and listings in the console,
// tenant resolution by slug, and ingest's node map. Callers document why.
func (d *DB) AllTenants(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, d.app, pgx.TxOptions{BeginQuery: "BEGIN; SET LOCAL callscope.all_tenants = 'on'"}, fn)
}

// NoTenant runs fn in a transaction with no tenant set: tables without
// tenants (admins) only; every tenant-owned table reads as empty.
func (d *DB) NoTenant(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, d.app, fn)
}
