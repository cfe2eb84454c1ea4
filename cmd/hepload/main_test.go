package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/callscope/callscope/hep"
)

// TestSendReportsWhatWasSent sends over TCP to a counting listener and
// checks the JSON report against what arrived, per capture ID.
func TestSendReportsWhatWasSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	got := map[uint32]int64{}
	var wg sync.WaitGroup
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				b, _ := io.ReadAll(c)
				var d hep.Decoder
				var p hep.Packet
				for len(b) > 0 {
					n, err := hep.FrameLength(b)
					if err != nil || n > len(b) {
						t.Errorf("bad frame: %v", err)
						return
					}
					if err := d.Decode(b[:n], &p); err != nil {
						t.Errorf("decode: %v", err)
						return
					}
					mu.Lock()
					got[p.CaptureID]++
					mu.Unlock()
					b = b[n:]
				}
			}()
		}
	}()
	var out bytes.Buffer
	err = run(context.Background(), []string{"-addr", ln.Addr().String(), "-proto", "tcp", "-rate", "2000",
		"-duration", "250ms", "-capture-ids", "7,8"}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	ln.Close()
	wg.Wait()
	if rep.Messages != 500 || rep.PerCaptureID["7"]+rep.PerCaptureID["8"] != 500 {
		t.Fatalf("report %+v, want 500 messages", rep)
	}
	if got[7] != rep.PerCaptureID["7"] || got[8] != rep.PerCaptureID["8"] {
		t.Fatalf("received %v, report says %v", got, rep.PerCaptureID)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	if err := run(context.Background(), []string{"-addr", "192.0.2.1:9060"}, io.Discard, io.Discard); err == nil {
		t.Fatal("a non-loopback target was accepted")
	}
}
