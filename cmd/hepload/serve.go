package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/ingest"
	"github.com/callscope/callscope/retention"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// ServeReport is what the server side did, printed when it stops.
type ServeReport struct {
	Addr        string             `json:"addr"`
	Writers     int                `json:"writers"`
	Accepted    float64            `json:"accepted"`
	Dropped     map[string]float64 `json:"dropped"`
	RowsWritten float64            `json:"rows_written"`
	WriteErrors float64            `json:"write_errors"`
	SpoolBytes  float64            `json:"spool_bytes"`
	// SpoolBatches counts batches spooled (spilled while PostgreSQL was
	// behind), replayed from the spool, and skipped there as already
	// written. PeakSpoolMiB and PeakLagSeconds are the largest spool and
	// lag (age of the oldest message not yet written) seen, sampled every
	// 200 ms.
	SpoolBatches   map[string]float64 `json:"spool_batches"`
	PeakSpoolMiB   float64            `json:"peak_spool_mib"`
	PeakLagSeconds float64            `json:"peak_lag_seconds"`
	// PeakRSSMiB is VmHWM of this process, which runs the ingest server
	// and nothing else (the sender is another process).
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

// serve runs an ingest Server on a fresh benchmark database until ctx ends
// (SIGINT/SIGTERM), then drains it and reports.
func serve(ctx context.Context, o options, stdout io.Writer, log *slog.Logger) error {
	if err := recreate(ctx, o.dbURL); err != nil {
		return err
	}
	// Writers, node refresh, partition upkeep and unclaimed reports each
	// may hold a connection at once.
	d, err := db.Open(ctx, o.dbURL, db.Options{OwnerMaxConns: int32(max(o.writers, 2) + 4)})
	if err != nil {
		return err
	}
	defer d.Close()
	store := tenantdb.NewStore(d)
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
	reg := prometheus.NewRegistry()
	// Retention owns the partitions, as in serve: one pass makes today's.
	enf, err := retention.New(d, store, retention.Config{}, nil, log)
	if err != nil {
		return err
	}
	if _, err := enf.Run(ctx); err != nil {
		return err
	}
	srv, err := ingest.New(ingest.Config{HEPAddr: o.listen, SpoolDir: spool, UDPReadBuffer: o.udpBuf,
		BatchSize: o.batch, Writers: o.writers, QueueBytes: o.queueBytes}, d, store, reg, log)
	if err != nil {
		return err
	}
	if err := srv.Listen(ctx); err != nil {
		return err
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	udp, _, _ := srv.Addrs()
	if o.readyFile != "" {
		if err := os.WriteFile(o.readyFile, []byte(udp.String()+"\n"), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintln(os.Stderr, "hepload: serving HEP on", udp.String(), "(udp and tcp); SIGINT or SIGTERM stops")
	peaks := samplePeaks(ctx, reg)
	if err := srv.Run(ctx); err != nil {
		return err
	}
	peakSpool, peakLag := peaks()
	rep := &ServeReport{Addr: udp.String(), Writers: o.writers, Dropped: map[string]float64{}, PeakRSSMiB: peakRSS(),
		SpoolBatches: map[string]float64{}, PeakSpoolMiB: peakSpool / (1 << 20), PeakLagSeconds: peakLag}
	mfs, err := reg.Gather()
	if err != nil {
		return err
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			switch mf.GetName() {
			case "callscope_ingest_accepted_total":
				rep.Accepted = v
			case "callscope_ingest_rows_written_total":
				rep.RowsWritten += v
			case "callscope_ingest_write_errors_total":
				rep.WriteErrors = v
			case "callscope_ingest_spool_bytes":
				rep.SpoolBytes = v
			case "callscope_ingest_dropped_total":
				if v > 0 {
					rep.Dropped[m.GetLabel()[0].GetValue()] = v
				}
			case "callscope_ingest_spool_batches_total":
				rep.SpoolBatches[m.GetLabel()[0].GetValue()] = v
			}
		}
	}
	return writeJSON(stdout, rep)
}

// samplePeaks reads the ingest spool and lag gauges every 200 ms until ctx
// ends; the returned function gives the largest values seen.
func samplePeaks(ctx context.Context, reg *prometheus.Registry) func() (spoolBytes, lagSeconds float64) {
	var mu sync.Mutex
	var spool, lag float64
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			mfs, err := reg.Gather()
			if err != nil {
				continue
			}
			mu.Lock()
			for _, mf := range mfs {
				for _, m := range mf.GetMetric() {
					switch mf.GetName() {
					case "callscope_ingest_spool_bytes":
						spool = max(spool, m.GetGauge().GetValue())
					case "callscope_ingest_lag_seconds":
						lag = max(lag, m.GetGauge().GetValue())
					}
				}
			}
			mu.Unlock()
		}
	}()
	return func() (float64, float64) {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return spool, lag
	}
}

// recreate drops the benchmark database (db.Open creates and migrates it
// again).
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
