package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenHop is one topology of TestLadderGolden: the transport of the hop
// between the two proxies, and the loopback addresses of its four peers.
type goldenHop struct {
	Transport string // udp, tcp, tls
	// Net is the first three quarters of the peers' addresses: the UAC is
	// Net+"1", proxy A Net+"2", proxy B Net+"3", the UAS Net+"4".
	Net string
}

// TestLadderGolden is the public viewer's ladder of real calls, compared
// with golden files: for each transport of the hop between two Kamailio
// proxies, a SIPp UAC calls a SIPp UAS through both, both proxies report
// every message to callscope (one tenant, two capture nodes), and the page
// a minted link shows — one column per IP:port, and per IP — is turned
// into text (ladderPage.Text) and compared with
// testdata/golden/ladder_{udp,tcp,tls}[_by_ip].txt.
//
//	UAC .1:5060 ─udp─> A .2:5060 ─udp|tcp|tls─> B .3:5060 ─udp─> UAS .4:5060
//	                   │ capture 5301              │ capture 5302
//	                   └─────── HEP/UDP ───────────┴──> callscope ── viewer
//
// TLS listens on .2:5061 and .3:5061, with certificates of a CA made here.
// Every step of the call waits until the one before is done at both
// nodes (pauses in testdata/uas_golden.xml and uac_golden.xml, and B's
// TryingHold), so that what the two nodes capture comes in one order.
//
// The two copies of a message crossing the A-B hop race: Kamailio's
// siptrace stamps a message it sends after sending it, so the receiving
// node's stamp is often the earlier. The ladder draws the sending node's
// copy first whatever the stamps say (ladder.senderFirst), and pairs
// copies up to 200 ms apart over UDP, and up to seconds apart over TCP
// and TLS (where a connection set up on a loaded box delays the second
// copy and SIP never resends), as one packet's two hops; hopProblems checks
// both before the comparison, so that a failure names the arrows.
//
// Run with -update to rewrite the golden files (only from a page in causal
// order), and read the diff.
func TestLadderGolden(t *testing.T) {
	needPeers(t)
	t.Parallel()
	cs := newCallscope(t)
	cs.CLI(t, "tenant", "create", "acme", "--name", "Acme")
	cs.CLI(t, "node", "add", "acme", "5301", "--name", "proxy-a")
	cs.CLI(t, "node", "add", "acme", "5302", "--name", "proxy-b")
	cs.Start(t)
	apiKey := createAPIKey(t, cs, "acme")
	ca := newTestCA(t)
	ephemeral := ephemeralPorts()

	for _, hop := range []goldenHop{
		{Transport: "udp", Net: "127.0.0.5"},
		{Transport: "tcp", Net: "127.0.0.6"},
		{Transport: "tls", Net: "127.0.0.7"},
	} {
		t.Run(hop.Transport, func(t *testing.T) {
			t.Parallel()
			callID := runGoldenCall(t, cs, ca, hop)
			link := mintToken(t, cs, apiKey, callID, 10*time.Minute)
			views := []struct{ suffix, query string }{{"", ""}, {"_by_ip", "?group=ip"}}
			pages := make([]ladderPage, len(views))
			for i, v := range views {
				p, err := readLadderPage(getPage(t, link.URL+v.query))
				if err != nil {
					t.Fatalf("GET /v/{token}%s: %v", v.query, err)
				}
				if p.CallID != callID {
					t.Fatalf("GET /v/{token}%s shows Call-ID %q, want %q", v.query, p.CallID, callID)
				}
				pages[i] = p
			}
			if bad := hopProblems(pages[0], hop.Net+"2", hop.Net+"3", "proxy-a", "proxy-b"); len(bad) > 0 {
				logStoredCall(t, cs.DatabaseURL, callID)
				t.Fatalf("the page misdraws the copies of messages both nodes captured "+
					"(the sender's copy must come first, the second marked as a hop):\n%s", strings.Join(bad, "\n"))
			}
			for i, v := range views {
				path := filepath.Join("testdata", "golden", "ladder_"+hop.Transport+v.suffix+".txt")
				if !checkGolden(t, path, pages[i].Text(ephemeral)) {
					logStoredCall(t, cs.DatabaseURL, callID)
				}
			}
		})
	}
}

// hopProblems lists what the page got wrong about the messages crossing
// the A-B hop (arrows between ipA and ipB), each of which both nodes
// captured: a receiving node's copy drawn before the sending node's (A,
// nodeA, sends the requests across the hop, B the responses), and a
// second copy not marked as a hop (the ladder pairs copies less than
// 200 ms apart).
func hopProblems(p ladderPage, ipA, ipB, nodeA, nodeB string) []string {
	crosses := func(a pageArrow) bool {
		from, to := hostOf(a.From), hostOf(a.To)
		return (from == ipA && to == ipB) || (from == ipB && to == ipA)
	}
	var bad []string
	paired := map[int]bool{}
	for i, a := range p.Arrows {
		if !crosses(a) || paired[i] {
			continue
		}
		twin := -1
		for j := i + 1; j < len(p.Arrows); j++ {
			b := p.Arrows[j]
			if crosses(b) && !paired[j] && b.Label == a.Label && b.Transport == a.Transport && b.Node != a.Node {
				twin = j
				break
			}
		}
		if twin < 0 {
			bad = append(bad, fmt.Sprintf("%s: arrow %d (%s) has no copy from the other node", a.Label, i+1, a.Node))
			continue
		}
		paired[twin] = true
		sender := nodeB
		if a.Label != "" && (a.Label[0] < '0' || a.Label[0] > '9') {
			sender = nodeA
		}
		if a.Node != sender {
			bad = append(bad, fmt.Sprintf("%s: arrow %d is the copy of %s (receiving), arrow %d the copy of %s (sending)",
				a.Label, i+1, a.Node, twin+1, p.Arrows[twin].Node))
		}
		if a.Hop || !p.Arrows[twin].Hop {
			bad = append(bad, fmt.Sprintf("%s: arrows %d and %d are copies of one message, the page marks %v and %v as hops",
				a.Label, i+1, twin+1, a.Hop, p.Arrows[twin].Hop))
		}
	}
	return bad
}

// hostOf is the IP of an "IP:port" or "IP" column label.
func hostOf(label string) string {
	if h, _, err := net.SplitHostPort(label); err == nil {
		return h
	}
	return label
}

// runGoldenCall starts the two proxies of hop, makes one answered call
// through them, waits until callscope has stored all of it and returns its
// Call-ID.
func runGoldenCall(t *testing.T, cs *Callscope, ca *testCA, hop goldenHop) string {
	t.Helper()
	hepURI := "sip:" + cs.HEPAddr
	// Outgoing connections leave from each proxy's own address, as from a
	// host of its own. B answers the INVITE before relaying it, with time
	// for A to have received that 100 before B's INVITE reaches the UAS.
	a := Proxy{Name: "A", Addr: hop.Net + "2:5060", HEPURI: hepURI, CaptureID: 5301, SourceIP: hop.Net + "2"}
	b := Proxy{Name: "B", Addr: hop.Net + "3:5060", HEPURI: hepURI, CaptureID: 5302, SourceIP: hop.Net + "3",
		TryingHold: 100 * time.Millisecond}
	// Each proxy on a CPU of its own, as on a host of its own: sharing
	// one, the proxy that receives a message is woken on the sender's CPU
	// and runs before the sender has stamped what it sent, which makes
	// the receiver's copy the earlier one far more often (see
	// TestLadderGolden).
	if cpus := allowedCPUs(); len(cpus) >= 2 {
		a.CPU, b.CPU = cpus[0], cpus[1]
	} else {
		t.Logf("only CPUs %v to run on: proxies A and B share them, and misordered copies (skips) will be frequent", cpus)
	}
	switch hop.Transport {
	case "udp":
		a.Next = "sip:" + b.Addr
	case "tcp":
		a.Next = "sip:" + b.Addr + ";transport=tcp"
	case "tls":
		needKamailioTLS(t)
		for _, p := range []*Proxy{&a, &b} {
			ip, _, _ := net.SplitHostPort(p.Addr)
			p.TLSAddr = ip + ":5061"
			p.TLSCert, p.TLSKey = ca.Issue(t, "proxy-"+strings.ToLower(p.Name)+"-"+hop.Transport, net.ParseIP(ip))
			p.TLSCA = ca.CertFile
		}
		a.Next = "sip:" + b.TLSAddr + ";transport=tls"
	default:
		t.Fatalf("no such hop transport %q", hop.Transport)
	}
	startKamailio(t, b)
	startKamailio(t, a)
	uas := hop.Net + "4:5060"
	tag := "golden-" + hop.Transport
	runCalls(t,
		UA{Name: tag + " uas", Scenario: "uas_golden.xml", Local: uas, Calls: 1},
		UA{Name: tag + " uac", Scenario: "uac_golden.xml", Local: hop.Net + "1:5060", Remote: a.Addr, Calls: 1,
			Service: "bob", CallIDs: tag + "-%u-%p@%s", Keys: map[string]string{"uas": uas}})

	// Complete once both proxies' two copies of the 200 to the BYE are
	// stored.
	return waitCallStored(t, cs, "acme", 4, func(id string) bool { return strings.HasPrefix(id, tag+"-") })
}

// getPage GETs a viewer page and returns its body; anything but a 200
// fails the test.
func getPage(t *testing.T, url string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	resp, body := do1(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	return body
}

// checkGolden compares got with the golden file at path, after rewriting
// it under -update, and reports whether they are equal.
func checkGolden(t *testing.T, path string, got []byte) bool {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./e2e -run TestLadderGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the ladder differs from %s (go test ./e2e -run TestLadderGolden -update rewrites it; review the diff):\n%s",
			path, lineDiff(string(want), string(got)))
		return false
	}
	return true
}

// logStoredCall logs the stored rows of the call in the order the viewer
// reads them, with their capture times to the microsecond: what a
// differing ladder was drawn from.
func logStoredCall(t *testing.T, dbURL, callID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Log(err)
		return
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `
		SELECT to_char(captured_at, 'HH24:MI:SS.US'), to_char(received_at, 'HH24:MI:SS.US'), capture_id,
		       host(src_ip) || ':' || src_port, host(dst_ip) || ':' || dst_port, transport,
		       coalesce(method, status::text)
		FROM sip_messages WHERE call_id = $1 ORDER BY captured_at, received_at`, callID)
	if err != nil {
		t.Log(err)
		return
	}
	var b strings.Builder
	for rows.Next() {
		var captured, received, src, dst, transport, what string
		var node int64
		if err := rows.Scan(&captured, &received, &node, &src, &dst, &transport, &what); err != nil {
			t.Log(err)
			return
		}
		fmt.Fprintf(&b, "%s (received %s) node %d %s %s -> %s %s\n", captured, received, node, transport, src, dst, what)
	}
	if err := rows.Err(); err != nil {
		t.Log(err)
	}
	t.Logf("stored rows of %s, as the viewer orders them:\n%s", callID, b.String())
}

// lineDiff is a short description of how got differs from want, line by
// line: enough to see which arrow moved without an external diff.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
		}
	}
	fmt.Fprintf(&b, "---- got ----\n%s", got)
	return b.String()
}

// allowedCPUs lists the CPUs this process may run on (Cpus_allowed_list in
// /proc/self/status, "0-3,6"), as taskset -c takes them; nil if unknown.
func allowedCPUs() []string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		list, ok := strings.CutPrefix(line, "Cpus_allowed_list:")
		if !ok {
			continue
		}
		var cpus []string
		for _, r := range strings.Split(strings.TrimSpace(list), ",") {
			lo, hi, isRange := strings.Cut(r, "-")
			first, err1 := strconv.Atoi(lo)
			last, err2 := strconv.Atoi(hi)
			if !isRange {
				last, err2 = first, nil
			}
			if err1 != nil || err2 != nil {
				return nil
			}
			for c := first; c <= last; c++ {
				cpus = append(cpus, strconv.Itoa(c))
			}
		}
		return cpus
	}
	return nil
}
