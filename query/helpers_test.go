package query_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/query/querytest"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// t0 is the start of the day every fixture call happens on.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

type bundle struct {
	db      *db.DB
	store   *query.Store
	tenants *tenantdb.Store
	acme    tenant.Tenant
	beta    tenant.Tenant
}

func setup(tb testing.TB) *bundle {
	tb.Helper()
	d := dbtest.New(tb)
	ts := tenantdb.NewStore(d)
	b := &bundle{db: d, store: query.NewStore(d), tenants: ts}
	b.acme = MustTenant(tb, ts, "acme", "https://app.acme.example")
	b.beta = MustTenant(tb, ts, "beta")
	return b
}

func MustTenant(tb testing.TB, ts *tenantdb.Store, slug string, origins ...string) tenant.Tenant {
	tb.Helper()
	t, err := ts.Create(context.Background(), tenant.New{Slug: slug, EmbedOrigins: origins})
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func (b *bundle) insert(tb testing.TB, calls ...querytest.Call) {
	tb.Helper()
	var rows []querytest.Row
	for _, c := range calls {
		rows = append(rows, c.Rows()...)
	}
	querytest.MustInsert(tb, b.db.Owner(), rows...)
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func deadRedis(tb testing.TB) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}
