package ingest

import (
	"fmt"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/sip"
)

// Config tunes an ingest Server. Zero values take the defaults named on
// each field; Validate reports the combinations that cannot work.
type Config struct {
	// HEPAddr is where HEP arrives over UDP and TCP (one port, both
	// protocols), e.g. ":9060"; "127.0.0.1:0" picks a free port. Required.
	HEPAddr string
	// TLSAddr enables HEP over TLS with the certificate and key files;
	// TLSClientCA, when set, requires client certificates signed by it
	// (mutual TLS). Without it a client certificate is optional; either
	// way a node bound to a certificate's fingerprint accepts packets
	// only over TLS from that certificate.
	TLSAddr, TLSCert, TLSKey, TLSClientCA string

	// UDPReadBuffer is the UDP socket receive buffer in bytes (default
	// 128 MiB: the kernel counts ~2 KiB per datagram, so about a second of
	// 60,000 messages/s while the readers do not get a CPU, as on a box
	// with one of two cores busy elsewhere). SO_RCVBUFFORCE is tried
	// first, then SO_RCVBUF, which the kernel caps at net.core.rmem_max (a
	// warning says so).
	UDPReadBuffer int

	// BatchSize is the most rows one COPY transaction writes (default
	// 5000); FlushInterval the longest a row waits for its batch (default
	// 200ms).
	BatchSize     int
	FlushInterval time.Duration
	// QueueBytes bounds the memory held by accepted rows not yet written
	// or spooled — queued, being batched, in a COPY in flight, or read
	// back from the spool (default 64 MiB, about a second at 60,000
	// messages/s). It is what caps the process's memory under load. Past
	// half of it, new batches are spilled to the spool. When it is reached
	// (the spool is full, or the disk slower than the traffic), UDP
	// packets are dropped, counted as "spool_full" or "queue_full"; TCP
	// and TLS readers wait, so the sender's TCP window carries the
	// back-pressure and nothing it sent is dropped. QueueSize bounds the
	// same queue in rows (default 200000).
	QueueBytes int64
	QueueSize  int
	// Writers is the number of COPY transactions in flight at once, each on
	// its own connection (default 2); they commit in the order their
	// batches were formed. The owner pool must allow this many connections
	// besides the upkeep's one.
	Writers int

	// SpoolDir keeps batches PostgreSQL could not take yet (required);
	// SpoolMaxBytes bounds it (default 4 GiB, about a minute of 60,000
	// messages/s): beyond it memory holds what the spool refuses, then
	// datagrams are dropped, counted as "spool_full".
	SpoolDir      string
	SpoolMaxBytes int64

	// CorrelationHeaders are the SIP headers whose value correlates call
	// legs, in order of preference (default sip.DefaultCorrelationHeaders).
	CorrelationHeaders []string
	// DedupWindow > 0 drops an identical packet from the same capture ID
	// seen again within the window (a capture duplicate), counted as
	// "duplicate". 0 keeps everything.
	DedupWindow time.Duration
	// NodeRefresh is how often the node map is checked for changes
	// (default 2s).
	NodeRefresh time.Duration

	// UDPReaders is the number of goroutines reading the UDP socket
	// (default 2).
	UDPReaders int
	// MaxStreamConns bounds concurrent TCP plus TLS connections (default
	// 1024); MaxConnsPerSource bounds those from one source address
	// (default 64), so that one sender cannot take every slot.
	MaxStreamConns, MaxConnsPerSource int
	// StreamFirstPacketTimeout closes a TCP/TLS connection that has not
	// sent a decodable HEP packet this long after it was accepted, TLS
	// handshake included (default 5s). StreamIdleTimeout closes one that
	// sends nothing for this long between packets (default 2m);
	// StreamStallTimeout one that stops in the middle of a packet (default
	// 15s).
	StreamFirstPacketTimeout, StreamIdleTimeout, StreamStallTimeout time.Duration
	// ShutdownTimeout bounds the drain after the context of Run ends
	// (default 15s): what cannot be written by then is spooled.
	ShutdownTimeout time.Duration
	// UnclaimedFlush is how often unknown capture IDs are reported to the
	// tenant store (default 3s).
	UnclaimedFlush time.Duration
	// HealthFlush is how often each node's counts and this process's lag
	// are written to PostgreSQL (default 5s).
	HealthFlush time.Duration
	// Instance names this process in the lag status (default: the host
	// name and the bound HEP address).
	Instance string
	// RetryInterval is how long the writer waits before trying PostgreSQL
	// again after a failure (default 1s).
	RetryInterval time.Duration
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.UDPReadBuffer, 128<<20)
	def(&c.BatchSize, 5000)
	def(&c.QueueSize, 200000)
	def(&c.UDPReaders, 2)
	def(&c.Writers, 2)
	def(&c.MaxStreamConns, 1024)
	def(&c.MaxConnsPerSource, 64)
	defDur(&c.FlushInterval, 200*time.Millisecond)
	defDur(&c.NodeRefresh, 2*time.Second)
	defDur(&c.StreamFirstPacketTimeout, 5*time.Second)
	defDur(&c.StreamIdleTimeout, 2*time.Minute)
	defDur(&c.StreamStallTimeout, 15*time.Second)
	defDur(&c.ShutdownTimeout, 15*time.Second)
	defDur(&c.UnclaimedFlush, 3*time.Second)
	defDur(&c.HealthFlush, 5*time.Second)
	defDur(&c.RetryInterval, time.Second)
	if c.QueueBytes <= 0 {
		c.QueueBytes = 64 << 20
	}
	if c.SpoolMaxBytes <= 0 {
		c.SpoolMaxBytes = 4 << 30
	}
	if c.CorrelationHeaders == nil {
		c.CorrelationHeaders = sip.DefaultCorrelationHeaders
	}
}

// Validate returns an Invalid error naming the setting at fault.
func (c Config) Validate() error {
	switch {
	case c.HEPAddr == "":
		return callscope.FieldError("hep_addr", "a listen address such as :9060 is required")
	case c.SpoolDir == "":
		return callscope.FieldError("spool_dir", "a directory for the disk spool is required")
	case c.TLSAddr != "" && (c.TLSCert == "" || c.TLSKey == ""):
		return callscope.FieldError("hep_tls_cert", "HEP over TLS needs both a certificate and a key file")
	case c.TLSAddr == "" && c.TLSClientCA != "":
		return callscope.FieldError("hep_tls_client_ca", "a client CA only makes sense with a TLS listen address")
	case c.BatchSize > 100000:
		return callscope.FieldError("batch_size", "%d rows per batch is too many (at most 100000)", c.BatchSize)
	case c.QueueBytes > 0 && c.QueueBytes < 1<<20:
		return callscope.FieldError("queue_bytes", "%d bytes is too small a queue (at least 1 MiB)", c.QueueBytes)
	case c.Writers > 64:
		return callscope.FieldError("writers", "%d concurrent writers is too many (at most 64)", c.Writers)
	case c.QueueSize > 0 && c.BatchSize > c.QueueSize:
		return callscope.FieldError("queue_size", "%d must be at least the batch size %d", c.QueueSize, c.BatchSize)
	case c.DedupWindow < 0 || c.DedupWindow > time.Minute:
		return callscope.FieldError("dedup_window", "%s is outside 0..1m", c.DedupWindow)
	}
	return nil
}

func (c Config) String() string {
	return fmt.Sprintf("hep=%s tls=%s batch=%d flush=%s queue=%d rows/%d bytes writers=%d spool=%s", c.HEPAddr, c.TLSAddr,
		c.BatchSize, c.FlushInterval, c.QueueSize, c.QueueBytes, c.Writers, c.SpoolDir)
}
