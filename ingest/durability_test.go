package ingest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/tenant"
)

// proxiedDB opens a fresh database through a proxy the test can cut, and
// the same database directly, for the test's own reads.
func proxiedDB(t *testing.T) (d *db.DB, p *proxy, direct *db.DB) {
	d, p, url := proxiedURL(t)
	return d, p, directDB(t, url, p)
}

// directDB opens the database behind p, not through it.
func directDB(t *testing.T, proxied string, p *proxy) *db.DB {
	t.Helper()
	url := strings.Replace(proxied, fmt.Sprintf("127.0.0.1:%d", p.port()), "127.0.0.1:5432", 1)
	d, err := db.Open(context.Background(), url, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func proxiedURL(t *testing.T) (*db.DB, *proxy, string) {
	t.Helper()
	url := dbtest.NewURL(t)
	p := newProxy(t, "127.0.0.1:5432")
	if h := strings.TrimPrefix(dbtest.AdminURL(), "postgres://"); !strings.Contains(h, "127.0.0.1:5432") {
		t.Skip("the proxy test needs PostgreSQL at 127.0.0.1:5432")
	}
	url = strings.Replace(url, "127.0.0.1:5432", fmt.Sprintf("127.0.0.1:%d", p.port()), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := db.Open(ctx, url, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d, p, url
}

func TestDatabaseAwayAndBack(t *testing.T) {
	d, px, direct := proxiedDB(t)
	b := start(t, d, testConfig(t))
	acme := MustTenant(t, b.store, "acme")
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 5})
	b.srv.nodes.refresh(context.Background(), true)

	sendUDP(t, b.udp, sipPacket(5, withCallID(t, "before@x")).AppendV3(nil))
	waitCount(t, direct, 1, 10*time.Second, `SELECT count(*) FROM sip_messages`)

	px.cut()
	const n = 500
	pkts := make([][]byte, n)
	for i := range pkts {
		pkts[i] = sipPacket(5, withCallID(t, fmt.Sprintf("down-%d@x", i))).AppendV3(nil)
	}
	sendStream(t, b.tcp, nil, pkts...)
	// Everything accepted while the database is away reaches the spool.
	deadline := time.Now().Add(10 * time.Second)
	for counterValue(b.srv.m.accepted) < n+1 || len(b.srv.queue) > 0 || b.srv.spool.size.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("accepted %v, queued %d, spool %d bytes", counterValue(b.srv.m.accepted), len(b.srv.queue), b.srv.spool.size.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(3 * b.cfg.FlushInterval)

	px.restore()
	waitCount(t, direct, n+1, 20*time.Second, `SELECT count(*) FROM sip_messages`)
	waitCount(t, direct, n, time.Second, `SELECT count(DISTINCT call_id) FROM sip_messages WHERE call_id LIKE 'down-%'`)
	deadline = time.Now().Add(10 * time.Second)
	for b.srv.spool.size.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("spool still holds %d bytes after replay", b.srv.spool.size.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a late duplicate would show now
	if got := count(t, direct, `SELECT count(*) FROM sip_messages`); got != n+1 {
		t.Fatalf("%d rows after replay, want exactly %d", got, n+1)
	}
}

func TestSpoolReplayedAcrossRestart(t *testing.T) {
	d, px, url := proxiedURL(t)
	direct := directDB(t, url, px)
	cfg := testConfig(t)
	cfg.ShutdownTimeout = 2 * time.Second
	b := start(t, d, cfg)
	acme := MustTenant(t, b.store, "acme")
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 5})
	b.srv.nodes.refresh(context.Background(), true)

	px.cut()
	const n = 300
	for i := range n {
		sendUDP(t, b.udp, sipPacket(5, withCallID(t, fmt.Sprintf("restart-%d@x", i))).AppendV3(nil))
	}
	deadline := time.Now().Add(10 * time.Second)
	for counterValue(b.srv.m.accepted) < n {
		if time.Now().After(deadline) {
			t.Fatalf("accepted %v of %d", counterValue(b.srv.m.accepted), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// SIGTERM while the database is away: what is queued goes to the spool.
	b.stop()
	if b.srv.spool.size.Load() == 0 {
		t.Fatal("nothing spooled at shutdown")
	}

	px.restore()
	// A new process: new pools, the same spool directory.
	d2, err := db.Open(context.Background(), url, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d2.Close)
	b2 := start(t, d2, cfg)
	waitCount(t, direct, n, 20*time.Second, `SELECT count(*) FROM sip_messages WHERE tenant_id = $1`, acme.ID)
	if b2.srv.spool.size.Load() != 0 {
		t.Errorf("spool holds %d bytes after the restart's replay", b2.srv.spool.size.Load())
	}
}

// A batch replayed after an ambiguous commit (it was written, but the
// writer did not learn so and spooled it) is skipped.
func TestReplayedBatchWrittenOnce(t *testing.T) {
	b := setup(t)
	acme := MustTenant(t, b.store, "acme")
	r := getRow()
	r.kind, r.tenantID, r.captureID = kindSIP, acme.ID, 1
	r.capturedAt, r.receivedAt = time.Now().UnixMicro(), time.Now().UnixMicro()
	r.src, r.dst = testSrc, testDst
	for i := range nFields {
		r.setText(i, []byte("x"))
	}
	bt := &batch{id: newBatchID(), rows: []*row{r}}
	if err := b.srv.writeBatch(context.Background(), &copier{}, bt, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.srv.writeBatch(context.Background(), &copier{}, bt, nil); err != errAlreadyWritten {
		t.Fatalf("second write: %v, want errAlreadyWritten", err)
	}
	if n := count(t, b.db, `SELECT count(*) FROM sip_messages`); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// With the database away and the spool full, memory holds what the spool
// refuses; once memory is full too, datagrams are dropped as spool_full
// (not queue_full), while a TCP sender is held back and loses nothing.
func TestSpoolFullIsCounted(t *testing.T) {
	d, px, direct := proxiedDB(t)
	cfg := testConfig(t)
	cfg.SpoolMaxBytes = 512 // less than any batch: the spool refuses every one
	cfg.QueueBytes, cfg.QueueSize = 1<<20, 100000
	b := start(t, d, cfg)
	acme := MustTenant(t, b.store, "acme")
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 5})
	b.srv.nodes.refresh(context.Background(), true)
	px.cut()

	const n = 3000 // ~4 MB of rows against a 1 MiB bound
	pkt := func(kind string, i int) []byte {
		return sipPacket(5, withCallID(t, fmt.Sprintf("%s-%d@x", kind, i))).AppendV3(nil)
	}
	for i := range n {
		sendUDP(t, b.udp, pkt("udp", i))
	}
	b.waitDropped(reasonSpoolFull, 1)
	tcpDone := make(chan struct{})
	go func() {
		defer close(tcpDone)
		pkts := make([][]byte, n)
		for i := range pkts {
			pkts[i] = pkt("tcp", i)
		}
		sendStream(t, b.tcp, nil, pkts...)
	}()
	time.Sleep(300 * time.Millisecond) // the TCP reader fills memory and waits
	// A reader adds a row's bytes before it checks the bound: allow one.
	if q := b.srv.queued.Load(); q > cfg.QueueBytes+maxDatagram+rowHeader {
		t.Fatalf("%d bytes queued, bound %d", q, cfg.QueueBytes)
	}
	udpDropped := b.dropped(reasonSpoolFull)

	px.restore()
	<-tcpDone
	waitCount(t, direct, n, 30*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id LIKE 'tcp-%'`)
	udpStored := int(counterValue(b.srv.m.accepted)) - n
	waitCount(t, direct, udpStored, 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id LIKE 'udp-%'`)
	if got := b.dropped(reasonSpoolFull); got != udpDropped {
		t.Errorf("dropped{spool_full} went from %v to %v after the UDP burst: TCP packets were dropped", udpDropped, got)
	}
	if q := b.dropped(reasonQueueFull); q != 0 {
		t.Errorf("dropped{queue_full} = %v: the spool was full, that is the reason", q)
	}
}

// With the spool empty, batches are written by several copiers at once,
// each in its own transaction; every row lands exactly once. A test
// transaction holding a SHARE lock on ingest_batches stops every write at
// its first statement, so the copiers are provably busy together.
func TestParallelWriters(t *testing.T) {
	const writers = 3
	b := setup(t, func(c *Config) { c.Writers, c.BatchSize = writers, 10 })
	acme := MustTenant(t, b.store, "acme")
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 5})
	b.srv.nodes.refresh(context.Background(), true)

	release := stallWriters(t, b.db)
	const n = 1000
	pkts := make([][]byte, n)
	for i := range pkts {
		pkts[i] = sipPacket(5, withCallID(t, fmt.Sprintf("par-%d@x", i))).AppendV3(nil)
	}
	sendStream(t, b.tcp, nil, pkts...)
	deadline := time.Now().Add(10 * time.Second)
	for b.srv.peakWrites.Load() < writers {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes in flight at most, want %d", b.srv.peakWrites.Load(), writers)
		}
		time.Sleep(10 * time.Millisecond)
	}
	release()

	waitCount(t, b.db, n, 20*time.Second, `SELECT count(*) FROM sip_messages`)
	waitCount(t, b.db, n, time.Second, `SELECT count(DISTINCT call_id) FROM sip_messages`)
	waitCount(t, b.db, n, time.Second, `SELECT coalesce(sum(rows), 0)::int FROM ingest_batches`)
	if got := b.srv.peakWrites.Load(); got > writers {
		t.Errorf("%d writes in flight, more than the %d writers", got, writers)
	}
	if v := counterValue(b.srv.m.writeErrors); v != 0 {
		t.Errorf("%v write errors", v)
	}
}

// When the writers fall behind (stalled here by a SHARE lock on
// ingest_batches), what does not fit in half the queue's memory is spilled
// to the spool instead of being dropped, over UDP as over TCP, and written
// exactly once when they catch up.
func TestSpillWhileWritersStall(t *testing.T) {
	b := setup(t, func(c *Config) { c.QueueBytes, c.QueueSize = 1<<20, 100000 })
	acme := MustTenant(t, b.store, "acme")
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 5})
	b.srv.nodes.refresh(context.Background(), true)

	release := stallWriters(t, b.db)
	const n = 3000 // ~4 MB of rows against a 1 MiB bound, per transport
	pkt := func(kind string, i int) []byte {
		return sipPacket(5, withCallID(t, fmt.Sprintf("%s-%d@x", kind, i))).AppendV3(nil)
	}
	for i := range n {
		sendUDP(t, b.udp, pkt("udp", i))
	}
	pkts := make([][]byte, n)
	for i := range pkts {
		pkts[i] = pkt("tcp", i)
	}
	sendStream(t, b.tcp, nil, pkts...) // returns: nothing holds TCP back
	deadline := time.Now().Add(10 * time.Second)
	for counterValue(b.srv.m.accepted) < 2*n {
		if time.Now().After(deadline) {
			t.Fatalf("accepted %v of %d", counterValue(b.srv.m.accepted), 2*n)
		}
		// A reader adds a row's bytes before it checks the bound: allow one.
		if q := b.srv.queued.Load(); q > b.cfg.QueueBytes+maxDatagram+rowHeader {
			t.Fatalf("%d bytes queued, bound %d", q, b.cfg.QueueBytes)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if b.srv.spool.size.Load() == 0 {
		t.Fatal("nothing spilled to the spool while the writers were stalled")
	}
	if v := b.dropped(reasonQueueFull) + b.dropped(reasonSpoolFull); v != 0 {
		t.Fatalf("%v packets dropped although the spool had room", v)
	}
	release()

	waitCount(t, b.db, 2*n, 30*time.Second, `SELECT count(*) FROM sip_messages`)
	waitCount(t, b.db, 2*n, time.Second, `SELECT count(DISTINCT call_id) FROM sip_messages`)
	deadline = time.Now().Add(5 * time.Second)
	for b.srv.queued.Load() != 0 || b.srv.spool.size.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes queued and %d spooled after everything was written", b.srv.queued.Load(), b.srv.spool.size.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A PostgreSQL that answers slowly (a proxy holding every chunk of traffic
// back) makes ingest spill; a restart in the middle of the drain loses
// nothing and writes nothing twice, and each node's messages stay in
// order: at every moment, the messages of a node visible in the database
// are exactly the first k it sent.
func TestSpillAndDrainAcrossRestart(t *testing.T) {
	d, px, url := proxiedURL(t)
	direct := directDB(t, url, px)

	cfg := testConfig(t)
	cfg.QueueBytes, cfg.QueueSize = 1<<20, 100000
	cfg.ShutdownTimeout = 5 * time.Second
	b := start(t, d, cfg)
	acme := MustTenant(t, b.store, "acme")
	nodes := []uint32{11, 12, 13}
	for _, id := range nodes {
		MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: int64(id)})
	}
	b.srv.nodes.refresh(context.Background(), true)
	watch := watchOrder(t, direct)

	px.slow(15 * time.Millisecond)
	const perNode = 1000
	var senders sync.WaitGroup
	for _, id := range nodes {
		senders.Add(1)
		go func() {
			defer senders.Done()
			pkts := make([][]byte, perNode)
			for i := range pkts {
				pkts[i] = sipPacket(id, withCallID(t, fmt.Sprintf("n%d-%05d@x", id, i))).AppendV3(nil)
			}
			sendStream(t, b.tcp, nil, pkts...) // one connection per node: one reader, in order
		}()
	}
	senders.Wait()
	const total = perNode * 3
	deadline := time.Now().Add(20 * time.Second)
	for counterValue(b.srv.m.accepted) < total || count(t, direct, `SELECT count(*) FROM sip_messages`) < total/10 {
		if time.Now().After(deadline) {
			t.Fatalf("accepted %v of %d, %d written", counterValue(b.srv.m.accepted), total,
				count(t, direct, `SELECT count(*) FROM sip_messages`))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if b.srv.spool.size.Load() == 0 {
		t.Fatal("nothing spilled although PostgreSQL was slower than the senders")
	}
	b.stop()
	if b.srv.spool.size.Load() == 0 {
		t.Fatal("the spool was empty at the restart: the drain was not interrupted")
	}
	t.Logf("restart with %d rows written, %d bytes spooled", count(t, direct, `SELECT count(*) FROM sip_messages`), b.srv.spool.size.Load())

	d2, err := db.Open(context.Background(), url, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d2.Close)
	b2 := start(t, d2, cfg) // the same spool directory, still slow for a while
	time.Sleep(time.Second)
	px.slow(0)
	waitCount(t, direct, total, 60*time.Second, `SELECT count(*) FROM sip_messages`)
	waitCount(t, direct, total, time.Second, `SELECT count(DISTINCT call_id) FROM sip_messages`)
	deadline = time.Now().Add(10 * time.Second)
	for b2.srv.spool.size.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("spool holds %d bytes after the drain", b2.srv.spool.size.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if polls := watch.stop(); polls < 20 {
		t.Fatalf("the order was checked only %d times", polls)
	}
}

// orderWatch polls the messages visible in the database and checks that,
// for every capture node, they are a prefix of what it sent (Call-IDs
// "n<node>-<index>@x", index from 0), with no duplicate.
type orderWatch struct {
	t     *testing.T
	quit  chan struct{}
	done  chan struct{}
	polls int
	fault string
}

func watchOrder(t *testing.T, d *db.DB) *orderWatch {
	w := &orderWatch{t: t, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.quit:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if f := w.check(d); f != "" && w.fault == "" {
				w.fault = f
			}
			w.polls++
		}
	}()
	t.Cleanup(func() { w.stop() })
	return w
}

func (w *orderWatch) check(d *db.DB) string {
	rows, err := d.Owner().Query(context.Background(), `SELECT call_id FROM sip_messages WHERE call_id LIKE 'n%-%@x'`)
	if err != nil {
		return ""
	}
	seen := map[string]map[int]bool{}
	for rows.Next() {
		var callID string
		if err := rows.Scan(&callID); err != nil {
			return err.Error()
		}
		node, idx, _ := strings.Cut(strings.TrimSuffix(callID, "@x"), "-")
		i, _ := strconv.Atoi(idx)
		if seen[node] == nil {
			seen[node] = map[int]bool{}
		}
		if seen[node][i] {
			return "duplicate " + callID
		}
		seen[node][i] = true
	}
	for node, got := range seen {
		for i := range len(got) {
			if !got[i] {
				return fmt.Sprintf("node %s: %d messages visible but not its message %d", node, len(got), i)
			}
		}
	}
	return ""
}

// stop ends the watch and fails the test on a fault; returns the polls.
func (w *orderWatch) stop() int {
	select {
	case <-w.quit:
	default:
		close(w.quit)
	}
	<-w.done
	if w.fault != "" {
		w.t.Errorf("order broken: %s", w.fault)
		w.fault = ""
	}
	return w.polls
}
