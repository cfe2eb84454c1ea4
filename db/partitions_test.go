package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
)

// A row for a day without a partition lands in the default partition and is
// moved, not lost, when that day's partition is created later.
func TestEnsurePartitionsMovesDefaultRows(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	day := time.Date(2026, 3, 14, 15, 9, 26, 535000000, time.UTC)

	_, err := d.Owner().Exec(ctx, `INSERT INTO sip_messages (tenant_id, captured_at, received_at, call_id,
		src_ip, src_port, dst_ip, dst_port, transport, capture_id, payload)
		VALUES (1, $1, now(), 'c1', '127.0.0.1', 5060, '127.0.0.2', 5060, 'udp', 1, 'x')`, day)
	if err != nil {
		t.Fatal(err)
	}
	created, err := d.EnsurePartitions(ctx, day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 4 {
		t.Fatalf("created %v, want 2 days x 2 tables", created)
	}
	var inDefault, inDay int
	d.Owner().QueryRow(ctx, `SELECT count(*) FROM sip_messages_default`).Scan(&inDefault)
	d.Owner().QueryRow(ctx, `SELECT count(*) FROM `+db.PartitionName("sip_messages", day)).Scan(&inDay)
	if inDefault != 0 || inDay != 1 {
		t.Fatalf("default=%d day=%d, want 0 and 1", inDefault, inDay)
	}
	again, err := d.EnsurePartitions(ctx, day, day)
	if err != nil || len(again) != 0 {
		t.Fatalf("second run created %v, %v", again, err)
	}
}
