// Package dbtest gives each test its own migrated PostgreSQL database,
// cloned from a template that is migrated once per schema version.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/migrations"
)

// AdminURL is where tests find PostgreSQL: CALLSCOPE_TEST_DATABASE_URL, or
// the local server with trust auth.
func AdminURL() string {
	if u := os.Getenv("CALLSCOPE_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// New returns an open *db.DB on a fresh database that is dropped when the
// test ends.
func New(tb testing.TB) *db.DB {
	tb.Helper()
	url := NewURL(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := db.Open(ctx, url, db.Options{})
	if err != nil {
		tb.Fatalf("dbtest.New: %v", err)
	}
	tb.Cleanup(d.Close)
	return d
}

// NewURL creates a fresh migrated database and returns its URL; it is
// dropped when the test ends. Use it for code that opens its own pools
// (the callscope binary, `run`).
func NewURL(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adminCfg, err := pgx.ParseConfig(AdminURL())
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	conn, err := pgx.ConnectConfig(ctx, adminCfg)
	if err != nil {
		tb.Fatalf("dbtest: PostgreSQL not reachable at %s (%v): start it or set CALLSCOPE_TEST_DATABASE_URL", AdminURL(), err)
	}
	defer conn.Close(context.Background())

	tpl, err := template(ctx, conn, adminCfg)
	if err != nil {
		tb.Fatalf("dbtest: template: %v", err)
	}
	name := "callscope_test_" + randomHex(6)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{tpl}.Sanitize())); err != nil {
		tb.Fatalf("dbtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.ConnectConfig(ctx, adminCfg)
		if err != nil {
			tb.Logf("dbtest: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize())); err != nil {
			tb.Logf("dbtest: drop %s: %v", name, err)
		}
	})
	cfg := adminCfg.Copy()
	cfg.Database = name
	return connString(cfg)
}

// template returns the name of a database migrated to the embedded schema,
// creating it once per schema version. Test binaries of several packages
// run at once, so creation happens under an advisory lock.
func template(ctx context.Context, conn *pgx.Conn, adminCfg *pgx.ConnConfig) (string, error) {
	all, err := migrations.All()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range all {
		h.Write([]byte(m.Name))
		h.Write([]byte(m.SQL))
	}
	name := "callscope_tpl_" + hex.EncodeToString(h.Sum(nil))[:12]

	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7301)`); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock(7301)`) //nolint:errcheck

	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_build"
	conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{building}.Sanitize())) //nolint:errcheck
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{building}.Sanitize()); err != nil {
		return "", err
	}
	cfg := adminCfg.Copy()
	cfg.Database = building
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", err
	}
	_, err = migrations.Apply(ctx, c)
	c.Close(ctx)
	if err != nil {
		return "", err
	}
	_, err = conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s",
		pgx.Identifier{building}.Sanitize(), pgx.Identifier{name}.Sanitize()))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" {
		return name, nil
	}
	return name, err
}

func connString(cfg *pgx.ConnConfig) string {
	u := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	if cfg.Password != "" {
		u = fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Password, cfg.Host, cfg.Port, cfg.Database)
	}
	return u
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Open opens url (from NewURL) as a *db.DB closed when the test ends.
func Open(tb testing.TB, url string) *db.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := db.Open(ctx, url, db.Options{AppMaxConns: 4, OwnerMaxConns: 2})
	if err != nil {
		tb.Fatalf("dbtest.Open: %v", err)
	}
	tb.Cleanup(d.Close)
	return d
}

// BenchURL is the database the 10-million-message benchmarks load once and
// reuse: CALLSCOPE_BENCH_DATABASE_URL, or callscope_bench_query on the local
// server (not callscope_bench, which ingest's hepload drops and recreates).
func BenchURL() string {
	if u := os.Getenv("CALLSCOPE_BENCH_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/callscope_bench_query?sslmode=disable"
}
