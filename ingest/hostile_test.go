package ingest

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callscope/callscope/tenant"
)

// hostileSetup is a running server with node 1 registered to tenant acme.
func hostileSetup(t *testing.T, mods ...func(*Config)) (*bundle, tenant.Tenant) {
	b := setup(t, mods...)
	acme := MustTenant(t, b.store, "acme")
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 1})
	b.srv.nodes.refresh(context.Background(), true)
	return b, acme
}

func TestHostileDatagrams(t *testing.T) {
	b, _ := hostileSetup(t)
	rng := mrand.New(mrand.NewPCG(1, 2))
	good := sipPacket(1, withCallID(t, "good@x")).AppendV3(nil)

	var pkts [][]byte
	for range 200 { // random bytes, some with a HEP3 magic in front
		p := make([]byte, rng.IntN(2000))
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		if len(p) > 6 && rng.IntN(2) == 0 {
			copy(p, "HEP3")
		}
		pkts = append(pkts, p)
	}
	for cut := 1; cut < len(good); cut += 7 { // truncated chunks
		pkts = append(pkts, good[:cut])
	}
	lying := bytes.Clone(good) // total length larger than the datagram
	binary.BigEndian.PutUint16(lying[4:], 60000)
	pkts = append(pkts, lying)
	chunkLie := bytes.Clone(good) // first chunk claims to run past the end
	binary.BigEndian.PutUint16(chunkLie[10:], 65000)
	pkts = append(pkts, chunkLie)

	// A zip bomb in 0x0010: 16 MiB of zeros, compressed to a few KiB.
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(make([]byte, 16<<20))
	zw.Close()
	bomb := sipPacket(1, nil).AppendV3(nil)
	bomb = append(bomb[:len(bomb)-6], 0, 0, 0, 0x10, 0, 0) // replace the empty 0x000f by 0x0010
	binary.BigEndian.PutUint16(bomb[len(bomb)-2:], uint16(6+z.Len()))
	bomb = append(bomb, z.Bytes()...)
	binary.BigEndian.PutUint16(bomb[4:], uint16(len(bomb)))
	pkts = append(pkts, bomb)

	// A 64 KiB-ish packet: a large but valid SIP message.
	big := withCallID(t, "big@x")
	big = append(big, bytes.Repeat([]byte("a=x-padding\r\n"), 4900)...)
	bigPkt := sipPacket(1, big).AppendV3(nil)
	if len(bigPkt) > 65507 {
		t.Fatalf("big packet is %d bytes, over the UDP limit", len(bigPkt))
	}
	pkts = append(pkts, bigPkt)

	// Hostile SIP text (NUL, invalid UTF-8) in the same batch as good rows.
	pkts = append(pkts, sipPacket(1, MustFixture(t, "hostile.sip")).AppendV3(nil))
	pkts = append(pkts, good)

	for _, p := range pkts {
		sendUDP(t, b.udp, p)
	}
	waitCount(t, b.db, 3, 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id IN ('good@x', 'big@x') OR call_id LIKE 'hostile-%'`)
	b.waitDropped("hep_too_large", 1)

	var from, ua, callID string
	var payload []byte
	if err := b.db.Owner().QueryRow(context.Background(), `SELECT from_user, user_agent, call_id, payload
		FROM sip_messages WHERE call_id LIKE 'hostile-%'`).Scan(&from, &ua, &callID, &payload); err != nil {
		t.Fatal(err)
	}
	if from != "m\uFFFD(allory" || ua != "\uFFFD\uFFFD\uFFFDsurrogateagent" || callID != "hostile-\uFFFD\uFFFD-call@example.com" {
		t.Errorf("sanitised: from %q ua %q call %q", from, ua, callID)
	}
	if !bytes.Equal(payload, MustFixture(t, "hostile.sip")) {
		t.Error("hostile payload not stored byte for byte")
	}
}

func TestHostileStreams(t *testing.T) {
	b, _ := hostileSetup(t, func(c *Config) { c.StreamStallTimeout = 300 * time.Millisecond })

	// A client that stalls in the middle of a packet holds its connection
	// only until the stall timeout; a garbage sender is cut at once.
	stalled, err := net.Dial("tcp", b.tcp.String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	pkt := sipPacket(1, withCallID(t, "stall@x")).AppendV3(nil)
	stalled.Write(pkt[:len(pkt)/2])

	garbage, err := net.Dial("tcp", b.tcp.String())
	if err != nil {
		t.Fatal(err)
	}
	defer garbage.Close()
	garbage.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))

	// Meanwhile others are served, several packets back to back.
	var stream []byte
	for _, id := range []string{"s1@x", "s2@x", "s3@x"} {
		stream = sipPacket(1, withCallID(t, id)).AppendV3(stream)
	}
	sendStream(t, b.tcp, nil, stream)
	waitCount(t, b.db, 3, 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id IN ('s1@x','s2@x','s3@x')`)
	b.waitDropped(reasonStreamBadFraming, 1)

	for _, c := range []net.Conn{garbage, stalled} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("server kept a bad connection open")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Error("server did not close a bad connection within 5 s")
		}
	}
	if n := count(t, b.db, `SELECT count(*) FROM sip_messages WHERE call_id = 'stall@x'`); n != 0 {
		t.Errorf("half a packet stored %d rows", n)
	}
}

// MustCert writes a self-signed certificate (also its own CA) and key.
func MustCert(tb testing.TB, dir, name string) (certFile, keyFile string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:        true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	srvCert, srvKey := MustCert(t, dir, "server")
	cliCert, cliKey := MustCert(t, dir, "client")
	rootPEM, _ := os.ReadFile(srvCert)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)

	t.Run("OK", func(t *testing.T) {
		b, _ := hostileSetup(t, func(c *Config) { c.TLSAddr, c.TLSCert, c.TLSKey = "127.0.0.1:0", srvCert, srvKey })
		sendStream(t, b.tls, &tls.Config{RootCAs: roots}, sipPacket(1, withCallID(t, "tls@x")).AppendV3(nil))
		waitCount(t, b.db, 1, 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id = 'tls@x'`)
	})
	t.Run("MutualTLS", func(t *testing.T) {
		b, _ := hostileSetup(t, func(c *Config) {
			c.TLSAddr, c.TLSCert, c.TLSKey, c.TLSClientCA = "127.0.0.1:0", srvCert, srvKey, cliCert
		})
		pair, err := tls.LoadX509KeyPair(cliCert, cliKey)
		if err != nil {
			t.Fatal(err)
		}
		sendStream(t, b.tls, &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}},
			sipPacket(1, withCallID(t, "mtls@x")).AppendV3(nil))
		waitCount(t, b.db, 1, 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id = 'mtls@x'`)

		// Without a client certificate the handshake fails and nothing lands.
		c, err := tls.Dial("tcp", b.tls.String(), &tls.Config{RootCAs: roots})
		if err == nil {
			c.Write(sipPacket(1, withCallID(t, "nocert@x")).AppendV3(nil))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Read(make([]byte, 1)) // TLS 1.3 reports the refusal here
			c.Close()
		}
		if err == nil {
			t.Fatal("a client without a certificate was served")
		}
		time.Sleep(200 * time.Millisecond)
		if n := count(t, b.db, `SELECT count(*) FROM sip_messages WHERE call_id = 'nocert@x'`); n != 0 {
			t.Errorf("%d rows from a client without a certificate", n)
		}
	})
}

// A node bound to a client certificate takes packets over TLS from that
// certificate only: another certificate, no certificate, plain TCP and UDP
// are dropped as wrong_certificate, with and without a client CA.
func TestCertificateBoundNode(t *testing.T) {
	dir := t.TempDir()
	srvCert, srvKey := MustCert(t, dir, "server")
	goodCert, goodKey := MustCert(t, dir, "agent")
	otherCert, otherKey := MustCert(t, dir, "other")
	rootPEM, _ := os.ReadFile(srvCert)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	bothCAs := filepath.Join(dir, "clients.pem")
	g, _ := os.ReadFile(goodCert)
	o, _ := os.ReadFile(otherCert)
	os.WriteFile(bothCAs, append(g, o...), 0o600)

	clientConf := func(certFile, keyFile string) *tls.Config {
		c := &tls.Config{RootCAs: roots}
		if certFile != "" {
			pair, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			c.Certificates = []tls.Certificate{pair}
		}
		return c
	}
	block, _ := pem.Decode(g)
	sum := sha256.Sum256(block.Bytes)

	for _, tc := range []struct{ name, clientCA string }{{"PinnedOnly", ""}, {"WithClientCA", bothCAs}} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, func(c *Config) {
				c.TLSAddr, c.TLSCert, c.TLSKey, c.TLSClientCA = "127.0.0.1:0", srvCert, srvKey, tc.clientCA
			})
			acme := MustTenant(t, b.store, "acme")
			MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 1, CertSHA256: hex.EncodeToString(sum[:])})
			MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 2}) // not bound
			b.srv.nodes.refresh(context.Background(), true)
			pkt := func(id uint32, callID string) []byte { return sipPacket(id, withCallID(t, callID)).AppendV3(nil) }

			sendStream(t, b.tls, clientConf(goodCert, goodKey), pkt(1, "bound-ok@x"))
			waitCount(t, b.db, 1, 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id = 'bound-ok@x'`)

			sendStream(t, b.tls, clientConf(otherCert, otherKey), pkt(1, "other-cert@x"), pkt(2, "unbound-other@x"))
			sendStream(t, b.tcp, nil, pkt(1, "plain-tcp@x"))
			sendUDP(t, b.udp, pkt(1, "plain-udp@x"))
			want := 3.0
			if tc.clientCA == "" {
				sendStream(t, b.tls, clientConf("", ""), pkt(1, "no-cert@x"))
				want++
			}
			b.waitDropped(reasonWrongCert, want)
			// The node that is not bound takes the other certificate's packet.
			waitCount(t, b.db, 1, 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id = 'unbound-other@x'`)
			if n := count(t, b.db, `SELECT count(*) FROM sip_messages WHERE capture_id = 1 AND call_id <> 'bound-ok@x'`); n != 0 {
				t.Errorf("%d rows stored for the bound node from elsewhere", n)
			}
		})
	}
}

func TestListenErrors(t *testing.T) {
	b, _ := hostileSetup(t)
	cfg := testConfig(t)
	cfg.HEPAddr = b.tcp.String() // taken
	s, err := New(cfg, b.db, b.store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(context.Background()); err == nil {
		t.Fatal("Listen on a taken port succeeded")
	}
	if _, err := New(Config{HEPAddr: ":0"}, b.db, b.store, nil, nil); err == nil {
		t.Fatal("New without a spool dir succeeded")
	}
}

// One address holding 1,030 idle connections (more than the global cap of
// 1,024) cannot shut a real agent out: beyond its per-source share its
// connections are closed at once, the agent's connection from another
// address is served and its packets stored, and the idle ones are closed
// once they have sent no HEP within the first-packet timeout.
func TestStreamExhaustion(t *testing.T) {
	const firstPacket = 3 * time.Second
	b, _ := hostileSetup(t, func(c *Config) { c.StreamFirstPacketTimeout = firstPacket })
	const idle = 1030
	conns := make([]net.Conn, 0, idle)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	dialStart := time.Now()
	for range idle {
		c, err := net.Dial("tcp", b.tcp.String())
		if err != nil {
			t.Fatalf("after %d connections: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	// The agent speaks from 127.0.0.2 (all of 127/8 is this host).
	agent, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).Dial("tcp", b.tcp.String())
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	if _, err := agent.Write(sipPacket(1, withCallID(t, "agent@x")).AppendV3(nil)); err != nil {
		t.Fatalf("agent write: %v", err)
	}
	dialed := time.Since(dialStart)
	waitCount(t, b.db, 1, 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id = 'agent@x'`)
	// Exact when every idle connection was made before the first ones
	// timed out (a loaded box may take longer: then slots freed meanwhile).
	if got := counterValue(b.srv.m.streamsRefused.WithLabelValues("per_source")); got != idle-64 && dialed < firstPacket {
		t.Errorf("%v connections refused for their source, want %d", got, idle-64)
	}
	if got := counterValue(b.srv.m.streamsRefused.WithLabelValues("global")); got != 0 {
		t.Errorf("%v connections refused by the global cap", got)
	}

	// Every idle connection is closed: at once beyond the share, after the
	// first-packet timeout within it.
	deadline := time.Now().Add(firstPacket + 5*time.Second)
	closed := 0
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		if _, err := c.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			closed++
		}
	}
	if closed != idle {
		t.Errorf("%d of %d idle connections closed by the first-packet timeout", closed, idle)
	}
	// The agent, which sent HEP, is still connected and served.
	if _, err := agent.Write(sipPacket(1, withCallID(t, "agent-later@x")).AppendV3(nil)); err != nil {
		t.Fatalf("agent write after the idle ones were closed: %v", err)
	}
	waitCount(t, b.db, 1, 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id = 'agent-later@x'`)
}

// The global cap still bounds connections spread over many addresses.
func TestStreamGlobalCap(t *testing.T) {
	b, _ := hostileSetup(t, func(c *Config) { c.MaxStreamConns, c.MaxConnsPerSource = 6, 4 })
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 3 {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(i+1))}}
		for range 3 {
			c, err := d.Dial("tcp", b.tcp.String())
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
	}
	waitFor(t, 5*time.Second, "the global cap refused nothing", func() bool {
		return counterValue(b.srv.m.streamsRefused.WithLabelValues("global")) == 3
	})
	if got := counterValue(b.srv.m.streamsRefused.WithLabelValues("per_source")); got != 0 {
		t.Errorf("%v refused per source, want 0", got)
	}
}
