package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/callscope/callscope/ingest/loadgen"
)

// dialog is one call or registration in flight: its messages go out one per
// slot, interleaved with other dialogs, like real traffic.
type dialog struct {
	callID    string
	register  bool
	next, len int
	captureID uint32
	conn      int
	sampled   bool // its messages' latency is measured
}

// sampleEvery: one dialog in this many has its messages' ingest-to-queryable
// latency measured (when m is set).
const sampleEvery = 100

// send paces messages at o.rate for o.duration: every millisecond it sends
// the messages due by then, so bursts stay small and the average is exact.
// When m is not nil, the messages of sampled dialogs are reported to it
// with the time they were stamped and sent.
func send(ctx context.Context, o options, m *measurer) (*Report, error) {
	rep := &Report{Prefix: o.prefix, Proto: o.proto, TargetRate: o.rate, PerCaptureID: map[string]int64{}}
	conns := make([]net.Conn, len(o.captureIDs))
	for i := range conns {
		c, err := net.Dial(o.proto, o.addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s %s: %w", o.proto, o.addr, err)
		}
		defer c.Close()
		conns[i] = c
	}
	perID := make([]int64, len(o.captureIDs))
	var (
		active   []*dialog
		nDialogs int
		msg, pkt []byte
		authKey  []byte
	)
	if o.authKey != "" {
		authKey = []byte(o.authKey)
	}
	// Keep ~200 dialogs in flight; each contributes one message per turn.
	const inFlight = 200
	newDialog := func() *dialog {
		n := nDialogs
		nDialogs++
		d := &dialog{callID: loadgen.CallID(o.prefix, n), conn: n % len(conns), sampled: m != nil && n%sampleEvery == 0}
		d.captureID = o.captureIDs[d.conn]
		if float64(n%1000)/1000 >= o.callsShare {
			d.register, d.len = true, loadgen.RegisterMessages
			rep.Registrations++
		} else {
			d.len = loadgen.CallMessages
			rep.Calls++
		}
		return d
	}
	total := int64(float64(o.rate) * o.duration.Seconds())
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var sent int64
	turn := 0
	for sent < total {
		select {
		case <-ctx.Done():
			total = sent
			continue
		case <-tick.C:
		}
		due := min(total, int64(time.Since(start).Seconds()*float64(o.rate)))
		for sent < due {
			// The run stops at exactly `total` messages, so the last
			// dialogs may be cut short: messages are what is reported.
			for len(active) < inFlight {
				active = append(active, newDialog())
			}
			d := active[turn%len(active)]
			now := time.Now()
			var fromCaller bool
			if d.register {
				msg, fromCaller = loadgen.RegisterMessage(msg[:0], d.callID, d.next)
			} else {
				msg, fromCaller = loadgen.Message(msg[:0], d.callID, d.next)
			}
			pkt = loadgen.AppendHEP(pkt[:0], loadgen.Packet{CaptureID: d.captureID, AuthKey: authKey, Time: now, FromCaller: fromCaller}, msg)
			if _, err := conns[d.conn].Write(pkt); err != nil {
				rep.SendErrors++
				if o.proto == "tcp" {
					return nil, fmt.Errorf("tcp write: %w", err)
				}
			} else {
				sent++
				perID[d.conn]++
				if d.sampled {
					m.sent(d.callID, d.register, d.next, now)
				}
			}
			d.next++
			if d.next == d.len {
				i := turn % len(active)
				active[i] = active[len(active)-1]
				active = active[:len(active)-1]
			} else {
				turn++
			}
		}
	}
	rep.ElapsedSeconds = time.Since(start).Seconds()
	rep.Messages = sent
	rep.SentRate = float64(sent) / rep.ElapsedSeconds
	for i, id := range o.captureIDs {
		rep.PerCaptureID[strconv.FormatUint(uint64(id), 10)] += perID[i]
	}
	return rep, nil
}
