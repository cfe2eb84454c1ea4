package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestRetentionRun(t *testing.T) {
	c := newCLI(t)
	c.mustRun("tenant", "create", "acme", "--retention-days", "7")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.env["CALLSCOPE_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Thirty days ago has no partition: the row sits in DEFAULT.
	_, err = conn.Exec(ctx, `INSERT INTO sip_messages
		(tenant_id, captured_at, received_at, call_id, src_ip, src_port, dst_ip, dst_port, transport, capture_id, payload)
		SELECT id, $1, $1, 'old', '127.0.0.1', 5060, '127.0.0.2', 5060, 'udp', 1, 'x' FROM tenants WHERE slug = 'acme'`,
		time.Now().Add(-30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	out := c.mustRun("retention", "run", "--retention-max-days", "90")
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for _, want := range []string{
		"partitions created: sip_messages_" + today.Format("20060102"),
		"partitions dropped (whole days before " + today.Add(-90*24*time.Hour).Format(time.RFC3339) + "): none",
		"acme", "7 days", today.Add(-7 * 24 * time.Hour).Format(time.RFC3339),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM sip_messages`).Scan(&n); err != nil || n != 0 {
		t.Errorf("rows left = %d, %v; want 0", n, err)
	}
	if !strings.Contains(c.mustRun("retention", "run"), "partitions created: none") {
		t.Error("second run created partitions again")
	}
	if _, err := c.run("", "retention"); err == nil || exitCode(err) != 2 {
		t.Errorf("retention without run: %v, want a usage error", err)
	}
}
