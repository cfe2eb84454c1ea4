// Command hepload sends realistic SIP traffic as HEPv3 to an ingest
// listener at a paced rate and reports exactly what it sent, as JSON on
// stdout, so a script can compare it with SELECT count(*).
//
//	hepload -addr 127.0.0.1:9060 -proto udp -rate 60000 -duration 60s -capture-ids 2001,2002,2003
//
// With -serve it also runs an ingest Server in-process on a fresh database
// (-db), provisions a tenant owning the capture IDs, drives it, waits for
// the writer to drain and reports messages durably stored, loss,
// ingest-to-queryable latency and peak RSS.
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

	serve    bool
	dbURL    string
	spoolDir string
	udpBuf   int
	batch    int
}

// Report is what was sent.
type Report struct {
	Prefix         string            `json:"prefix"`
	Proto          string            `json:"proto"`
	TargetRate     int               `json:"target_rate"`
	Messages       int64             `json:"messages"`
	PerCaptureID   map[string]int64  `json:"per_capture_id"`
	Calls          int64             `json:"calls"`
	Registrations  int64             `json:"registrations"`
	SendErrors     int64             `json:"send_errors"`
	ElapsedSeconds float64           `json:"elapsed_seconds"`
	SentRate       float64           `json:"sent_rate"`
	Serve          *ServeReport      `json:"serve,omitempty"`
	Extra          map[string]string `json:"extra,omitempty"`
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
	fs.BoolVar(&o.serve, "serve", false, "run an ingest server in-process on a fresh database and measure it")
	fs.StringVar(&o.dbURL, "db", "postgres://postgres@127.0.0.1:5432/callscope_bench?sslmode=disable", "database for -serve (dropped and recreated)")
	fs.StringVar(&o.spoolDir, "spool-dir", "", "spool for -serve (default: a temporary directory)")
	fs.IntVar(&o.udpBuf, "udp-read-buffer", 32<<20, "ingest UDP receive buffer for -serve")
	fs.IntVar(&o.batch, "batch-size", 5000, "ingest batch size for -serve")
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
	fmt.Fprintln(stderr, "hepload: Call-ID prefix", o.prefix)

	if o.serve {
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		return serve(ctx, o, stdout, log)
	}
	if err := loopbackOnly(o.addr); err != nil {
		return err
	}
	rep, err := send(ctx, o)
	if err != nil {
		return err
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
