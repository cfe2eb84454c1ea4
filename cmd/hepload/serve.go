package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/ingest"
	"github.com/callscope/callscope/tenant"
)

// ServeReport is what -serve measured.
type ServeReport struct {
	Stored           int64   `json:"stored"`
	StoredRate       float64 `json:"stored_per_second"`
	LossPercent      float64 `json:"loss_percent"`
	DrainSeconds     float64 `json:"drain_seconds"`
	LatencySamples   int     `json:"latency_samples"`
	LatencyP50Millis float64 `json:"latency_p50_ms"`
	LatencyP99Millis float64 `json:"latency_p99_ms"`
	LatencyMaxMillis float64 `json:"latency_max_ms"`
	PeakRSSMiB       float64 `json:"peak_rss_mib"`
}

func serve(ctx context.Context, o options, stdout io.Writer, log *slog.Logger) error {
	if err := recreate(ctx, o.dbURL); err != nil {
		return err
	}
	d, err := db.Open(ctx, o.dbURL, db.Options{})
	if err != nil {
		return err
	}
	defer d.Close()
	store := tenant.NewStore(d)
	t, err := store.Create(ctx, tenant.New{Slug: "bench"})
	if err != nil {
		return err
	}
	for _, id := range o.captureIDs {
		if _, err := store.AddNode(ctx, t.ID, tenant.NewNode{CaptureID: int64(id), AuthKey: o.authKey}); err != nil {
			return err
		}
	}
	spool := o.spoolDir
	if spool == "" {
		if spool, err = os.MkdirTemp("", "hepload-spool"); err != nil {
			return err
		}
		defer os.RemoveAll(spool)
	}
	srv, err := ingest.New(ingest.Config{HEPAddr: "127.0.0.1:0", SpoolDir: spool, UDPReadBuffer: o.udpBuf,
		BatchSize: o.batch}, d, store, prometheus.NewRegistry(), log)
	if err != nil {
		return err
	}
	sctx, stopSrv := context.WithCancel(context.Background())
	defer stopSrv()
	if err := srv.Listen(ctx); err != nil {
		return err
	}
	udp, tcp, _ := srv.Addrs()
	done := make(chan error, 1)
	go func() { done <- srv.Run(sctx) }()
	o.addr = udp.String()
	if o.proto == "tcp" {
		o.addr = tcp.String()
	}

	// Sample ingest-to-queryable latency: one call in a hundred (Call-IDs
	// ending in 00), the time a poller first sees each of its messages minus
	// the HEP timestamp the sender stamped.
	lat := &latencies{seen: map[string]bool{}}
	pctx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	var pollWG sync.WaitGroup
	pollWG.Add(1)
	go func() { defer pollWG.Done(); lat.poll(pctx, d, t.ID, o.prefix) }()

	rep, err := send(ctx, o)
	if err != nil {
		return err
	}
	// Wait for the writer to catch up: the count stops growing.
	sent := time.Now()
	var stored int64
	for {
		var n int64
		if err := d.Owner().QueryRow(ctx, `SELECT count(*) FROM sip_messages WHERE tenant_id = $1`, t.ID).Scan(&n); err != nil {
			return err
		}
		if n >= rep.Messages || (n == stored && time.Since(sent) > 5*time.Second) || time.Since(sent) > 60*time.Second {
			stored = n
			break
		}
		stored = n
		time.Sleep(time.Second)
	}
	drain := time.Since(sent)
	stopPoll()
	pollWG.Wait()
	stopSrv()
	if err := <-done; err != nil {
		return err
	}
	sr := &ServeReport{Stored: stored, DrainSeconds: drain.Seconds(), PeakRSSMiB: peakRSS()}
	sr.StoredRate = float64(stored) / (rep.ElapsedSeconds + drain.Seconds())
	if rep.Messages > 0 {
		sr.LossPercent = 100 * float64(rep.Messages-stored) / float64(rep.Messages)
	}
	sr.LatencySamples, sr.LatencyP50Millis, sr.LatencyP99Millis, sr.LatencyMaxMillis = lat.summary()
	rep.Serve = sr
	return writeJSON(stdout, rep)
}

// recreate drops and recreates the benchmark database.
func recreate(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	name := cfg.Database
	if !strings.HasPrefix(name, "callscope_bench") {
		return fmt.Errorf("-db: refusing to drop %q: the database name must start with callscope_bench", name)
	}
	cfg.Database = "postgres"
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

type latencies struct {
	mu   sync.Mutex
	seen map[string]bool
	ms   []float64
}

func (l *latencies) poll(ctx context.Context, d *db.DB, tenantID int64, prefix string) {
	for ctx.Err() == nil {
		rows, err := d.Owner().Query(ctx, `SELECT call_id, coalesce(method, ''), coalesce(status, 0), captured_at
			FROM sip_messages WHERE tenant_id = $1 AND captured_at > now() - interval '5 seconds'
			AND call_id LIKE $2`, tenantID, prefix+"-%00@loadgen")
		if err == nil {
			now := time.Now()
			for rows.Next() {
				var call, method string
				var status int16
				var at time.Time
				if rows.Scan(&call, &method, &status, &at) != nil {
					continue
				}
				key := fmt.Sprint(call, method, status, at.UnixMicro())
				if !l.seen[key] {
					l.seen[key] = true
					l.ms = append(l.ms, float64(now.Sub(at).Microseconds())/1000)
				}
			}
			rows.Close()
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *latencies) summary() (n int, p50, p99, max float64) {
	if len(l.ms) == 0 {
		return 0, 0, 0, 0
	}
	sort.Float64s(l.ms)
	q := func(f float64) float64 { return l.ms[min(len(l.ms)-1, int(f*float64(len(l.ms))))] }
	return len(l.ms), q(0.50), q(0.99), l.ms[len(l.ms)-1]
}

// peakRSS reads VmHWM, the process's peak resident set, from /proc.
func peakRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
			return kb / 1024
		}
	}
	return 0
}
