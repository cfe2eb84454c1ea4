// Command hepload measures HEP ingest the way it is deployed: the ingest
// server and the load generator are two processes.
//
// The server side recreates a benchmark database (-db), provisions a tenant
// owning the capture IDs, serves an ingest Server on -listen until SIGINT or
// SIGTERM, drains, and prints what it did (accepted, dropped by reason, rows
// written, its own peak RSS) as JSON:
//
//	hepload -serve -listen 127.0.0.1:9060 -writers 2 -ready-file /tmp/ready
//
// The sending side paces realistic SIP dialogs as HEPv3 over UDP or TCP and
// reports exactly what it sent; with -measure it then waits until the
// database holds what was sent and reports messages stored, loss and
// ingest-to-queryable latency:
//
//	hepload -addr 127.0.0.1:9060 -proto udp -rate 60000 -duration 60s -measure
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	addr       string
	proto      string
	rate       int
	duration   time.Duration
	captureIDs []uint32
	authKey    string
	callsShare float64
	prefix     string

	measure bool
	dbURL   string

	serve      bool
	listen     string
	readyFile  string
	spoolDir   string
	udpBuf     int
	batch      int
	writers    int
	queueBytes int64
	cpuProfile string
}

// Report is what was sent.
type Report struct {
	Prefix         string           `json:"prefix"`
	Proto          string           `json:"proto"`
	TargetRate     int              `json:"target_rate"`
	Messages       int64            `json:"messages"`
	PerCaptureID   map[string]int64 `json:"per_capture_id"`
	Calls          int64            `json:"calls"`
	Registrations  int64            `json:"registrations"`
	SendErrors     int64            `json:"send_errors"`
	ElapsedSeconds float64          `json:"elapsed_seconds"`
	SentRate       float64          `json:"sent_rate"`
	Measured       *Measurement     `json:"measured,omitempty"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hepload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hepload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var ids string
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9060", "ingest HEP address (loopback only)")
	fs.StringVar(&o.proto, "proto", "udp", "udp or tcp")
	fs.IntVar(&o.rate, "rate", 1000, "SIP messages per second")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send")
	fs.StringVar(&ids, "capture-ids", "2001,2002,2003", "comma-separated capture IDs, used round robin")
	fs.StringVar(&o.authKey, "auth-key", "", "HEP auth key (chunk 0x000e) to send")
	fs.Float64Var(&o.callsShare, "calls-share", 0.9, "share of INVITE dialogs among dialogs (the rest are REGISTER/401/REGISTER/200)")
	fs.StringVar(&o.prefix, "prefix", "", "Call-ID prefix (default: random, printed)")
	fs.BoolVar(&o.measure, "measure", false, "after sending, wait for the rows in -db and report stored, loss and ingest-to-queryable latency")
	fs.StringVar(&o.dbURL, "db", "postgres://postgres@127.0.0.1:5432/callscope_bench?sslmode=disable", "benchmark database (-serve drops and recreates it)")
	fs.BoolVar(&o.serve, "serve", false, "serve an ingest server on -listen (fresh -db) until SIGINT/SIGTERM, then report; sends nothing")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9060", "HEP address (UDP and TCP) for -serve")
	fs.StringVar(&o.readyFile, "ready-file", "", "-serve writes this file once it is listening")
	fs.StringVar(&o.spoolDir, "spool-dir", "", "spool for -serve (default: a temporary directory)")
	fs.IntVar(&o.udpBuf, "udp-read-buffer", 128<<20, "ingest UDP receive buffer for -serve")
	fs.IntVar(&o.batch, "batch-size", 0, "ingest batch size for -serve (0: the ingest default)")
	fs.IntVar(&o.writers, "writers", 0, "ingest COPY writers for -serve (0: the ingest default)")
	fs.Int64Var(&o.queueBytes, "queue-bytes", 0, "ingest queue bound in bytes for -serve (0: the ingest default)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "-serve writes a CPU profile of the server process here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, s := range strings.Split(ids, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return fmt.Errorf("-capture-ids: %q is not a 32-bit number", s)
		}
		o.captureIDs = append(o.captureIDs, uint32(n))
	}
	if o.proto != "udp" && o.proto != "tcp" {
		return fmt.Errorf("-proto must be udp or tcp")
	}
	if o.rate <= 0 || o.duration <= 0 || len(o.captureIDs) == 0 {
		return fmt.Errorf("-rate, -duration and -capture-ids must be positive")
	}
	if o.prefix == "" {
		o.prefix = fmt.Sprintf("hl%06x", rand.Uint32()&0xffffff)
	}
	if !o.serve {
		fmt.Fprintln(stderr, "hepload: Call-ID prefix", o.prefix)
	}

	if o.serve {
		if err := loopbackOnly(o.listen); err != nil {
			return err
		}
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		return serve(ctx, o, stdout, log)
	}
	if err := loopbackOnly(o.addr); err != nil {
		return err
	}
	var m *measurer
	if o.measure {
		var err error
		if m, err = newMeasurer(ctx, o.dbURL, o.prefix); err != nil {
			return err
		}
		defer m.close()
		m.start(ctx)
	}
	rep, err := send(ctx, o, m)
	if err != nil {
		return err
	}
	if m != nil {
		if rep.Measured, err = m.finish(ctx, rep.Messages, rep.ElapsedSeconds); err != nil {
			return err
		}
	}
	return writeJSON(stdout, rep)
}

// loopbackOnly refuses targets off this machine: hepload is a load
// generator, and load goes to loopback only.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("-addr %s is not a loopback address", addr)
		}
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
